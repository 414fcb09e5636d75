"""Monthly seals: each month's outputs, fixed by a manifest of file hashes, chained.

`seal` lists every file under ``outputs/<month>/`` (classes, explanations, reports, plans,
warnings, verification) with its SHA-256 and appends the manifest to ``outputs/seals.jsonl``,
a hash chain (`pipelines.chain`): each seal is chained to the seal before it, the previous
month's included. The seal also records the audit log's head at that moment, so cutting or
rewriting the audit log before a seal is detected. `check` recomputes a month's files against
its latest seal and names every file changed, missing or added; the service refuses to serve
a month that does not check, and says why.

Hashing is cached per file by (size, modification time, inode): a file rewritten in place
with its size and times restored would need a full check (`check(..., cache=None)`, which
`riskclass audit verify` runs).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from features.months import parse_month
from pipelines import chain


class SealError(ValueError):
    """A month cannot be sealed (nothing classified), or its seal does not check."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class HashCache:
    seen: dict[str, tuple[tuple[int, int, int], str]] = field(default_factory=dict)

    def __call__(self, path: Path) -> str:
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        hit = self.seen.get(str(path))
        if hit is not None and hit[0] == key:
            return hit[1]
        digest = _sha256(path)
        self.seen[str(path)] = (key, digest)
        return digest


def manifest(folder: Path, hasher: Any = _sha256) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``folder`` (temporary files excluded)."""
    return {
        p.relative_to(folder).as_posix(): hasher(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    }


def seals_path(outputs: Path) -> Path:
    return Path(outputs) / "seals.jsonl"


def seal(outputs: Path, month: str, user: str, audit_log: Path) -> dict[str, Any]:
    parse_month(month)
    folder = Path(outputs) / month
    if not (folder / "classes.parquet").is_file():
        raise SealError(f"seal: {month} is not classified ({folder / 'classes.parquet'})")
    files = manifest(folder)
    h = chain.head(audit_log)
    entry = {
        "kind": "seal", "month": month, "files": files,
        "manifest_sha256": hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest(),
        "audit_head": {"seq": h.seq, "line_sha256": h.line_sha256},
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),  # a record: real time
        "user": user,
    }  # fmt: skip
    return chain.append(seals_path(outputs), entry)


def latest(outputs: Path, month: str) -> dict[str, Any] | None:
    found = [e for e in chain.read(seals_path(outputs)) if e.get("month") == month]
    return found[-1] if found else None


def check(outputs: Path, month: str, cache: HashCache | None = None) -> list[str]:
    """Why ``month`` may not be served (empty: its files are exactly as sealed)."""
    problems = chain.verify(seals_path(outputs))
    entry = latest(outputs, month)
    if entry is None:
        return [*problems, f"{month} has not been sealed (riskclass seal --as-of {month})"]
    now = manifest(Path(outputs) / month, cache or _sha256)
    sealed = entry["files"]
    for rel in sorted(set(sealed) | set(now)):
        if rel not in now:
            problems.append(f"{month}/{rel}: sealed, now missing")
        elif rel not in sealed:
            problems.append(f"{month}/{rel}: added after the seal")
        elif now[rel] != sealed[rel]:
            problems.append(f"{month}/{rel}: changed after the seal")
    return problems


def anchors(outputs: Path) -> list[chain.Head]:
    """The audit log heads the seals recorded."""
    return [chain.Head(int(e["audit_head"]["seq"]), e["audit_head"]["line_sha256"])
            for e in chain.read(seals_path(outputs)) if "audit_head" in e]  # fmt: skip


def months(outputs: Path) -> list[str]:
    return sorted({e["month"] for e in chain.read(seals_path(outputs)) if "month" in e})
