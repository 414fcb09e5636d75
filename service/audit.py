"""The audit trail: every login, view, search, export, promotion and account change.

One JSON line per event in ``outputs/audit.jsonl``, a hash chain (`pipelines.chain`): user,
time (the real time: an audit record), action, object (a USCC, a month, a list's filters,
a file), and the outcome. What was shown is never copied into the log: no class, no score.
`verify` checks the audit log, the promotion log and the seal chain, the audit heads the
seals recorded, and the files of every sealed month.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines import chain
from service import seal


def record(log: Path, user: str, action: str, obj: str = "", outcome: str = "ok",
           **detail: Any) -> dict[str, Any]:  # fmt: skip
    entry = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "user": user,
             "action": action, "object": obj, "outcome": outcome, **detail}  # fmt: skip
    return chain.append(log, entry)


def verify(outputs: Path, audit_log: Path, promotions: Path | None = None,
           cache: seal.HashCache | None = None) -> dict[str, list[str]]:  # fmt: skip
    """Problems per log and per sealed month (all lists empty: everything holds)."""
    out = {
        str(audit_log): chain.verify(audit_log, seal.anchors(outputs)),
        str(seal.seals_path(outputs)): chain.verify(seal.seals_path(outputs)),
    }
    if promotions is not None:
        out[str(promotions)] = chain.verify(promotions)
    for month in seal.months(outputs):
        out[f"sealed month {month}"] = [
            p
            for p in seal.check(outputs, month, cache)
            if not p.startswith(str(seal.seals_path(outputs)))
        ]
    return out
