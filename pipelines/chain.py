"""Append-only logs protected by a hash chain (the audit log, the promotion log, the seals).

Each entry is one JSON line carrying ``seq`` (0, 1, 2 ...), ``previous_sha256`` (the SHA-256
of the previous line exactly as written; 64 zeros for the first) and ``sha256`` (of the
entry's own canonical JSON without that field). `verify` reads the whole file and reports
every line that was edited (its own hash no longer matches), deleted, inserted or moved
(the sequence or the link to the line before breaks).

A chain alone cannot tell that its last lines were cut off, or that someone rewrote the whole
file and recomputed every hash: that needs the head (``seq`` and hash of the last line)
recorded somewhere else. The monthly seals record the audit log's head when they are made
(`service.seal`), and `verify` checks such anchors: an anchored line that is missing or
different is reported.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def _canonical(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(
        _canonical({k: v for k, v in entry.items() if k != "sha256"}).encode()
    ).hexdigest()


def line_hash(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Head:
    seq: int  # -1: empty
    line_sha256: str


def append(path: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append ``entry`` (a flat JSON object) under an exclusive lock; returns it as written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # concurrent writers (service workers) queue here
        try:
            last = _last_line(path)
            seq = json.loads(last)["seq"] + 1 if last is not None else 0
            out = {**entry, "seq": seq, "previous_sha256": line_hash(last) if last else GENESIS}
            out["sha256"] = entry_hash(out)
            f.seek(0, 2)
            f.write(_canonical(out) + "\n")
            f.flush()
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
    return out


def _last_line(path: Path) -> str | None:
    """The file's last non-empty line, read from the end (appends stay cheap as logs grow)."""
    with Path(path).open("rb") as f:
        end = f.seek(0, 2)
        size = 4096
        while True:
            start = max(0, end - size)
            f.seek(start)
            # a chunk may start inside a character: only its last, complete line is used
            lines = [ln for ln in f.read().split(b"\n") if ln.strip()]
            if start == 0 or len(lines) > 1:
                return lines[-1].decode("utf-8") if lines else None
            size *= 4


def head(path: Path) -> Head:
    lines = _lines(path)
    if not lines:
        return Head(-1, GENESIS)
    return Head(int(json.loads(lines[-1])["seq"]), line_hash(lines[-1]))


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(ln) for ln in _lines(path)]


def _lines(path: Path) -> list[str]:
    if not Path(path).is_file():
        return []
    return [ln for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]


def verify(path: Path, anchors: Iterable[Head] = ()) -> list[str]:
    """Every problem found, in file order (empty: the chain holds)."""
    problems = []
    lines = _lines(path)
    previous = GENESIS
    for i, ln in enumerate(lines, start=1):
        try:
            e = json.loads(ln)
        except json.JSONDecodeError:
            problems.append(f"{path}, line {i}: not a JSON entry")
            previous = line_hash(ln)
            continue
        if e.get("sha256") != entry_hash(e):
            problems.append(
                f"{path}, line {i} (seq {e.get('seq')}): edited (its hash does not match its content)"
            )
        if e.get("seq") != i - 1:
            problems.append(
                f"{path}, line {i}: seq {e.get('seq')} where {i - 1} was expected (a line deleted, inserted or moved)"
            )
        if e.get("previous_sha256") != previous:
            problems.append(
                f"{path}, line {i} (seq {e.get('seq')}): does not follow the line before it (deleted, inserted or moved)"
            )
        previous = line_hash(ln)
    by_seq = {i: line_hash(ln) for i, ln in enumerate(lines)}
    for a in anchors:
        if a.seq < 0:
            continue
        if a.seq not in by_seq:
            problems.append(
                f"{path}: entry seq {a.seq}, recorded by a seal, is missing (lines cut off)"
            )
        elif by_seq[a.seq] != a.line_sha256:
            problems.append(
                f"{path}: entry seq {a.seq} differs from what a seal recorded (rewritten)"
            )
    return problems
