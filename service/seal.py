"""Monthly seals: each month's outputs, fixed by a manifest of file hashes, chained.

`seal` lists every file under ``outputs/<month>/`` (classes, explanations, reports, plans,
warnings, verification) with its SHA-256 and appends the manifest to ``outputs/seals.jsonl``,
a hash chain (`pipelines.chain`): each seal is chained to the seal before it, the previous
month's included. The seal also records the audit log's head at that moment, so cutting or
rewriting the audit log before a seal is detected. `check` recomputes a month's files against
its latest seal and names every file changed, missing or added; the service refuses to serve
a month that does not check, and says why.

The month's feature file, from which reports are rendered, is sealed with it. The registry
is not: it changes with every delivery, and jurisdiction follows an enterprise's current
division. Links and hidden folders under a month are refused (a manifest cannot cover them).
Sealing a month again needs a reason, recorded in the new seal; the service serves the
latest seal of each month.

Hashing is cached per file by (size, modification time, change time, inode): an in-place
edit with the file times restored still changes the change time, which `touch` cannot set
back. `riskclass audit verify` always hashes every file in full (`check(..., cache=None)`),
and the service re-hashes in the background (`service.guard`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contract.months import parse_month
from pipelines import chain, paths
from pipelines.io import file_sha256


class SealError(ValueError):
    """A month cannot be sealed (nothing classified), or its seal does not check."""


_sha256 = file_sha256  # the name the service and its tests use


@dataclass
class HashCache:
    seen: dict[str, tuple[tuple[int, int, int, int], str]] = field(default_factory=dict)

    @staticmethod
    def key(path: Path | str, st: os.stat_result | None = None) -> tuple[int, int, int, int]:
        st = st or os.stat(path)
        # the change time too: `touch`/`os.utime` can restore a file's modification time
        # after an in-place edit, but not its ctime
        return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)

    def __call__(self, path: Path | str, st: os.stat_result | None = None) -> str:
        key = self.key(path, st)
        hit = self.seen.get(str(path))
        if hit is not None and hit[0] == key:
            return hit[1]
        digest = _sha256(Path(path))
        self.seen[str(path)] = (key, digest)
        return digest


def manifest(folder: Path, hasher: Any = _sha256) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``folder`` (temporary files excluded)."""
    return {rel: hasher(Path(folder) / rel) for rel in _scan(Path(folder))[0]}


def _scan(folder: Path) -> tuple[dict[str, os.stat_result], list[str]]:
    """One walk of ``folder`` (os.scandir: one ``lstat`` per file, no more): the files a
    manifest covers, relative path -> stat, in sorted order (hidden files are temporary
    files, left out); and the entries it cannot cover but a reader could follow (links,
    hidden folders), as problems. Fast enough to run every few seconds on a month of
    thousands of reports."""
    files: dict[str, os.stat_result] = {}
    odd: list[str] = []
    name = Path(folder).name
    if not Path(folder).is_dir():  # a month folder deleted: every sealed file is missing
        return {}, []
    stack = [(str(folder), "")]
    while stack:
        top, base = stack.pop()
        try:
            entries = os.scandir(top)
        except OSError as exc:
            odd.append(f"{name}/{base or '.'}: cannot be read ({type(exc).__name__})")
            continue
        with entries:
            for e in entries:
                rel = base + e.name
                if e.is_symlink():
                    odd.append(f"{name}/{rel}: a link, which a seal cannot cover")
                elif e.is_dir(follow_symlinks=False):
                    if e.name.startswith("."):
                        odd.append(f"{name}/{rel}: a hidden folder, which a seal does not cover")
                    else:
                        stack.append((e.path, rel + "/"))
                elif not e.name.startswith("."):
                    files[rel] = e.stat(follow_symlinks=False)
    return dict(sorted(files.items())), sorted(odd)


def _unsealable(folder: Path) -> list[str]:
    """Entries a manifest does not cover but a reader could follow: links, hidden folders."""
    return _scan(folder)[1]


def seals_path(outputs: Path) -> Path:
    """The seal chain of an outputs folder (`pipelines.paths.Outputs.seals`)."""
    return paths.Outputs(Path(outputs)).seals


def seal(
    outputs: Path,
    month: str,
    user: str,
    audit_log: Path,
    features: Path | None = None,
    reseal_reason: str | None = None,
) -> dict[str, Any]:
    """Seal ``month``; ``features``: the month's feature file (reports are rendered from it,
    so it is sealed too). Sealing a month again needs a reason, which the seal records."""
    parse_month(month)
    out = paths.Outputs(Path(outputs))
    folder, classes = out.month(month), out.classes(month)
    if not classes.is_file():
        raise SealError(f"seal: {month} is not classified ({classes})")
    if latest(outputs, month) is not None and not reseal_reason:
        raise SealError(
            f"seal: {month} is already sealed; sealing it again replaces what the service "
            "serves: give the reason (--reseal-reason), which the new seal records"
        )
    odd = _unsealable(folder)
    if odd:
        raise SealError(f"seal: {odd[0]}")
    files = manifest(folder)
    inputs = {}
    if features is not None:
        if not Path(features).is_file():
            raise SealError(f"seal: no feature file {features}")
        inputs["features"] = {"path": str(features), "sha256": _sha256(Path(features))}
    h = chain.head(audit_log)
    entry = {
        "kind": "seal",
        "month": month,
        "files": files,
        "manifest_sha256": hashlib.sha256(repr(sorted(files.items())).encode()).hexdigest(),
        "audit_head": {"seq": h.seq, "line_sha256": h.line_sha256},
        "inputs": inputs,
        "reseal_reason": reseal_reason,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),  # a record: real time
        "user": user,
    }
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
    return problems + compare(outputs, month, entry, cache or _sha256)


def compare(outputs: Path, month: str, entry: dict[str, Any], hasher: Any) -> list[str]:
    """``month``'s files and inputs now against the seal ``entry``: every file changed,
    missing or added, and every link or hidden folder (which a manifest cannot cover)."""
    folder = paths.Outputs(Path(outputs)).month(month)
    files, problems = _scan(folder)
    if isinstance(hasher, HashCache):  # the stat from the walk: no second system call
        now = {rel: hasher(f"{folder}/{rel}", st) for rel, st in files.items()}
    else:
        now = {rel: hasher(folder / rel) for rel in files}
    sealed = entry["files"]
    for name, rec in (entry.get("inputs") or {}).items():
        path = Path(rec["path"])
        if not path.is_file():
            problems.append(f"{month} {name} input: sealed, now missing")
        elif hasher(path) != rec["sha256"]:
            problems.append(f"{month} {name} input: changed after the seal")
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
    return [
        chain.Head(int(e["audit_head"]["seq"]), e["audit_head"]["line_sha256"])
        for e in chain.read(seals_path(outputs))
        if "audit_head" in e
    ]


def months(outputs: Path) -> list[str]:
    return sorted({e["month"] for e in chain.read(seals_path(outputs)) if "month" in e})
