"""The gates a model version passes: its own held-out months, and the verdict's checks.

Shared by verify (which computes the checks for its report) and promote (which recomputes
them from a report's figures with its own thresholds: a report's verdict is not taken on
trust); no stage is imported here.

- `as_trained` and `run_params`: the label months and split a version was trained with (its
  MLflow run's logged parameters), so that a config edited after training does not move
  them;
- `split_of`, `first_held_out_month`: where the held-out (test) months start (grouped
  cross-validation holds out a fold of enterprises, not months: every month after the label
  window is held out, and a labelled snapshot's test fold, `held_out_problem`);
- `checks`: the verdict's checks from the figures and ``cfg.verify``;
- `plain_check`: never lose to the plain baseline (issue 18), for verify and promote alike.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from contract.months import add_months, months_between
from models.classes import ClassScheme
from models.config import ModelConfig
from models.data import split_by_month
from models.plain import PlainComparison
from pipelines.bundle import Registry
from pipelines.results import Check, ClassFigures


def split_of(cfg: ModelConfig) -> dict[str, str]:
    """Each label month of ``cfg`` and its part: train, valid or test (out of time). Under
    grouped cross-validation (``split: grouped_cv``, or ``auto`` with too few months for
    valid and test) every label month is ``train``: some of its enterprises trained the model."""
    months = months_between(cfg.first_label_month, cfg.last_label_month)
    too_few = len(months) <= cfg.valid_months + cfg.test_months
    if cfg.split == "grouped_cv" or (cfg.split == "auto" and too_few):
        return dict.fromkeys(months, "train")
    split: dict[str, str] = split_by_month(months, cfg.valid_months, cfg.test_months)
    return split


def first_held_out_month(cfg: ModelConfig) -> str:
    """The first of the model's test months: from there on, no inspection was used to train,
    tune or calibrate it (later inspections, as they arrive, extend the window). Under grouped
    cross-validation, the month after the label window."""
    tests = [m for m, part in split_of(cfg).items() if part == "test"]
    return min(tests) if tests else add_months(cfg.last_label_month, 1)


def held_out_problem(
    cfg: ModelConfig, params: dict[str, str], window: list[str], evaluation: dict[str, Any]
) -> str | None:
    """Why a verification report is not about data the version never learned from, or None.
    Inspections: its window must start at the version's first held-out month. A labelled
    snapshot: the rows of the version's test fold (its enterprises were never trained on,
    whichever file holds them now), or every row of a file when the version was trained on
    inspections, not on a labels file (`riskclass verify --allow-new-labels`)."""
    if evaluation.get("kind") == "labelled_snapshot":
        trained = params.get("labels_sha256")
        same = evaluation.get("sha256") == trained
        if evaluation.get("rows") == "test_fold":
            return None if trained else "a test fold, but the version was trained on no labels file"
        if same:
            return "it evaluates every row of the labels file the version trained on, not its test fold"
        return None
    held = first_held_out_month(as_trained(cfg, params))  # the version's own split
    start = (window or [""])[0]
    if start < held:
        return f"its window starts {start}, before the held-out months ({held} on)"
    return None


def as_trained(cfg: ModelConfig, params: dict[str, str]) -> ModelConfig:
    """``cfg`` with the label months and split a version was trained with (its MLflow run's
    logged parameters), so that its held-out window and reference population do not move
    when ``configs/model.yaml`` changes after training; the config's own where none logged."""
    update: dict[str, Any] = {}
    label = params.get("label_months", "")
    if ".." in label:
        update["first_label_month"], update["last_label_month"] = label.split("..", 1)
    for key in ("valid_months", "test_months", "cv_folds", "seed"):  # seed: the folds
        if key in params:
            update[key] = int(params[key])
    if params.get("split_mode") in ("out_of_time", "grouped_cv"):
        update["split"] = params["split_mode"]
    return cfg.model_copy(update=update)


def run_params(cfg: ModelConfig, run_id: str) -> dict[str, str]:
    """The parameters a version's training run logged."""
    return Registry(cfg).run_params(run_id)


def plain_check(plain: PlainComparison | None, required: bool) -> Check:
    """Never lose to the plain baseline (issue 18): the model loses when the whole interval of
    AUC(model) - AUC(plain) lies below 0 (`models.plain.PlainComparison.lost`, recomputed from
    the figures). ``plain`` None: a version trained without one, "not available", which does
    not fail; ``required`` False: reported, never failing."""
    if plain is None:
        return Check(
            "not available: this model version has no plain baseline (trained before it "
            "existed, or without one), or no delivered table to score it on",
            "not worse than the plain baseline",
            True,
        )
    c = plain.confidence
    value = (
        f"AUC {plain.model_auc:.3f} vs plain GBM {plain.plain_auc:.3f}: difference "
        f"{plain.diff:+.3f} ({c:.0%} interval {plain.diff_low:+.3f} to {plain.diff_high:+.3f})"
        + ("; LOST to the plain baseline" if plain.lost else "")
    )
    threshold = f"the {c:.0%} interval of AUC(model) - AUC(plain) not wholly below 0" + (
        "" if required else " (reported, not required)"
    )
    return Check(value, threshold, bool(not plain.lost or not required))


def checks(
    cfg: ModelConfig,
    scheme: ClassScheme,
    auc: float,
    final: ClassFigures,
    score_psi: float,
    plain: PlainComparison | None = None,
) -> dict[str, Check]:
    """The verdict's checks, from a report's figures (``auc``, the ``class_final`` figures,
    the score's PSI, the comparison with the plain baseline) and the thresholds of ``cfg``.
    Every class the method gives must have inspections: an empty class fails rather than
    being skipped."""
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
        "beats_plain_baseline": plain_check(plain, t.require_beats_plain),
    }
