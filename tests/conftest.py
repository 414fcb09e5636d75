"""Shared fixtures: a small simulated province, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.environment import no_telemetry
from simulator.config import SimulatorConfig

ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Never let a library phone home during tests (the same call the CLI and service make)."""
    no_telemetry()


@pytest.fixture(scope="session")
def sim_config() -> SimulatorConfig:
    return load_config(ROOT / "configs" / "simulator.yaml", SimulatorConfig)


@pytest.fixture(scope="session")
def small_config(sim_config: SimulatorConfig) -> SimulatorConfig:
    """Same knobs, small chunks, so that a few thousand firms still span several chunks."""
    return sim_config.model_copy(update={"chunk_size": 2_000})


@pytest.fixture(scope="session")
def small_province(tmp_path_factory: pytest.TempPathFactory, small_config: SimulatorConfig):  # type: ignore[no-untyped-def]
    """5,000 enterprises x 24 months in 3 chunks, with a messy copy."""
    from pipelines.simulate import run_simulate, write_messy

    base = tmp_path_factory.mktemp("province")
    summary = run_simulate(
        small_config,
        enterprises=5_000,
        months=24,
        seed=11,
        out=base / "raw",
        truth_out=base / "truth",
        summary_out=base / "summary.json",
        workers=2,
    )
    manifest = write_messy(small_config, base / "raw", base / "messy", seed=11)
    return {
        "base": base,
        "raw": base / "raw",
        "truth": base / "truth",
        "summary": summary,
        "manifest": manifest,
    }


@pytest.fixture(scope="session")
def small_interim(small_province, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The small province ingested as of 2026-10: (report, folder)."""
    from pipelines.ingest import run_ingest
    from pipelines.intake.config import IngestConfig

    cfg = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    out = tmp_path_factory.mktemp("interim") / "interim"
    return run_ingest(cfg, small_province["raw"], out, as_of="2026-10"), out


@pytest.fixture(scope="session")
def small_features(small_interim, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Features of the small province for 2026-08 .. 2026-10: (folder, report)."""
    from features.config import FeaturesConfig
    from pipelines.features import run_features

    cfg = load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)
    out = tmp_path_factory.mktemp("features") / "features"
    report = run_features(cfg, small_interim[1], out, ["2026-08", "2026-09", "2026-10"])
    return out, report


@pytest.fixture(scope="session")
def small_history(small_interim, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Features of the small province for 2025-09 .. 2026-10 (training history + one month)."""
    from contract.months import months_between
    from features.config import FeaturesConfig
    from pipelines.features import run_features

    cfg = load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)
    out = tmp_path_factory.mktemp("history") / "features"
    run_features(cfg, small_interim[1], out, months_between("2025-09", "2026-10"))
    return out


def model_config(tmp: Path, **changes):  # type: ignore[no-untyped-def]
    """configs/model.yaml sized for the small province, with its own MLflow store in ``tmp``."""
    from models.config import ModelConfig

    cfg = load_config(ROOT / "configs" / "model.yaml", ModelConfig)
    update = {
        "first_label_month": "2025-10",
        "last_label_month": "2026-10",
        "valid_months": 3,
        "test_months": 3,
        "tuning": cfg.tuning.model_copy(update={"trials": 3}),
        "mlflow": cfg.mlflow.model_copy(
            update={
                "tracking_uri": f"sqlite:///{tmp / 'mlflow.db'}",
                "artifact_root": str(tmp / "artifacts"),
            }
        ),
        "class_scheme": str(ROOT / "configs" / "classes" / "henan.yaml"),
        "indicator_weights": str(ROOT / "configs" / "indicator_weights.yaml"),
    }
    update.update(changes)
    return cfg.model_copy(update=update)


@pytest.fixture(scope="session")
def small_model(
    small_province, small_interim, small_history, tmp_path_factory: pytest.TempPathFactory
):  # type: ignore[no-untyped-def]
    """A model trained, registered (@challenger) on the small province: (cfg, result)."""
    from pipelines.train import run_train

    tmp = tmp_path_factory.mktemp("mlflow")
    cfg = model_config(tmp)
    result = run_train(cfg, small_history, small_interim[1], truth=small_province["truth"],
                       metrics_out=tmp / "metrics.json")  # fmt: skip
    return cfg, result


@pytest.fixture(scope="session")
def report_month(small_model, small_history, small_interim, tmp_path_factory):  # type: ignore[no-untyped-def]
    """2026-09 and 2026-10 classified by the small model; the 2026-10 report context."""
    from models.classes import ClassScheme
    from pipelines.classify import run_classify
    from pipelines.report import ReportConfig, ReportMonth

    cfg, _ = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    outputs = tmp_path_factory.mktemp("outputs")
    for m in ("2026-09", "2026-10"):
        run_classify(cfg, scheme, small_history, m, outputs, alias="challenger")
    rcfg = load_config(ROOT / "configs" / "report.yaml", ReportConfig)
    return ReportMonth.load(
        "2026-10", cfg, rcfg, scheme, small_history, small_interim[1], outputs, ROOT
    )
