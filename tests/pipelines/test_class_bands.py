"""Classes that fit the data (issue 18): score bands fitted at training on the population's
scores, carried by the model version, used by every stage that classes with it; and
classify's warnings about empty classes and shares far from the expected ones."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from models.classes import ClassScheme, assign
from models.config import ClassBandsConfig
from pipelines.bundle import BundleError, load_bundle
from pipelines.classify import run_classify
from pipelines.cli import app
from pipelines.config import load_config
from pipelines.train import TrainError, run_train
from tests.conftest import ROOT, model_config

TARGETS = {"A": 0.60, "B": 0.30, "C": 0.07, "D": 0.03}
HENAN = ROOT / "configs" / "classes" / "henan.yaml"


@pytest.fixture(scope="module")
def fitted_model(small_history, small_interim, tmp_path_factory):  # type: ignore[no-untyped-def]
    """The small province trained with ``class_bands.fit``: (cfg, result)."""
    tmp = tmp_path_factory.mktemp("fitted")
    bands = ClassBandsConfig(fit=True, target_shares=TARGETS, max_share_drift=0.5)
    cfg = model_config(tmp, class_bands=bands)
    return cfg, run_train(cfg, small_history, small_interim[1])


@pytest.mark.slow
def test_training_fits_the_bands_on_the_population_and_the_version_carries_them(
    fitted_model, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cfg, result = fitted_model
    bundle = load_bundle(cfg, alias="challenger")
    fitted = bundle.class_bands
    assert fitted is not None and bundle.version == result.version
    # the latest feature month the run used: the month before the last label month
    assert fitted.month == "2026-09" and fitted.scheme == "henan"
    population = pq.read_metadata(small_history / "2026-09.parquet").num_rows
    assert fitted.enterprises == population
    bounds = list(fitted.bands.values())
    assert list(fitted.bands) == ["A", "B", "C", "D"] and bounds[0] == 0
    assert all(lo < hi for lo, hi in pairwise(bounds))
    for code, target in TARGETS.items():
        assert fitted.targets[code] == pytest.approx(target, abs=1 / population)
        assert fitted.fitted_shares[code] == pytest.approx(target, abs=0.01)
    assert result.metrics.class_scheme == "henan"

    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    client = MlflowClient()
    params = client.get_run(result.run_id).data.params
    assert params["class_bands"] == "fitted" and params["class_bands_month"] == "2026-09"
    assert {float(params[f"class_band_{c}"]) for c in TARGETS} == set(bounds)
    card = Path(client.download_artifacts(result.run_id, "bundle/model_card.md", str(tmp_path)))
    text = card.read_text(encoding="utf-8")
    assert "## Class bands fitted to the population" in text
    for code, lower in fitted.bands.items():
        assert f"| {code} | {lower:g} | {fitted.targets[code]:.1%} |" in text


@pytest.mark.slow
def test_classify_uses_the_fitted_bands_and_its_shares_come_near_the_targets(
    fitted_model, small_history, small_interim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cfg, _result = fitted_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    bundle = load_bundle(cfg, alias="challenger")
    assert bundle.class_bands is not None
    used = bundle.scheme(scheme)
    assert used.score_bands == bundle.class_bands.bands != scheme.score_bands
    assert used.name == scheme.name and used.overrides == scheme.overrides

    report = run_classify(
        cfg, scheme, small_history, "2026-10", tmp_path, alias="challenger", explain=False
    )
    out = pq.read_table(report.summary.out).to_pandas()
    # the classes are those of the fitted bands (then the overrides)
    again = assign(out[["uscc", "score", "probability"]], used.model_copy(update={"overrides": ()}))
    assert (again["class_model"] == out["class_model"]).all()
    # the next month, with the sector models on top: near the targets, within the drift
    shares = out["class_model"].value_counts(normalize=True).to_dict()
    for code, target in TARGETS.items():
        assert abs(shares.get(code, 0.0) - target) <= 0.5 * target, (code, shares)
    summary = json.loads((tmp_path / "2026-10" / "classes_summary.json").read_text())
    assert [w for w in summary["warnings"] if w["kind"] != "empty"] == []

    # the reports class with the same bands (their charts show them)
    from pipelines.report import ReportConfig, ReportMonth

    rcfg = load_config(ROOT / "configs" / "report.yaml", ReportConfig)
    run_classify(cfg, scheme, small_history, "2026-10", tmp_path / "x", alias="challenger")
    ctx = ReportMonth.load(
        "2026-10", cfg, rcfg, scheme, small_history, small_interim[1], tmp_path / "x", ROOT
    )
    assert ctx.scheme.score_bands == bundle.class_bands.bands


@pytest.mark.slow
def test_verify_classes_with_the_fitted_bands_as_training_evaluated_them(
    fitted_model, small_history, small_interim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Training's test-month figures use the bands it fitted; verify, on the same held-out
    inspections, finds the same classes."""
    from pipelines.verify import run_verify

    cfg, result = fitted_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    v = run_verify(cfg, scheme, small_history, small_interim[1], "2026-10", tmp_path)
    deployed = result.metrics.models[result.metrics.deployed]
    for c, r in deployed.hit_rates.items():
        assert v.metrics.class_model.hit_rates[c].inspections == r.inspections
    shares = v.metrics.population["shares"]["2026-10"]
    # the population classed by the fitted bands (C is near its target; overrides add to D)
    assert shares["C"]["share"] == pytest.approx(TARGETS["C"], abs=0.5 * TARGETS["C"])


@pytest.mark.slow
def test_fitted_bands_apply_only_to_a_score_band_scheme_with_the_same_classes(
    fitted_model,
) -> None:  # type: ignore[no-untyped-def]
    cfg, _result = fitted_model
    bundle = load_bundle(cfg, alias="challenger")
    henan = load_config(HENAN, ClassScheme)
    shares = ClassScheme.model_validate(
        {**henan.model_dump(), "method": "shares", "score_bands": None, "shares": TARGETS}
    )
    assert bundle.scheme(shares) is shares  # ranks fit every month's population already
    thresholds = ClassScheme.model_validate(
        {
            **henan.model_dump(),
            "method": "probability_thresholds",
            "score_bands": None,
            "probability_thresholds": {"A": 0, "B": 0.1, "C": 0.5, "D": 0.9},
        }
    )
    assert bundle.scheme(thresholds) is thresholds  # the bureau's own probability bounds
    guangxi = load_config(ROOT / "configs" / "classes" / "guangxi.yaml", ClassScheme)
    with pytest.raises(BundleError, match="fitted for class scheme henan"):
        bundle.scheme(guangxi)


def test_a_version_without_fitted_bands_keeps_the_schemes_bands(small_model) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = small_model
    bundle = load_bundle(cfg, alias="challenger")
    scheme = load_config(HENAN, ClassScheme)
    assert bundle.class_bands is None and bundle.scheme(scheme) is scheme


def test_class_bands_that_do_not_fit_the_scheme_fail_before_training(
    small_history, small_interim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    bands = ClassBandsConfig(fit=True, target_shares={"A": 0.7, "B": 0.2, "C": 0.1})
    cfg = model_config(tmp_path, class_bands=bands)
    with pytest.raises(TrainError, match=r"class_bands: target_shares .* no share for D"):
        run_train(cfg, small_history, small_interim[1])
    assert not (tmp_path / "mlflow.db").exists()  # nothing was started


def _config_file(cfg: Any, path: Path) -> Path:
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    return path


def test_classify_warns_about_an_empty_class_in_the_console_and_the_summary(
    small_model, small_history, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A class no enterprise reaches: a yellow line and the summary's ``warnings`` name the
    class and its share; no enterprise is named."""
    cfg, _ = small_model
    first = run_classify(
        cfg, load_config(HENAN, ClassScheme), small_history, "2026-10", tmp_path / "a",
        alias="challenger", explain=False,
    )  # fmt: skip
    top = float(pq.read_table(first.summary.out, columns=["score"]).column(0).to_numpy().max())
    assert top < 1000
    data = yaml.safe_load(HENAN.read_text(encoding="utf-8"))
    data["overrides"] = []  # nothing moves an enterprise into D but the bands
    data["score_bands"] = {"A": 0, "B": 100, "C": 500, "D": min(top + 0.5, 1000.0)}
    if data["score_bands"]["C"] >= data["score_bands"]["D"]:
        data["score_bands"]["C"] = top / 2
    scheme_file = tmp_path / "empty_d.yaml"
    scheme_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            *("classify", "--as-of", "2026-10", "--features", str(small_history)),
            *(
                "--out",
                str(tmp_path / "b"),
                "--config",
                str(_config_file(cfg, tmp_path / "m.yaml")),
            ),
            *("--scheme", str(scheme_file), "--alias", "challenger", "--no-explain"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "warning: class D holds no enterprise (expected 1.5%-3.5%)" in result.output
    summary = json.loads((tmp_path / "b" / "2026-10" / "classes_summary.json").read_text())
    empty = [w for w in summary["warnings"] if w["kind"] == "empty"]
    assert empty == [
        {
            "class": "D",
            "kind": "empty",
            "share": 0.0,
            "expected": [0.015, 0.035],
            "basis": "class_final",
            "message": "class D holds no enterprise (expected 1.5%-3.5%)",
        }
    ]
    assert summary["class_counts"]["D"] == 0
    usccs = set(pd.read_parquet(first.summary.out, columns=["uscc"])["uscc"])
    assert not any(u in json.dumps(summary["warnings"]) for u in usccs)
