"""Stage `export`: a month's classes for the double-random platform, in one file with its checksum.

「将企业信用风险分类结果全量推送到市级双随机平台，与抽查检查对象名录库对接」 (seeds 001, 002): the
platform's 名录库 needs, per enterprise, who it is, where it is registered and its class in the
month's scheme, to draw by class. It gets exactly `PLATFORM_COLUMNS`: the USCC, the name, the
division and industry codes, the class, the scheme and the data month. Not the score, the model's
probability, the risk points or the override that set a class: the platform draws by class and
needs nothing finer, and those stay inside the bureau.

``riskclass export --as-of 2026-10 --out outputs/2026-10/export/`` writes
``classes-<month>.parquet`` (the whole province, sorted by USCC) and ``SHA256SUMS`` (in the
format ``sha256sum -c`` checks). Internal: the file names enterprises and their classes.

`platform_frame` is shared with the service's API (`service.api`), so the bulk file and the
paged API answer the same columns.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import paths, store
from pipelines.io import atomic_write
from pipelines.updates import current, read_updates

#: what the platform receives per enterprise (no score, no risk point)
PLATFORM_COLUMNS = (
    "uscc",
    "name",
    "division_code",
    "industry_code",
    "class",
    "scheme",
    "data_month",
)
REGISTRY_COLUMNS = ["uscc", "name", "division_code", "industry_code"]
SUMS = "SHA256SUMS"


class ExportError(ValueError):
    """The month cannot be exported (not classified, registry missing)."""


@dataclass(frozen=True)
class ExportRun:
    path: Path
    sha256: str
    rows: int
    sums: Path


def platform_frame(classes: pd.DataFrame, registry: pd.DataFrame, month: str) -> pd.DataFrame:
    """The platform's columns: ``classes`` (uscc, class_final, scheme if known) joined to the
    registry (uscc, name, division_code, industry_code), sorted by USCC; every value text."""
    reg = registry.reset_index() if "uscc" not in registry.columns else registry
    frame = classes.merge(reg[REGISTRY_COLUMNS], on="uscc", how="left")
    out = pd.DataFrame(
        {
            "uscc": frame["uscc"].astype(str),
            "name": frame["name"].fillna("").astype(str),
            "division_code": frame["division_code"].fillna("").astype(str),
            "industry_code": frame["industry_code"].fillna("").astype(str),
            "class": frame["class_final"].astype(str),
            "scheme": frame["scheme"].fillna("").astype(str) if "scheme" in frame else "",
            "data_month": month,
        }
    )
    return out.sort_values("uscc", kind="stable").reset_index(drop=True)[list(PLATFORM_COLUMNS)]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_export(month: str, outputs: Path, interim: Path, out: Path) -> ExportRun:
    """Write the month's platform file and its ``SHA256SUMS`` under ``out``."""
    classes_path = paths.Outputs(Path(outputs)).classes(month)
    if not classes_path.is_file():
        raise ExportError(
            f"export: {classes_path} not found; classify the month first "
            f"(riskclass classify --as-of {month})"
        )
    registry_table = store.open_table(Path(interim), "enterprises")
    if registry_table is None:
        raise ExportError(
            f"export: registry (table enterprises) not found in {interim} (riskclass ingest)"
        )
    have = set(pq.read_schema(classes_path).names)
    missing = {"uscc", "class_final"} - have
    if missing:
        raise ExportError(
            f"export: {classes_path} lacks column(s) {', '.join(sorted(missing))} "
            "[rule: required column]"
        )
    cols = ["uscc", "class_final", *(c for c in ("scheme", "override_rule") if c in have)]
    # in force now: the month's classes with its within-month updates (as the API serves them)
    classes = current(
        pq.read_table(classes_path, columns=cols).to_pandas(), read_updates(Path(outputs), month)
    )[[c for c in cols if c != "override_rule"]]
    registry = registry_table.pandas(REGISTRY_COLUMNS)
    frame = platform_frame(classes, registry, month)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"classes-{month}.parquet"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    atomic_write(target, lambda p: pq.write_table(table, p, compression="zstd"))
    digest = sha256_file(target)
    sums = out / SUMS
    atomic_write(sums, lambda p: Path(p).write_text(f"{digest}  {target.name}\n", encoding="utf-8"))
    return ExportRun(target, digest, len(frame), sums)


def verify_export(folder: Path) -> list[str]:
    """Problems with the files ``SHA256SUMS`` lists in ``folder`` (empty: all match)."""
    folder = Path(folder)
    sums = folder / SUMS
    if not sums.is_file():
        return [f"{sums}: missing"]
    problems = []
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif sha256_file(path) != digest:
            problems.append(f"{path}: SHA-256 differs from {SUMS}")
    return problems
