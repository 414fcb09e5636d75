"""Labels from what a bureau really has: label kinds and their weights, the received-date
cut, grouped folds, the split chosen, and the config's train_on (issue 18)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from models.config import ModelConfig
from models.data import (
    TEST_FOLD,
    VALID_FOLD,
    fold_parts,
    folds_of,
    label_frames,
    label_kinds,
    received_by,
    snapshot_month,
)
from pipelines.config import load_config
from pipelines.frames import FrameError, choose_split
from tests.conftest import ROOT


def _insp(i: str, **kw: object) -> dict[str, object]:
    row: dict[str, object] = {
        "inspection_id": i,
        "uscc": f"E{i}",
        "draw_mode": "double_random",
        "inclusion_probability": 0.25,
        "inspection_date": pd.Timestamp("2026-03-10"),
        "received_date": pd.Timestamp("2026-03-20"),
        "problem_found": True,
    }
    row.update(kw)
    return row


def test_each_label_kind_has_its_weight_and_only_double_random_is_evaluated() -> None:
    df = pd.DataFrame(
        [
            _insp("1"),
            _insp("2", inclusion_probability=None, problem_found=False),  # design unknown
            _insp("3", draw_mode="targeted", inclusion_probability=None),
            _insp("4", inclusion_probability=0.05, inspection_date=pd.Timestamp("2026-04-02")),
        ]
    )
    labels = label_kinds(df, "2026-03", "2026-04")
    by_id = labels.set_index("inspection_id")
    assert by_id["label_kind"].to_dict() == {
        "1": "double_random",
        "2": "design_unknown",
        "3": "targeted",
        "4": "double_random",
    }
    assert by_id["weight"].to_dict() == {"1": 4.0, "2": 1.0, "3": 1.0, "4": 20.0}
    assert by_id.loc[["2", "3"], "p"].isna().all()
    # the evaluated frame (label_frames' first) holds double-random results with a design only
    random, targeted = label_frames(df, "2026-03", "2026-04")
    assert random["label_kind"].unique().tolist() == ["double_random"]
    assert list(random["inspection_id"]) == ["1", "4"] and list(targeted["inspection_id"]) == ["3"]


def test_a_result_received_after_the_cut_off_is_not_a_label() -> None:
    df = pd.DataFrame(
        [
            _insp("1", received_date=pd.Timestamp("2026-03-31")),  # the last day counts
            _insp("2", received_date=pd.Timestamp("2026-04-01")),
        ]
    )
    received, late = received_by(df, "2026-03")
    assert list(received["inspection_id"]) == ["1"] and list(late["inspection_id"]) == ["2"]


def test_folds_are_reproducible_by_enterprise_and_independent_of_row_order() -> None:
    ids = [f"9144{i:014d}" for i in range(3000)]
    folds = folds_of(ids, 5, 20261)
    assert np.array_equal(folds, folds_of(ids, 5, 20261))  # same seed, same folds
    shuffled = list(reversed(ids))
    assert np.array_equal(folds_of(shuffled, 5, 20261), folds[::-1])  # row order is irrelevant
    assert not np.array_equal(folds, folds_of(ids, 5, 1))  # the seed moves them
    counts = np.bincount(folds, minlength=5)
    assert counts.min() > 480 and counts.max() < 720  # about a fifth each
    # an enterprise's rows all fall in one fold: the parts never share an enterprise
    rows = pd.DataFrame({"uscc": ids * 3})
    rows["part"] = fold_parts(folds_of(rows["uscc"], 5, 20261))
    assert rows.groupby("uscc")["part"].nunique().max() == 1
    parts = {p: set(rows.loc[rows["part"] == p, "uscc"]) for p in ("train", "valid", "test")}
    assert not (parts["train"] & parts["test"] or parts["train"] & parts["valid"])
    assert not parts["valid"] & parts["test"]
    assert (rows["part"] == "test").sum() == 3 * (folds == TEST_FOLD).sum()
    assert (rows["part"] == "valid").sum() == 3 * (folds == VALID_FOLD).sum()


def test_a_snapshot_date_gives_the_last_month_end_on_or_before_it() -> None:
    assert snapshot_month("2026-09-30")[1] == "2026-09"
    assert snapshot_month("2026-10-01")[1] == "2026-09"
    assert snapshot_month("2026-10")[1] == "2026-10"
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        snapshot_month("30/09/2026")


def _cfg(**update: object) -> ModelConfig:
    cfg = load_config(ROOT / "configs" / "model.yaml", ModelConfig)
    return cfg.overridden(update)


def _frame(months: list[str], n: int = 40) -> pd.DataFrame:
    rows = [{"uscc": f"E{m}{i}", "month": m, "y": i % 2} for m in months for i in range(n)]
    return pd.DataFrame(rows)


def test_out_of_time_when_the_months_allow_it_else_grouped_cv_saying_why() -> None:
    months = [f"2026-{m:02d}" for m in range(1, 11)]
    cfg = _cfg(
        first_label_month="2026-01", last_label_month="2026-10", valid_months=2, test_months=2
    )
    info, parts = choose_split(cfg, _frame(months))
    assert info.mode == "out_of_time" and not info.why
    assert parts.tolist().count("test") == 80
    # too few months for valid + test: grouped, and the reason says so
    short = cfg.overridden({"valid_months": 5, "test_months": 5})
    info, parts = choose_split(short, _frame(months))
    assert info.mode == "grouped_cv" and "10 label month(s)" in info.why
    assert info.folds == 5 and "sha256" in info.rule and set(parts) == {"train", "valid", "test"}
    # a test part with one outcome only cannot be evaluated: grouped too
    one = _frame(months)
    one.loc[one["month"] >= "2026-09", "y"] = 0
    info, _ = choose_split(cfg, one)
    assert info.mode == "grouped_cv" and "test months" in info.why
    # split: out_of_time refuses instead; split: grouped_cv always groups
    with pytest.raises(FrameError, match="out of time impossible"):
        choose_split(short.overridden({"split": "out_of_time"}), _frame(months))
    assert choose_split(cfg.overridden({"split": "grouped_cv"}), _frame(months))[0].mode == (
        "grouped_cv"
    )


def test_train_on_names_the_kinds_and_old_configs_still_read() -> None:
    cfg = _cfg()
    assert cfg.train_on == ("double_random",) and not cfg.use_targeted
    assert _cfg(train_on=["double_random", "targeted"]).use_targeted
    old = {k: v for k, v in cfg.model_dump().items() if k != "train_on"}
    assert ModelConfig.model_validate({**old, "use_targeted": True}).train_on == (
        "double_random",
        "targeted",
    )
    with pytest.raises(ValidationError, match="must include double_random"):
        _cfg(train_on=["targeted"])
    with pytest.raises(ValidationError, match="train_on"):
        _cfg(train_on=["double_random", "complaints"])
    with pytest.raises(ValidationError, match="YYYY-MM"):
        _cfg(first_label_month="2026-13")
