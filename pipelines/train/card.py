"""The model card stored with every registered version (``bundle/model_card.md``): data,
weighting, split, the information groups the data lacked, test-month results of every model
compared, sector models, limitations."""

from __future__ import annotations

import json
from collections.abc import Mapping

from features.derived import DerivedSpec
from models import gbm
from models.classes import ClassScheme, class_order
from models.config import ModelConfig
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
        f"- Labels: double-random inspections of {cfg.first_label_month} .. {cfg.last_label_month}; "
        "label = a problem was found; features of the month end before each inspection.",
        f"- Weighting: 1 / inclusion probability of each draw (Horvitz-Thompson); targeted inspections "
        f"{'also used in training (weight 1)' if cfg.use_targeted else 'not used'}; never used for evaluation.",
        f"- Split, out of time: the last {cfg.test_months} months are the test set (every figure below), "
        f"the {cfg.valid_months} before them tune and calibrate.",
        f"- Inspections: {json.dumps(labelled)}",
        f"- Features: {len(design.features)} from the five information groups (docs/features.md); "
        "monotone constraints from the catalog's directions; missing values native.",
        "",
        *card_section(absent or {}),
        *_derived_section(design, derived),
        "## Test-month results (weighted by 1/p)",
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
