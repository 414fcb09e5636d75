"""Anchors: the heads of the audit, promotion and seal chains, signed, kept apart.

A hash chain (`pipelines.chain`) shows an edited, deleted or moved line, but not a log whose
last lines were cut off, nor one rewritten whole with every hash recomputed: whoever can write
the log can recompute the chain. An anchor records each chain's head (the ``seq`` and the
SHA-256 of its last line) and is **signed with an Ed25519 key that the service process does
not hold**. The service and `riskclass audit verify` hold only the public key: they can check
an anchor but cannot make one, so a rewrite of the logs, even by someone with the service's
own rights, no longer matches the signed heads.

Why a signature rather than only a second append-only place: the service runs on the
bureau's machine with write access to its own files, and an append-only mount (WORM share,
``chattr +a``) depends on the site's storage, which the project cannot check from inside.
A signature holds wherever the anchor file is kept; keep it on a second location as well
(``anchors.file`` may point to such a mount) so that it cannot simply be deleted.

Deleting the newest anchors (to hide a rewrite after them) is caught by freshness: anchors are
made at every seal and by the operator's timer (``riskclass audit anchor``, e.g. hourly); an
anchor file whose last anchor is older than ``max_age`` is a problem. Entries appended after
the last anchor are protected by the chain alone until the next anchor: the interval is the
exposure.

The anchor file is itself a hash chain of signed entries::

    {"kind": "anchor", "time": ..., "heads": {"audit": {"seq": 41, "line_sha256": ...}, ...},
     "key_id": <sha256 of the public key>, "signature": <hex Ed25519 over the heads>, ...}
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from pipelines import chain, paths


class AnchorError(ValueError):
    """An anchor cannot be made (no key, unreadable key) or read."""


def logs(outputs: Path, audit_log: Path) -> dict[str, Path]:
    """The logs an anchor covers, by the name used in the anchor."""
    out = paths.Outputs(Path(outputs))
    return {"audit": Path(audit_log), "promotions": out.promotions, "seals": out.seals}


def keygen(private_key: Path, public_key: Path) -> str:
    """Write a new Ed25519 key pair (the private key readable by its owner only); returns the
    key id. Refuses to overwrite an existing private key."""
    if Path(private_key).exists():
        raise AnchorError(f"{private_key} exists; a new key would orphan the anchors made with it")
    key = Ed25519PrivateKey.generate()
    Path(private_key).parent.mkdir(parents=True, exist_ok=True)
    Path(public_key).parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(private_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    Path(public_key).write_bytes(pub)
    return key_id(key.public_key())


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise AnchorError(f"{path}: not a readable public key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AnchorError(f"{path}: not an Ed25519 public key")
    return key


def _load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise AnchorError(f"{path}: not a readable private key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError(f"{path}: not an Ed25519 private key")
    return key


def _signed_bytes(heads: dict[str, Any], time: str, reason: str) -> bytes:
    return json.dumps(
        {"heads": heads, "time": time, "reason": reason}, sort_keys=True, separators=(",", ":")
    ).encode()


def make(
    anchors: Path, private_key: Path, outputs: Path, audit_log: Path, reason: str
) -> dict[str, Any]:
    """Sign the current heads of the three logs and append them to ``anchors``."""
    key = _load_private(private_key)
    heads = {}
    for name, path in logs(outputs, audit_log).items():
        h = chain.head(path)
        heads[name] = {"seq": h.seq, "line_sha256": h.line_sha256}
    time = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")  # a record: the real time
    signature = key.sign(_signed_bytes(heads, time, reason)).hex()
    entry = {
        "kind": "anchor",
        "time": time,
        "reason": reason,
        "heads": heads,
        "key_id": key_id(key.public_key()),
        "signature": signature,
    }
    return chain.append(Path(anchors), entry)


@dataclass(frozen=True)
class Anchored:
    """What the anchor file vouches for: the signed heads per log, and problems with the file."""

    heads: dict[str, list[chain.Head]]
    latest: dt.datetime | None
    problems: list[str]
    stale: str | None = None  # the newest anchor is too old (reported, not a tampering proof)


def read(
    anchors: Path, public: Ed25519PublicKey, now: dt.datetime, max_age: dt.timedelta
) -> Anchored:
    """Every anchor whose signature holds, by log. Problems: a broken anchor chain or a bad
    signature; ``stale``: no anchor at all, or none newer than ``max_age`` before ``now``."""
    problems = chain.verify(Path(anchors))
    heads: dict[str, list[chain.Head]] = {}
    latest = None
    kid = key_id(public)
    entries = chain.read(Path(anchors))
    for e in entries:
        try:
            public.verify(
                bytes.fromhex(str(e.get("signature", ""))),
                _signed_bytes(e["heads"], e["time"], e.get("reason", "")),
            )
        except (InvalidSignature, KeyError, ValueError, TypeError):
            problems.append(
                f"{anchors}, seq {e.get('seq')}: signature does not verify with key {kid} "
                "(forged or made with another key)"
            )
            continue
        for name, h in e["heads"].items():
            heads.setdefault(name, []).append(chain.Head(int(h["seq"]), str(h["line_sha256"])))
        latest = dt.datetime.fromisoformat(e["time"])
    stale = None
    if latest is None:
        stale = f"{anchors}: no valid anchor yet (riskclass audit anchor)"
    elif now - latest > max_age:
        stale = (
            f"{anchors}: the newest anchor is from {latest.isoformat()}, older than "
            f"{max_age} (anchors cut off, or the anchoring timer stopped)"
        )
    return Anchored(heads, latest, problems, stale)
