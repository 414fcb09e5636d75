"""What a simulated province looks like, in the figures the calibration targets quote."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config import RISK_CLASSES
from simulator.engine import ChunkStats


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); NaN if one class is empty."""
    y = np.asarray(y, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True)
class SimulationSummary:
    enterprises: int
    months: list[str]
    seed: int
    rows: dict[str, int]
    class_shares: dict[str, float]
    yearly_coverage: dict[int, float]
    hit_rates: dict[str, float]
    inspections_by_class: dict[str, int]
    oracle_auc: float
    double_random_inspections: int

    def to_dict(self) -> dict[str, object]:
        return {
            "enterprises": self.enterprises,
            "first_month": self.months[0],
            "last_month": self.months[-1],
            "months": len(self.months),
            "seed": self.seed,
            "rows": self.rows,
            "legacy_class_shares": self.class_shares,
            "yearly_double_random_coverage": {str(k): v for k, v in self.yearly_coverage.items()},
            "double_random_hit_rate_by_class": self.hit_rates,
            "double_random_inspections_by_class": self.inspections_by_class,
            "double_random_inspections": self.double_random_inspections,
            "oracle_auc": self.oracle_auc,
        }


def summarise(
    stats: ChunkStats, n_enterprises: int, seed: int, rows: dict[str, int]
) -> SimulationSummary:
    counts = stats.class_counts.sum(axis=0)
    shares = counts / max(counts.sum(), 1)
    # Coverage counts only full calendar years inside the window, so a partial first or
    # last year does not understate it.
    months = stats.window_months
    full_years = {int(m[:4]) for m in months if sum(x.startswith(m[:4]) for x in months) == 12}
    coverage = {
        y: stats.year_inspected.get(y, 0) / stats.year_alive[y]
        for y in sorted(full_years)
        if stats.year_alive.get(y)
    }
    hits = {
        c: float(stats.dr_hits_by_class[i] / stats.dr_by_class[i])
        if stats.dr_by_class[i]
        else float("nan")
        for i, c in enumerate(RISK_CLASSES)
    }
    return SimulationSummary(
        enterprises=n_enterprises,
        months=months,
        seed=seed,
        rows=rows,
        class_shares={c: float(s) for c, s in zip(RISK_CLASSES, shares, strict=True)},
        yearly_coverage=coverage,
        hit_rates=hits,
        inspections_by_class={
            c: int(v) for c, v in zip(RISK_CLASSES, stats.dr_by_class, strict=True)
        },
        oracle_auc=auc(stats.oracle_y, stats.oracle_p),
        double_random_inspections=int(stats.dr_by_class.sum()),
    )
