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
thresholds of ``configs/model.yaml`` (``verify``). Writes
``outputs/<as_of>/verification/metrics.json`` (a DVC metric) and ``verification.html`` (the
report, with its chart; internal like every output that holds classes). Aggregates only: no enterprise
and no class of an enterprise is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from features.definitions import BY_NAME
from features.months import month_end, months_between, parse_month, previous_month
from models import calibration, explain, gbm, metrics, verification
from models.classes import ClassScheme, assign, class_order
from models.config import ModelConfig
from models.data import label_frames, split_by_month
from pipelines.classify import Bundle, load_bundle
from pipelines.io import write_json
from pipelines.train import load_training_frame


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
) -> VerifyResult:
    if not scheme.chunkable:
        raise VerifyError(
            f"verify: class scheme {scheme.name} assigns classes by shares of the whole "
            "population, which inspected enterprises are not; verify with a score-band or "
            "threshold scheme"
        )
    bundle = load_bundle(cfg, alias=None if version else alias, version=version)
    first = first or first_held_out_month(cfg)
    if first > as_of:
        raise VerifyError(
            f"verify: the window {first}..{as_of} is empty: the model's label months end "
            f"{cfg.last_label_month}; give --from for a held-out window"
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
    x = gbm.matrix(frame, bundle.design)
    flags = {f: frame[f].to_numpy() for _n, f, _b, _c in bundle.sectors}
    p = bundle.probability(x, flags)
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
    out["stability"] = stability(cfg, bundle, features_dir, as_of)
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


def stability(
    cfg: ModelConfig, bundle: Bundle, features_dir: Path, as_of: str, batch_rows: int = 200_000
) -> dict[str, Any]:
    """PSI of the score and of every model feature, the month ``as_of`` against the
    training population (`reference_month`); the features that moved most first."""
    ref_month = reference_month(cfg)

    def read(month: str) -> tuple[np.ndarray, pd.DataFrame]:
        path = Path(features_dir) / f"{month}.parquet"
        if not path.is_file():
            raise VerifyError(f"verify: no feature file {path} for the stability check")
        cols = ["uscc", *bundle.design.features, *{f for _n, f, _b, _c in bundle.sectors}]
        scores, frames = [], []
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=cols):
            x = gbm.matrix_arrow(batch, bundle.design)
            flags = {
                f: batch.column(f).to_numpy(zero_copy_only=False)
                for _n, f, _b, _c in bundle.sectors
            }
            scores.append(calibration.to_score(bundle.probability(x, flags), bundle.scale))
            frames.append(pd.DataFrame(x, columns=list(bundle.design.features)))
        return np.concatenate(scores), pd.concat(frames, ignore_index=True)

    ref_score, ref = read(ref_month)
    cur_score, cur = read(as_of)
    psi = {
        f: verification.psi(ref[f].to_numpy(), cur[f].to_numpy()) for f in bundle.design.features
    }
    ranked = [
        [f, v] for f, v in sorted(psi.items(), key=lambda kv: -kv[1])
    ]  # a list: JSON keeps its order
    return {"reference_month": ref_month, "month": as_of,
            "score_psi": verification.psi(ref_score, cur_score), "feature_psi": ranked}  # fmt: skip


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
