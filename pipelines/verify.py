"""Stage `verify`: do a model version's classes find problems? (系统验证)

On the double-random inspections of a window of months (by default from the model's first
test month, held out from training, tuning and calibration, up to ``--as-of``), each enterprise is scored and classed as the model would
have done at the month end before its inspection (features of that month, the scheme with
its overrides). Every figure is weighted by 1/p, the inspection's inclusion probability
(`models.verification`); targeted inspections are counted but never used.

Reports: the hit rate of each class with its Jeffreys interval (and the unweighted rate
beside it, to show the bias); whether the rates rise along the classes; lift over random
inspection and the ratio of the highest class to the lowest; AUC and KS; calibration per
class (expected against observed, Jeffreys test); and a PASS/FAIL verdict against the
thresholds of ``configs/model.yaml`` (``verify``). Beside the verdict, reported but not
gated: the class shares of the whole population in ``--as-of`` and the month before, scored
by the same model version, with the month-over-month migration between them; a division x
industry hot-spot table (区域性、行业性风险研判); and, given the warning rules, whether the
enterprises warned before their inspection (`models.warning`) went on to show problems more
often than the others. Writes
``outputs/<as_of>/verification/metrics.json`` (a DVC metric) and ``verification.html`` (the
report, with its chart; internal like every output that holds classes). Aggregates only: no enterprise
and no class of an enterprise is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.definitions import BY_NAME
from contract.months import month_end, months_between, parse_month, previous_month
from models import calibration, explain, gbm, metrics, verification
from models.classes import ClassScheme, assign, class_order
from models.config import ModelConfig
from models.data import label_frames, split_by_month
from models.warning import WarningConfig, reason_texts, warnings
from pipelines.classify import Bundle, load_bundle
from pipelines.io import write_json
from pipelines.report_text import SECTIONS, section_letter
from pipelines.train import TrainError, load_training_frame

if TYPE_CHECKING:
    from pipelines.report import Names

#: A hot spot is where enterprises crowd into the highest classes: the top two of the ladder
#: (C and D of A-D), so that a class reached only by overrides does not make the whole of it.
HIGH_CLASSES = 2


class VerifyError(ValueError):
    """No inspections to verify on, or inputs that do not fit."""


@dataclass
class VerifyResult:
    metrics: dict[str, Any]
    passed: bool
    out: Path


def first_held_out_month(cfg: ModelConfig) -> str:
    """The first of the model's test months: from there on, no inspection was used to train,
    tune or calibrate it (later inspections, as they arrive, extend the window)."""
    split = split_by_month(months_between(cfg.first_label_month, cfg.last_label_month),
                           cfg.valid_months, cfg.test_months)  # fmt: skip
    return min(m for m, part in split.items() if part == "test")


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
    from mlflow import MlflowClient

    return dict(MlflowClient(tracking_uri=cfg.mlflow.tracking_uri).get_run(run_id).data.params)


def run_verify(
    cfg: ModelConfig,
    scheme: ClassScheme,
    features_dir: Path,
    interim: Path,
    as_of: str,
    out_dir: Path,
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
    inspections = pq.read_table(Path(interim) / "inspections.parquet").to_pandas()
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
    x, flags, p = _score(bundle, frame)
    scored = frame.assign(score=calibration.to_score(p, bundle.scale), probability=p)
    classes = assign(scored, scheme)
    y, w = frame["y"].to_numpy(dtype=float), frame["weight"].to_numpy(dtype=float)
    order = class_order(scheme)
    out = {
        "model": {"name": bundle.name, "version": bundle.version},
        "scheme": scheme.name,
        "window": [first, as_of],
        "inspections": {
            **counts,
            "targeted_not_used": len(targeted),
            "received_after_as_of": int(late.sum()),
        },
        "auc": metrics.weighted_auc(y, p, w),
        "ks": verification.weighted_ks(y, p, w),
    }
    overall = verification.rate(y, w)
    out["overall"] = overall.to_dict()
    for kind in ("class_final", "class_model"):
        cls = classes[kind].to_numpy()
        rates = verification.hit_rates(y, cls, w, order)
        present = [c for c in order if rates[c].inspections > 0]
        low, high = (rates[present[0]], rates[present[-1]]) if present else (overall, overall)
        calib = verification.calibration(y, p, cls, w, order)
        out[kind] = {
            "hit_rates": {c: r.to_dict() for c, r in rates.items()},
            "increasing": verification.increasing(rates, order),
            "lift": verification.lift(rates, overall.weighted),
            "top_to_bottom": high.weighted / low.weighted if low.weighted > 0 else float("nan"),
            "calibration": {c: r.to_dict() for c, r in calib.items()},
            "shares_of_inspections": pd.Series(cls).value_counts(normalize=True).to_dict(),
        }
    out["main_risk_points"] = _risk_points(cfg, bundle, x, flags, frame, w)
    ref_month, before = reference_month(trained), previous_month(as_of)
    months = score_months(bundle, scheme, features_dir, {ref_month: (True, False),
                          as_of: (True, True), before: (False, True)}, batch_rows)  # fmt: skip
    out["stability"] = stability(months[ref_month], months[as_of])
    out["population"] = _finite(population(months[as_of], months.get(before), scheme))
    out["hot_spots"] = _finite(hot_spot_table(months[as_of], frame, scheme, names, hot_spot_min,
                                              hot_spot_top))  # fmt: skip
    out["early_warning"] = _finite(
        {"computed": False, "why": "no warning rules given (configs/warning.yaml)"}
        if warning is None
        else early_warning(bundle, scheme, warning, features_dir, random, scored, classes)
    )
    found = checks(cfg, out, scheme)
    out["checks"] = found
    out["thresholds"] = cfg.verify.model_dump()
    out["verdict"] = "PASS" if all(c["passed"] for c in found.values()) else "FAIL"
    path = Path(out_dir) / as_of / "verification" / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, path)
    html = render_html(out, scheme)
    tmp = path.with_name(".verification.html.tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path.with_name("verification.html"))
    return VerifyResult(out, out["verdict"] == "PASS", path)


def render_html(m: dict[str, Any], scheme: ClassScheme) -> str:
    """The verification report: verdict, hit rates with intervals (chart), calibration, drift."""
    from markupsafe import Markup

    from pipelines import charts
    from pipelines.report import class_colours, environment
    from pipelines.report_text import TEXT

    colours = class_colours(scheme)
    bars = [(c, r["hit_rate"], r["low"], r["high"], r["unweighted"], colours.get(c, "#555"))
            for c, r in m["class_final"]["hit_rates"].items() if r["inspections"]]  # fmt: skip
    chart = charts.rate_bars(bars, "各类别问题发现率", ("加权发现率及95%区间", "未加权发现率"))
    return (
        environment()
        .get_template("verification.html.j2")
        .render(m=m, t=TEXT["zh"], chart=Markup(chart))
    )


def _risk_points(
    cfg: ModelConfig, bundle: Bundle, x: np.ndarray, flags: dict[str, np.ndarray],
    frame: pd.DataFrame, w: np.ndarray,
) -> dict[str, Any]:  # fmt: skip
    """Main-risk-point accuracy (主要风险点精准识别): does the group of each inspected
    enterprise's top risk point match the category of the problem inspectors found?"""
    contrib = bundle.explainer(cfg.explain.engine)(x, flags)
    idx, _val = explain.top_risk_points(contrib, 1)
    group_of = [BY_NAME[f].group for f in bundle.design.features]
    top = [group_of[j] if j >= 0 else None for j in idx[:, 0]]
    found = frame["y"].to_numpy() == 1
    category = frame["problem_category"].where(found, None).tolist()
    return verification.risk_point_accuracy(top, category, w, cfg.verify.problem_groups)


def reference_month(cfg: ModelConfig) -> str:
    """The feature month of the model's last training label month: the population the
    model was trained on, against which drift is measured."""
    split = split_by_month(months_between(cfg.first_label_month, cfg.last_label_month),
                           cfg.valid_months, cfg.test_months)  # fmt: skip
    return previous_month(max(m for m, part in split.items() if part == "train"))


@dataclass
class Classed:
    """A month's population classed: each enterprise's uscc and class (for the migration) and
    sums per division x industry cell (division, industry, enterprises, high, score_sum: for
    the hot spots). Internal: no enterprise's class leaves this object."""

    uscc: pa.ChunkedArray
    classes: pd.Categorical  # class_final; categories: every class of the scheme
    cells: pd.DataFrame

    def counts(self) -> dict[str, int]:
        return {str(c): int(n) for c, n in pd.Series(self.classes).value_counts().items()}


@dataclass
class MonthScores:
    """One month's enterprises scored by one model version, from one pass over its feature
    file: the score, the model's features when asked (for PSI), the classes when asked."""

    month: str
    score: np.ndarray
    features: pd.DataFrame | None = None
    classed: Classed | None = None

    def require_features(self) -> pd.DataFrame:
        if self.features is None:
            raise ValueError(f"{self.month} was read without its features (psi=False)")
        return self.features

    def require_classed(self) -> Classed:
        if self.classed is None:
            raise ValueError(f"{self.month} was read without its classes (classed=False)")
        return self.classed


def score_months(
    bundle: Bundle, scheme: ClassScheme, features_dir: Path,
    wanted: dict[str, tuple[bool, bool]], batch_rows: int = 200_000,
) -> dict[str, MonthScores]:  # fmt: skip
    """Score each month of ``wanted`` (month -> (features for PSI, classes)) in one pass
    over its file; a month asked for twice (the reference month may be the month before
    ``as_of``) is read once. A month wanted only for its classes may lack its feature file
    (its figures are then left out); the others must have theirs."""
    merged: dict[str, tuple[bool, bool]] = {}
    for month, (psi, classed) in wanted.items():
        was = merged.get(month, (False, False))
        merged[month] = (was[0] or psi, was[1] or classed)
    out = {}
    for month, (psi, classed) in merged.items():
        path = Path(features_dir) / f"{month}.parquet"
        if psi or path.is_file():
            out[month] = read_month(bundle, scheme, path, psi, classed, batch_rows)
    return out


def read_month(
    bundle: Bundle, scheme: ClassScheme, path: Path, psi: bool, classed: bool,
    batch_rows: int = 200_000,
) -> MonthScores:  # fmt: skip
    """`MonthScores` of one feature file, read in record batches of only the columns needed
    (memory bounded by the batch and by what is kept: a score, a class code and a uscc a
    row, plus the model's features for PSI)."""
    if not path.is_file():
        raise VerifyError(f"verify: no feature file {path} for the population figures")
    sectors = sorted({f for _n, f, _b, _c in bundle.sectors})
    override = sorted({c.feature for r in scheme.overrides for c in r.when}) if classed else []
    place = ["city", "industry_division"] if classed else []
    cols = list(dict.fromkeys(["uscc", *bundle.design.features, *sectors, *override, *place]))
    missing = sorted(set(cols) - set(pq.read_schema(path).names))
    if missing:
        raise VerifyError(f"verify: {path} lacks the columns {', '.join(missing[:10])}")
    order = class_order(scheme, include_outside=True)
    high = class_order(scheme)[-HIGH_CLASSES:]
    scores, frames, ids, codes, cells = [], [], [], [], []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=cols):
        x = gbm.matrix_arrow(batch, bundle.design)
        flags = {f: batch.column(f).to_numpy(zero_copy_only=False) for f in sectors}
        p = bundle.probability(x, flags)
        score = calibration.to_score(p, bundle.scale)
        scores.append(score)
        if psi:
            frames.append(pd.DataFrame(x, columns=list(bundle.design.features)))
        if not classed:
            continue
        uscc = batch.column("uscc")
        frame = pd.DataFrame({"uscc": uscc.to_pandas(types_mapper=pd.ArrowDtype), "score": score,
                              "probability": p,
                              **{c: batch.column(c).to_pandas() for c in override}})  # fmt: skip
        final = assign(frame, scheme)["class_final"]
        ids.append(uscc)
        codes.append(pd.Categorical(final, categories=order).codes)
        part = pd.DataFrame({
            "division": batch.column("city").to_pandas().fillna("").astype(str),
            "industry": industry_section(batch.column("industry_division").to_pandas()),
            "enterprises": 1, "high": final.isin(high).to_numpy(dtype=int), "score_sum": score,
        })  # fmt: skip
        cells.append(part.groupby(["division", "industry"], as_index=False, sort=False).sum())
    if not scores:
        raise VerifyError(f"verify: the feature file {path} holds no enterprise")
    whole = (
        Classed(pa.chunked_array(ids, pa.string()),
                pd.Categorical.from_codes(np.concatenate(codes), categories=order),
                pd.concat(cells, ignore_index=True))
        if classed else None
    )  # fmt: skip
    features = pd.concat(frames, ignore_index=True) if psi else None
    return MonthScores(path.stem, np.concatenate(scores), features, whole)


def industry_section(division2: pd.Series) -> pd.Series:
    """The GB/T 4754-2017 section letter (A-S, in the order of `SECTIONS`) of 2-digit
    industry divisions: the coarsest level that still tells trades apart; "" when unknown."""
    letters = {v: section_letter(str(v)) or "" for v in division2.dropna().unique()}
    return division2.map(letters).fillna("").astype(str)


def stability(ref: MonthScores, cur: MonthScores) -> dict[str, Any]:
    """PSI of the score and of every model feature, the month ``cur`` against the training
    population ``ref`` (`reference_month`); the features that moved most first."""
    a, b = ref.require_features(), cur.require_features()
    psi = {f: verification.psi(a[f].to_numpy(), b[f].to_numpy()) for f in a.columns}
    ranked = [
        [f, v] for f, v in sorted(psi.items(), key=lambda kv: -kv[1])
    ]  # a list: JSON keeps its order
    return {"reference_month": ref.month, "month": cur.month,
            "score_psi": verification.psi(ref.score, cur.score), "feature_psi": ranked}  # fmt: skip


def population(cur: MonthScores, before: MonthScores | None, scheme: ClassScheme) -> dict[str, Any]:
    """Class shares of the whole population in ``cur`` and the month before (same model
    version, same scheme), and the migration between them (None without the month before)."""
    order = class_order(scheme, include_outside=True)
    months = [m for m in (before, cur) if m is not None]
    now = cur.require_classed()
    migration = None
    if before is not None:
        then = before.require_classed()
        migration = verification.migration(then.uscc, then.classes, now.uscc, now.classes, order)
    return {
        "month": cur.month, "previous_month": before.month if before else None,
        "enterprises": {m.month: len(m.score) for m in months},
        "shares": {m.month: verification.class_shares(m.require_classed().counts(), order)
                   for m in months},
        "migration": migration,
    }  # fmt: skip


def hot_spot_table(
    cur: MonthScores, inspected: pd.DataFrame, scheme: ClassScheme, names: Names | None,
    min_enterprises: int, top: int,
) -> dict[str, Any]:  # fmt: skip
    """Division (city) x industry (section) cells of ``cur`` ranked by their share in the
    highest classes, with the window's double-random inspections of each cell (placed by the
    features of the month before the inspection: ``inspected`` is the label frame)."""
    cells = cur.require_classed().cells
    inspections = pd.DataFrame({
        "division": inspected["city"].fillna("").astype(str),
        "industry": industry_section(inspected["industry_division"]),
        "y": inspected["y"], "weight": inspected["weight"],
    })  # fmt: skip
    rows = verification.hot_spots(cells, inspections, min_enterprises, None)
    section_zh = {chr(ord("A") + i): zh for i, (_lo, _hi, zh, _en) in enumerate(SECTIONS)}
    prefectures = names.prefectures if names is not None else {}
    for r in rows:
        r["division_zh"] = prefectures.get(r["division"], (r["division"] or "未知",))[0]
        r["industry_zh"] = section_zh.get(r["industry"], "未知")
    all_cells = cells.groupby(["division", "industry"]).size()
    return {
        "month": cur.month, "high_classes": class_order(scheme)[-HIGH_CLASSES:],
        "levels": {"division": "prefecture-level city (first 4 digits of division_code)",
                   "industry": "GB/T 4754-2017 section"},
        "min_enterprises": min_enterprises, "top": top, "cells": len(all_cells),
        "cells_kept": len(rows), "enterprises": int(cells["enterprises"].sum()),
        "enterprises_kept": sum(r["enterprises"] for r in rows), "rows": rows[:top],
    }  # fmt: skip


def early_warning(
    bundle: Bundle, scheme: ClassScheme, cfg: WarningConfig, features_dir: Path,
    random: pd.DataFrame, scored: pd.DataFrame, classes: pd.DataFrame,
) -> dict[str, Any]:  # fmt: skip
    """Was each inspected enterprise warned before its inspection (month m), as `riskclass
    warn` would have warned it on the features of m-1 (``scored``, classed as ``classes``)
    against those of m-2 scored by the same model: a class or score rise, or a monitoring
    rule? The hit rates of the warned and the others (1/p weighted). Inspections whose m-2
    feature file is missing cannot have a rise judged and are left out (counted)."""
    missing = sorted(cfg.features - set(scored.columns))
    if missing:
        raise VerifyError(f"verify: the warning rules name features the files lack: {missing}")
    feature_months = sorted(scored["feature_month"].unique())
    before = {m: previous_month(m) for m in feature_months}
    judged = [m for m in feature_months if (Path(features_dir) / f"{before[m]}.parquet").is_file()]
    keep = scored["feature_month"].isin(judged).to_numpy()
    labels = random[random["feature_month"].isin(judged)]
    try:
        prev, _counts, _catalog = load_training_frame(
            features_dir, labels.assign(feature_month=labels["feature_month"].map(before))
        )
    except TrainError as exc:
        raise VerifyError(f"verify: early warning: {exc}") from None
    if len(prev):
        _x, _flags, p_prev = _score(bundle, prev)
        prev = prev.assign(score=calibration.to_score(p_prev, bundle.scale), probability=p_prev)
        prev = prev.assign(class_final=assign(prev, scheme)["class_final"])
    now = scored.assign(class_final=classes["class_final"])[keep]
    reasons = pd.Series("", index=now.index, dtype=object)
    order = class_order(scheme)
    for month, cur in now.groupby("month", sort=True):
        was = prev[prev["month"] == month] if len(prev) else prev
        was = was[["uscc", "class_final", "score"]].drop_duplicates("uscc") if len(was) else None
        cols = ["uscc", "class_final", "score", *sorted(cfg.features)]
        warned = warnings(cur[cols], was, order, cfg).drop_duplicates("uscc")
        reasons[cur.index] = (
            cur["uscc"].map(dict(zip(warned["uscc"], warned["reasons"], strict=True))).fillna("")
        )
    texts = reason_texts(cfg)
    out = verification.warning_precision(now["y"], now["weight"], reasons.tolist(), list(texts))
    return {"computed": True, **out, "not_judged": int((~keep).sum()), "labels_zh": texts,
            "rise_classes": cfg.rise_classes, "rise_score": cfg.rise_score}  # fmt: skip


def _score(
    bundle: Bundle, frame: pd.DataFrame
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """The design matrix, sector flags and calibrated probability of a label frame."""
    x = gbm.matrix(frame, bundle.design)
    flags = {f: frame[f].to_numpy() for _n, f, _b, _c in bundle.sectors}
    return x, flags, bundle.probability(x, flags)


def _finite(value: Any) -> Any:
    """``value`` with every non-finite number as None: metrics.json stays strict JSON."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def checks(cfg: ModelConfig, out: dict[str, Any], scheme: ClassScheme) -> dict[str, Any]:
    """The verdict's checks, from a report's figures and the thresholds of ``cfg`` (promote
    recomputes them: a report's own verdict is not taken on trust). Every class the method
    gives must have inspections: an empty class fails rather than being skipped."""
    t = cfg.verify
    final = out["class_final"]
    rates = final["hit_rates"]
    empty = [c for c in scheme.method_classes if rates.get(c, {}).get("inspections", 0) == 0]
    top = scheme.method_classes[-1]
    lift = final["lift"].get(top, float("nan"))
    return {
        "auc": {"value": out["auc"], "threshold": f">= {t.min_auc}",
                "passed": bool(out["auc"] >= t.min_auc)},
        "every_class_inspected": {"value": ", ".join(empty) or "yes", "threshold": "no empty class",
                                  "passed": not empty},
        "hit_rates_increasing": {"value": final["increasing"], "threshold": " < ".join(scheme.method_classes),
                                 "passed": bool(final["increasing"] or not t.require_increasing)},
        "top_class_lift": {"value": lift, "threshold": f"{top} >= {t.min_top_lift}",
                           "passed": bool(np.nan_to_num(lift) >= t.min_top_lift)},
        "score_psi": {"value": out["stability"]["score_psi"], "threshold": f"<= {t.max_score_psi}",
                      "passed": bool(out["stability"]["score_psi"] <= t.max_score_psi)},
    }  # fmt: skip
