"""The classes in force now: a month's classes with its within-month updates applied.

`riskclass update` (`pipelines.update`) writes each within-month change to
``outputs/<month>/updates/<date>-<n>.parquet``; whoever serves or hands out a month's classes
after that (the service, the platform's API, the bulk export, a plan drawn later in the month)
reads them here, so that every consumer sees the same class for the same firm on the same day.
A shared piece, below the stages: the `update` stage writes these files, the others read them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.paths import Outputs

#: The columns of an update file, in order.
COLUMNS = (
    "uscc",
    "class_before",
    "class_after",
    "rule_before",
    "override_rule",
    "effect",
    "record_table",
    "record_key",
    "delivered",
)
SCHEMA = pa.schema([(c, pa.string()) for c in COLUMNS])
EFFECTS = ("applied", "lift_pending")
_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(\d+)\.parquet$")


def updates_dir(outputs: Path, month: str) -> Path:
    """Where a month's within-month updates are kept (under the month: sealed with it)."""
    return Outputs(Path(outputs)).month(month) / "updates"


def update_files(outputs: Path, month: str) -> list[Path]:
    """The month's update files in the order they were applied (date, then number)."""
    folder = updates_dir(outputs, month)
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m:
            found.append(((m.group(1), int(m.group(2))), p))
    return [p for _k, p in sorted(found)]


def read_updates(outputs: Path, month: str) -> pd.DataFrame:
    """Every update of the month, in the order applied (an empty frame of `COLUMNS` if none)."""
    frames = [pq.read_table(p).to_pandas() for p in update_files(outputs, month)]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    return pd.concat(frames, ignore_index=True)


def current(classes: pd.DataFrame, updates: pd.DataFrame) -> pd.DataFrame:
    """The classes served now: the month-end classes (``uscc``, ``class_final``,
    ``override_rule``, ...) with the month's updates applied, the latest winning. Adds
    ``class_month`` (the month-end class), ``updated`` (the date of the latest update, or
    empty) and ``update_effect``; the score is left as it was (month end only)."""
    out = classes.copy()
    out["class_month"] = out["class_final"]
    out["updated"] = ""
    out["update_effect"] = ""
    if updates.empty:
        return out
    last = updates.drop_duplicates("uscc", keep="last").set_index("uscc")
    idx = out["uscc"].map(lambda u: u in last.index).to_numpy(dtype=bool)
    usccs = out.loc[idx, "uscc"]
    out.loc[idx, "class_final"] = usccs.map(last["class_after"]).to_numpy()
    rule = usccs.map(last["override_rule"]).to_numpy()
    effect = usccs.map(last["effect"]).to_numpy()
    # a pending lift keeps the served class, and the rule that put the firm there
    keep = effect == "lift_pending"
    before = usccs.map(last["rule_before"]).to_numpy()
    out.loc[idx, "override_rule"] = np.where(keep, before, rule)
    out.loc[idx, "updated"] = usccs.map(last["delivered"]).to_numpy()
    out.loc[idx, "update_effect"] = effect
    return out


def supersede(outputs: Path, month: str) -> int:
    """A new classification of ``month`` supersedes its within-month updates (they were made
    against the classes it replaces): their files move to ``updates/superseded/<k>/``, kept, no
    longer applied. Returns how many updates were superseded. Deliveries received after the
    month end are applied again by `riskclass update` on the new classes."""
    files = update_files(outputs, month)
    if not files:
        return 0
    folder = updates_dir(outputs, month) / "superseded"
    k = 1 + sum(1 for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else 1
    target = folder / str(k)
    target.mkdir(parents=True)
    for p in files:
        for f in (p, p.with_suffix(".json")):
            if f.is_file():
                f.rename(target / f.name)
    return len(files)
