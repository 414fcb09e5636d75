"""A demo-sized province (100k enterprises x 36 months, the demo's seed), shared by the slow
calibration, stationarity and signal tests of this folder: simulated once per session,
ingested and featured only when a test asks for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.config import load_config
from simulator.config import SimulatorConfig

ROOT = Path(__file__).resolve().parents[2]
#: The demo's first feature month (Makefile DEMO_FEATURES_FROM) and its last (DEMO_AS_OF).
FIRST_MONTH, LAST_MONTH = "2024-10", "2026-10"


@pytest.fixture(scope="session")
def province(tmp_path_factory: pytest.TempPathFactory, sim_config: SimulatorConfig) -> Any:
    """(summary, folder) of the demo-sized province: raw/ and truth/ under the folder."""
    from pipelines.simulate import run_simulate

    base = tmp_path_factory.mktemp("province100k")
    summary = run_simulate(
        sim_config,
        enterprises=100_000,
        months=36,
        seed=20261,
        out=base / "raw",
        truth_out=base / "truth",
        workers=2,
    )
    return summary, base


@pytest.fixture(scope="session")
def province_features(province: Any) -> Path:
    """The province ingested as of 2026-10 and its features for the demo's first month and
    for 2025-10 .. 2026-10 (a year of months with next month's outcomes)."""
    from contract.months import months_between
    from features.config import FeaturesConfig
    from pipelines.features import run_features
    from pipelines.ingest import run_ingest
    from pipelines.intake.config import IngestConfig

    _, base = province
    icfg = load_config(ROOT / "configs" / "ingest.yaml", IngestConfig)
    run_ingest(icfg, base / "raw", base / "interim", as_of=LAST_MONTH)
    fcfg = load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)
    months = [FIRST_MONTH, *months_between("2025-10", LAST_MONTH)]
    run_features(fcfg, base / "interim", base / "features", months)
    return base / "features"
