"""`riskclass summary`: the closing table of a month's run, from the files the stages wrote.

Class shares (classify), hit rates per class with intervals, lift and the verdict
(verify) with each failed check and the model against its plain baseline in plain words,
the policy comparison (simulate-loop, when it ran), and where to look next: the
verification report, one class-D report, the inspection plan, the MLflow UI. Aggregates
and paths only; read from ``outputs/`` (`pipelines.results`), never recomputed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.paths import Outputs, plan_files
from pipelines.results import ClassesSummary, ResultsError, VerificationMetrics


class SummaryError(ValueError):
    """The month has not been classified."""


@dataclass(frozen=True)
class MonthSummary:
    """What `collect` found for a month."""

    month: str
    classes: ClassesSummary
    verification: VerificationMetrics | None  # None: the month was not verified
    verification_html: str | None
    order: list[str]  # the scheme's classes the month has, lowest first
    top_class: str
    top_class_report: str | None  # one report of the top class, if any was written
    versions_differ: bool  # classified and verified by different model versions
    plans: list[str]  # the month's plan.csv files
    loop: dict[str, Any] | None  # loop.json of the simulated loop ending in the month
    mlflow_ui: str
    updates: list[dict[str, Any]]  # the month's within-month updates (their json: counts only)

    @property
    def followup(self) -> str | None:
        """Cases opened for the problems found, disposed of and overdue (issue 20; None: no
        case store when the month was verified)."""
        f = {} if self.verification is None else self.verification.followup
        c = f.get("cases") or {}
        if not f.get("computed") or not c.get("opened"):
            return None
        return (
            f"follow-up (预警处置): {c['opened']:,} cases for the problems found, "
            f"{c['disposed_share']:.1%} disposed of (median {c['median_days_to_disposal']:.0f} days), "
            f"{c['overdue']:,} overdue on {f['as_of']}"
        )

    @property
    def collection(self) -> str | None:
        """The slowest department's share received within the limit (issue 20)."""
        q = {} if self.verification is None else self.verification.collection
        deps = [d for d in q.get("departments", []) if d.get("within_limit_share") is not None]
        if not deps:
            return None
        slow = min(deps, key=lambda d: d["within_limit_share"])
        return (
            f"collection quality: {len(deps)} departments; the slowest, {slow['department']}, "
            f"delivered {slow['within_limit_share']:.1%} within {q.get('working_day_limit', 20)} "
            f"working days (median {slow['median_days']:.0f})"
        )

    @property
    def failed_checks(self) -> list[str]:
        """Each check that failed the verdict in plain words, Chinese then English (`name:
        message`; the figure and threshold for a report written before messages existed)."""
        if self.verification is None:
            return []
        return [
            f"{name}: {c.message or f'{c.value} (required: {c.threshold})'}"
            for name, c in self.verification.failed_checks.items()
        ]

    @property
    def risk_points(self) -> str | None:
        """Main-risk-point accuracy at the level of reasons in one sentence (issue 19; None:
        not verified, or a report without it)."""
        rp = {} if self.verification is None else self.verification.main_risk_points
        o = rp.get("overall") or {}
        if not o.get("problems"):
            return None

        def p(x: float | None) -> str:
            return "–" if x is None else f"{100 * x:.1f}%"

        return (
            f"main risk points: of {o['problems']:,} problems of a known category, "
            f"{p(o['hit_share'])} had it named by one of the top {rp['top_k']} points "
            f"(permutation baseline {p(o['baseline_mean'])}, 95% {p(o['baseline_low'])}–"
            f"{p(o['baseline_high'])}): "
            + ("above the baseline" if o["above_baseline"] else "NOT above the baseline")
        )

    @property
    def plain_baseline(self) -> str | None:
        """The verified model against its plain baseline, in plain words (None: not verified)."""
        return None if self.verification is None else plain_words(self.verification)


def plain_words(v: VerificationMetrics) -> str:
    """Did the model do better than a plain GBM on simple aggregates of the same data, on the
    verified inspections? One sentence with the figures (aggregates only)."""
    pb = v.plain_baseline
    if pb is None:
        return (
            "plain baseline: not available (this model version has no plain baseline, or there "
            "was no delivered table to score it on); not counted as a failure"
        )
    c = f"{pb.confidence:.0%}"
    verdict = (
        "the model LOST to the plain baseline: it ranks the inspections worse by more than "
        "chance explains"
        if pb.lost
        else (
            "the model is not worse than the plain baseline"
            + (" (and better beyond chance)" if pb.diff_low > 0 else "")
        )
    )
    return (
        f"plain baseline: model AUC {pb.model_auc:.3f} ({c} {pb.model_low:.3f}–{pb.model_high:.3f}) "
        f"vs a plain GBM on simple aggregates {pb.plain_auc:.3f} ({pb.plain_low:.3f}–"
        f"{pb.plain_high:.3f}); difference {pb.diff:+.3f} ({c} {pb.diff_low:+.3f} to "
        f"{pb.diff_high:+.3f}): {verdict}"
    )


def collect(outputs: Path, as_of: str, order: list[str]) -> MonthSummary:
    """``order``: the scheme's ladder, lowest first (`models.classes.class_order`)."""
    out = Outputs(Path(outputs))
    summary_path = out.classes_summary(as_of)
    if not summary_path.is_file():
        raise SummaryError(
            f"summary: {as_of} is not classified ({summary_path}); "
            f"run `riskclass classify --as-of {as_of}`"
        )
    metrics_path = out.verification_metrics(as_of)
    try:
        classes = ClassesSummary.read(summary_path)
        verification = VerificationMetrics.read(metrics_path) if metrics_path.is_file() else None
    except ResultsError as err:  # a damaged file is named, not taken for a missing one
        raise SummaryError(f"summary: {err}") from None
    top_class = order[-1]
    classes_file = pq.read_table(out.classes(as_of), columns=["uscc", "class_final"])
    top = sorted(
        u
        for u, c in zip(
            classes_file.column("uscc").to_pylist(),
            classes_file.column("class_final").to_pylist(),
            strict=True,
        )
        if c == top_class
    )
    report = next((out.report(as_of, u) for u in top if out.report(as_of, u).is_file()), None)
    plans = sorted(out.plans(as_of).glob("*/plan.json"))
    verified = verification.model.version if verification is not None else None
    loop = out.loop_json(as_of)
    return MonthSummary(
        month=as_of,
        classes=classes,
        verification=verification,
        verification_html=str(out.verification_html(as_of)) if verification else None,
        order=[c for c in order if c in classes.class_shares],
        top_class=top_class,
        top_class_report=str(report) if report else None,
        # the shares come from classify's model, the hit rates from verify's: say if they differ
        versions_differ=verified is not None and str(verified) != str(classes.model_version),
        plans=[str(plan_files(p.parent)[0]) for p in plans],
        loop=json.loads(loop.read_text(encoding="utf-8")) if loop.is_file() else None,
        mlflow_ui="make mlflow-ui  # http://127.0.0.1:5000",
        updates=[
            json.loads(u.read_text(encoding="utf-8"))
            for u in sorted((out.month(as_of) / "updates").glob("*.json"))
        ],
    )
