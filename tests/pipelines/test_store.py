"""The interim store (issue 21, item 1): Delta tables merged by natural key with the exact
semantics of the single-file merge, one state record per run (a killed run is invisible and
undone by the next), time travel by month, compaction and vacuum that keep every kept state
readable, and the old single-file layout still read and migrated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from pipelines import store
from pipelines.config import load_config
from pipelines.ingest import run_ingest
from pipelines.intake.config import IngestConfig
from pipelines.intake.reconciliation import IngestReport
from tests.conftest import ROOT
from tests.interim import read_table

BASELINE = ROOT / "tests" / "pipelines" / "intake" / "ingest_cases" / "baseline"
PEN = "uscc,decision_no,penalty_kind,cause,decision_date,amount,minor,repaired_date,received_date\n"
CHG = "uscc,change_kind,change_date,received_date,before_value,after_value\n"
A, B = "9144010615937352X4", "91440106159856230D"
pytestmark = pytest.mark.xdist_group("store")


def _cfg() -> IngestConfig:
    return load_config(ROOT / "configs" / "ingest.yaml", IngestConfig).model_copy(
        update={"accept_floor": 0.0}
    )


def _delivery(tmp: Path, files: dict[str, str]) -> Path:
    src = tmp / "delivery"
    shutil.copytree(BASELINE, src)
    for name, text in files.items():
        for old in src.glob(f"{Path(name).stem}.*"):
            old.unlink()
        (src / name).write_text(text, encoding="utf-8")
    return src


def _ingest(tmp: Path, out: Path, as_of: str, files: dict[str, str]) -> IngestReport:
    return run_ingest(_cfg(), _delivery(tmp / as_of, files), out, as_of=as_of)


def _table(report: IngestReport, name: str):  # type: ignore[no-untyped-def]
    return {t.table: t for t in report.tables}[name]


def _penalties(out: Path, as_of: str | None = None) -> pd.DataFrame:
    return read_table(out, "penalties", as_of=as_of).set_index("decision_no").sort_index()


def test_merge_later_receipt_wins_tie_new_wins_and_counts_reconcile(tmp_path: Path) -> None:
    out = tmp_path / "interim"
    first = (
        f"{A},P1,fine,food_safety,2024-03-05,1.5,false,,2024-03-12\n"
        f"{A},P2,fine,food_safety,2024-04-05,2.0,false,,2024-04-12\n"
        f"{B},P3,fine,food_safety,2025-01-05,3.0,false,,2025-01-12\n"
        f"{B},P4,fine,food_safety,2025-02-05,4.0,false,,2025-02-12\n"
    )
    r1 = _ingest(tmp_path, out, "2026-06", {"penalties.csv": PEN + first})
    assert _table(r1, "penalties").rows_total == 4
    before = store.open_table(out, "penalties")
    assert before is not None
    second = (
        f"{A},P1,fine,food_safety,2024-03-05,9.9,false,,2026-07-01\n"  # later receipt: wins
        f"{A},P2,fine,food_safety,2024-04-05,7.7,false,,2024-04-10\n"  # earlier receipt: loses
        f"{B},P3,fine,food_safety,2025-01-05,5.5,false,,2025-01-12\n"  # tie: the new one wins
        f"{B},P4,fine,food_safety,2025-02-05,4.0,false,,2025-02-12\n"  # the same again
        f"{B},P5,fine,food_safety,2026-07-05,1.0,false,,2026-07-10\n"  # new
    )
    r2 = _ingest(tmp_path, out, "2026-07", {"penalties.csv": PEN + second})
    got = _penalties(out)
    assert got["amount"].to_dict() == {"P1": 9.9, "P2": 2.0, "P3": 5.5, "P4": 4.0, "P5": 1.0}
    pen = _table(r2, "penalties")
    assert (pen.merged_new, pen.merged_updated, pen.merged_unchanged) == (1, 3, 1)
    assert pen.merged_new + pen.merged_updated + pen.merged_unchanged == pen.accepted
    assert pen.rows_total == len(got) == 5
    # P4 came again unchanged: counted unchanged, its lineage names the delivery that brought
    # it last (as the single-file merge did); P2 lost, so it keeps the first delivery's
    assert got.loc["P4", "_delivery"] == r2.run_name and got.loc["P3", "_delivery"] == r2.run_name
    assert got.loc["P2", "_delivery"] == r1.run_name
    # cost in proportion: the file of 2025 holding P3 and P4 was rewritten, the 2024 file of
    # P1/P2 too (P1 changed); nothing was rewritten where no key of the delivery lives
    after = store.open_table(out, "penalties")
    assert after is not None and after.version is not None and before.version is not None
    assert after.version > before.version


def test_null_key_parts_compare_equal_and_untouched_partitions_stay(tmp_path: Path) -> None:
    out = tmp_path / "interim"
    first = f"{A},name,2019-05-01,2019-05-03,旧名,\n{A},address,2024-02-01,2024-02-03,甲,乙\n"
    _ingest(tmp_path, out, "2026-06", {"changes.csv": CHG + first})
    before = store.open_table(out, "changes")
    assert before is not None and len(set(before.partitions)) == 2
    # the same key with an empty after_value (NULL key part), received later: one record
    second = f"{A},name,2019-05-01,2019-06-01,更旧的名,\n{A},name,2026-06-01,2026-06-03,甲,乙\n"
    _ingest(tmp_path, out, "2026-07", {"changes.csv": CHG + second})
    got = read_table(out, "changes")
    assert len(got) == 3
    row = got[(got["change_date"].astype(str) == "2019-05-01")]
    assert len(row) == 1 and row["before_value"].iloc[0] == "更旧的名"
    after = store.open_table(out, "changes")
    assert after is not None
    # the 2024 partition's file was neither read for rewrite nor copied: it is still there
    kept = [f for f, p in zip(before.files, before.partitions, strict=True) if p == 2024]
    assert kept and set(kept) <= set(after.files)


def test_registry_columns_a_later_export_lacks_keep_their_values(tmp_path: Path) -> None:
    """The writer's merge sets only the columns the delivery carries: a registry export without
    its organisation codes (``x_org_code``) leaves the earlier codes in place."""
    import datetime as dt

    import pyarrow as pa

    from contract.tables import TABLES
    from pipelines.intake import delta

    spec = TABLES["enterprises"]
    path = tmp_path / "enterprises"
    day = dt.date(2020, 1, 1)
    first = pa.table(
        {
            "uscc": [A, B],
            "name": ["甲", "乙"],
            "established_date": [day, day],
            "x_org_code": ["O1", "O2"],
        }
    )
    delta.create(path, spec, first)
    previous = store.delta_snapshot(path, "enterprises")
    later = pa.table({"uscc": [A, B], "name": ["甲改", "乙"], "established_date": [day, day]})
    delta.merge(
        path, spec, later, ["uscc", "name", "established_date"], previous, list(previous.files)
    )
    got = store.delta_snapshot(path, "enterprises").pandas().set_index("uscc").sort_index()
    assert got["name"].to_dict() == {A: "甲改", B: "乙"}
    assert got["x_org_code"].to_dict() == {A: "O1", B: "O2"}  # kept from the earlier export


def test_killed_run_between_table_commits_is_invisible_and_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.intake import engine

    out = tmp_path / "interim"
    _ingest(
        tmp_path,
        out,
        "2026-06",
        {"penalties.csv": PEN + f"{A},P1,fine,food_safety,2024-03-05,1.5,false,,2024-03-12\n"},
    )
    state = store.current_state(out)
    seen = _penalties(out)
    original = engine._Ingest._merge_accepted

    def dying(self, spec, report, previous):  # type: ignore[no-untyped-def]
        original(self, spec, report, previous)
        if spec.name == "penalties":  # committed enterprises, changes... and penalties
            raise SystemExit("killed after a table commit")

    monkeypatch.setattr(engine._Ingest, "_merge_accepted", dying)
    monkeypatch.setattr(store, "recover", lambda out: [])  # a kill runs no handler
    newer = PEN + f"{A},P1,fine,food_safety,2024-03-05,8.0,false,,2026-07-02\n"
    with pytest.raises(SystemExit):
        _ingest(tmp_path / "killed", out, "2026-07", {"penalties.csv": newer})
    monkeypatch.undo()
    assert state is not None
    assert store.latest_version(store.table_dir(out, "penalties")) != state.tables["penalties"]
    assert store.current_state(out) == state  # readers see the previous state
    pd.testing.assert_frame_equal(_penalties(out), seen)
    # the next run first restores the tables past the recorded state, then completes
    report = _ingest(tmp_path, out, "2026-07", {"penalties.csv": newer})
    assert report.unaccounted == 0
    assert _penalties(out).loc["P1", "amount"] == 8.0
    assert _table(report, "penalties").merged_updated == 1


def test_time_travel_reads_what_the_pipeline_knew_and_rebuilds_its_features(
    tmp_path: Path,
) -> None:
    from features.config import FeaturesConfig
    from pipelines.features import run_features

    out = tmp_path / "interim"
    june = PEN + f"{A},P1,fine,food_safety,2026-05-05,1.5,false,,2026-05-12\n"
    _ingest(tmp_path, out, "2026-06", {"penalties.csv": june})
    fcfg = load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)
    run_features(fcfg, out, tmp_path / "f_before", ["2026-06"])
    august = PEN + f"{A},P1,fine,food_safety,2026-05-05,30.0,false,,2026-08-03\n"
    _ingest(tmp_path, out, "2026-08", {"penalties.csv": august})
    assert _penalties(out).loc["P1", "amount"] == 30.0
    assert _penalties(out, as_of="2026-06").loc["P1", "amount"] == 1.5
    assert _penalties(out, as_of="2026-07").loc["P1", "amount"] == 1.5  # the last run <= July
    assert _penalties(out, as_of="2026-09").loc["P1", "amount"] == 30.0
    assert store.open_table(out, "penalties", state=1) == store.open_table(
        out, "penalties", "2026-06"
    )
    with pytest.raises(store.StoreError, match="no state as of 2026-01"):
        store.open_table(out, "penalties", as_of="2026-01")
    # the June state gives June's features exactly: read in place (run_features as_of), and
    # laid out as a folder of its own
    run_features(fcfg, out, tmp_path / "f_again", ["2026-06"], as_of="2026-06")
    past = tmp_path / "june_state"
    past.mkdir()
    for name, snap in store.open_tables(out, as_of="2026-06").items():
        pq.write_table(snap.arrow(), past / f"{name}.parquet")
    shutil.copy2(store.side_file(out, "availability.json", as_of="2026-06"), past)
    run_features(fcfg, past, tmp_path / "f_laid_out", ["2026-06"])
    from features.engine import FeatureError

    with pytest.raises(FeatureError, match="no recorded states"):  # never the current files
        run_features(fcfg, past, tmp_path / "f_refused", ["2026-06"], as_of="2026-06")
    run_features(fcfg, out, tmp_path / "f_now", ["2026-06"])
    a = pq.read_table(tmp_path / "f_before" / "2026-06.parquet").to_pandas()
    b = pq.read_table(tmp_path / "f_again" / "2026-06.parquet").to_pandas()
    pd.testing.assert_frame_equal(a, b)
    laid_out = pq.read_table(tmp_path / "f_laid_out" / "2026-06.parquet").to_pandas()
    pd.testing.assert_frame_equal(a, laid_out)
    # the CLI says the same, and a month before any state is refused naming it
    from pipelines.cli import app

    cli = CliRunner().invoke(app, [
        "features", "--source", str(out), "--out", str(tmp_path / "f_cli"), "--as-of", "2026-06",
        "--interim-as-of", "2026-07",
    ])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    pd.testing.assert_frame_equal(
        a, pq.read_table(tmp_path / "f_cli" / "2026-06.parquet").to_pandas()
    )
    early = CliRunner().invoke(app, [
        "features", "--source", str(out), "--out", str(tmp_path / "f_early"), "--as-of", "2026-06",
        "--interim-as-of", "2026-01",
    ])  # fmt: skip
    assert early.exit_code != 0 and "no state as of 2026-01" in early.output
    # ... which the current state no longer gives (the record was replaced in August)
    c = pq.read_table(tmp_path / "f_now" / "2026-06.parquet").to_pandas()
    assert not a.equals(c)


def test_compact_and_vacuum_keep_every_kept_state_readable(tmp_path: Path) -> None:
    out = tmp_path / "interim"
    for i, month in enumerate(("2026-06", "2026-07", "2026-08")):
        row = f"{A},P{i},fine,food_safety,2026-0{5 + i}-05,{i + 1}.0,false,,2026-0{5 + i}-12\n"
        _ingest(tmp_path, out, month, {"penalties.csv": PEN + row})
    july = _penalties(out, as_of="2026-07")
    july_files = store.open_table(out, "penalties", as_of="2026-07").files  # type: ignore[union-attr]
    files_before = len(store.open_table(out, "penalties").files)  # type: ignore[union-attr]
    compacted = store.compact(out)
    assert compacted is not None and compacted.kind == "compact" and compacted.as_of == "2026-08"
    snap = store.open_table(out, "penalties")
    assert snap is not None and len(snap.files) < files_before
    pd.testing.assert_frame_equal(_penalties(out), _penalties(out, as_of="2026-08"))
    result = store.vacuum(out, keep_months=2)
    # state 1 is dropped: only the files no kept state reads go (its registry, which each
    # run rewrites with the new delivery's lineage); its penalties file is July's too
    assert result["dropped"] == [1]
    assert set(july_files) <= set(store.open_table(out, "penalties", as_of="2026-07").files)  # type: ignore[union-attr]
    assert all(Path(f).is_file() for f in july_files)
    pd.testing.assert_frame_equal(_penalties(out, as_of="2026-07"), july)  # kept: readable
    with pytest.raises(store.StoreError, match="no state as of 2026-06"):
        store.open_table(out, "penalties", as_of="2026-06")
    result = store.vacuum(out, keep_months=0)  # the current state only
    assert result["files_removed"] > 0  # the files the compaction replaced
    assert len(_penalties(out)) == 3 and len(_penalties(out, as_of="2026-08")) == 3
    with pytest.raises(store.StoreError, match="no state as of 2026-07"):
        store.open_table(out, "penalties", as_of="2026-07")
    cur = store.current_state(out)
    assert cur is not None and cur.n == compacted.n  # never the current one
    assert [s["n"] for s in store.describe(out)] == [compacted.n]


def test_old_single_file_layout_is_read_then_migrated(tmp_path: Path) -> None:
    out = tmp_path / "interim"
    _ingest(
        tmp_path,
        out,
        "2026-06",
        {"penalties.csv": PEN + f"{A},P1,fine,food_safety,2024-03-05,1.5,false,,2024-03-12\n"},
    )
    old = tmp_path / "old"
    old.mkdir()
    for name, snap in store.open_tables(out).items():
        pq.write_table(snap.arrow(), old / f"{name}.parquet")
    assert store.open_table(old, "penalties") is not None  # read as it is
    assert _penalties(old).loc["P1", "amount"] == 1.5
    assert store.open_table(old, "licences") is None
    report = _ingest(
        tmp_path,
        old,
        "2026-07",
        {"penalties.csv": PEN + f"{B},P2,fine,food_safety,2025-03-05,2.0,false,,2025-03-12\n"},
    )
    assert not list(old.glob("*.parquet")) and store.is_delta(old / "penalties")
    assert sorted(_penalties(old).index) == ["P1", "P2"]
    assert _table(report, "penalties").merged_new == 1


def test_a_missing_required_table_is_named(tmp_path: Path) -> None:
    from pipelines.intake.readers import StructuralError

    src = _delivery(tmp_path, {})
    (src / "enterprises.csv").unlink()
    with pytest.raises(StructuralError, match="required table enterprises"):
        run_ingest(_cfg(), src, tmp_path / "interim", as_of="2026-06")
    assert store.current_state(tmp_path / "interim") is None


def test_interim_commands_history_compact_vacuum(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipelines.cli.interim import interim_app

    out = tmp_path / "interim"
    for i, month in enumerate(("2026-06", "2026-07")):
        row = f"{A},Q{i},fine,food_safety,2026-0{5 + i}-05,1.0,false,,2026-0{5 + i}-12\n"
        _ingest(tmp_path, out, month, {"penalties.csv": PEN + row})
    runner = CliRunner()
    shown = runner.invoke(interim_app, ["history", "--interim", str(out)])
    assert shown.exit_code == 0, shown.output
    assert "2026-06" in shown.output and "2 (current)" in shown.output
    assert "penalties v" in shown.output
    done = runner.invoke(interim_app, ["compact", "--interim", str(out)])
    assert done.exit_code == 0 and "current state is now 3" in done.output, done.output
    done = runner.invoke(interim_app, ["vacuum", "--keep-months", "0", "--interim", str(out)])
    assert done.exit_code == 0 and "dropped [1, 2]" in done.output, done.output
    assert len(read_table(out, "penalties")) == 2
    empty = runner.invoke(interim_app, ["history", "--interim", str(tmp_path / "none")])
    assert empty.exit_code == 2 and "no state recorded" in empty.output
