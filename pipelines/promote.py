"""`riskclass promote`: move the `champion` alias, only on evidence, and say so in a log.

The evidence is the version's verification report (`riskclass verify`: its verdict must be
PASS, and it must be about this version) and its own test-month metrics, checked against the
thresholds in `configs/model.yaml` (`promote`). Every
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
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.classes import ClassScheme, class_order
from models.config import ModelConfig
from models.metrics import increasing
from pipelines import chain

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


class PromoteError(ValueError):
    pass


@dataclass
class Decision:
    promoted: bool
    from_version: str | None
    to_version: str
    checks: dict[str, dict[str, Any]]
    entry: dict[str, Any]


def checks_for(
    cfg: ModelConfig, scheme: ClassScheme, metrics: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """The promotion checks on a run's logged test metrics."""
    t = cfg.promote
    # the deployed model: the general one with the sector models training kept
    auc = metrics.get("test_deployed_auc", float("nan"))
    loss = metrics.get("test_deployed_logloss", float("nan"))
    out = {
        "test_auc": {
            "value": auc,
            "threshold": f">= {t.min_test_auc}",
            "passed": auc >= t.min_test_auc,
        },
        "test_logloss": {
            "value": loss,
            "threshold": f"<= {t.max_test_logloss}",
            "passed": loss <= t.max_test_logloss,
        },
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
        out["hit_rates_increasing"] = {
            "value": seq,
            "threshold": "strictly increasing",
            "passed": ok,
        }
    return out


def verification_check(
    cfg: ModelConfig, scheme: ClassScheme, report: dict[str, Any], model: str, version: str,
    params: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Is the report evidence for this version? It must be about this model and version,
    classed with this scheme, on months the model never learned from, with the verdict PASS;
    and its checks are recomputed from its figures with this config's thresholds (a report
    made under laxer ones, or edited, does not pass on its own word)."""
    from pipelines.verify import as_trained, checks, first_held_out_month

    if not report:
        return {"value": "missing: run riskclass verify, then --verification", "threshold": "PASS",
                "passed": False}  # fmt: skip
    problems = []
    about = report.get("model", {})
    if (about.get("name"), str(about.get("version"))) != (model, version):
        problems.append(
            f"about {about.get('name')} version {about.get('version')}, not {model} {version}"
        )
    if report.get("scheme") != scheme.name:
        problems.append(f"classed with scheme {report.get('scheme')}, not {scheme.name}")
    held = first_held_out_month(as_trained(cfg, params or {}))  # the version's own split
    start = (report.get("window") or [""])[0]
    if start < held:
        problems.append(f"its window starts {start}, before the held-out months ({held} on)")
    if report.get("verdict") != "PASS":
        problems.append(f"its verdict is {report.get('verdict')}")
    failed = (
        [] if problems else [k for k, c in checks(cfg, report, scheme).items() if not c["passed"]]
    )
    problems += [f"check {k} fails" for k in failed]
    return {"value": "PASS" if not problems else "FAIL: " + "; ".join(problems),
            "threshold": "PASS", "passed": not problems}  # fmt: skip


def run_promote(
    cfg: ModelConfig,
    scheme: ClassScheme,
    log: Path,
    version: str | None = None,
    user: str | None = None,
    verification: Path | None = None,
) -> Decision:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    client = MlflowClient()
    name = cfg.mlflow.registered_model
    try:
        mv = (
            client.get_model_version(name, version)
            if version
            else client.get_model_version_by_alias(name, "challenger")
        )
    except MlflowException:
        raise PromoteError(
            f"promote: {name} has no version {version or '@challenger'}; run `riskclass train`"
        ) from None
    try:
        current: str | None = str(client.get_model_version_by_alias(name, "champion").version)
    except MlflowException:
        current = None
    metrics = client.get_run(str(mv.run_id)).data.metrics
    checks = checks_for(cfg, scheme, metrics)
    report: dict[str, Any] = {}
    if verification is not None:
        if not Path(verification).is_file():
            raise PromoteError(
                f"promote: no verification report {verification}; run `riskclass verify`"
            )
        report = json.loads(Path(verification).read_text(encoding="utf-8"))
    params = dict(client.get_run(str(mv.run_id)).data.params)
    checks["verification"] = verification_check(cfg, scheme, report, name, str(mv.version), params)
    evidence = json.dumps(
        {"run_id": mv.run_id, "metrics": metrics, "checks": checks, "verification": report},
        sort_keys=True, default=str,
    )  # fmt: skip
    passed = all(c["passed"] for c in checks.values())
    entry = {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),  # audit record: real time
        "user": user or getpass.getuser(),
        "model": name,
        "from_version": current,
        "to_version": str(mv.version),
        "decision": "promoted" if passed else "refused",
        "evidence": f"verification report {verification} and training test-month metrics",
        "evidence_sha256": hashlib.sha256(evidence.encode()).hexdigest(),
        "checks": {k: v["passed"] for k, v in checks.items()},
    }
    entry = chain.append(log, entry)  # append-only, hash-chained (`riskclass audit verify`)
    if passed:
        client.set_registered_model_alias(name, "champion", str(mv.version))
    return Decision(passed, current, str(mv.version), checks, entry)
