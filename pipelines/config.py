"""Loading YAML configuration into strict, frozen pydantic models.

Every stage receives its configuration as an argument; nothing reads a config file at
import time. Unknown keys are rejected so that a typo in a YAML file is an error, not a
silently ignored setting.

A file may build on another: ``extends: <path>`` (relative to the file) names a base file
whose keys it replaces, key by key (a list or mapping given here replaces the base's whole);
bases may extend bases. So a data set's overlay holds only what differs from
``configs/ingest.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file is missing, is not YAML, or does not match its model."""


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The keys of ``path``, on top of those of the file it ``extends`` (if any)."""
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys to values")
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(f"{path}: extends: give the path of the configuration file it builds on")
    parent = (path.parent / base).resolve()
    if parent in seen or parent == path.resolve():
        raise ConfigError(f"{path}: extends: {base} leads back to this file (a cycle)")
    return {**_read(parent, (*seen, path.resolve())), **data}


def load_config(path: str | Path, model: type[M]) -> M:
    """Read ``path`` (with the file it ``extends``, if any) and validate it against
    ``model``; errors name the file and the key."""
    path = Path(path)
    data = _read(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from exc
