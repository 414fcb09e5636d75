"""An independent implementation agrees: the plain-pandas baseline of the benchmark
(`benchmarks/pandas_features.py`, written separately from the SQL) gives the same values
for its 31 features on the simulated province."""

from __future__ import annotations

import datetime as dt
import sys

import numpy as np
import pytest

from features.config import FeaturesConfig
from pipelines.config import load_config
from pipelines.features import table_coverage
from tests.conftest import ROOT
from tests.features.tiny import build

sys.path.insert(0, str(ROOT / "benchmarks"))
from pandas_features import FEATURES, pandas_features


@pytest.mark.parametrize("censored", ["none", "delivered", "late"])
@pytest.mark.parametrize("month", ["2025-03", "2026-10"])
def test_pandas_baseline_gives_the_same_values(small_interim, month: str, censored: str) -> None:  # type: ignore[no-untyped-def]
    """Uncensored; with the coverage the intake recorded; and with annual reports on record
    only from 2023-02 (report years before 2023 unknown: it bites in 2025-03)."""
    cfg = load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)
    folder = small_interim[1]
    coverage = {
        "none": {},
        "delivered": table_coverage(folder),
        "late": {**table_coverage(folder), "annual_reports": dt.date(2023, 2, 1)},
    }[censored]
    if censored == "delivered":
        assert "annual_reports" in coverage and "enterprises" not in coverage
    duck = build(folder, month, cfg, coverage=coverage)
    pdf = pandas_features(folder, month, cfg, coverage).set_index("uscc")
    assert sorted(duck) == sorted(pdf.index)
    for name in FEATURES:
        a = np.array([np.nan if duck[u][name] is None else duck[u][name] for u in pdf.index], float)
        b = pdf[name].to_numpy(dtype=float)
        bad = ~np.isclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True)
        assert not bad.any(), f"{name}: {int(bad.sum())} enterprises differ"
