"""`riskclass simulate-loop`: the monthly loop on the synthetic province, with the model in it.

Month by month over the last ``months`` months of the simulated window: score and class
every enterprise alive that month (features of the month end before), draw the month's
double-random inspections, let the simulator's hidden truth decide what inspectors find
(``p_problem`` of that enterprise and month), feed the results back as labels (linked to the
draw by `pipelines.intake.findings.link`, weighted 1/p by `models.data.label_frames`, as real
results are), verify, and retrain every ``retrain_every`` months on everything received so
far. The first model learns from the simulator's own double-random inspections before the
loop starts.

At the same inspection budget three policies draw side by side each month:

- ``model``: the model's classes, each drawn at the campaign's class rate (A 1%, B 3%,
  C 10%, D 20% by default); the budget is what that draw takes;
- ``rules``: the weighted indicator points regulators use today (加权评定,
  ``configs/indicator_weights.yaml``) ranked into classes of the same sizes as the model's,
  drawn at the same rates, so the same number of inspections per class;
- ``uniform``: the same number of inspections drawn uniformly from everyone.

All three see the same outcomes (common random numbers: the comparison is not blurred by
luck). As in the simulator, inspectors miss problems (issue 19): one uniform number per
enterprise and month decides against ``p_present`` whether a problem is there, a second
against the detection rate ``p_problem / p_present`` (the firm's likely problem, checked
by an inspector of average skill) whether the inspector sees it; found = present AND
detected, so ``p_problem`` is the probability that a problem is found. Problems found per 100 inspections
are given with Jeffreys intervals; the expected count (the sum of ``p_problem`` over the
inspected, free of outcome noise) beside them.

Estimation next to the truth: each month the share of enterprises that would be found with
a problem (the mean ``p_problem`` of the population) is estimated from the model policy's
inspections with and without 1/p weights; the unweighted estimate is biased upward because
high classes are inspected more often.

What the loop does not simulate: inspections do not change the enterprises (the
simulator's path of the province, with its own inspections, was fixed beforehand), so
features still reflect the simulator's inspection history; and the loop's model is the
general model with the configuration's hyperparameters (no tuning, no sector models).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from contract.months import add_months, month_end, months_between, parse_month, previous_month
from features.definitions import CATALOG
from models import calibration, gbm
from models.baselines import IndicatorWeights, indicator_score
from models.classes import ClassScheme, assign, class_order
from models.config import ModelConfig
from models.data import label_frames
from models.sampling import Campaign, rates_for
from models.verification import rate
from pipelines.config import load_config
from pipelines.frames import FrameError, load_training_frame, read_inspections
from pipelines.intake.findings import link
from pipelines.io import write_csv, write_json
from pipelines.paths import Outputs, features_file

POLICIES = ("uniform", "rules", "model")


class LoopError(ValueError):
    """The simulated window, the features or the truth do not cover the loop."""


@dataclass
class _Model:
    booster: Any
    design: gbm.Design
    cal: calibration.Calibrator
    trained_on: str  # label months

    def probability(self, frame: pd.DataFrame) -> np.ndarray:
        return self.cal(gbm.predict_raw(self.booster, gbm.matrix(frame, self.design)))


@dataclass
class LoopResult:
    months: pd.DataFrame  # one row per month and policy
    estimates: pd.DataFrame  # one row per month: truth, weighted, unweighted
    summary: dict[str, Any]
    out: Path


def fit(cfg: ModelConfig, labelled: pd.DataFrame, calibration_months: int = 3) -> _Model:
    """The general model with the configuration's hyperparameters, trained on the earlier
    label months, calibrated on the last ``calibration_months`` (out of time)."""
    months = sorted(labelled["month"].unique())
    if len(months) <= calibration_months:
        raise LoopError(
            f"simulate-loop: {len(months)} label month(s); at least {calibration_months + 1} "
            "are needed to train and calibrate"
        )
    cut = months[-calibration_months]
    train, cal = labelled[labelled["month"] < cut], labelled[labelled["month"] >= cut]
    design = gbm.fit_design(train, CATALOG)
    hyper = cfg.lightgbm.model_dump()
    params = gbm.lgb_params(
        hyper, cfg.seed, cfg.lightgbm.threads, gbm.monotone(design, CATALOG), list(design.levels)
    )
    booster = gbm.train(
        gbm.matrix(train, design),
        train["y"].to_numpy(),
        train["weight"].to_numpy(),
        params,
        hyper["n_estimators"],
    )
    raw = gbm.predict_raw(booster, gbm.matrix(cal, design))
    cal_map = calibration.fit(cfg.calibration, raw, cal["y"].to_numpy(), cal["weight"].to_numpy())
    return _Model(booster, design, cal_map, f"{months[0]}..{months[-1]}")


def _features(features_dir: Path, month: str) -> pd.DataFrame:
    path = features_file(features_dir, month)
    if not path.is_file():
        raise LoopError(f"simulate-loop: no feature file {path}; run `riskclass features`")
    return pq.read_table(path).to_pandas()


def _truth(truth_dir: Path, month: str) -> pd.DataFrame:
    path = Path(truth_dir) / "enterprise_months"
    if not path.exists():
        raise LoopError(
            f"simulate-loop: no hidden truth at {path}; the loop runs on the synthetic province "
            "only (riskclass simulate --truth-out)"
        )
    t = pq.read_table(
        path, columns=["uscc", "month", "p_problem", "p_present"], filters=[("month", "=", month)]
    )
    if t.num_rows == 0:
        raise LoopError(f"simulate-loop: the hidden truth has no month {month}")
    return t.drop(["month"]).to_pandas()


def _labelled(features_dir: Path, labels: pd.DataFrame) -> pd.DataFrame:
    """Labels with the features of their feature month (training's own join and checks)."""
    try:
        frame, _counts, _catalog = load_training_frame(features_dir, labels)
    except FrameError as exc:
        raise LoopError(f"simulate-loop: {exc}") from None
    return frame


def _stratified(
    classes: np.ndarray, rates: dict[str, float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Positions drawn (n = ceil(rate x N) per class, simple random sampling) and their
    inclusion probabilities."""
    picked, probs = [], []
    for c, r in rates.items():
        members = np.flatnonzero(classes == c)
        if len(members) == 0:
            continue
        n = min(len(members), math.ceil(r * len(members)))
        picked.append(np.sort(rng.choice(members, size=n, replace=False)))
        probs.append(np.full(n, n / len(members)))
    return np.concatenate(picked), np.concatenate(probs)


def _rank_classes(
    points: np.ndarray, sizes: dict[str, int], order: list[str], rng: np.random.Generator
) -> np.ndarray:
    """Classes by rank of ``points`` (highest first into the highest class) with the given
    class sizes; ties in random order."""
    ranked = np.lexsort((rng.random(len(points)), -points))
    out = np.empty(len(points), dtype=object)
    start = 0
    for c in reversed(order):
        n = sizes.get(c, 0)
        out[ranked[start : start + n]] = c
        start += n
    out[ranked[start:]] = order[0]
    return out


def run_loop(
    cfg: ModelConfig,
    scheme: ClassScheme,
    campaign: Campaign,
    weights: IndicatorWeights,
    features_dir: Path,
    interim: Path,
    truth_dir: Path,
    outputs: Path,
    to: str,
    months: int = 12,
    retrain_every: int = 3,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> LoopResult:
    """The loop over the ``months`` months up to ``to`` (see the module doc), retraining every
    ``retrain_every`` months; ``seed`` seeds the draws and the outcomes. Writes
    ``<outputs>/loop/<to>/``: policies_by_month.csv, estimates_by_month.csv, loop.json."""
    say = progress or (lambda _m: None)
    if not scheme.chunkable:
        raise LoopError(f"simulate-loop: class scheme {scheme.name} ranks by shares; use bands")
    if len(class_order(scheme, include_outside=True)) != len(class_order(scheme)):
        raise LoopError(
            f"simulate-loop: class scheme {scheme.name} has classes outside its ladder (e.g. "
            "dormant), which the policies would not inspect alike; use a ladder-only scheme"
        )
    if seed < 0:
        raise LoopError(f"simulate-loop: --seed must be 0 or more, got {seed}")
    if months < 1 or retrain_every < 1:
        raise LoopError("simulate-loop: --months and --retrain-every must be at least 1")
    parse_month(to)
    loop_months = months_between(add_months(to, -(months - 1)), to)
    start = loop_months[0]
    first_label = max(cfg.first_label_month, _first_feature_month(features_dir, start))
    initial_last = previous_month(start)
    inspections = read_inspections(interim)
    # only results the bureau had received when the loop starts
    cutoff = pd.Timestamp(month_end(*parse_month(initial_last)))
    late = pd.to_datetime(inspections["received_date"]) > cutoff
    random, _targeted = label_frames(inspections[~late.to_numpy()], first_label, initial_last)
    not_yet, _ = label_frames(inspections[late.to_numpy()], first_label, initial_last)
    if random.empty:
        raise LoopError(
            f"simulate-loop: no double-random inspection in {first_label}..{initial_last} "
            "to learn the first model from"
        )

    say(f"labels {first_label}..{initial_last}")
    labelled = _labelled(features_dir, random)
    model = fit(cfg, labelled)
    minimum = {c.code: c.min_sampling_rate for c in scheme.classes}
    rates = rates_for(campaign, minimum)
    order = class_order(scheme)
    rows: list[dict[str, Any]] = []
    estimates: list[dict[str, Any]] = []
    versions = [model.trained_on]
    for i, month in enumerate(loop_months):
        if i and i % retrain_every == 0:
            say(f"{month}: retraining")
            model = fit(cfg, labelled)
            versions.append(model.trained_on)
        say(f"{month}: classify, draw, inspect")
        fm = previous_month(month)
        pop = _features(features_dir, fm).merge(_truth(truth_dir, month), on="uscc", how="inner")
        pop = pop.sort_values("uscc", ignore_index=True)
        p_model = model.probability(pop)
        scored = pop.assign(
            score=calibration.to_score(p_model, cfg.score_scale), probability=p_model
        )
        classes = assign(scored, scheme)["class_final"].to_numpy(dtype=object)
        ss = np.random.SeedSequence([seed, *(int(x) for x in month.split("-"))])
        outcome_rng, draw_rng = (np.random.default_rng(s) for s in ss.spawn(2))
        truth_p = pop["p_problem"].to_numpy(dtype=float)
        present_p = pop["p_present"].to_numpy(dtype=float)
        detect_p = np.divide(truth_p, present_p, out=np.zeros_like(truth_p), where=present_p > 0)
        present = outcome_rng.random(len(pop)) < present_p
        detected = outcome_rng.random(len(pop)) < detect_p
        found = present & detected  # common to every policy
        sizes = {c: int((classes == c).sum()) for c in order}
        rule_classes = _rank_classes(indicator_score(pop, weights), sizes, order, draw_rng)
        drawn = {
            "model": _stratified(classes, rates, draw_rng),
            "rules": _stratified(rule_classes, rates, draw_rng),
        }
        budget = len(drawn["model"][0])
        drawn["uniform"] = (
            np.sort(draw_rng.choice(len(pop), size=budget, replace=False)),
            np.full(budget, budget / len(pop)),
        )
        for policy in POLICIES:
            at, _p = drawn[policy]
            r = rate(found[at], np.ones(len(at)))
            rows.append(
                {
                    "month": month,
                    "policy": policy,
                    "inspections": len(at),
                    "problems": int(found[at].sum()),
                    "expected": float(truth_p[at].sum()),
                    "per_100": 100 * r.weighted,
                    "low": 100 * r.low,
                    "high": 100 * r.high,
                }
            )
        # feedback: the model policy's results, linked to its draw, become labels
        at, p_at = drawn["model"]
        plan_id = f"loop-{month}-{seed}"
        plan = pd.DataFrame(
            {
                "plan_id": plan_id,
                "item": "disclosure",
                "uscc": pop["uscc"].to_numpy()[at],
                "class": classes[at],
                "stratum": ["disclosure/" + c for c in classes[at]],
                "enterprise_probability": p_at,
            }
        )
        day = f"{month}-15"  # the category found is not simulated here (verify's risk points)
        results = pd.DataFrame(
            {
                "plan_id": plan_id,
                "uscc": plan["uscc"],
                "inspection_id": [f"L{month}-{k:07d}" for k in range(len(at))],
                "inspection_date": day,
                "result": np.where(found[at], "corrected", "no_problem"),
                "problem_found": found[at],
                "problem_category": pd.Series(found[at])
                .map({True: "false_disclosure", False: None})
                .to_numpy(),
                "received_date": day,
                "items": "",
            }
        )
        linked, rejected = link(plan, results)
        if len(rejected):
            raise LoopError(f"simulate-loop: {len(rejected)} results of {plan_id} did not link")
        linked = linked.assign(
            inspection_date=pd.to_datetime(linked["inspection_date"]),
            inclusion_probability=linked["inclusion_probability"].astype(float),
        )
        new, _ = label_frames(linked, month, month)
        labelled = pd.concat([labelled, _labelled(features_dir, new)], ignore_index=True)
        # verify: the population's problem share, estimated with and without 1/p
        y, w = new["y"].to_numpy(dtype=float), new["weight"].to_numpy(dtype=float)
        weighted = rate(y, w)
        truth_share = float(truth_p.mean())
        class_truth = {c: float(truth_p[classes == c].mean()) if sizes[c] else None for c in order}
        class_seen = {
            c: float(found[at][classes[at] == c].mean()) if (classes[at] == c).any() else None
            for c in order
        }
        estimates.append(
            {
                "month": month,
                "model": model.trained_on,
                "enterprises": len(pop),
                "budget": budget,
                "truth": truth_share,
                "weighted": weighted.weighted,
                "weighted_low": weighted.low,
                "weighted_high": weighted.high,
                "unweighted": weighted.unweighted,
                "shares": {c: sizes[c] / len(pop) for c in order},
                "class_truth": class_truth,
                "class_hit_rate": class_seen,
            }
        )
    table = pd.DataFrame(rows)
    est = pd.DataFrame(estimates)
    summary = _summary(table, est, loop_months, retrain_every, versions, rates, seed, order)
    summary["first_model_labels"] = {"used": len(random), "not_yet_received": len(not_yet)}
    where = Outputs(Path(outputs))
    folder = where.loop(to)
    folder.mkdir(parents=True, exist_ok=True)
    # formula-safe like every table for people; UTF-8 without a BOM as before (a DVC output)
    write_csv(table, where.loop_policies_csv(to), encoding="utf-8")
    flat = est.drop(columns=["shares", "class_truth", "class_hit_rate"])
    write_csv(flat, where.loop_estimates_csv(to), encoding="utf-8")
    write_json({**summary, "months_detail": estimates}, where.loop_json(to))
    return LoopResult(table, est, summary, folder)


def _summary(
    table: pd.DataFrame,
    est: pd.DataFrame,
    loop_months: list[str],
    retrain_every: int,
    versions: list[str],
    rates: dict[str, float],
    seed: int,
    order: list[str],
) -> dict[str, Any]:
    pooled = {}
    for policy, g in table.groupby("policy", sort=False):
        n, x = int(g["inspections"].sum()), int(g["problems"].sum())
        r = rate(np.r_[np.ones(x), np.zeros(n - x)], np.ones(n))
        pooled[policy] = {
            "inspections": n,
            "problems": x,
            "per_100": 100 * r.weighted,
            "low": 100 * r.low,
            "high": 100 * r.high,
            "expected_per_100": 100 * float(g["expected"].sum()) / n,
        }
    base = pooled["uniform"]["per_100"]
    for v in pooled.values():
        v["lift_over_uniform"] = v["per_100"] / base if base > 0 else float("nan")
    err_w, err_u = est["weighted"] - est["truth"], est["unweighted"] - est["truth"]
    return {
        "months": [loop_months[0], loop_months[-1]],
        "retrain_every": retrain_every,
        "models": versions,
        "rates": rates,
        "seed": seed,
        "policies": pooled,
        "estimation": {
            "weighted": {
                "mean_error": float(err_w.mean()),
                "rmse": float(np.sqrt((err_w**2).mean())),
            },
            "unweighted": {
                "mean_error": float(err_u.mean()),
                "rmse": float(np.sqrt((err_u**2).mean())),
            },
            "weighted_interval_covers_truth": int(
                (
                    (est["weighted_low"] <= est["truth"]) & (est["truth"] <= est["weighted_high"])
                ).sum()
            ),
            "months": len(est),
        },
        "classes": order,
    }


def _first_feature_month(features_dir: Path, start: str) -> str:
    """The first label month whose feature month exists (labels need the month before)."""
    have = sorted(p.stem for p in Path(features_dir).glob("*.parquet"))
    if not have or have[0] >= previous_month(start):
        raise LoopError(
            f"simulate-loop: the feature files in {features_dir} start at "
            f"{have[0] if have else 'nothing'}; the loop starting {start} needs earlier months "
            "to learn its first model from"
        )
    return add_months(have[0], 1)


def load_inputs(
    model_config: Path, campaign: Path
) -> tuple[ModelConfig, ClassScheme, Campaign, IndicatorWeights]:
    cfg = load_config(model_config, ModelConfig)
    return (
        cfg,
        load_config(cfg.class_scheme, ClassScheme),
        load_config(campaign, Campaign),
        load_config(cfg.indicator_weights, IndicatorWeights),
    )
