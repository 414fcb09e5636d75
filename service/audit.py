"""The audit trail: every login, view, search, export, promotion and account change.

One JSON line per event in ``outputs/audit.jsonl``, a hash chain (`pipelines.chain`): user,
time (the real time: an audit record), action, object (a USCC, a month, a list's filters,
a file), and the outcome. What was shown is never copied into the log: no class, no score.
`verify` checks the audit log, the promotion log and the seal chain, the audit heads the
seals recorded, the heads signed in the anchors (`service.anchor`), and the files of every
sealed month.

Fields are capped (`cap`) before they are written: a request cannot grow the log by more than
a few hundred bytes, however long the user name it sends.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pipelines import chain
from service import anchor, seal

#: the longest text any field of an audit entry keeps (a USCC is 18, a user name at most 40)
MAX_FIELD = 200


def cap(value: Any, limit: int = MAX_FIELD) -> Any:
    """``value`` as stored in the log: text cut to ``limit`` characters, marked when cut."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}…(+{len(value) - limit} chars)"
    return value


def record(
    log: Path, user: str, action: str, obj: str = "", outcome: str = "ok", **detail: Any
) -> dict[str, Any]:
    entry = {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "user": cap(user, 64),
        "action": action,
        "object": cap(obj),
        "outcome": outcome,
        **{k: cap(v) for k, v in detail.items()},
    }
    return chain.append(log, entry)


def verify(
    outputs: Path,
    audit_log: Path,
    promotions: Path | None = None,
    cache: seal.HashCache | None = None,
    anchored: anchor.Anchored | None = None,
) -> dict[str, list[str]]:
    """Problems per log and per sealed month (all lists empty: everything holds).

    ``anchored``: the signed anchors (`service.anchor.read`); each log is checked against the
    heads they vouch for, which catches a log cut short or rewritten with recomputed hashes
    (and the seal chain re-sealed with recomputed hashes). Without them, only the chains and
    the audit heads the seals recorded are checked, which someone able to rewrite the seal log
    too can defeat.
    """
    signed = anchored.heads if anchored is not None else {}
    out = {
        str(audit_log): chain.verify(audit_log, seal.anchors(outputs) + signed.get("audit", [])),
        str(seal.seals_path(outputs)): chain.verify(
            seal.seals_path(outputs), signed.get("seals", [])
        ),
    }
    if promotions is not None:
        out[str(promotions)] = chain.verify(promotions, signed.get("promotions", []))
    if anchored is not None:
        out["anchors"] = [*anchored.problems, *([anchored.stale] if anchored.stale else [])]
    for month in seal.months(outputs):
        out[f"sealed month {month}"] = [
            p
            for p in seal.check(outputs, month, cache)
            if not p.startswith(str(seal.seals_path(outputs)))
        ]
    return out
