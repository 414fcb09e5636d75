"""The plain baseline on the verified rows (issue 18): the version's stored plain GBM
(`pipelines.bundle.Bundle.plain`) rescored on the aggregates of the same enterprise-months
(`pipelines.aggregates`, the spec stored with it, read from the ingested folder point in
time), and the model judged against it with the paired bootstrap of `models.plain.compare`.
A version trained before the plain baseline existed has none: the comparison is then not
available (None), which the verdict reports and does not fail (`pipelines.gates.plain_check`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models import plain
from models.config import ModelConfig
from pipelines import aggregates
from pipelines.bundle import Bundle


def plain_comparison(
    cfg: ModelConfig,
    bundle: Bundle,
    interim: Path,
    frame: pd.DataFrame,
    p: np.ndarray,
    as_of: str,
) -> plain.PlainComparison | None:
    """The model (probabilities ``p`` of ``frame``'s rows) against the bundle's plain GBM on
    the same rows (``uscc``, ``feature_month``: ``as_of`` where the rows do not say), with
    ``cfg.plain_baseline``'s bootstrap; None when the version has no plain GBM, or when
    ``interim`` holds none of the tables it reads (nothing to score it on)."""
    if bundle.plain is None or frame.empty:
        return None
    spec = aggregates.AggregateSpec.from_dict(bundle.plain.spec)
    if not aggregates.delivered(interim, spec):
        return None
    rows = pd.DataFrame(
        {
            "uscc": frame["uscc"].to_numpy(),
            "feature_month": (
                frame["feature_month"].to_numpy() if "feature_month" in frame else as_of
            ),
        },
        index=frame.index,
    )
    wide = aggregates.compute(interim, rows, spec, cfg.lightgbm.threads)
    p_plain = bundle.plain.probability(wide)
    pc = cfg.plain_baseline
    return plain.compare(
        "model",
        frame["y"].to_numpy(dtype=float),
        frame["weight"].to_numpy(dtype=float),
        p,
        p_plain,
        pc.bootstrap,
        pc.confidence,
        cfg.seed,
    )
