"""`riskclass promote`: move the `champion` alias, only on evidence, and say so in a log.

The evidence is the version's verification report (`riskclass verify`: its verdict must be
PASS, and it must be about this version; its checks are recomputed by `pipelines.gates`) and
its own test-month metrics, checked against the thresholds in `configs/model.yaml`
(`promote`), among them that the deployed model did not lose to the plain baseline training
fitted beside it (`pipelines.gates.plain_check`; its figures go into the record). Every
promotion, and every refusal, is appended to `outputs/promotions.jsonl`: who, when (the
real time: an audit record), from which version to which, the checks, and the SHA-256 of
the evidence; the log is a hash chain (`pipelines.chain`), so an edited, deleted or inserted
line is detected by `riskclass audit verify`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.classes import ClassScheme, class_order
from models.config import ModelConfig
from models.metrics import increasing
from models.plain import PlainComparison
from pipelines import chain
from pipelines.bundle import Registry
from pipelines.gates import checks, held_out_problem, plain_check
from pipelines.results import Check, VerificationMetrics, finite


class PromoteError(ValueError):
    pass


def _plain_record(metrics: dict[str, float], check: Check) -> dict[str, Any]:
    """The promotion record's plain-baseline entry: the check and the figures it judged."""
    found = PlainComparison.from_metrics(metrics)
    figures = (
        {}
        if found is None
        else {k: v for k, v in found.to_dict().items() if k not in ("model", "rule")}
    )
    out: dict[str, Any] = finite({**check.to_dict(), "figures": figures})
    return out


@dataclass
class Decision:
    promoted: bool
    from_version: str | None
    to_version: str
    checks: dict[str, Check]
    entry: dict[str, Any]


def checks_for(
    cfg: ModelConfig, scheme: ClassScheme, metrics: dict[str, float]
) -> dict[str, Check]:
    """The promotion checks on a run's logged test metrics."""
    t = cfg.promote
    # the deployed model: the general one with the sector models training kept
    auc = metrics.get("test_deployed_auc", float("nan"))
    loss = metrics.get("test_deployed_logloss", float("nan"))
    out = {
        "test_auc": Check(auc, f">= {t.min_test_auc}", auc >= t.min_test_auc),
        "test_logloss": Check(loss, f"<= {t.max_test_logloss}", loss <= t.max_test_logloss),
    }
    if t.require_increasing_hit_rates:
        order = class_order(scheme)
        rates = {
            c: {"hit_rate": metrics[f"test_deployed_hit_rate_{c}"], "inspections": 1}
            for c in order
            if f"test_deployed_hit_rate_{c}" in metrics
        }
        ok = len(rates) >= 2 and increasing(rates, [c for c in order if c in rates])
        seq = [v["hit_rate"] for v in rates.values()]
        out["hit_rates_increasing"] = Check(seq, "strictly increasing", ok)
    # never lose to the plain baseline (issue 18): the figures training logged
    out["beats_plain_baseline"] = plain_check(
        PlainComparison.from_metrics(metrics), t.require_beats_plain
    )
    return out


def verification_check(
    cfg: ModelConfig,
    scheme: ClassScheme,
    report: VerificationMetrics | None,
    model: str,
    version: str,
    params: dict[str, str] | None = None,
    unreadable: str | None = None,
) -> Check:
    """Is the report evidence for this version? It must be about this model and version,
    classed with this scheme, on months the model never learned from, with the verdict PASS;
    and its checks are recomputed from its figures with this config's thresholds (a report
    made under laxer ones, or edited, does not pass on its own word). ``unreadable``: why a
    report given could not be read (it then fails)."""
    if unreadable is not None:
        return Check(f"FAIL: {unreadable}", "PASS", False)
    if report is None:
        return Check("missing: run riskclass verify, then --verification", "PASS", False)
    problems = []
    about = report.model
    if (about.name, str(about.version)) != (model, version):
        problems.append(f"about {about.name} version {about.version}, not {model} {version}")
    if report.scheme != scheme.name:
        problems.append(f"classed with scheme {report.scheme}, not {scheme.name}")
    held = held_out_problem(cfg, params or {}, report.window, report.evaluation)  # its own split
    if held is not None:
        problems.append(held)
    if report.verdict != "PASS":
        failed = report.failed_checks  # each in plain words (issue 19)
        problems.append(
            f"its verdict is {report.verdict}"
            + "".join(f"; {k} failed: {c.message or c.value}" for k, c in failed.items())
        )
    found = (
        {}
        if problems
        else checks(
            cfg,
            scheme,
            report.auc,
            report.class_final,
            report.stability.score_psi,
            report.plain_baseline,
            report.class_model,  # calibration: the model's own classes
        )
    )
    problems += [
        f"check {k} fails" + (f": {c.message}" if c.message else "")
        for k, c in found.items()
        if not c.passed
    ]
    return Check("PASS" if not problems else "FAIL: " + "; ".join(problems), "PASS", not problems)


def run_promote(
    cfg: ModelConfig,
    scheme: ClassScheme,
    log: Path,
    version: str | None = None,
    user: str | None = None,
    verification: Path | None = None,
) -> Decision:
    import mlflow

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    registry = Registry(cfg)
    name = registry.name
    mv = registry.find(version=version) if version else registry.find(alias="challenger")
    if mv is None:
        raise PromoteError(
            f"promote: {name} has no version {version or '@challenger'}; run `riskclass train`"
        )
    champion = registry.find(alias="champion")
    current = champion.version if champion is not None else None
    metrics = registry.run_metrics(mv.run_id)
    found = checks_for(cfg, scheme, metrics)
    raw: dict[str, Any] = {}  # the report as its file holds it: the evidence hashed
    report: VerificationMetrics | None = None
    unreadable = None
    if verification is not None:
        if not Path(verification).is_file():
            raise PromoteError(
                f"promote: no verification report {verification}; run `riskclass verify`"
            )
        raw = json.loads(Path(verification).read_text(encoding="utf-8"))
        try:
            report = VerificationMetrics.from_dict(raw) if raw else None  # {}: as if missing
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            unreadable = f"the report {verification} is not a verification report ({exc!r})"
    params = registry.run_params(mv.run_id)
    found["verification"] = verification_check(
        cfg, scheme, report, name, mv.version, params, unreadable
    )
    evidence = json.dumps(
        {
            "run_id": mv.run_id,
            "metrics": metrics,
            "checks": {k: c.to_dict() for k, c in found.items()},
            "verification": raw,
        },
        sort_keys=True,
        default=str,
    )
    passed = all(c.passed for c in found.values())
    entry = {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),  # audit record: real time
        "user": user or getpass.getuser(),
        "model": name,
        "from_version": current,
        "to_version": mv.version,
        "decision": "promoted" if passed else "refused",
        "evidence": f"verification report {verification} and training test-month metrics",
        "evidence_sha256": hashlib.sha256(evidence.encode()).hexdigest(),
        "checks": {k: v.passed for k, v in found.items()},
        # the deployed model against the plain baseline on its test rows, with its figures
        "plain_baseline": _plain_record(metrics, found["beats_plain_baseline"]),
    }
    entry = chain.append(log, entry)  # append-only, hash-chained (`riskclass audit verify`)
    if passed:
        registry.set_alias("champion", mv.version)
    return Decision(passed, current, mv.version, found, entry)
