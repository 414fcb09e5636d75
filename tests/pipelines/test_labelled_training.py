"""Training and verification on the labels a bureau really has (issue 18): results cut at
their received date, the other label kinds in training only, grouped cross-validation by
enterprise when no out-of-time split is possible (said, logged, in the card), command-line
overrides of the split, and a labelled snapshot trained on and verified on its test fold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from models.classes import ClassScheme
from models.data import TEST_FOLD, folds_of
from pipelines.config import load_config
from pipelines.frames import labelled_split, read_inspections
from pipelines.gates import as_trained, first_held_out_month, held_out_problem, split_of
from tests.conftest import model_config


def _run(cfg: Any, run_id: str) -> tuple[dict[str, str], dict[str, Any], str]:
    """A training run's parameters, bundle meta and model card."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    params = dict(MlflowClient().get_run(run_id).data.params)
    meta = json.loads(
        Path(
            mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="bundle/meta.json")
        ).read_text(encoding="utf-8")
    )
    card = Path(
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="model_card.md")
    ).read_text(encoding="utf-8")
    return params, meta, card


def test_training_labels_are_cut_at_their_received_date(
    small_interim, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    inspections = read_inspections(small_interim[1])
    cfg = model_config(tmp_path, first_label_month="2025-10", last_label_month="2026-09")
    month = pd.to_datetime(inspections["inspection_date"]).dt.strftime("%Y-%m")
    before = labelled_split(cfg, small_history, inspections)
    # one label of the window arrives only the day after the cut-off: no longer a label
    late_id = before.frame["inspection_id"].iloc[len(before.frame) // 2]
    delayed = inspections.copy()
    delayed.loc[delayed["inspection_id"] == late_id, "received_date"] = pd.Timestamp("2026-10-01")
    after = labelled_split(cfg, small_history, delayed)
    assert late_id not in set(after.frame["inspection_id"])
    assert len(after.frame) == len(before.frame) - 1
    assert after.counts["received_after_cutoff"] == before.counts["received_after_cutoff"] + 1
    assert after.counts["labels"] == before.counts["labels"] - 1
    for c in (before.counts, after.counts):  # the counts reconcile
        assert c["inspections"] == (
            c["received_after_cutoff"]
            + c["labels"]
            + c["design_unknown_available"]
            + c["targeted_available"]
        )
        assert c["labels"] == c["used"] + c["without_features"]
    # received after the end of the last label month, directly
    window = month.between("2025-10", "2026-09")
    late = (pd.to_datetime(inspections["received_date"]) > "2026-09-30") & window
    assert before.counts["received_after_cutoff"] == int(late.sum())


def test_other_label_kinds_train_with_weight_one_and_are_never_evaluated(
    small_interim, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    inspections = read_inspections(small_interim[1]).copy()
    double = inspections["draw_mode"] == "double_random"
    unknown = double & (np.arange(len(inspections)) % 5 == 0)  # a fifth without their design
    inspections.loc[unknown, "inclusion_probability"] = np.nan
    base = model_config(tmp_path)
    only = labelled_split(base, small_history, inspections)
    cfg = base.overridden({"train_on": ["double_random", "design_unknown", "targeted"]})
    rows = labelled_split(cfg, small_history, inspections)
    # the evaluated rows are the same: double-random results with a design, weighted 1/p
    assert rows.frame["inspection_id"].tolist() == only.frame["inspection_id"].tolist()
    assert set(rows.frame["label_kind"]) == {"double_random"}
    assert np.allclose(rows.frame["weight"] * rows.frame["p"], 1.0)
    # the training rows add the other kinds, weight 1, from the training months only
    extra = rows.train_frame[rows.train_frame["label_kind"] != "double_random"]
    assert set(extra["label_kind"]) == {"design_unknown", "targeted"}
    assert (extra["weight"] == 1.0).all() and extra["p"].isna().all()
    assert set(extra["split"]) == {"train"} and set(extra["month"]) <= set(
        m for m, part in split_of(cfg).items() if part == "train"
    )
    c = rows.counts
    assert c["design_unknown_used"] == int((extra["label_kind"] == "design_unknown").sum()) > 0
    assert c["targeted_used"] == int((extra["label_kind"] == "targeted").sum()) > 0
    assert c["design_unknown_available"] >= c["design_unknown_used"]
    assert only.counts["targeted_used"] == only.counts["design_unknown_used"] == 0
    assert len(only.train_frame) + len(extra) == len(rows.train_frame)


def _quick(tmp_path: Path) -> Any:
    """The small province's config, quicker: no tuning, fewer trees, no sector models."""
    cfg = model_config(tmp_path, sectors=())
    return cfg.overridden(
        {
            "tuning": {**cfg.tuning.model_dump(), "trials": 0},
            "lightgbm": {**cfg.lightgbm.model_dump(), "n_estimators": 60},
        }
    )


def _config_file(tmp_path: Path) -> tuple[Any, Path]:
    cfg = _quick(tmp_path)
    path = tmp_path / "model.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    return cfg, path


@pytest.mark.slow  # a full training through the command line (~35 s on 2 cores)
def test_command_line_overrides_change_the_split_and_grouped_cv_is_said(
    small_interim, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from pipelines.cli import app

    cfg, config = _config_file(tmp_path)
    # the config's own split of these 13 label months is out of time (3 valid, 3 test months)
    inspections = read_inspections(small_interim[1])
    assert labelled_split(cfg, small_history, inspections).split.mode == "out_of_time"
    # the command line asks for 6 validation and 7 test months: no out-of-time split is left
    metrics = tmp_path / "grouped" / "train_metrics.json"
    result = CliRunner().invoke(
        app,
        [
            *("train", "--features", str(small_history), "--interim", str(small_interim[1])),
            *("--config", str(config), "--trials", "0", "--metrics-out", str(metrics)),
            *("--first-label-month", "2025-10", "--last-label-month", "2026-10"),
            *("--valid-months", "6", "--test-months", "7", "--cv-folds", "4"),
        ],
    )
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())  # the console wraps lines
    assert "grouped cross-validation by enterprise (4 folds)" in out
    assert "13 label month(s) (2025-10..2026-10) cannot be split" in out
    assert "test fold, weighted" in out
    figures = json.loads(metrics.read_text(encoding="utf-8"))
    split = figures["split"]
    assert split["mode"] == "grouped_cv" and split["folds"] == 4
    cv = split["cv"]
    assert len(cv["auc_per_fold"]) == 4 and all(0 <= a <= 1 for a in cv["auc_per_fold"])
    assert cv["auc_mean"] == pytest.approx(float(np.mean(cv["auc_per_fold"])))
    assert sum(cv["rows_per_fold"]) == figures["labelled"]["used"]
    assert figures["labelled"]["test"] == cv["rows_per_fold"][TEST_FOLD]
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    mv = MlflowClient().get_model_version_by_alias(cfg.mlflow.registered_model, "challenger")
    params, meta, card = _run(cfg, mv.run_id)
    assert params["split_mode"] == "grouped_cv" and params["cv_folds"] == "4"
    assert params["valid_months"] == "6" and params["test_months"] == "7"
    assert params["label_months"] == "2025-10..2026-10" and "sha256" in params["fold_rule"]
    assert meta["split"]["mode"] == "grouped_cv" and meta["split"]["rule"] == params["fold_rule"]
    assert "grouped cross-validation by enterprise" in card and "Cross-validated AUC" in card
    assert "Test-fold results" in card and "13 label month(s)" in card
    metrics_run = MlflowClient().get_run(mv.run_id).data.metrics
    assert metrics_run["cv_auc_mean"] == pytest.approx(cv["auc_mean"])
    # the version's own split, whatever the config says now: nothing held out by month
    trained = as_trained(cfg, params)
    assert trained.split == "grouped_cv" and set(split_of(trained).values()) == {"train"}
    assert first_held_out_month(trained) == "2026-11"
    assert first_held_out_month(cfg) == "2026-08"  # the config's own split: out of time


def _snapshot_file(small_province, small_history, path: Path) -> tuple[pd.DataFrame, Path]:  # type: ignore[no-untyped-def]
    """Every enterprise of 2026-09 with an outcome drawn from its true problem probability
    (seeded), as a bureau's list would hold it, plus two rows to reject."""
    ids = pq.read_table(small_history / "2026-09.parquet", columns=["uscc"]).to_pandas()
    truth = (
        ds.dataset(small_province["truth"] / "enterprise_months")
        .to_table(columns=["uscc", "month", "p_problem"])
        .to_pandas()
    )
    truth = truth[truth["month"] == "2026-10"]
    rows = ids.merge(truth, on="uscc", how="inner")
    rng = np.random.default_rng(18)
    rows["是否发现问题"] = np.where(rng.random(len(rows)) < 4 * rows["p_problem"], "是", "否")
    table = rows.rename(columns={"uscc": "统一社会信用代码"})[["统一社会信用代码", "是否发现问题"]]
    bad = pd.DataFrame(
        {
            "统一社会信用代码": ["NOT-AN-ENTERPRISE", ids["uscc"].iloc[0]],
            "是否发现问题": ["是", "也许"],
        }
    )
    pd.concat([table, bad], ignore_index=True).to_csv(path, index=False, encoding="utf-8-sig")
    return rows, path


@pytest.mark.slow  # a training and three verifications (~50 s on 2 cores)
def test_a_labelled_snapshot_trains_by_grouped_cv_and_verifies_on_its_test_fold(
    small_province, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from pipelines.promote import verification_check
    from pipelines.snapshot import LabelsFile
    from pipelines.train import run_train
    from pipelines.verify import VerifyError, run_verify

    rows, labels = _snapshot_file(small_province, small_history, tmp_path / "campaign.csv")
    cfg = _quick(tmp_path)
    spec = LabelsFile(labels, "2026-10-12")  # features of 2026-09
    out = tmp_path / "out" / "train_metrics.json"
    no_interim = tmp_path / "interim-without-inspections"
    result = run_train(cfg, small_history, no_interim, metrics_out=out, labels=spec)
    m = result.metrics
    src = m.split["source"]
    assert m.split["mode"] == "grouped_cv" and "one month" in m.split["why"]
    assert src["rows"] == len(rows) + 2 == src["accepted"] + src["rejected"]
    assert src["rejected"] == 2 and src["feature_month"] == "2026-09"
    rejected = pd.read_csv(out.with_name("labels_rejected.csv"), encoding="utf-8-sig")
    assert sorted(rejected["rule"]) == ["bad_label", "unknown_id"]
    folds = folds_of(rows["uscc"], cfg.cv_folds, cfg.seed)
    assert m.labelled["test"] == int((folds == TEST_FOLD).sum())
    assert m.labelled["train"] + m.labelled["valid"] + m.labelled["test"] == len(rows)
    cv = m.split["cv"]
    assert len(cv["auc_per_fold"]) == 5 and all(0.5 < a <= 1 for a in cv["auc_per_fold"])
    params, meta, card = _run(cfg, result.run_id)
    assert params["labels_sha256"] == src["sha256"] and params["split_mode"] == "grouped_cv"
    assert params["labels_as_of"] == "2026-10-12" and params["label_months"] == "2026-10..2026-10"
    assert meta["split"]["source"]["sha256"] == src["sha256"]
    assert "a labelled snapshot, not inspections" in card and src["sha256"] in card
    assert "grouped cross-validation by enterprise" in card and "weight 1" in card

    # verified on the very file's test fold: the same rows and AUC as training's test figures
    scheme = load_config(cfg.class_scheme, ClassScheme)
    outputs = tmp_path / "outputs"
    v = run_verify(cfg, scheme, small_history, no_interim, "2026-09", outputs, labels=spec)
    ev = v.metrics.evaluation
    assert ev["kind"] == "labelled_snapshot" and ev["rows"] == "test_fold"
    assert (
        ev["note"]
        == "labelled snapshot, not a random sample: hit rates are not population estimates"
    )
    assert v.metrics.inspections["used"] == m.labelled["test"]
    assert v.metrics.auc == pytest.approx(m.models[m.deployed].auc, abs=1e-12)
    on_disk = json.loads(v.out.read_text(encoding="utf-8"))
    assert on_disk["evaluation"]["note"] == ev["note"]
    html = v.out.with_name("verification.html").read_text(encoding="utf-8")
    assert "not a random sample" in html and "外部标注名单" in html
    # promotion takes the test fold of the trained file as held out (the verdict aside)
    found = verification_check(cfg, scheme, v.metrics, v.metrics.model.name, result.version, params)
    assert "held-out" not in found.value and "test fold" not in found.value
    assert found.passed == v.passed
    assert held_out_problem(cfg, params, v.metrics.window, ev) is None

    # a changed file is refused unless asked for; even then only the enterprises of the
    # trained test fold are evaluated (the version saw every other one)
    changed = tmp_path / "campaign-2.csv"
    changed.write_bytes(labels.read_bytes() + b"\n")  # a blank line: same rows, new SHA-256
    new = LabelsFile(changed, "2026-10-12")
    with pytest.raises(VerifyError, match="--allow-new-labels"):
        run_verify(cfg, scheme, small_history, no_interim, "2026-09", outputs, labels=new)
    every = run_verify(
        cfg,
        scheme,
        small_history,
        no_interim,
        "2026-09",
        outputs,
        labels=new,
        allow_new_labels=True,
    )
    assert every.metrics.evaluation["rows"] == "test_fold"
    assert every.metrics.inspections["used"] == v.metrics.inspections["used"] < len(rows)
    assert held_out_problem(cfg, params, every.metrics.window, every.metrics.evaluation) is None
    # the trained file with every row would not be held out
    assert "not its test fold" in str(held_out_problem(cfg, params, [], {**ev, "rows": "all"}))
