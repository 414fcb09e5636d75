"""The model card stored with every registered version (``bundle/model_card.md``): data,
weighting, split, the information groups the data lacked, test-month results of every model
compared, sector models, the plain baseline and how the model is judged against it,
limitations."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from features.derived import DerivedSpec
from models import gbm
from models.classes import ClassScheme, FittedBands, class_order
from models.config import ModelConfig
from models.plain import ROUNDS, PlainComparison
from pipelines.aggregates import LOW_CARDINALITY
from pipelines.render.lacking import card_section
from pipelines.render.wording import BANNER_ZH
from pipelines.results import TrainMetrics


def model_card(
    cfg: ModelConfig,
    scheme: ClassScheme,
    labelled: dict[str, int],
    metrics: TrainMetrics,
    design: gbm.Design,
    absent: Mapping[str, str] | None = None,
    derived: DerivedSpec | None = None,
    class_bands: FittedBands | None = None,
) -> str:
    """The card's Markdown (``derived``: the features derived from the bureau's own columns); ``absent``: table -> reason, the contract tables the feature files
    it was trained on lacked (`pipelines.render.lacking`), none when every table was there."""
    order = class_order(scheme)
    lines = [
        "# Model card: enterprise credit risk (企业信用风险分类)",
        "",
        f"{BANNER_ZH} / internal reference only.",
        "",
        "## Data",
        *data_lines(cfg, metrics.split, labelled),
        f"- Features: {len(design.features)} from the five information groups (docs/features.md); "
        "monotone constraints from the catalog's directions; missing values native.",
        "",
        *card_section(absent or {}),
        *_derived_section(design, derived),
        "## Test-fold results (grouped cross-validation, weighted)"
        if metrics.split.get("mode") == "grouped_cv"
        else "## Test-month results (weighted by 1/p)",
        "",
        "| model | AUC | of oracle | log-loss | "
        + " | ".join(f"hit rate {c}" for c in order)
        + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in order) + " |",
    ]
    for name, r in metrics.models.items():
        frac = r.auc_fraction_of_oracle
        rates = " | ".join(
            "–"
            if r.hit_rates[c].inspections == 0
            else f"{r.hit_rates[c].hit_rate:.1%} (n={r.hit_rates[c].inspections})"
            for c in order
        )
        lines.append(
            f"| {name} | {r.auc:.3f} | {'' if frac is None else f'{frac:.1%}'} | {r.logloss:.3f} | {rates} |"
        )
    lines += [
        "",
        "## Sector models (一般 + 专业)",
        "",
    ]
    for name, s in metrics.sectors.items():
        row = {k: v for k, v in s.to_dict().items() if k != "reason"}
        lines.append(f"- {name}: {s.reason} ({json.dumps(row, default=str)})")
    lines += _bands_section(class_bands)  # nothing when the scheme's own bands apply
    lines += plain_section(metrics.plain, cfg.promote.require_beats_plain)
    lines += [
        "",
        "## Limitations",
        "- Hit rates are estimated from the inspections drawn; classes with few inspections have wide intervals.",
        "- The synthetic province's figures are not a real bureau's; check them on your own verification report.",
        "- The score ranks enterprises for inspection; it is not a credit rating and must not be published.",
    ]
    return "\n".join(lines) + "\n"


def _derived_section(design: gbm.Design, derived: DerivedSpec | None) -> list[str]:
    """Which of the model's features come from the bureau's own indicators and columns."""
    if derived is None or not (derived.sources or derived.skipped):
        return []
    used = {s.prefix: s for s in derived.sources}
    counts: dict[str, int] = {}
    for name in design.features:
        # the longest prefix first: ind_x_text_... belongs to ind_x_text, not to ind_x
        for prefix, s in sorted(used.items(), key=lambda kv: -len(kv[0])):
            if name == prefix or name.startswith(prefix + "_"):
                counts[s.key] = counts.get(s.key, 0) + 1
                break
    lines = [
        "## Features from the bureau's own data (自有指标派生特征)",
        "",
        f"{sum(counts.values())} of the {len(design.features)} features were derived automatically "
        "(features/derived.py) from indicators and pass-through columns the bureau delivered "
        "beyond the contract; their risk direction is learnt by the model unless configured.",
        "",
        "| source | kind | features |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {s.key} | {s.kind} | {counts.get(s.key, 0)} |" for s in used.values()]
    if derived.skipped:
        lines += ["", "Not used: " + "; ".join(f"{k} ({why})" for k, why in derived.skipped)]
    return [*lines, ""]


def _bands_section(bands: FittedBands | None) -> list[str]:
    """The score bands fitted at training (configs/model.yaml ``class_bands``): bounds,
    target and fitted shares; none when the class scheme's own bands apply."""
    if bands is None:
        return []
    capacity = (
        f"; capacity: the highest class holds {bands.capacity:,} enterprises"
        if bands.capacity is not None
        else ""
    )
    lines = [
        "",
        "## Class bands fitted to the population",
        "",
        f"- Fitted on the whole population of {bands.month} ({bands.enterprises:,} enterprises), "
        f"scored by the {bands.scored_with}; they replace the score bands of class scheme "
        f"{bands.scheme} for this version (classify, verify, reports){capacity}.",
        "- A band's lower bound is inclusive; equal scores share a class (a run of equal scores "
        "across a cut goes to the side nearer the target; a draw, to the riskier class).",
        "- Classes are before overrides; the overrides (e.g. the seriously-dishonest list) "
        "move enterprises on top of them.",
        "",
        "| class | lower bound (score) | target share | share in the fitting month |",
        "| --- | --- | --- | --- |",
    ]
    for code, lower in bands.bands.items():
        lines.append(
            f"| {code} | {lower:g} | {bands.targets[code]:.1%} | {bands.fitted_shares[code]:.1%} |"
        )
    return lines


def data_lines(cfg: ModelConfig, split: Mapping[str, Any], labelled: dict[str, int]) -> list[str]:
    """The card's labels, weighting and split lines: which labels (inspections by kind, or a
    labelled snapshot's file and SHA-256), how weighted, and which split was used (out of
    time, or grouped cross-validation by enterprise with why, its fold rule and the
    out-of-fold AUC)."""
    source = split.get("source", {})
    if source.get("source") == "snapshot":
        lines = [
            f"- Labels: a labelled snapshot, not inspections: {source.get('file')} "
            f"(SHA-256 {source.get('sha256')}), as of {source.get('as_of')}; features of the "
            f"month end {source.get('feature_month')}. Rows {source.get('rows')}: accepted "
            f"{source.get('accepted')}, rejected {source.get('rejected')} (each with its reason "
            "in labels_rejected.csv).",
            "- Weighting: the file's weights"
            if source.get("weights") == "file"
            else "- Weighting: none (weight 1): the snapshot is not a random sample, so its hit "
            "rates are not population estimates.",
        ]
    else:
        others = [k for k in cfg.train_on if k != "double_random"]
        lines = [
            f"- Labels: double-random inspections of {cfg.first_label_month} .. "
            f"{cfg.last_label_month} whose results were received by the end of "
            f"{cfg.last_label_month} (later ones are not labels yet); label = a problem was "
            "found; features of the month end before each inspection.",
            "- Weighting: 1 / inclusion probability of each draw (Horvitz-Thompson); "
            + (
                f"also trained on {' and '.join(others)} results (weight 1)"
                if others
                else "double-random results without a design and targeted inspections not used"
            )
            + "; only double-random inspections with a design are ever evaluated.",
        ]
    if split.get("mode") == "grouped_cv":
        cv = split.get("cv") or {}
        folds = ", ".join(
            "–" if a is None or a != a else f"{a:.3f}" for a in cv.get("auc_per_fold", [])
        )
        mean = cv.get("auc_mean")
        lines += [
            f"- Split: **grouped cross-validation by enterprise** ({split.get('folds')} folds), "
            f"not out of time ({split.get('why')}). Fold rule: {split.get('rule')}. "
            "The figures below are the test fold's: enterprises never seen in training.",
            f"- Cross-validated AUC (out of fold, refit on the other folds with the tuned "
            f"hyperparameters): mean {'–' if mean is None or mean != mean else f'{mean:.3f}'}; "
            f"per fold {folds}.",
        ]
    else:
        lines.append(
            f"- Split, **out of time**: the last {cfg.test_months} months are the test set "
            f"(every figure below), the {cfg.valid_months} before them tune and calibrate."
        )
    return [*lines, f"- Label counts: {json.dumps(labelled)}"]


def plain_section(plain: PlainComparison | None, required: bool) -> list[str]:
    """The card's "Plain baseline" section: what the plain GBM is, how the deployed model is
    judged against it, the figures and the outcome (issue 18: never lose to the plain
    baseline)."""
    lines = [
        "",
        "## Plain baseline (简单基线)",
        "",
        "- What: a plain LightGBM with fixed parameters (`models.plain.PARAMS`, "
        f"{ROUNDS} rounds, no tuning, no monotone constraints) on simple per-enterprise "
        "aggregates of the delivered tables (`pipelines.aggregates`: record counts; mean, min, "
        "max, sum and latest value of every number; counts per value of every text column with "
        f"at most {LOW_CARDINALITY} values; the generic indicators per code; the registry's "
        "numbers, categoricals and age), point in time, trained on the same rows and 1/p weights, calibrated the same "
        "way on the validation rows, evaluated on the same test rows (`plain_gbm` above).",
    ]
    if plain is None:
        return [
            *lines,
            "- Not fitted for this version (configs/model.yaml plain_baseline.enabled is false, "
            "or the ingested folder held no table to aggregate): verify and promote report "
            "the check as not available.",
        ]
    c = plain.confidence
    verdict = (
        "**LOST to the plain baseline**: the model is worse by more than the noise of the test "
        "set"
        + ("; promotion refuses this version." if required else " (promotion does not require it).")
        if plain.lost
        else "not worse than the plain baseline (the interval does not lie wholly below 0)."
    )
    return [
        *lines,
        f"- How it is judged: {plain.rule()}.",
        f"- Deployed model ({plain.model}): AUC {plain.model_auc:.3f} "
        f"({c:.0%} interval {plain.model_low:.3f}–{plain.model_high:.3f}); plain GBM: AUC "
        f"{plain.plain_auc:.3f} ({plain.plain_low:.3f}–{plain.plain_high:.3f}); on {plain.rows} "
        "test rows.",
        f"- Difference AUC(model) − AUC(plain): {plain.diff:+.3f} ({c:.0%} interval "
        f"{plain.diff_low:+.3f} to {plain.diff_high:+.3f}).",
        f"- Outcome: {verdict}",
    ]
