"""Training on inspection outcomes: weights, point in time, determinism, registry, classify."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from contract.months import previous_month
from contract.tables import GROUPS
from models import explain, gbm
from models.classes import ClassScheme
from models.data import label_frames, split_by_month
from pipelines.bundle import load_bundle
from pipelines.classify import ClassifyError, run_classify
from pipelines.config import load_config
from pipelines.frames import load_training_frame
from pipelines.promote import run_promote
from pipelines.results import TrainFigures
from pipelines.train import run_train
from tests.conftest import ROOT, model_config
from tests.interim import read_table


def _insp(**kw: object) -> dict:
    row = {
        "inspection_id": "I1",
        "uscc": "E1",
        "draw_mode": "double_random",
        "inclusion_probability": 0.05,
        "inspection_date": pd.Timestamp("2026-03-10"),
        "problem_found": True,
    }
    row.update(kw)
    return row


def test_weights_are_one_over_the_inclusion_probability() -> None:
    df = pd.DataFrame(
        [
            _insp(),
            _insp(inspection_id="I2", inclusion_probability=0.2, problem_found=False),
            _insp(inspection_id="I3", draw_mode="targeted", inclusion_probability=None),
            _insp(inspection_id="I4", inspection_date=pd.Timestamp("2025-12-31")),  # outside
        ]
    )
    random, targeted = label_frames(df, "2026-01", "2026-12")
    assert list(random["inspection_id"]) == ["I1", "I2"]
    assert random["weight"].tolist() == [20.0, 5.0]
    assert np.allclose(random["weight"] * random["p"], 1.0)
    assert list(targeted["inspection_id"]) == ["I3"] and targeted["weight"].tolist() == [1.0]
    assert random["feature_month"].tolist() == ["2026-02", "2026-02"]


def test_a_double_random_inspection_without_design_is_never_a_weighted_label() -> None:
    # kept at intake (noted design_unknown), but it cannot stand for the population
    df = pd.DataFrame([_insp(inclusion_probability=None)])
    random, targeted = label_frames(df, "2026-01", "2026-12")
    assert random.empty and targeted.empty


def test_a_double_random_inspection_with_a_zero_probability_is_refused() -> None:
    df = pd.DataFrame([_insp(inclusion_probability=0.0)])
    with pytest.raises(ValueError, match=r"I1.*\[rule: double_random_has_design\]"):
        label_frames(df, "2026-01", "2026-12")


def test_months_split_out_of_time() -> None:
    months = [f"2026-{m:02d}" for m in range(1, 11)]
    split = split_by_month(months, 2, 3)
    assert [split[m] for m in months] == ["train"] * 5 + ["valid"] * 2 + ["test"] * 3
    assert previous_month("2026-01") == "2025-12"
    with pytest.raises(ValueError, match="cannot be split"):
        split_by_month(months[:4], 2, 2)


def test_no_feature_comes_from_the_label_month_or_later(small_interim, small_history) -> None:  # type: ignore[no-untyped-def]
    inspections = read_table(small_interim[1], "inspections")
    random, _ = label_frames(inspections, "2025-10", "2026-10")
    frame, counts, catalog = load_training_frame(small_history, random)
    assert (frame["feature_month"] < frame["month"]).all()
    assert counts["labels"] == counts["used"] + counts["without_features"]
    assert catalog is not None
    # each label row carries exactly the features of the month end before the inspection
    row = frame.iloc[len(frame) // 2]
    month = (
        pq.read_table(small_history / f"{row['feature_month']}.parquet")
        .to_pandas()
        .set_index("uscc")
    )
    assert month.loc[row["uscc"], "age_years"] == row["age_years"]
    assert pd.Timestamp(row["inspection_date"]) > pd.Timestamp(
        row["feature_month"]
    ) + pd.offsets.MonthEnd(0)


def test_training_reports_models_baselines_and_registers_a_challenger(small_model) -> None:  # type: ignore[no-untyped-def]
    cfg, result = small_model
    m = result.metrics
    assert set(m.models) >= {"lightgbm", "indicator_score", "logistic", "lightgbm_unweighted"}
    for r in m.models.values():
        assert 0.5 < r.auc <= 1.0
        assert r.auc_fraction_of_oracle is not None and 0 < r.auc_fraction_of_oracle <= 1.05
    assert m.oracle_auc is not None and 0.5 < m.oracle_auc <= 1
    # train_metrics.json: the flat figures of the typed metrics, read back the same
    path = Path(cfg.mlflow.artifact_root).parent / "metrics.json"
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk == m.figures().to_dict() == TrainFigures.read(path).to_dict()
    assert on_disk["lightgbm"]["auc"] == m.models["lightgbm"].auc
    assert result.trials == 3
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    client = MlflowClient()
    mv = client.get_model_version_by_alias(cfg.mlflow.registered_model, "challenger")
    assert str(mv.version) == result.version
    run = client.get_run(mv.run_id)
    assert "test_lightgbm_auc" in run.data.metrics
    nested = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{mv.run_id}'"
    )
    assert len(nested) == 3  # every Optuna trial is a nested run
    files = {f.path for f in client.list_artifacts(mv.run_id, "bundle")}
    assert {
        "bundle/general.txt",
        "bundle/meta.json",
        "bundle/model_card.md",
        "bundle/roc.png",
        "bundle/calibration.png",
        "bundle/hit_rate_by_class.png",
    } <= files
    model = mlflow.models.Model.load(f"models:/{cfg.mlflow.registered_model}/{mv.version}")
    inputs = model.signature.inputs.to_dict()
    assert {i["type"] for i in inputs} == {"double"}  # nullable columns are float64


def test_the_same_seed_gives_the_same_model_and_classes(
    small_model, small_history, small_interim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cfg, first = small_model
    cfg2 = model_config(tmp_path)
    second = run_train(cfg2, small_history, small_interim[1])
    assert second.model_string == first.model_string
    assert second.best_params == first.best_params
    scheme = load_config(cfg.class_scheme, ClassScheme)
    a = run_classify(cfg, scheme, small_history, "2026-10", tmp_path / "a", alias="challenger")
    b = run_classify(cfg2, scheme, small_history, "2026-10", tmp_path / "b", alias="challenger")
    ta, tb = pq.read_table(a.summary.out), pq.read_table(b.summary.out)
    assert ta.drop(["model_version"]).equals(tb.drop(["model_version"]))


def test_classify_records_scores_classes_and_overrides(
    small_model, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cfg, result = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    report = run_classify(
        cfg, scheme, small_history, "2026-10", tmp_path, alias="challenger", batch_rows=1000
    )
    out = pq.read_table(report.summary.out).to_pandas()
    feats = pq.read_table(small_history / "2026-10.parquet").to_pandas()
    assert out["uscc"].tolist() == feats["uscc"].tolist()  # every enterprise, in order
    assert out["score"].between(0, 1000).all() and out["probability"].between(0, 1).all()
    assert (out["model_version"] == result.version).all() and (out["data_month"] == "2026-10").all()
    serious = feats["sd_listed"].to_numpy() == 1
    assert serious.any()
    assert (out.loc[serious, "class_final"] == "D").all()
    assert (out.loc[serious, "override_rule"] == "serious_dishonest_list").all()
    untouched = out["override_rule"].isna()
    assert (out.loc[untouched, "class_final"] == out.loc[untouched, "class_model"]).all()
    assert sum(report.summary.class_counts.values()) == len(out)
    summary = json.loads((tmp_path / "2026-10" / "classes_summary.json").read_text())
    assert summary["enterprises"] == len(out) and summary == report.summary.to_dict()


def test_classify_stores_each_enterprises_main_risk_points(
    small_model, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The stored risk points are those of LightGBM's own TreeSHAP on the deployed model,
    the group sums and the expected value add up to the margin, and the margin gives the
    probability through the calibrator."""
    cfg, _ = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    report = run_classify(
        cfg, scheme, small_history, "2026-10", tmp_path, alias="challenger", batch_rows=700
    )
    out = pq.read_table(report.summary.out).to_pandas()
    bundle = load_bundle(cfg, "challenger")
    feats = pq.read_table(small_history / "2026-10.parquet")
    x = gbm.matrix_arrow(feats, bundle.design)
    flags = {f: feats.column(f).to_numpy(zero_copy_only=False) for _n, f, _b, _c in bundle.sectors}
    reference = explain.contributions(bundle.general, x)
    for _name, flag, booster, _cal in bundle.sectors:  # the boost rule: sector trees on top
        m = flags[flag] == 1
        reference[m] += explain.contributions(booster, np.ascontiguousarray(x[m]))
    idx, val = explain.top_risk_points(reference, cfg.explain.top_k)
    names = np.array([*bundle.design.features, None], dtype=object)
    for k in range(cfg.explain.top_k):
        stored = out[f"risk_{k + 1}_feature"].fillna("").tolist()
        assert stored == [n or "" for n in names[idx[:, k]]]
        np.testing.assert_allclose(out[f"risk_{k + 1}_contribution"], val[:, k], atol=1e-9)
    # a stored value is the enterprise's own value of that feature
    frame = feats.to_pandas()
    first = out["risk_1_feature"].notna().to_numpy().nonzero()[0][:50]
    for i in first:
        raw = frame.at[i, out.at[i, "risk_1_feature"]]
        if isinstance(raw, float) and np.isnan(raw):  # a missing value can be a risk point
            assert pd.isna(out.at[i, "risk_1_value"])
            continue
        assert out.at[i, "risk_1_value"] == (f"{raw:.15g}" if isinstance(raw, float) else str(raw))
    shap = out[[f"shap_{g}" for g in GROUPS]].sum(axis=1) + out["shap_expected"]
    np.testing.assert_allclose(shap, out["margin"], atol=1e-9)
    np.testing.assert_allclose(out["margin"], reference.sum(axis=1), atol=1e-9)
    general = ~np.any([flags[f] == 1 for f in flags], axis=0) if flags else np.ones(len(out), bool)
    p = bundle.calibrator(gbm.sigmoid(out["margin"].to_numpy()[general]))
    np.testing.assert_allclose(p, out["probability"].to_numpy()[general], atol=1e-12)
    # contributions are positive, in decreasing order, and a missing slot stays empty
    c = out[[f"risk_{k + 1}_contribution" for k in range(cfg.explain.top_k)]].to_numpy()
    assert (np.nan_to_num(c, nan=np.inf) > 0).all()
    filled = np.nan_to_num(c, nan=-1.0)  # an empty slot comes after every positive one
    assert (np.diff(filled, axis=1) <= 0).all()


def test_classify_refuses_features_the_model_does_not_know(
    small_model, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    t = pq.read_table(small_history / "2026-10.parquet")
    folder = tmp_path / "features"
    folder.mkdir()
    # another catalog built this file
    meta = {**t.schema.metadata, b"riskclass.catalog": b"0123456789abcdef"}
    pq.write_table(t.replace_schema_metadata(meta), folder / "2026-10.parquet")
    with pytest.raises(
        ClassifyError, match=r"trained on features of catalog .* built by catalog 0123456789abcdef"
    ):
        run_classify(cfg, scheme, folder, "2026-10", tmp_path / "out", alias="challenger")
    # a feature the model needs is gone
    pq.write_table(t.drop(["pen_count_12m"]), folder / "2026-10.parquet")
    with pytest.raises(ClassifyError, match="lacks: pen_count_12m"):
        run_classify(cfg, scheme, folder, "2026-10", tmp_path / "out", alias="challenger")
    with pytest.raises(ClassifyError, match="no feature file"):
        run_classify(cfg, scheme, folder, "2026-09", tmp_path / "out", alias="challenger")
    with pytest.raises(ClassifyError, match="no version with alias @nobody"):
        run_classify(cfg, scheme, small_history, "2026-10", tmp_path / "out", alias="nobody")


def test_promotion_is_gated_and_logged_in_a_chain(
    small_model, small_history, small_interim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from models.classes import with_score_bands
    from pipelines.promote import PromoteError
    from pipelines.verify import run_verify

    cfg, result = small_model
    # the small province's test months hold ~40 double-random inspections: wider middle
    # bands than the demo's, so that no class is left uninspected (not the point here)
    scheme = with_score_bands(
        load_config(ROOT / "configs" / "classes" / "henan.yaml", ClassScheme),
        {"A": 0, "B": 100, "C": 400, "D": 900},
    )
    log = tmp_path / "promotions.jsonl"
    lenient = cfg.model_copy(
        update={
            "promote": cfg.promote.model_copy(
                update={
                    "min_test_auc": 0.5,
                    "max_test_logloss": 5.0,
                    "require_increasing_hit_rates": False,
                }
            ),
            "verify": cfg.verify.model_copy(
                update={
                    "min_auc": 0.5,
                    "require_increasing": False,
                    "min_top_lift": 0.01,
                    "max_score_psi": 100.0,
                    "require_calibrated": False,  # a small province's model: not the point here
                }
            ),
        }
    )
    passed = run_verify(
        lenient, scheme, small_history, small_interim[1], "2026-10", tmp_path / "ok"
    )
    assert passed.passed
    # no verification report: refused, and said why
    missing = run_promote(lenient, scheme, log, user="tester")
    assert not missing.promoted and not missing.checks["verification"].passed
    # a failing verification: refused
    strict = lenient.model_copy(
        update={"verify": lenient.verify.model_copy(update={"min_auc": 0.9999})}
    )
    failed = run_verify(strict, scheme, small_history, small_interim[1], "2026-10", tmp_path / "no")
    refused = run_promote(lenient, scheme, log, user="tester", verification=failed.out)
    assert not refused.promoted and refused.checks["verification"].value.startswith("FAIL")
    # the verdict is recomputed with this config: a report made under lax thresholds fails
    lax_report = run_promote(strict, scheme, log, user="tester", verification=passed.out)
    assert not lax_report.promoted and "check auc fails" in lax_report.checks["verification"].value
    # training's own checks still apply
    high = lenient.model_copy(
        update={"promote": lenient.promote.model_copy(update={"min_test_auc": 0.9999})}
    )
    assert not run_promote(high, scheme, log, user="tester", verification=passed.out).promoted
    done = run_promote(lenient, scheme, log, user="tester", verification=passed.out)
    assert done.promoted and done.to_version == result.version
    lines = log.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["decision"] for x in lines] == ["refused"] * 4 + ["promoted"]
    import hashlib

    assert json.loads(lines[4])["previous_sha256"] == hashlib.sha256(lines[3].encode()).hexdigest()
    assert json.loads(lines[4])["user"] == "tester"
    # a report about another version is not evidence
    report = json.loads(passed.out.read_text(encoding="utf-8"))
    for change, why in (
        (("model", "version"), "999"),
        (("scheme",), "guangxi"),
        (("window",), ["2025-01", "2026-10"]),
    ):
        other = json.loads(json.dumps(report))
        target = other
        for key in change[:-1]:
            target = target[key]
        target[change[-1]] = why
        (tmp_path / "other.json").write_text(json.dumps(other), encoding="utf-8")
        d = run_promote(lenient, scheme, log, user="tester", verification=tmp_path / "other.json")
        assert not d.promoted, change  # logged as a refusal, with the reason
    value = d.checks["verification"].value
    assert "before the held-out months (2026-08 on)" in value
    with pytest.raises(PromoteError, match="no verification report"):
        run_promote(lenient, scheme, log, user="tester", verification=tmp_path / "nope.json")


def test_classify_with_the_five_level_scheme(small_model, small_history, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = small_model
    scheme = load_config(ROOT / "configs" / "classes" / "guangxi.yaml", ClassScheme)
    report = run_classify(cfg, scheme, small_history, "2026-10", tmp_path, alias="challenger")
    out = pq.read_table(report.summary.out).to_pandas()
    feats = pq.read_table(small_history / "2026-10.parquet").to_pandas()
    assert set(out["class_final"]) <= {"green", "blue", "yellow", "red", "grey"}
    assert (out.loc[feats["sd_listed"].to_numpy() == 1, "class_final"] == "red").all()
    dormant_only = (feats["dormant"] == 1) & (feats["sd_listed"] == 0)
    assert dormant_only.any() and (out.loc[dormant_only.to_numpy(), "class_final"] == "grey").all()


def test_the_arrow_matrix_equals_the_pandas_one(small_model, small_history) -> None:  # type: ignore[no-untyped-def]
    """classify builds the model input from Arrow; training from pandas: the same numbers."""
    from models.gbm import Design, matrix, matrix_arrow

    cfg, _ = small_model
    design: Design = load_bundle(cfg, "challenger").design
    table = pq.read_table(small_history / "2026-10.parquet")
    a = matrix(table.to_pandas(), design).to_numpy()
    b = matrix_arrow(table, design)
    assert a.shape == b.shape
    assert np.array_equal(a, b, equal_nan=True)


def test_sector_models_are_compared_with_the_general_one(
    small_province, small_interim, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A sector model grows trees on the general model's margin (rule `boost`) and is kept only
    if it beats the general model on its sector's test months; the comparison is recorded."""
    from models.config import SectorModel

    sector = SectorModel(
        name="young", zh="新设企业", flag="young_3y", min_inspections=20, min_holdout_inspections=5
    )
    cfg = model_config(tmp_path, sectors=(sector,), sector_rounds=20)
    result = run_train(cfg, small_history, small_interim[1], truth=small_province["truth"])
    row = result.metrics.sectors["young"]
    assert row.figures is not None
    assert {"general_logloss", "sector_logloss", "general_auc", "sector_auc"} <= set(row.to_dict())
    scheme = load_config(cfg.class_scheme, ClassScheme)
    report = run_classify(
        cfg, scheme, small_history, "2026-10", tmp_path / "out", alias="challenger"
    )
    out = pq.read_table(report.summary.out).to_pandas()
    assert out["probability"].between(0, 1).all()
    assert ("young" in [name for name, *_ in load_bundle(cfg, "challenger").sectors]) == row.used
    assert row.used == (row.figures.valid_sector_auc > row.figures.valid_general_auc)
