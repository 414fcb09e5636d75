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
    # "\n" only: str.splitlines would also split inside an entry at U+2028, U+0085 ..., which
    # JSON leaves unescaped (a user name holding one would otherwise break the chain)
    # a byte that is not UTF-8 is an edit: it shows as a hash mismatch, not as a crash
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    return [ln for ln in text.split("\n") if ln.strip()]


def _check_line(path: Path, i: int, ln: str, previous: str) -> list[str]:
    """Problems of line ``i`` (1-based) given the hash of the line before it."""
    try:
        e = json.loads(ln)
    except json.JSONDecodeError:
        return [f"{path}, line {i}: not a JSON entry"]
    problems = []
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
    return problems


def _check_anchors(
    path: Path, by_seq: dict[int, str], last: int, anchors: Iterable[Head]
) -> list[str]:
    problems = []
    for a in sorted(
        set(anchors), key=lambda h: (h.seq, h.line_sha256)
    ):  # a seal and an anchor may agree
        if a.seq < 0:
            continue
        if a.seq > last:
            problems.append(
                f"{path}: entry seq {a.seq}, recorded by an anchor or seal, is missing (lines cut off)"
            )
        elif by_seq.get(a.seq) != a.line_sha256:
            problems.append(
                f"{path}: entry seq {a.seq} differs from what an anchor or seal recorded (rewritten)"
            )
    return problems


def verify(path: Path, anchors: Iterable[Head] = ()) -> list[str]:
    """Every problem found, in file order (empty: the chain holds)."""
    problems = []
    lines = _lines(path)
    previous = GENESIS
    for i, ln in enumerate(lines, start=1):
        problems += _check_line(path, i, ln, previous)
        previous = line_hash(ln)
    by_seq = {i: line_hash(ln) for i, ln in enumerate(lines)}
    return problems + _check_anchors(path, by_seq, len(lines) - 1, anchors)


class Follower:
    """`verify` for a log that grows while it is checked (the audit log of a busy service):
    each `update` reads only the lines appended since the last one.

    The whole file is read again when it is replaced (another inode), shorter than what was
    read, its last verified line no longer matches, or an anchor names a line whose hash was
    not kept (only anchored lines' hashes are kept, so memory does not grow with the log).
    An edit in the middle of the already verified part is not seen by `update`; it is seen by
    `verify` (run in full on a slower schedule) and, once anchored, by the anchors.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._reset()

    def _reset(self) -> None:
        self._ino, self._offset, self._lines = -1, 0, 0
        self._previous, self._last_len = GENESIS, 0
        self._problems: list[str] = []
        self._kept: dict[int, str] = {}
        self._wanted: set[int] = set()

    def update(self, anchors: Iterable[Head] = ()) -> list[str]:
        anchors = list(anchors)
        wanted = {a.seq for a in anchors if a.seq >= 0}
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._reset()
            return _check_anchors(self.path, {}, -1, anchors)
        if (
            st.st_ino != self._ino
            or st.st_size < self._offset
            or any(seq < self._lines and seq not in self._kept for seq in wanted)
            or not self._tail_holds()
        ):
            self._reset()
            self._ino = st.st_ino
        self._wanted |= wanted
        with self.path.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # only whole lines: a writer may be half-way through one
        for raw in data[:end].split(b"\n")[:-1]:
            self._offset += len(raw) + 1
            ln = raw.decode("utf-8", errors="replace")
            if not ln.strip():
                continue
            self._lines += 1
            self._problems += _check_line(self.path, self._lines, ln, self._previous)
            self._previous, self._last_len = line_hash(ln), len(raw) + 1
            if self._lines - 1 in self._wanted:
                self._kept[self._lines - 1] = self._previous
        return self._problems + _check_anchors(self.path, self._kept, self._lines - 1, anchors)

    def _tail_holds(self) -> bool:
        """Is the last line verified so far still there, unchanged?"""
        if self._offset == 0:
            return True
        with self.path.open("rb") as f:
            f.seek(self._offset - self._last_len)
            raw = f.read(self._last_len)
        return (
            raw.endswith(b"\n")
            and line_hash(raw[:-1].decode("utf-8", errors="replace")) == self._previous
        )
