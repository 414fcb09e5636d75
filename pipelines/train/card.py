"""The model card stored with every registered version (``bundle/model_card.md``): data,
weighting, split, the information groups the data lacked, test-month results of every model
compared, sector models, limitations."""

from __future__ import annotations

import json
from collections.abc import Mapping

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
) -> str:
    """The card's Markdown; ``absent``: table -> reason, the contract tables the feature files
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
