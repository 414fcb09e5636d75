"""Every test AUC with its interval (issue 19, `pipelines.train.intervals`)."""

from __future__ import annotations

import numpy as np

from models.metrics import weighted_auc
from models.plain import compare
from pipelines.train.intervals import auc_intervals


def test_intervals_share_the_plain_baselines_resamples() -> None:
    rng = np.random.default_rng(3)
    n = 2_000
    truth = rng.uniform(0.05, 0.6, n)
    y = (rng.uniform(size=n) < truth).astype(float)
    w = rng.choice([1.0, 5.0, 20.0], n)
    model = truth + rng.normal(0, 0.1, n)
    plain = truth + rng.normal(0, 0.2, n)
    points = np.round(truth * 10)  # the indicator points: coarse, many ties
    out = auc_intervals(
        y, w, {"deployed": model, "plain_gbm": plain, "indicator_score": points, "oracle": truth},
        b=200, confidence=0.95, seed=7,
    )  # fmt: skip
    ref = compare("m", y, w, model, plain, b=200, confidence=0.95, seed=7)
    m, p = out["models"]["deployed"], out["models"]["plain_gbm"]
    assert (m["auc"], m["low"], m["high"]) == (ref.model_auc, ref.model_low, ref.model_high)
    assert (p["auc"], p["low"], p["high"]) == (ref.plain_auc, ref.plain_low, ref.plain_high)
    d = out["differences"]["deployed_minus_plain_gbm"]
    assert (d["diff"], d["low"], d["high"]) == (ref.diff, ref.diff_low, ref.diff_high)
    assert set(out["differences"]) == {
        "deployed_minus_plain_gbm",
        "deployed_minus_indicator_score",
        "deployed_minus_oracle",
    }
    o = out["models"]["oracle"]
    assert o["auc"] == weighted_auc(y, truth, w)
    assert o["low"] < o["auc"] < o["high"]
    assert out["differences"]["deployed_minus_oracle"]["high"] < 0.01  # the oracle ranks best
    assert (out["rows"], out["bootstrap"], out["seed"]) == (n, 200, 7)
