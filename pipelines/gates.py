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
- `plain_check`: never lose to the plain baseline (issue 18), for verify and promote alike;
- `calibration_check`: predicted against observed per class, Holm over the classes and a
  practical tolerance (issue 19). Every check carries its finding in plain words
  (`pipelines.results.Check.message`), Chinese first, English beside it.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from contract.months import add_months, months_between
from models import verification
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


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


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
            "无简单基线可比（该模型版本训练时没有简单基线，或没有可评分的报送数据），不计为未通过 / "
            "no plain baseline to compare with (the version has none, or no delivered table "
            "to score it on): not counted as a failure",
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
    figures = (
        f"AUC {plain.model_auc:.3f} 对 {plain.plain_auc:.3f}，差 {plain.diff:+.3f}"
        f"（{c:.0%}区间 {plain.diff_low:+.3f} 至 {plain.diff_high:+.3f}）"
    )
    figures_en = (
        f"AUC {plain.model_auc:.3f} against {plain.plain_auc:.3f}, difference {plain.diff:+.3f} "
        f"({c:.0%} interval {plain.diff_low:+.3f} to {plain.diff_high:+.3f})"
    )
    if plain.lost:
        message = (
            f"本模型输给了简单基线（对各表做简单汇总的普通GBM）：{figures}，区间整体低于0"
            + ("" if required else "（仅报告，不作要求）")
            + f" / the model LOST to the plain baseline (a plain GBM on simple aggregates): "
            f"{figures_en}, the whole interval below 0"
            + ("" if required else " (reported, not required)")
        )
    else:
        message = (
            f"本模型未输给简单基线：{figures} / the model is not worse than the plain baseline: "
            f"{figures_en}"
        )
    return Check(value, threshold, bool(not plain.lost or not required), message)


def calibration_check(cfg: ModelConfig, model: ClassFigures) -> Check:
    """Calibration per class (issue 19): on the model's own classes (before overrides: an
    override moves an enterprise without changing its probability), each class's weighted
    mean predicted probability against its weighted hit rate, Jeffreys test on the effective
    sample size; the p-values adjusted over the classes tested (``calibration_multiplicity``,
    Holm by default) and a class failing only when the adjusted p-value is at most
    ``calibration_alpha`` and the gap exceeds ``calibration_tolerance``
    (`models.verification.calibration_findings`)."""
    t = cfg.verify
    found = verification.calibration_findings(
        model.calibration,
        t.calibration_alpha,
        t.calibration_multiplicity,
        t.calibration_tolerance,
    )
    rule = {"holm": "Holm", "bonferroni": "Bonferroni", "none": "unadjusted"}[
        t.calibration_multiplicity
    ]
    failing = [f for f in found if f.fails]
    threshold = (
        f"per class, Jeffreys test of predicted = observed not rejected at {t.calibration_alpha} "
        f"({rule} over {len(found)} classes), or a gap within "
        f"{100 * t.calibration_tolerance:.1f} points"
        + ("" if t.require_calibrated else " (reported, not required)")
    )
    if not found:
        return Check("no class inspected", threshold, True, "无抽查可检验校准 / nothing to test")

    def gap_zh(f: verification.CalibrationFinding) -> str:
        return f"{'高' if f.gap > 0 else '低'}{abs(100 * f.gap):.1f}个百分点"

    def gap_en(f: verification.CalibrationFinding) -> str:
        return f"{abs(100 * f.gap):.1f} points {'more' if f.gap > 0 else 'fewer'}"

    if failing:
        value = "; ".join(
            f"{f.cls}: predicted {_pct(f.expected)}, observed {_pct(f.observed)}, "
            f"p {f.p_value:.3f} ({rule} {f.adjusted_p:.3f})"
            for f in failing
        )
        zh = "；".join(
            f"{f.cls}类预测问题发现率{_pct(f.expected)}，实际{_pct(f.observed)}（{gap_zh(f)}，"
            f"Jeffreys检验p={f.p_value:.3f}，校正后{f.adjusted_p:.3f}）"
            for f in failing
        )
        en = "; ".join(
            f"class {f.cls} predicted {_pct(f.expected)}, observed {_pct(f.observed)} "
            f"({gap_en(f)}; Jeffreys p = {f.p_value:.3f}, {rule}-adjusted {f.adjusted_p:.3f})"
            for f in failing
        )
        message = (
            f"预测概率与实际发现率不符（校准不合格，按模型类别、强制规则调整前）：{zh} / the "
            "predicted probability does not match what inspections found (miscalibrated, in "
            f"the model's classes before overrides): {en}"
        )
    else:
        value = f"{len(found)} classes within (smallest {rule}-adjusted p " + (
            f"{min(f.adjusted_p for f in found):.3f})"
        )
        small = [f for f in found if f.significant]
        message = (
            f"各类别预测概率与实际发现率相符（{len(found)}类均未超出检验或容差）"
            + ("；" + "、".join(f.cls for f in small) + "类差异显著但在容差之内" if small else "")
            + f" / every class's predicted probability matches what inspections found "
            f"({len(found)} classes)"
            + (
                f"; {', '.join(f.cls for f in small)}: significant but within the tolerance"
                if small
                else ""
            )
        )
    return Check(value, threshold, bool(not failing or not t.require_calibrated), message)


def checks(
    cfg: ModelConfig,
    scheme: ClassScheme,
    auc: float,
    final: ClassFigures,
    score_psi: float,
    plain: PlainComparison | None = None,
    model: ClassFigures | None = None,
) -> dict[str, Check]:
    """The verdict's checks, from a report's figures (``auc``, the ``class_final`` figures,
    the score's PSI, the comparison with the plain baseline, the ``class_model`` figures for
    calibration: ``final``'s when not given) and the thresholds of ``cfg``. Every class the
    method gives must have inspections: an empty class fails rather than being skipped. Each
    check says in plain words, Chinese and English, what it found (`Check.message`)."""
    t = cfg.verify
    rates = final.hit_rates
    empty = [c for c in scheme.method_classes if c not in rates or rates[c].inspections == 0]
    top = scheme.method_classes[-1]
    lift = final.lift.get(top, float("nan"))
    auc_ok = bool(auc >= t.min_auc)
    present = [c for c in scheme.method_classes if c in rates and rates[c].inspections > 0]
    seq_zh = "，".join(f"{c} {_pct(rates[c].weighted)}" for c in present)
    seq_en = ", ".join(f"{c} {_pct(rates[c].weighted)}" for c in present)
    breaks = [
        (a, b) for a, b in itertools.pairwise(present) if not rates[b].weighted > rates[a].weighted
    ]
    psi_ok = bool(score_psi <= t.max_score_psi)
    lift_ok = bool(np.nan_to_num(lift) >= t.min_top_lift)
    return {
        "auc": Check(
            auc,
            f">= {t.min_auc}",
            auc_ok,
            f"AUC {auc:.3f}，不低于{t.min_auc} / AUC {auc:.3f}, at least {t.min_auc}"
            if auc_ok
            else f"区分能力不足：AUC {auc:.3f}，低于要求的{t.min_auc}（差{t.min_auc - auc:.3f}）"
            f" / the model separates too little: AUC {auc:.3f}, below the required "
            f"{t.min_auc} (short by {t.min_auc - auc:.3f})",
        ),
        "every_class_inspected": Check(
            ", ".join(empty) or "yes",
            "no empty class",
            not empty,
            "每个类别均有双随机抽查 / every class was inspected"
            if not empty
            else f"{'、'.join(empty)}类在验证窗口内没有双随机抽查，无法验证 / class "
            f"{', '.join(empty)} had no double-random inspection in the window: it cannot be "
            "verified",
        ),
        "hit_rates_increasing": Check(
            final.increasing,
            " < ".join(scheme.method_classes),
            bool(final.increasing or not t.require_increasing),
            f"问题发现率随类别递增：{seq_zh} / hit rates rise along the classes: {seq_en}"
            if final.increasing
            else f"问题发现率未随类别递增：{seq_zh}（"
            + "、".join(f"{b}类不高于{a}类" for a, b in breaks)
            + f"） / hit rates do not rise along the classes: {seq_en} ("
            + ", ".join(f"{b} not above {a}" for a, b in breaks)
            + ")"
            + ("" if t.require_increasing else "（仅报告 / reported, not required）"),
        ),
        "top_class_lift": Check(
            lift,
            f"{top} >= {t.min_top_lift}",
            lift_ok,
            f"{top}类问题发现率是随机抽查的{lift:.2f}倍（要求至少{t.min_top_lift}倍） / class "
            f"{top} finds problems {lift:.2f} times as often as random inspection (at least "
            f"{t.min_top_lift} required)"
            if lift_ok
            else f"{top}类问题发现率仅为随机抽查的{lift:.2f}倍，要求至少{t.min_top_lift}倍 / "
            f"class {top} finds problems only {lift:.2f} times as often as random inspection; "
            f"at least {t.min_top_lift} required",
        ),
        "score_psi": Check(
            score_psi,
            f"<= {t.max_score_psi}",
            psi_ok,
            f"风险分分布稳定：PSI {score_psi:.3f}（上限{t.max_score_psi}） / the score is "
            f"stable: PSI {score_psi:.3f} (at most {t.max_score_psi})"
            if psi_ok
            else f"风险分分布相对训练人群发生漂移：PSI {score_psi:.3f}，超过{t.max_score_psi}，"
            f"应检查数据报送或重新训练 / the score's distribution moved from the training "
            f"population: PSI {score_psi:.3f}, above {t.max_score_psi}; check the data delivery "
            "or retrain",
        ),
        "calibrated": calibration_check(cfg, model if model is not None else final),
        "beats_plain_baseline": plain_check(plain, t.require_beats_plain),
    }
