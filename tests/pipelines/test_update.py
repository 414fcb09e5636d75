"""Within-month updates (`riskclass update`, issue 20 item 5): the override fires the day the
record is received and not before, the month's score is untouched, the month re-seals and
verifies, a malformed delivery is quarantined with reasons, and a delivery of which almost
nothing is accepted exits non-zero and leaves the interim tables as they were."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from contract.tables import TABLES
from features.config import FeaturesConfig
from models.classes import ClassScheme
from pipelines import store
from pipelines.config import load_config
from pipelines.intake.config import IngestConfig
from pipelines.update import (
    COLUMNS,
    UpdateError,
    current,
    describe,
    override_features,
    read_updates,
    run_update,
)
from tests.conftest import ROOT
from tests.interim import read_quarantine, read_table

MONTH = "2026-10"
DAY = dt.date(2026, 11, 12)
OVERRIDE_FEATURES = {"sd_listed", "jud_dishonest_debtor", "revoked", "pen_heavy_36m"}


def configs() -> tuple[IngestConfig, FeaturesConfig, ClassScheme]:
    return (
        load_config(ROOT / "configs" / "ingest.yaml", IngestConfig),
        load_config(ROOT / "configs" / "features.yaml", FeaturesConfig),
        load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme),
    )


def make_month(interim: Path, outputs: Path) -> pd.DataFrame:
    """A stand-in for classify's output of MONTH: every enterprise of the month's population
    in class A (score 100, no override) except those an override already puts in D at the
    month end (computed by the same feature SQL), so that no model needs training here."""
    _, fcfg, scheme = configs()
    reg = read_table(interim, "enterprises")
    end = pd.Timestamp("2026-10-31").date()
    est = pd.to_datetime(reg["established_date"]).dt.date
    dereg = pd.to_datetime(reg["deregistered_date"]).dt.date
    alive = reg[(est <= end) & (dereg.isna() | (dereg > end))]
    feats = override_features(fcfg, interim, sorted(alive["uscc"]), end, OVERRIDE_FEATURES)
    from pipelines.update import _first_rule

    rule = [r if isinstance(r, str) else None for r in _first_rule(feats, scheme)]
    frame = pd.DataFrame(
        {
            "uscc": feats["uscc"],
            "score": 100.0,
            "probability": 0.1,
            "class_model": "A",
            "class_final": ["D" if r else "A" for r in rule],
            "override_rule": rule,
            "data_month": MONTH,
        }
    )
    out = outputs / MONTH
    out.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out / "classes.parquet", index=False)
    return frame


@pytest.fixture
def province(small_interim, tmp_path: Path) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """A private copy of the small province's interim tables and a classified MONTH."""
    interim = tmp_path / "interim"
    shutil.copytree(small_interim[1], interim)
    outputs = tmp_path / "outputs"
    make_month(interim, outputs)
    return {"interim": interim, "outputs": outputs, "root": tmp_path}


def plain(month_classes: pd.DataFrame, n: int, offset: int = 0) -> list[str]:
    """``n`` enterprises of class A without an override at the month end."""
    ok = month_classes[month_classes["override_rule"].isna()]
    return list(ok["uscc"].iloc[offset : offset + n])


def serious_rows(usccs: list[str], listed: list[str], received: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uscc": usccs,
            "reason": "major_violation",
            "listed_date": listed,
            "received_date": received,
            "removed_date": "",
            "removal_reason": "",
            "removal_received_date": "",
        }
    )


def write_delivery(folder: Path, tables: dict[str, pd.DataFrame]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        assert list(frame.columns) == [c.name for c in TABLES[name].columns]
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_override_fires_the_day_of_delivery_not_before(province: dict[str, Path]) -> None:
    icfg, fcfg, scheme = configs()
    interim, outputs = province["interim"], province["outputs"]
    month = pd.read_parquet(outputs / MONTH / "classes.parquet")
    on_time, late = plain(month, 2)
    delivery = write_delivery(
        province["root"] / "delivery",
        {
            "serious_dishonest_list": serious_rows(
                [on_time, late], ["2026-11-05", "2026-11-05"], ["2026-11-10", "2026-11-14"]
            )
        },
    )
    classes_before = sha(outputs / MONTH / "classes.parquet")
    report = run_update(icfg, fcfg, scheme, delivery, interim, outputs, MONTH, DAY)
    assert report.named == 2 and report.effects == {"applied": 1}
    changes = pd.read_parquet(report.out)
    assert list(changes.columns) == list(COLUMNS)
    row = changes.set_index("uscc").loc[on_time]
    assert (row["class_before"], row["class_after"]) == ("A", "D")
    assert row["override_rule"] == "serious_dishonest_list" and row["effect"] == "applied"
    assert row["record_table"] == "serious_dishonest_list"
    assert row["record_key"] == f"{on_time}|major_violation|2026-11-05"
    assert late not in set(changes["uscc"])  # received 11-14: after the delivery date

    # the same feature SQL at the day before the record was received: not listed yet
    for day, expect in ((dt.date(2026, 11, 9), 0.0), (dt.date(2026, 11, 10), 1.0)):
        f = override_features(fcfg, interim, [on_time, late], day, OVERRIDE_FEATURES)
        got = dict(zip(f["uscc"], f["sd_listed"], strict=True))
        assert got == {on_time: expect, late: 0.0}, day

    # the month's classes (and their scores) are untouched; the served class is D
    assert sha(outputs / MONTH / "classes.parquet") == classes_before
    served = current(month, read_updates(outputs, MONTH)).set_index("uscc")
    assert served.at[on_time, "class_final"] == "D"
    assert served.at[on_time, "class_month"] == "A"
    assert served.at[on_time, "score"] == month.set_index("uscc").at[on_time, "score"]
    assert served.at[late, "class_final"] == "A"
    text = describe(row, scheme, "zh")
    assert text.startswith("2026-11-12 归集：列入严重违法失信名单，按规则调整为D类")
    assert "模型风险分为月末计算，下次月末重新计算" in text
    assert "recomputed at the next month end" in describe(row, scheme, "en")

    # the late record counts once its own day comes: a later update of the same month
    later = write_delivery(province["root"] / "later", {"serious_dishonest_list": serious_rows(
        [late], ["2026-11-05"], ["2026-11-14"])})  # fmt: skip
    again = run_update(icfg, fcfg, scheme, later, interim, outputs, MONTH, dt.date(2026, 11, 14))
    assert again.effects == {"applied": 1}
    served = current(month, read_updates(outputs, MONTH)).set_index("uscc")
    assert served.at[late, "class_final"] == "D" and served.at[on_time, "class_final"] == "D"


def test_a_lifted_listing_keeps_the_class_until_month_end(province: dict[str, Path]) -> None:
    icfg, fcfg, scheme = configs()
    interim, outputs = province["interim"], province["outputs"]
    month = pd.read_parquet(outputs / MONTH / "classes.parquet")
    (firm,) = plain(month, 1, offset=5)
    listed = serious_rows([firm], ["2026-11-02"], ["2026-11-03"])
    run_update(icfg, fcfg, scheme, write_delivery(province["root"] / "d1", {
        "serious_dishonest_list": listed}), interim, outputs, MONTH, dt.date(2026, 11, 3))  # fmt: skip
    lifted = listed.assign(
        removed_date="2026-11-20",
        removal_reason="credit_repair",
        removal_received_date="2026-11-20",
    )
    report = run_update(icfg, fcfg, scheme, write_delivery(province["root"] / "d2", {
        "serious_dishonest_list": lifted}), interim, outputs, MONTH, dt.date(2026, 11, 20))  # fmt: skip
    assert report.effects == {"lift_pending": 1}
    served = current(month, read_updates(outputs, MONTH)).set_index("uscc")
    assert served.at[firm, "class_final"] == "D"  # kept until the month end
    assert served.at[firm, "update_effect"] == "lift_pending"
    row = read_updates(outputs, MONTH).iloc[-1]
    assert "月末前维持D类" in describe(row, scheme, "zh")


def test_the_update_is_sealed_and_the_seal_verifies(
    province: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.cli import common
    from pipelines.cli.update import update
    from service import seal

    interim, outputs, root = province["interim"], province["outputs"], province["root"]
    audit_log = root / "audit.jsonl"
    monkeypatch.setattr(common, "AUDIT_LOG", audit_log)
    service_yaml = root / "service.yaml"
    service_yaml.write_text("{}\n", encoding="utf-8")
    seal.seal(outputs, MONTH, "admin", audit_log)
    month = pd.read_parquet(outputs / MONTH / "classes.parquet")
    (firm,) = plain(month, 1, offset=9)
    delivery = write_delivery(root / "delivery", {"serious_dishonest_list": serious_rows(
        [firm], ["2026-11-11"], ["2026-11-12"])})  # fmt: skip
    app = _app(update)
    args = ["--as-of", MONTH, "--delivery", str(delivery), "--date", "2026-11-12",
            "--interim", str(interim), "--outputs", str(outputs),
            "--features", str(root / "no-features"), "--service-config", str(service_yaml),
            "--scheme", str(ROOT / "configs" / "classes" / "henan.yaml"), "--user", "tester"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert seal.check(outputs, MONTH) == []
    entry = seal.latest(outputs, MONTH)
    assert entry is not None and entry["reseal_reason"].startswith(
        "within-month update 2026-11-12-1"
    )
    assert {"updates/2026-11-12-1.parquet", "updates/2026-11-12-1.json"} <= set(entry["files"])
    # a change to the update file after the seal is caught
    path = outputs / MONTH / "updates" / "2026-11-12-1.parquet"
    frame = pq.read_table(path).to_pandas().assign(class_after="A")
    frame.to_parquet(path, index=False)
    assert any("changed after the seal" in p for p in seal.check(outputs, MONTH))
    # the summary holds counts only: no enterprise, no class
    summary = (outputs / MONTH / "updates" / "2026-11-12-1.json").read_text(encoding="utf-8")
    assert firm not in summary and '"D"' not in summary


def _app(command: Callable[..., None]) -> typer.Typer:
    """A Typer app of the one command (invoked without naming it)."""
    app = typer.Typer()
    app.command()(command)
    return app


def test_a_malformed_delivery_is_quarantined_with_reasons(province: dict[str, Path]) -> None:
    icfg, fcfg, scheme = configs()
    interim, outputs = province["interim"], province["outputs"]
    month = pd.read_parquet(outputs / MONTH / "classes.parquet")
    firms = plain(month, 9, offset=20)
    bad = "91440300MA5XXXXXX1"  # check character wrong
    rows = serious_rows([*firms, bad], ["2026-11-05"] * 10, ["2026-11-06"] * 9 + ["2026-11-06"])
    rows.loc[0, "reason"] = "no_such_reason"
    delivery = write_delivery(province["root"] / "delivery", {"serious_dishonest_list": rows})
    report = run_update(icfg, fcfg, scheme, delivery, interim, outputs, MONTH, DAY)
    t = report.to_dict()["tables"]["serious_dishonest_list"]
    assert t == {"rows_read": 10, "accepted": 8, "quarantined": 2}
    q = read_quarantine(interim, "serious_dishonest_list")
    assert len(q) == 2
    text = q.astype(str).to_string()
    assert "no_such_reason" in text and bad in text
    assert report.effects == {"applied": 8}


def test_an_update_that_accepted_almost_nothing_exits_non_zero(
    province: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.cli import common
    from pipelines.cli.update import update

    interim, outputs, root = province["interim"], province["outputs"], province["root"]
    monkeypatch.setattr(common, "AUDIT_LOG", root / "audit.jsonl")
    month = pd.read_parquet(outputs / MONTH / "classes.parquet")
    firms = plain(month, 1, offset=40)
    rows = serious_rows([*firms, *["91440300MA5XXXXXX1"] * 9], ["2026-11-05"] * 10,
                        ["2026-11-06"] * 10)  # fmt: skip
    delivery = write_delivery(root / "delivery", {"serious_dishonest_list": rows})
    before = store.open_table(interim, "serious_dishonest_list")
    args = ["--as-of", MONTH, "--delivery", str(delivery), "--date", "2026-11-12",
            "--interim", str(interim), "--outputs", str(outputs),
            "--scheme", str(ROOT / "configs" / "classes" / "henan.yaml")]  # fmt: skip
    result = CliRunner().invoke(_app(update), args)
    assert result.exit_code == 2, result.output
    assert "too little was accepted" in result.output
    assert store.open_table(interim, "serious_dishonest_list") == before  # left as it was
    assert not (outputs / MONTH / "updates").exists()
    with pytest.raises(UpdateError, match="not in the month after"):
        icfg, fcfg, scheme = configs()
        run_update(icfg, fcfg, scheme, delivery, interim, outputs, MONTH, dt.date(2026, 12, 1))


def test_restricted_override_features_match_the_whole_province(
    province: dict[str, Path],
) -> None:
    """Computing the override features over the named enterprises' records alone gives the
    values of the whole province's run (they are the enterprise's own)."""
    from features import base
    from features.definitions import BLOCKS, CATALOG
    from features.engine import build_month
    from pipelines import store
    from pipelines.features import connect, register_sources, table_coverage

    _, fcfg, _ = configs()
    interim = province["interim"]
    con = connect(fcfg)
    tables = store.open_tables(interim)
    register_sources(con, tables)
    catalog = tuple(f for f in CATALOG if f.name in OVERRIDE_FEATURES)
    day = dt.date(2026, 10, 17)
    whole = build_month(con, MONTH, fcfg, tables, catalog, BLOCKS, base.population,
                        coverage=table_coverage(interim), cutoff=day).to_pandas()  # fmt: skip
    con.close()
    hit = whole[(whole[sorted(OVERRIDE_FEATURES)].fillna(0) > 0).any(axis=1)]
    some = sorted([*hit["uscc"].iloc[:40], *whole["uscc"].iloc[:40]])
    part = override_features(fcfg, interim, some, day, OVERRIDE_FEATURES).set_index("uscc")
    ref = whole.set_index("uscc").loc[part.index]
    pd.testing.assert_frame_equal(part[ref.columns], ref, check_dtype=False)
    assert len(hit) > 0


def test_a_cutoff_outside_the_month_is_refused() -> None:
    from features.engine import FeatureError, Window

    _, cfg, _ = configs()
    w = Window("2026-11", cfg, cutoff=dt.date(2026, 11, 12))
    assert w.end == "DATE '2026-11-12'" and w.ago(36) == "DATE '2023-11-12'"
    assert Window("2026-10", cfg).end == "DATE '2026-10-31'"  # unchanged without a cutoff
    with pytest.raises(FeatureError, match="not within month"):
        Window("2026-10", cfg, cutoff=dt.date(2026, 11, 12))


def test_a_new_classification_supersedes_the_months_updates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from pipelines.updates import read_updates, supersede, updates_dir

    folder = updates_dir(tmp_path, MONTH)
    folder.mkdir(parents=True)
    row = dict.fromkeys(COLUMNS, "x") | {"uscc": "U1", "class_after": "D", "effect": "applied"}
    pd.DataFrame([row]).to_parquet(folder / "2026-11-12-1.parquet")
    (folder / "2026-11-12-1.json").write_text("{}")
    assert len(read_updates(tmp_path, MONTH)) == 1
    assert supersede(tmp_path, MONTH) == 1
    assert read_updates(tmp_path, MONTH).empty  # no longer applied ...
    kept = folder / "superseded" / "1"
    assert {p.name for p in kept.iterdir()} == {"2026-11-12-1.parquet", "2026-11-12-1.json"}
    assert supersede(tmp_path, MONTH) == 0  # ... but kept
