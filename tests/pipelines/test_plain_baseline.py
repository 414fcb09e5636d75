"""Never lose to the plain baseline (issue 18): point-in-time aggregates of the delivered
tables, the plain GBM fitted and judged at training, stored in the bundle, rescored by
verify, shown in the card, the report and the summary, and enforced by promote."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models.classes import ClassScheme
from models.plain import PlainComparison
from pipelines import aggregates
from pipelines.config import load_config
from pipelines.results import TrainFigures, VerificationMetrics

D = dt.date.fromisoformat


def _write(folder: Path, name: str, columns: dict[str, pa.Array]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / f"{name}.parquet")


def _folder(tmp: Path) -> Path:
    """A tiny ingested folder with opaque ids, pass-through columns and NULL-only columns."""
    interim = tmp / "interim"
    _write(
        interim,
        "enterprises",
        {
            "uscc": pa.array(["E-001", "E-002"]),
            "entity_type": pa.array(["enterprise", "individual_business"]),
            "industry_code": pa.array(["5289", "1310"]),
            "division_code": pa.array(["440106", "440305"]),
            "established_date": pa.array([D("2016-09-30"), None], pa.date32()),
            "registered_capital": pa.array([100.0, None]),
            "x_staff": pa.array([5, 7], pa.int64()),
            "x_nothing": pa.nulls(2),  # a column of NULL type: nothing to aggregate
            "_source_row": pa.array([1, 2], pa.int64()),  # lineage: never aggregated
        },
    )
    _write(
        interim,
        "penalties",
        {
            "uscc": pa.array(["E-001", "E-001", "E-001"]),
            "decision_no": pa.array(["P1", "P2", "P3"]),
            "penalty_kind": pa.array(["fine", "warning", "fine"]),
            "decision_date": pa.array([D("2026-08-10"), D("2026-09-10"), D("2026-09-25")]),
            # P3 happened in September but was received in October: it does not count for
            # the features of the end of September
            "received_date": pa.array([D("2026-08-20"), D("2026-09-20"), D("2026-10-05")]),
            "amount": pa.array([5.0, None, 100.0]),
            "minor": pa.array([True, False, False]),
            "x_points": pa.array([None, None, None], pa.float64()),  # NULL only, but numeric
            "x_note": pa.array([None, None, None], pa.string()),  # NULL only text
        },
    )
    _write(
        interim,
        "indicators",
        {
            "uscc": pa.array(["E-001", "E-001", "E-002"]),
            "indicator": pa.array(["TAX_A", "TAX_A", "品牌"]),
            "value": pa.array([1.0, 3.0, None]),
            "value_text": pa.array([None, None, "有"]),
            "indicator_date": pa.array([D("2026-08-01"), D("2026-09-15"), D("2026-09-01")]),
            "received_date": pa.array([D("2026-08-02"), D("2026-10-03"), D("2026-09-02")]),
        },
    )
    return interim


def test_aggregates_are_point_in_time_and_take_any_ids_and_null_columns(tmp_path) -> None:  # type: ignore[no-untyped-def]
    interim = _folder(tmp_path)
    spec = aggregates.plan(interim)
    pen = next(t for t in spec.tables if t.table == "penalties")
    assert pen.numeric == ("amount", "minor", "x_points")
    # every text column of at most 12 values (here even the decision numbers); x_note: none
    assert dict(pen.categorical) == {
        "decision_no": ("P1", "P2", "P3"),
        "penalty_kind": ("fine", "warning"),
    }
    # today's registry amounts changed over time: only its passthrough numbers are read
    assert spec.registry_numeric == ("x_staff",)
    assert spec.registry_categorical == ("entity_type", "industry2", "division")
    assert spec.registry_age and spec.indicators == ("TAX_A", "品牌")
    assert not any("_source" in c or "x_nothing" in c for c in spec.columns())
    assert aggregates.AggregateSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec

    rows = pd.DataFrame(
        {
            "uscc": ["E-001", "E-001", "E-002", "E-001", "E-404"],
            "feature_month": ["2026-09", "2026-10", "2026-09", "2026-09", "2026-09"],
        },
        index=[10, 11, 12, 13, 14],
    )
    a = aggregates.compute(interim, rows, spec)
    assert list(a.index) == [10, 11, 12, 13, 14] and list(a.columns) == spec.columns()
    sep, octo, other, again, unknown = (a.loc[i] for i in rows.index)
    assert sep["penalties__n"] == 2 and octo["penalties__n"] == 3  # P3 counts from October
    assert sep["penalties__amount__sum"] == 5 and octo["penalties__amount__sum"] == 105
    assert sep["penalties__amount__last"] == 5 and octo["penalties__amount__last"] == 100
    assert sep["penalties__amount__mean"] == 5 and sep["penalties__amount__max"] == 5
    assert sep["penalties__minor__mean"] == 0.5
    assert sep["penalties__penalty_kind__eq00_fine"] == 1
    assert sep["penalties__penalty_kind__eq01_warning"] == 1
    assert np.isnan(sep["penalties__x_points__mean"]) and np.isnan(octo["penalties__x_points__sum"])
    assert other["penalties__n"] == 0 and np.isnan(other["penalties__amount__mean"])
    tax = [c for c in spec.columns() if c.startswith("indicators__000_TAX_A")]
    assert [sep[c] for c in tax] == [1.0, 1.0, 1.0]  # the value received in October: not yet
    assert [octo[c] for c in tax] == [3.0, 2.0, 2.0]  # latest, mean, count
    brand = [c for c in spec.columns() if c.startswith("indicators__001_")]
    assert other[brand[-1]] == 1 and np.isnan(other[brand[0]])  # text only: counted
    assert sep["registry__entity_type"] == "enterprise" and sep["registry__industry2"] == "52"
    assert sep["registry__age_years"] == pytest.approx(3652 / 365.25)
    assert np.isnan(other["registry__age_years"])
    assert "registry__registered_capital" not in spec.columns()
    assert other["registry__x_staff"] == 7
    assert again.equals(sep)  # the same enterprise-month twice: the same figures
    assert unknown["penalties__n"] == 0 and unknown["registry__entity_type"] is None

    # a table delivered at training but missing now: its columns are missing, not zero
    (interim / "penalties.parquet").unlink()
    gone = aggregates.compute(interim, rows, spec)
    assert gone["penalties__n"].isna().all() and list(gone.columns) == spec.columns()


def test_a_registry_of_ids_alone_and_no_event_table(tmp_path) -> None:  # type: ignore[no-untyped-def]
    interim = tmp_path / "interim"
    _write(interim, "enterprises", {"uscc": pa.array(["opaque-1", "opaque-2"])})
    spec = aggregates.plan(interim)
    assert spec == aggregates.AggregateSpec()
    rows = pd.DataFrame({"uscc": ["opaque-1"], "feature_month": ["2026-09"]})
    assert aggregates.compute(interim, rows, spec).shape == (1, 0)


def test_the_card_says_how_the_model_is_judged_and_when_it_lost(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from models import gbm, plain
    from pipelines.results import TrainMetrics
    from pipelines.train.card import model_card
    from tests.conftest import model_config

    cfg = model_config(tmp_path)
    scheme = load_config(cfg.class_scheme, ClassScheme)
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.3).astype(float)
    risk = y + rng.normal(size=2000)
    lost = plain.compare("lightgbm", y, np.ones(2000), -risk, risk, b=200, seed=cfg.seed)
    metrics = TrainMetrics({}, 0, None, {}, {}, scheme.name, "lightgbm", plain=lost)
    card = model_card(cfg, scheme, {}, metrics, gbm.Design(("x",), {}))
    section = card.split("## Plain baseline (简单基线)")[1].split("\n## ")[0]
    assert "How it is judged" in section and "whole 95% interval" in section
    assert "200 resamples" in section and "LOST to the plain baseline" in section
    assert "promotion refuses this version" in section and f"{lost.diff_high:+.3f}" in section
    metrics.plain = None  # disabled, or nothing to aggregate: said so
    assert "Not fitted for this version" in model_card(
        cfg, scheme, {}, metrics, gbm.Design(("x",), {})
    )


# ------------------------------------------------------------------ with the trained model
def test_training_fits_judges_and_stores_the_plain_baseline(small_model) -> None:  # type: ignore[no-untyped-def]
    import mlflow
    from mlflow import MlflowClient

    cfg, result = small_model
    m = result.metrics
    pb = m.plain
    assert pb is not None and pb.model == m.deployed
    plain_eval, deployed = m.models["plain_gbm"], m.models[m.deployed]
    assert pb.plain_auc == pytest.approx(plain_eval.auc) and pb.model_auc == pytest.approx(
        deployed.auc
    )
    assert pb.rows == m.labelled["test"] and pb.bootstrap == cfg.plain_baseline.bootstrap
    assert pb.diff_low <= pb.diff <= pb.diff_high and pb.plain_low <= pb.plain_auc <= pb.plain_high
    print(  # the figures the report quotes (aggregates only)
        f"\nsmall province, test months: model AUC {pb.model_auc:.3f} vs plain GBM "
        f"{pb.plain_auc:.3f}, difference {pb.diff:+.3f} ({pb.diff_low:+.3f}..{pb.diff_high:+.3f})"
    )
    path = Path(cfg.mlflow.artifact_root).parent / "metrics.json"
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk["plain_gbm"]["auc"] == plain_eval.auc
    assert on_disk["plain_baseline"]["diff_high"] == pb.diff_high
    assert TrainFigures.read(path).plain_baseline == on_disk["plain_baseline"]

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    client = MlflowClient()
    run = client.get_run(result.run_id)
    logged = run.data.metrics
    assert logged["plain_gbm_auc"] == pytest.approx(pb.plain_auc)
    assert logged["plain_auc_diff_low"] == pytest.approx(pb.diff_low)
    assert PlainComparison.from_metrics(logged) is not None
    files = {f.path for f in client.list_artifacts(result.run_id, "bundle")}
    assert {"bundle/plain.txt", "bundle/plain_design.json"} <= files
    folder = Path(mlflow.artifacts.download_artifacts(run_id=result.run_id, artifact_path="bundle"))
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert meta["plain_baseline"]["lost"] == pb.lost
    card = (folder / "model_card.md").read_text(encoding="utf-8")
    section = card.split("## Plain baseline")[1].split("\n## ")[0]
    assert "How it is judged" in section and "whole 95% interval" in section
    assert f"{pb.plain_auc:.3f}" in section and "| plain_gbm |" in card


def test_verify_rescores_the_plain_baseline_and_says_so(
    small_model, small_history, small_interim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from pipelines.bundle import load_bundle
    from pipelines.summary import plain_words
    from pipelines.verify import run_verify
    from pipelines.verify.plain import plain_comparison

    cfg, result = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    v = run_verify(cfg, scheme, small_history, small_interim[1], "2026-10", tmp_path)
    m = v.metrics
    pb = m.plain_baseline
    assert pb is not None and pb.model_auc == pytest.approx(m.auc, abs=1e-12)
    # the verified rows are training's test rows: the stored plain GBM gives training's AUC
    assert pb.plain_auc == pytest.approx(result.metrics.plain.plain_auc, abs=1e-9)
    check = m.checks["beats_plain_baseline"]
    assert check.passed == (not pb.lost) and f"{pb.plain_auc:.3f}" in check.value
    back = VerificationMetrics.read(v.out)
    assert back.plain_baseline == pb
    html = v.out.with_name("verification.html").read_text(encoding="utf-8")
    assert "与简单基线对比" in html and f"{pb.plain_auc:.3f}" in html
    assert "plain GBM on simple aggregates" in plain_words(m)

    # an old version, trained before the plain baseline: not available, not a failure
    stored = load_bundle(cfg, "challenger")
    one = pd.DataFrame({"uscc": ["E"], "feature_month": ["2026-09"], "y": [1.0], "weight": [1.0]})
    # nothing delivered to score the plain GBM on: not available either
    assert plain_comparison(cfg, stored, tmp_path / "nothing", one, np.ones(1), "2026-10") is None
    bundle = dataclasses.replace(stored, plain=None)
    assert (
        plain_comparison(cfg, bundle, small_interim[1], pd.DataFrame(), np.zeros(0), "2026-10")
        is None
    )
    old = dataclasses.replace(m, plain_baseline=None)
    assert "plain_baseline" not in old.to_dict()
    assert (
        VerificationMetrics.from_dict(json.loads(json.dumps(old.to_dict()))).plain_baseline is None
    )
    assert "not available" in plain_words(old)


def test_promotion_refuses_a_model_that_lost_to_the_plain_baseline(small_model, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    from pipelines.promote import checks_for, run_promote

    cfg, result = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    # a copy of the registry, so that the session's model is left as it is
    db = Path(cfg.mlflow.tracking_uri.removeprefix("sqlite:///"))
    shutil.copy(db, tmp_path / "mlflow.db")
    copy = cfg.model_copy(
        update={
            "mlflow": cfg.mlflow.model_copy(
                update={"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}
            )
        }
    )
    client = MlflowClient(tracking_uri=copy.mlflow.tracking_uri)
    logged = client.get_run(result.run_id).data.metrics
    own = checks_for(copy, scheme, logged)["beats_plain_baseline"]
    assert own.passed == (not result.metrics.plain.lost)
    # the deployed model worse than the plain GBM beyond the noise of the test rows
    for key, value in {
        "plain_auc_diff": -0.10,
        "plain_auc_diff_low": -0.14,
        "plain_auc_diff_high": -0.06,
    }.items():
        client.log_metric(result.run_id, key, value, step=1)
    log = tmp_path / "promotions.jsonl"
    lenient = copy.model_copy(
        update={
            "promote": copy.promote.model_copy(
                update={
                    "min_test_auc": 0.5,
                    "max_test_logloss": 5.0,
                    "require_increasing_hit_rates": False,
                }
            )
        }
    )
    d = run_promote(lenient, scheme, log, user="tester")
    assert not d.promoted
    check = d.checks["beats_plain_baseline"]
    assert not check.passed and "LOST" in check.value and "-0.140 to -0.060" in check.value
    entry = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    assert entry["decision"] == "refused" and entry["checks"]["beats_plain_baseline"] is False
    assert entry["plain_baseline"]["passed"] is False
    assert entry["plain_baseline"]["figures"]["diff_high"] == -0.06
    assert entry["plain_baseline"]["figures"]["lost"] is True
    # the switch: reported, not required
    off = lenient.model_copy(
        update={"promote": lenient.promote.model_copy(update={"require_beats_plain": False})}
    )
    assert checks_for(off, scheme, client.get_run(result.run_id).data.metrics)[
        "beats_plain_baseline"
    ].passed
