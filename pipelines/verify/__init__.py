"""Stage `verify`: do a model version's classes find problems? (系统验证)

On the double-random inspections of a window of months (by default from the model's first
test month, held out from training, tuning and calibration, up to ``--as-of``), each
enterprise is scored and classed as the model would have done at the month end before its
inspection (features of that month, the scheme with its overrides). Every figure is
weighted by 1/p, the inspection's inclusion probability (`models.verification`); targeted
inspections are counted but never used.

Reports: the hit rate of each class with its Jeffreys interval (and the unweighted rate
beside it, to show the bias); whether the rates rise along the classes; lift over random
inspection and the ratio of the highest class to the lowest; AUC and KS; calibration per
class (expected against observed, Jeffreys test); and a PASS/FAIL verdict against the
thresholds of ``configs/model.yaml`` (``verify``; `pipelines.gates.checks`). Beside the
verdict, reported but not gated (`monitoring`): the class shares of the whole population in
``--as-of`` and the month before, scored by the same model version, with the month-over-month
migration between them; a division x industry hot-spot table (区域性、行业性风险研判); and,
given the warning rules, whether the enterprises warned before their inspection
(`models.warning`) went on to show problems more often than the others.

Writes ``outputs/<as_of>/verification/metrics.json`` (a DVC metric; the figures are
`pipelines.results.VerificationMetrics`) and ``verification.html`` (the report with its
chart, `html`; internal like every output that holds classes). Aggregates only: no
enterprise and no class of an enterprise is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from contract.months import month_end, months_between, parse_month, previous_month
from features.definitions import BY_NAME
from models import calibration, explain, metrics, verification
from models.classes import ClassScheme, assign, class_order
from models.config import ModelConfig
from models.data import label_frames
from models.warning import WarningConfig
from pipelines.bundle import Bundle, load_bundle
from pipelines.frames import load_training_frame, read_inspections
from pipelines.gates import as_trained, checks, first_held_out_month, run_params
from pipelines.io import atomic_write, write_json
from pipelines.paths import Outputs
from pipelines.results import ClassFigures, ModelRef, VerificationMetrics, finite
from pipelines.verify.html import render_html
from pipelines.verify.monitoring import (
    VerifyError,
    early_warning,
    hot_spot_table,
    population,
    reference_month,
    score_frame,
    score_months,
    stability,
)

if TYPE_CHECKING:
    from pipelines.render.names import Names

__all__ = ["VerifyError", "VerifyResult", "run_verify"]


@dataclass
class VerifyResult:
    metrics: VerificationMetrics
    passed: bool
    out: Path


def run_verify(
    cfg: ModelConfig,
    scheme: ClassScheme,
    features_dir: Path,
    interim: Path,
    as_of: str,
    outputs: Path,
    first: str | None = None,
    alias: str | None = "challenger",
    version: str | None = None,
    *,
    warning: WarningConfig | None = None,
    names: Names | None = None,
    hot_spot_min: int = 50,
    hot_spot_top: int = 20,
    batch_rows: int = 200_000,
) -> VerifyResult:
    """Verify ``alias`` (or ``version``) on the window ``first``..``as_of``; see the module
    doc. ``warning``: the early-warning rules to judge (None: that section is not computed);
    ``names``: reference names for the hot-spot table (None: city codes); a hot-spot cell
    needs ``hot_spot_min`` enterprises (a share of 50 firms moves 2 points per firm), and the
    ``hot_spot_top`` cells with the largest high-class share are kept."""
    if not scheme.chunkable:
        raise VerifyError(
            f"verify: class scheme {scheme.name} assigns classes by shares of the whole "
            "population, which inspected enterprises are not; verify with a score-band or "
            "threshold scheme"
        )
    bundle = load_bundle(cfg, alias=None if version else alias, version=version)
    trained = as_trained(cfg, run_params(cfg, bundle.run_id))  # the version's own split
    first = first or first_held_out_month(trained)
    if first > as_of:
        raise VerifyError(
            f"verify: the window {first}..{as_of} is empty: the model's label months end "
            f"{trained.last_label_month}; give --from for a held-out window"
        )
    months_between(first, as_of)  # checks both months
    inspections = read_inspections(interim)
    end = pd.Timestamp(month_end(*parse_month(as_of)))  # results received by then only
    late = pd.to_datetime(inspections["received_date"]) > end
    inspections = inspections[~late.to_numpy()]
    try:
        random, targeted = label_frames(inspections, first, as_of)
    except ValueError as exc:
        raise VerifyError(f"verify: {exc}") from None
    if random.empty:
        raise VerifyError(
            f"verify: no double-random inspection in {first}..{as_of} (the model was trained on "
            f"{cfg.first_label_month}..{cfg.last_label_month}); give --from for an earlier, "
            "held-out window, or wait for the inspections of the next rounds"
        )
    frame, counts, _catalog = load_training_frame(features_dir, random)
    x, flags, p = score_frame(bundle, frame)
    scored = frame.assign(score=calibration.to_score(p, bundle.scale), probability=p)
    classes = assign(scored, scheme)
    y, w = frame["y"].to_numpy(dtype=float), frame["weight"].to_numpy(dtype=float)
    order = class_order(scheme)
    overall = verification.rate(y, w)
    by_class = {
        kind: _class_figures(y, p, classes[kind].to_numpy(), w, order, overall)
        for kind in ("class_final", "class_model")
    }
    ref_month, before = reference_month(trained), previous_month(as_of)
    wanted = {ref_month: (True, False), as_of: (True, True), before: (False, True)}
    months = score_months(bundle, scheme, features_dir, wanted, batch_rows)
    hot_spots = hot_spot_table(months[as_of], frame, scheme, names, hot_spot_min, hot_spot_top)
    m = VerificationMetrics(
        model=ModelRef(bundle.name, bundle.version),
        scheme=scheme.name,
        window=[first, as_of],
        inspections={
            **counts,
            "targeted_not_used": len(targeted),
            "received_after_as_of": int(late.sum()),
        },
        auc=metrics.weighted_auc(y, p, w),
        ks=verification.weighted_ks(y, p, w),
        overall=overall,
        class_final=by_class["class_final"],
        class_model=by_class["class_model"],
        main_risk_points=_risk_points(cfg, bundle, x, flags, frame, w),
        stability=stability(months[ref_month], months[as_of]),
        population=finite(population(months[as_of], months.get(before), scheme)),
        hot_spots=finite(hot_spots),
        early_warning=finite(
            {"computed": False, "why": "no warning rules given (configs/warning.yaml)"}
            if warning is None
            else early_warning(bundle, scheme, warning, features_dir, random, scored, classes)
        ),
    )
    m.checks = checks(cfg, scheme, m.auc, m.class_final, m.stability.score_psi)
    m.thresholds = cfg.verify.model_dump()
    m.verdict = "PASS" if all(c.passed for c in m.checks.values()) else "FAIL"
    out = Outputs(Path(outputs))
    figures = m.to_dict()
    write_json(figures, out.verification_metrics(as_of))
    html = render_html(figures, scheme)
    atomic_write(out.verification_html(as_of), lambda tmp: tmp.write_text(html, encoding="utf-8"))
    return VerifyResult(m, m.passed, out.verification_metrics(as_of))


def _class_figures(
    y: np.ndarray,
    p: np.ndarray,
    cls: np.ndarray,
    w: np.ndarray,
    order: list[str],
    overall: verification.Rate,
) -> ClassFigures:
    """Hit rates with intervals, whether they rise, lift, top-to-bottom ratio, calibration and
    shares of one class column on the window's inspections."""
    rates = verification.hit_rates(y, cls, w, order)
    present = [c for c in order if rates[c].inspections > 0]
    low, high = (rates[present[0]], rates[present[-1]]) if present else (overall, overall)
    return ClassFigures(
        hit_rates=rates,
        increasing=verification.increasing(rates, order),
        lift=verification.lift(rates, overall.weighted),
        top_to_bottom=high.weighted / low.weighted if low.weighted > 0 else float("nan"),
        calibration=verification.calibration(y, p, cls, w, order),
        shares_of_inspections=pd.Series(cls).value_counts(normalize=True).to_dict(),
    )


def _risk_points(
    cfg: ModelConfig,
    bundle: Bundle,
    x: np.ndarray,
    flags: dict[str, np.ndarray],
    frame: pd.DataFrame,
    w: np.ndarray,
) -> dict[str, Any]:
    """Main-risk-point accuracy (主要风险点精准识别): does the group of each inspected
    enterprise's top risk point match the category of the problem inspectors found?"""
    contrib = bundle.explainer(cfg.explain.engine)(x, flags)
    idx, _val = explain.top_risk_points(contrib, 1)
    group_of = [BY_NAME[f].group for f in bundle.design.features]
    top = [group_of[j] if j >= 0 else None for j in idx[:, 0]]
    found = frame["y"].to_numpy() == 1
    category = frame["problem_category"].where(found, None).tolist()
    return verification.risk_point_accuracy(top, category, w, cfg.verify.problem_groups)
