"""The gates a model version passes: its own held-out months, and the verdict's checks.

Shared by verify (which computes the checks for its report) and promote (which recomputes
them from a report's figures with its own thresholds: a report's verdict is not taken on
trust); no stage is imported here.

- `as_trained` and `run_params`: the label months and split a version was trained with (its
  MLflow run's logged parameters), so that a config edited after training does not move
  them;
- `split_of`, `first_held_out_month`: where the held-out (test) months start;
- `checks`: the verdict's checks from the figures and ``cfg.verify``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from contract.months import months_between
from models.classes import ClassScheme
from models.config import ModelConfig
from models.data import split_by_month
from pipelines.bundle import Registry
from pipelines.results import Check, ClassFigures


def split_of(cfg: ModelConfig) -> dict[str, str]:
    """Each label month of ``cfg`` and its part: train, valid or test (out of time)."""
    split: dict[str, str] = split_by_month(
        months_between(cfg.first_label_month, cfg.last_label_month),
        cfg.valid_months,
        cfg.test_months,
    )
    return split


def first_held_out_month(cfg: ModelConfig) -> str:
    """The first of the model's test months: from there on, no inspection was used to train,
    tune or calibrate it (later inspections, as they arrive, extend the window)."""
    return min(m for m, part in split_of(cfg).items() if part == "test")


def as_trained(cfg: ModelConfig, params: dict[str, str]) -> ModelConfig:
    """``cfg`` with the label months and split a version was trained with (its MLflow run's
    logged parameters), so that its held-out window and reference population do not move
    when ``configs/model.yaml`` changes after training; the config's own where none logged."""
    update: dict[str, Any] = {}
    label = params.get("label_months", "")
    if ".." in label:
        update["first_label_month"], update["last_label_month"] = label.split("..", 1)
    for key in ("valid_months", "test_months"):
        if key in params:
            update[key] = int(params[key])
    return cfg.model_copy(update=update)


def run_params(cfg: ModelConfig, run_id: str) -> dict[str, str]:
    """The parameters a version's training run logged."""
    return Registry(cfg).run_params(run_id)


def checks(
    cfg: ModelConfig, scheme: ClassScheme, auc: float, final: ClassFigures, score_psi: float
) -> dict[str, Check]:
    """The verdict's checks, from a report's figures (``auc``, the ``class_final`` figures,
    the score's PSI) and the thresholds of ``cfg``. Every class the method gives must have
    inspections: an empty class fails rather than being skipped."""
    t = cfg.verify
    rates = final.hit_rates
    empty = [c for c in scheme.method_classes if c not in rates or rates[c].inspections == 0]
    top = scheme.method_classes[-1]
    lift = final.lift.get(top, float("nan"))
    return {
        "auc": Check(auc, f">= {t.min_auc}", bool(auc >= t.min_auc)),
        "every_class_inspected": Check(", ".join(empty) or "yes", "no empty class", not empty),
        "hit_rates_increasing": Check(
            final.increasing,
            " < ".join(scheme.method_classes),
            bool(final.increasing or not t.require_increasing),
        ),
        "top_class_lift": Check(
            lift, f"{top} >= {t.min_top_lift}", bool(np.nan_to_num(lift) >= t.min_top_lift)
        ),
        "score_psi": Check(score_psi, f"<= {t.max_score_psi}", bool(score_psi <= t.max_score_psi)),
    }
