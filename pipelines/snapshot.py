"""An external labelled snapshot: a bureau's list of enterprises with an outcome each (a past
campaign's results, a list drawn up by hand), the labels of `riskclass train --labels FILE
--as-of DATE` and of `riskclass verify --labels`.

The file: CSV (UTF-8, UTF-8 with BOM or GB18030), XLSX or Parquet, found by its content
(`pipelines.intake.readers`); a header row (under any title rows) naming the enterprise id
(``uscc``, ``id``, ``enterprise``, 企业, 统一社会信用代码 ...), the label (``label``, ``y``, 是否发现问题
...: 0/1, true/false, 是/否, yes/no) and optionally a weight (> 0); ``--id-column``,
``--label-column`` and ``--weight-column`` name other headers. The features are those of the
last month end on or before the as-of date (`models.data.snapshot_month`).

Every data row is accepted or rejected with its rule (`REASONS`): an empty or unknown id (not
among the enterprises of that month's feature file), a label or weight that is not one, the
same enterprise twice with conflicting labels (every such row), or twice with the same label
(the later rows). Rows read = accepted + rejected, always; the rejected rows are written,
formula-safe, beside the training metrics (``labels_rejected.csv``), and training refuses a
file of which less than `MIN_ACCEPTED_SHARE` was accepted. Nothing here reads inspections.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from contract.months import add_months
from models.data import LABEL_COLUMNS, SNAPSHOT_KIND, snapshot_month
from pipelines import paths
from pipelines.intake.readers import StructuralError, find_header, normalise_header, rows_of, sniff
from pipelines.io import file_sha256, write_csv

#: Training refuses a labels file of which less than this share of rows was accepted.
MIN_ACCEPTED_SHARE = 0.5
#: The rejected rows of a labels file, beside ``train_metrics.json`` (or the verification's).
REJECTED_NAME = "labels_rejected.csv"

#: Header texts (normalised: `normalise_header`) taken for each role, in order of preference.
ALIASES: dict[str, tuple[str, ...]] = {
    "id": (
        "uscc",
        "统一社会信用代码",
        "社会信用代码",
        "信用代码",
        "id",
        "enterprise",
        "enterprise_id",
        "enterpriseid",
        "企业",
        "企业id",
        "企业编号",
        "主体",
        "主体代码",
    ),
    "label": (
        "label",
        "y",
        "problem_found",
        "outcome",
        "target",
        "标签",
        "是否发现问题",
        "发现问题",
        "是否有问题",
        "结果",
    ),
    "weight": ("weight", "w", "权重", "抽样权重"),
}

#: A label's accepted spellings (lower-cased, stripped) and their value.
LABEL_VALUES = {
    "1": 1,
    "0": 0,
    "1.0": 1,
    "0.0": 0,
    "true": 1,
    "false": 0,
    "yes": 1,
    "no": 0,
    "是": 1,
    "否": 0,
}

#: rule -> (Chinese, English) of every reason a row is rejected.
REASONS = {
    "missing_id": ("企业标识为空", "the enterprise id is empty"),
    "unknown_id": (
        "该企业不在特征月份的企业中",
        "the enterprise is not among the enterprises of the feature month",
    ),
    "bad_label": ("标签不是0/1、true/false或是/否", "the label is not 0/1, true/false or 是/否"),
    "bad_weight": ("权重不是大于0的数", "the weight is not a number above 0"),
    "conflicting_labels": (
        "同一企业出现多次且标签不一致",
        "the enterprise appears more than once with conflicting labels",
    ),
    "duplicate_id": (
        "同一企业重复出现(标签一致，只用第一行)",
        "the enterprise appears again with the same label (its first row is used)",
    ),
}

_FULL = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ"
_HALF = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_TRANS = str.maketrans(_FULL, _HALF)


class SnapshotError(ValueError):
    """A labels file that cannot be read or used (unreadable, no id or label column, too
    many rows rejected, a feature month missing)."""


@dataclass(frozen=True)
class LabelsFile:
    """What the command line says about a labels file: its path, as-of date (YYYY-MM-DD, or
    YYYY-MM for the month end) and, optionally, the headers of its columns."""

    path: Path
    as_of: str
    id_column: str | None = None
    label_column: str | None = None
    weight_column: str | None = None


@dataclass
class Snapshot:
    """A labels file read: ``labels`` (accepted rows, as a label frame: `LABEL_COLUMNS`,
    ``label_kind`` snapshot, ``inspection_id`` = the file's row), ``rejected`` (row, id,
    label, weight as written, rule, reason_zh, reason_en), the counts (``rows`` = ``accepted``
    + ``rejected``, and per rule), its SHA-256, the as-of date and feature month."""

    path: Path
    sha256: str
    as_of: dt.date
    feature_month: str
    labels: pd.DataFrame
    rejected: pd.DataFrame
    counts: dict[str, int]
    columns: dict[str, str] = field(default_factory=dict)  # role -> header used

    @property
    def weighted(self) -> bool:
        return "weight" in self.columns

    def source(self) -> dict[str, Any]:
        """Where the labels came from, for the run's parameters, the meta and the card."""
        return {
            "source": "snapshot",
            "file": str(self.path),
            "sha256": self.sha256,
            "as_of": self.as_of.isoformat(),
            "feature_month": self.feature_month,
            "rows": self.counts["rows"],
            "accepted": self.counts["accepted"],
            "rejected": self.counts["rejected"],
            "weights": "file" if self.weighted else "none (1)",
        }

    def check_accepted(self, rejected_path: Path | None = None) -> None:
        """Refuse a file of which less than `MIN_ACCEPTED_SHARE` of the rows was accepted."""
        rows, accepted = self.counts["rows"], self.counts["accepted"]
        if rows == 0 or accepted < MIN_ACCEPTED_SHARE * rows:
            where = f"; the rejected rows and why: {rejected_path}" if rejected_path else ""
            reasons = ", ".join(
                f"{rule} {self.counts[rule]}" for rule in REASONS if self.counts.get(rule)
            )
            raise SnapshotError(
                f"labels {self.path}: only {accepted} of {rows} rows accepted, less than "
                f"{MIN_ACCEPTED_SHARE:.0%} ({reasons or 'no data rows'}){where}"
            )


def _rows(path: Path) -> list[list[str | None]]:
    """Every row of the file as text cells, header included."""
    if not Path(path).is_file():
        raise SnapshotError(f"labels {path}: no such file")
    try:
        rows, _encoding = rows_of(Path(path), sniff(Path(path)))
    except StructuralError as exc:
        raise SnapshotError(f"labels: {exc}") from None
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"labels {path}: cannot be read ({type(exc).__name__})") from None
    return rows


def _columns(header: list[str | None], spec: LabelsFile) -> tuple[dict[str, int], dict[str, str]]:
    """role -> column index and role -> header text, by the names given or the aliases."""
    cells = {normalise_header(c): i for i, c in reversed(list(enumerate(header))) if c}
    given = {"id": spec.id_column, "label": spec.label_column, "weight": spec.weight_column}
    index: dict[str, int] = {}
    for role, name in given.items():
        if name is not None:
            if normalise_header(name) not in cells:
                raise SnapshotError(
                    f"labels {spec.path}: no column {name!r} (--{role}-column); its header is "
                    f"{[c for c in header if c]}"
                )
            index[role] = cells[normalise_header(name)]
            continue
        found = next((cells[a] for a in ALIASES[role] if a in cells), None)
        if found is not None:
            index[role] = found
    for role in ("id", "label"):
        if role not in index:
            raise SnapshotError(
                f"labels {spec.path}: no {role} column among {[c for c in header if c]}; "
                f"name it with --{role}-column (known headers: {', '.join(ALIASES[role][:6])} ...)"
            )
    return index, {role: str(header[i]) for role, i in index.items()}


def _known_ids(features_dir: Path, month: str) -> dict[str, str]:
    """Normalised (upper-cased) id -> the id as the feature file of ``month`` writes it."""
    path = paths.features_file(features_dir, month)
    if not path.is_file():
        raise SnapshotError(
            f"labels: the features of {month} (the month end of the as-of date) are missing "
            f"({path}); build them with `riskclass features --as-of {month}`"
        )
    ids = pq.read_table(path, columns=["uscc"]).column("uscc").to_pylist()
    return {str(u).strip().upper(): str(u) for u in ids if u is not None}


def _normal_id(text: str) -> str:
    """An id as written (full-width characters, spaces, lower case) in the features' form."""
    return text.translate(_ID_TRANS).replace(" ", "").replace("\u3000", "").upper()


def _weight(text: str | None) -> float | None:
    """A weight as written: a finite number above 0, else None."""
    try:
        value = float(text) if text is not None else float("nan")
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def read_snapshot(spec: LabelsFile, features_dir: Path) -> Snapshot:
    """Read and check a labels file against the features of its month (see the module doc)."""
    try:
        as_of, month = snapshot_month(spec.as_of)
    except ValueError as exc:
        raise SnapshotError(f"labels: --as-of: {exc}") from None
    rows = _rows(spec.path)
    known_headers = {
        normalise_header(a): role for role, names in ALIASES.items() for a in names
    } | {
        normalise_header(n): r
        for r, n in (
            ("id", spec.id_column),
            ("label", spec.label_column),
            ("weight", spec.weight_column),
        )
        if n
    }
    guess = find_header(rows, known_headers, scan=10, min_matches=2)
    if guess.row < 0:
        raise SnapshotError(
            f"labels {spec.path}: no header row naming an id and a label column in its first "
            "10 rows; name them with --id-column and --label-column"
        )
    index, columns = _columns(rows[guess.row], spec)
    ids = _known_ids(features_dir, month)
    rejected: list[dict[str, Any]] = []

    def cell(row: list[str | None], role: str) -> str | None:
        i = index.get(role)
        value = row[i] if i is not None and i < len(row) else None
        return value.strip() if isinstance(value, str) and value.strip() else None

    valid: list[dict[str, Any]] = []
    for number, row in enumerate(rows[guess.row + 1 :], start=guess.row + 2):
        if not any(c is not None and str(c).strip() for c in row):
            continue  # a blank line is no row
        raw = {role: cell(row, role) for role in ("id", "label", "weight")}
        written = {"row": number, **raw}
        uscc = ids.get(_normal_id(raw["id"])) if raw["id"] is not None else None
        y = LABEL_VALUES.get((raw["label"] or "").lower())
        weight = _weight(raw["weight"]) if "weight" in index else 1.0
        rule = (
            "missing_id"
            if raw["id"] is None
            else "unknown_id"
            if uscc is None
            else "bad_label"
            if y is None
            else "bad_weight"
            if weight is None
            else None
        )
        if rule is not None:
            rejected.append({**written, "rule": rule})
        else:
            valid.append({**written, "uscc": uscc, "y": y, "w": weight})
    labels_of: dict[str, set[int]] = {}
    for r in valid:
        labels_of.setdefault(r["uscc"], set()).add(r["y"])
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    for r in valid:
        written = {k: r[k] for k in ("row", "id", "label", "weight")}
        if len(labels_of[r["uscc"]]) > 1:
            rejected.append({**written, "rule": "conflicting_labels"})
        elif r["uscc"] in seen:
            rejected.append({**written, "rule": "duplicate_id"})
        else:
            seen.add(r["uscc"])
            kept.append(r)
    return _snapshot(spec, as_of, month, kept, rejected, columns)


def _snapshot(
    spec: LabelsFile,
    as_of: dt.date,
    month: str,
    kept: list[dict[str, Any]],
    rejected: list[dict[str, Any]],
    columns: dict[str, str],
) -> Snapshot:
    label_month = add_months(month, 1)
    labels = pd.DataFrame(
        {
            "inspection_id": [f"row-{r['row']:07d}" for r in kept],
            "uscc": pd.Series([r["uscc"] for r in kept], dtype=object),
            "inspection_date": pd.Timestamp(as_of),
            "month": label_month,
            "feature_month": month,
            "y": pd.Series([r["y"] for r in kept], dtype="int8"),
            "weight": pd.Series([r["w"] for r in kept], dtype="float64"),
            "p": float("nan"),
            "problem_category": None,
            "label_kind": SNAPSHOT_KIND,
        },
        columns=LABEL_COLUMNS,
    )
    rej = pd.DataFrame(
        sorted(rejected, key=lambda r: r["row"]),
        columns=["row", "id", "label", "weight", "rule"],
    )
    rej["reason_zh"] = rej["rule"].map(lambda r: REASONS[r][0])
    rej["reason_en"] = rej["rule"].map(lambda r: REASONS[r][1])
    counts = {
        "rows": len(kept) + len(rejected),
        "accepted": len(kept),
        "rejected": len(rejected),
        **{rule: int((rej["rule"] == rule).sum()) for rule in REASONS},
    }
    if counts["rows"] != counts["accepted"] + counts["rejected"]:  # pragma: no cover - by design
        raise SnapshotError(f"labels {spec.path}: rows do not reconcile ({counts})")
    return Snapshot(
        Path(spec.path), file_sha256(spec.path), as_of, month, labels, rej, counts, columns
    )


def write_rejected(snapshot: Snapshot, path: Path) -> Path:
    """The rejected rows with their rule and reason, as a formula-safe CSV (UTF-8 with BOM:
    the ids and labels as written may start with = + - @)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_csv(snapshot.rejected, path)
    return path
