"""Stage `verify`: do a model version's classes find problems? (系统验证)

On the double-random inspections of a window of months (by default from the model's first
test month, held out from training, tuning and calibration, up to ``--as-of``), each
enterprise is scored and classed as the model would have done at the month end before its
inspection (features of that month, the scheme with its overrides). Every figure is
weighted by 1/p, the inspection's inclusion probability (`models.verification`); targeted
inspections (and double-random results without a design) are counted but never used; a
result received after the end of ``--as-of`` is not a label yet. A version trained on a
labelled snapshot is verified on that file's held-out test fold instead (``--labels``,
`snapshot`), and the report says what its hit rates are (``evaluation``).

Reports: the hit rate of each class with its Jeffreys interval (and the unweighted rate
beside it, to show the bias); whether the rates rise along the classes; lift over random
inspection and the ratio of the highest class to the lowest; AUC and KS; calibration per
class (expected against observed, Jeffreys test); and a PASS/FAIL verdict against the
thresholds of ``configs/model.yaml`` (``verify``; `pipelines.gates.checks`), among them
that the model does not lose to the version's plain baseline rescored on the same rows
(`plain`; not available for a version trained without one), and that each class's predicted
probability matches what inspections found (calibration on the model's classes, Jeffreys
test on the effective sample size, Holm over the classes, a practical tolerance; issue 19).
Every check says in plain words, Chinese and English, what it found and, when it fails, by
how much (`pipelines.results.Check.message`). Main-risk-point accuracy at the level of
reasons: how often any of an inspected enterprise's top risk points names the problem
category inspectors found, overall and per category, against a permutation baseline
(`_risk_points`; reported, not gated). Beside the
verdict, reported but not gated (`monitoring`): the class shares of the whole population in
``--as-of`` and the month before, scored by the same model version, with the month-over-month
migration between them; a division x industry hot-spot table (区域性、行业性风险研判); and,
given the warning rules, whether the enterprises warned before their inspection
(`models.warning`) went on to show problems more often than the others; and the collection
quality of the last delivery per department (`collection`, from ``reconciliation.json``).

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

from contract.months import months_between, previous_month
from features.catalog import PROBLEM_CATEGORIES
from models import calibration, explain, metrics, verification
from models.classes import ClassScheme, assign, class_order
from models.config import ModelConfig
from models.data import label_kinds, received_by
from models.warning import WarningConfig
from pipelines.bundle import Bundle, load_bundle
from pipelines.frames import load_training_frame, read_inspections
from pipelines.gates import as_trained, checks, first_held_out_month, run_params
from pipelines.io import atomic_write, write_json
from pipelines.paths import Outputs
from pipelines.results import ClassFigures, ModelRef, VerificationMetrics, finite
from pipelines.snapshot import REJECTED_NAME, LabelsFile
from pipelines.verify.collection import collection_section
from pipelines.verify.followup import followup_section
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
from pipelines.verify.plain import plain_comparison
from pipelines.verify.snapshot import inspections_evaluation, snapshot_labels

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
    labels: LabelsFile | None = None,
    allow_new_labels: bool = False,
) -> VerifyResult:
    """Verify ``alias`` (or ``version``) on the window ``first``..``as_of``; see the module
    doc. ``warning``: the early-warning rules to judge (None: that section is not computed);
    ``names``: reference names for the hot-spot table (None: city codes); a hot-spot cell
    needs ``hot_spot_min`` enterprises (a share of 50 firms moves 2 points per firm), and the
    ``hot_spot_top`` cells with the largest high-class share are kept. ``labels``: a labelled
    snapshot instead of the inspections (`pipelines.verify.snapshot`; ``as_of`` is then its
    feature month): its test fold, or every row of a new file with ``allow_new_labels``."""
    if not scheme.chunkable:
        raise VerifyError(
            f"verify: class scheme {scheme.name} assigns classes by shares of the whole "
            "population, which inspected enterprises are not; verify with a score-band or "
            "threshold scheme"
        )
    bundle = load_bundle(cfg, alias=None if version else alias, version=version)
    scheme = bundle.scheme(scheme)  # the score bands the version fitted, when it has them
    params = run_params(cfg, bundle.run_id)
    trained = as_trained(cfg, params)  # the version's own split
    if labels is not None:
        first = as_of
        rejected = Outputs(Path(outputs)).verification_metrics(as_of).with_name(REJECTED_NAME)
        frame, random, counts, evaluation = snapshot_labels(
            trained, params, features_dir, labels, as_of, allow_new_labels, rejected
        )
    else:
        first = first or first_held_out_month(trained)
        frame, random, counts = _inspection_labels(
            cfg, trained, features_dir, interim, first, as_of
        )
        evaluation = inspections_evaluation()
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
        inspections=counts,
        auc=metrics.weighted_auc(y, p, w),
        ks=verification.weighted_ks(y, p, w),
        overall=overall,
        class_final=by_class["class_final"],
        class_model=by_class["class_model"],
        main_risk_points=finite(_risk_points(cfg, bundle, x, flags, frame, w)),
        stability=stability(months[ref_month], months[as_of]),
        population=finite(population(months[as_of], months.get(before), scheme)),
        hot_spots=finite(hot_spots),
        early_warning=finite(
            {"computed": False, "why": "no warning rules given (configs/warning.yaml)"}
            if warning is None
            else early_warning(bundle, scheme, warning, features_dir, random, scored, classes)
        ),
    )
    # never lose to the plain baseline (issue 18): the version's plain GBM on the same rows
    m.plain_baseline = plain_comparison(cfg, bundle, interim, frame, p, as_of)
    m.checks = checks(
        cfg,
        scheme,
        m.auc,
        m.class_final,
        m.stability.score_psi,
        m.plain_baseline,
        m.class_model,
    )
    m.thresholds = cfg.verify.model_dump()
    m.verdict = "PASS" if all(c.passed for c in m.checks.values()) else "FAIL"
    m.evaluation = evaluation
    # collection quality of the last delivery (issue 20): reported, not gated
    m.collection = collection_section(interim)
    # follow-up of warnings and problems (「预警处置准确性」, issue 20): reported, not gated
    m.followup = followup_section(Path(outputs), interim, as_of)
    out = Outputs(Path(outputs))
    figures = m.to_dict()
    write_json(figures, out.verification_metrics(as_of))
    html = render_html(figures, scheme)
    atomic_write(out.verification_html(as_of), lambda tmp: tmp.write_text(html, encoding="utf-8"))
    return VerifyResult(m, m.passed, out.verification_metrics(as_of))


def _inspection_labels(
    cfg: ModelConfig,
    trained: ModelConfig,
    features_dir: Path,
    interim: Path,
    first: str,
    as_of: str,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """(frame with features, the double-random labels, counts) of the window's inspections
    received by the end of ``as_of``; the other kinds are counted, never used."""
    if first > as_of:
        raise VerifyError(
            f"verify: the window {first}..{as_of} is empty: the model's label months end "
            f"{trained.last_label_month}; give --from for a held-out window"
        )
    months_between(first, as_of)  # checks both months
    try:
        received, late = received_by(read_inspections(interim), as_of)  # received by then only
        labels = label_kinds(received, first, as_of)
    except ValueError as exc:  # FrameError too: no inspections table
        raise VerifyError(f"verify: {exc}") from None
    random = labels[labels["label_kind"] == "double_random"].reset_index(drop=True)
    if random.empty:
        raise VerifyError(
            f"verify: no double-random inspection in {first}..{as_of} (the model was trained on "
            f"{cfg.first_label_month}..{cfg.last_label_month}); give --from for an earlier, "
            "held-out window, or wait for the inspections of the next rounds"
        )
    frame, counts, _catalog = load_training_frame(features_dir, random)
    kinds = labels["label_kind"]
    return (
        frame,
        random,
        {
            **counts,
            "targeted_not_used": int((kinds == "targeted").sum()),
            "design_unknown_not_used": int((kinds == "design_unknown").sum()),
            "received_after_as_of": len(late),
        },
    )


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
    """Main-risk-point accuracy (主要风险点精准识别), issue 19: for each inspection that found
    a problem of a known category, do the enterprise's top risk points, as classify gives them
    (``explain.top_k`` points, ``explain.engine``) from the features of the month end before
    the inspection, name that category (`features.catalog.Feature.categories`)? Overall and per
    category, weighted 1/p, against a permutation baseline (`models.verification
    .reason_accuracy`). Beside it, the older group-level figure (the information group of the
    top point against ``verify.problem_groups``). Aggregates only."""
    contrib = bundle.explainer(cfg.explain.engine)(x, flags)
    k = cfg.explain.top_k
    idx, _val = explain.top_risk_points(contrib, k)
    catalog = bundle.features
    names = bundle.design.features
    matrix = verification.category_matrix(
        [catalog[f].categories for f in names], PROBLEM_CATEGORIES
    )
    found = frame["y"].to_numpy() == 1
    category = frame["problem_category"].where(found, None).tolist()
    known = sum(1 for c in category if isinstance(c, str) and c in PROBLEM_CATEGORIES)
    reasons = verification.reason_accuracy(
        verification.named_categories(idx, matrix),
        category,
        w,
        PROBLEM_CATEGORIES,
        cfg.verify.risk_point_permutations,
        cfg.seed,
    )
    group_of = [catalog[f].group for f in names]
    top = [group_of[j] if j >= 0 else None for j in idx[:, 0]]
    return {
        "top_k": k,
        "permutations": cfg.verify.risk_point_permutations,
        "seed": cfg.seed,
        "level": 0.95,
        "problems": int(found.sum()),
        "problems_with_category": known,
        "features_with_categories": int(matrix.any(axis=1).sum()),
        "features": len(names),
        "rule": (
            f"an inspection that found a problem of a known category counts as a hit when any "
            f"of the enterprise's top {k} risk points (classify's, at the month end before the "
            "inspection) is a feature that names that category; shares weighted 1/p; baseline: "
            f"the found categories shuffled among the same inspections {cfg.verify.risk_point_permutations} "
            "times (seeded), each enterprise keeping its points and weight; above the baseline "
            "when the share exceeds the baseline's 97.5th percentile"
        ),
        **reasons,
        "group_level": verification.risk_point_accuracy(
            top, category, w, cfg.verify.problem_groups
        ),
    }
