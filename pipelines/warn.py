"""Stage `warn`: the month's early-warning list (风险监测预警), each enterprise with its reasons.

Reads the month's classes, the previous month's (for rises: a class rise only within one
scheme, a score rise only within one model version; without them only the monitoring rules
apply) and the month's features (the rules' columns); writes
``outputs/<month>/warnings.parquet`` and ``warnings.csv`` (UTF-8 with BOM, formula-safe:
`pipelines.io`): uscc, name, division, class and score now and before, reasons (codes) and
their Chinese text. Internal to the bureau, like the classes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from contract.months import parse_month, previous_month
from models.classes import ClassScheme, class_order
from models.warning import WarningConfig, reason_texts, warnings
from pipelines.io import write_csv


class WarnError(ValueError):
    """The month is not classified, or a rule names a column the features lack."""


@dataclass
class WarnRun:
    table: pd.DataFrame
    out: Path
    counts: dict[str, int]


def run_warn(
    month: str, cfg: WarningConfig, scheme: ClassScheme, outputs: Path, features_dir: Path,
    interim: Path,
) -> WarnRun:  # fmt: skip
    parse_month(month)
    path = Path(outputs) / month / "classes.parquet"
    if not path.is_file():
        raise WarnError(
            f"warn: no classes for {month} ({path}); run `riskclass classify --as-of {month}`"
        )
    current = pq.read_table(path, columns=["uscc", "class_final", "score"]).to_pandas()
    feats_path = Path(features_dir) / f"{month}.parquet"
    if not feats_path.is_file():
        raise WarnError(f"warn: no feature file {feats_path}")
    missing = sorted(cfg.features - set(pq.read_schema(feats_path).names))
    if missing:
        raise WarnError(
            f"warn: configs/warning.yaml names features {feats_path} lacks: {', '.join(missing)}"
        )
    feats = pq.read_table(feats_path, columns=["uscc", *sorted(cfg.features)]).to_pandas()
    current = current.merge(feats, on="uscc", how="left", validate="one_to_one")
    prev_path = Path(outputs) / previous_month(month) / "classes.parquet"
    previous = None
    if prev_path.is_file():
        cols = ["uscc", "class_final", "score", "scheme", "model_version"]
        before = pq.read_table(prev_path, columns=cols).to_pandas()
        now = pq.read_table(path, columns=["scheme", "model_version"]).slice(0, 1).to_pylist()
        same = now and set(before["scheme"]) == {now[0]["scheme"]}
        if same:  # a rise is judged only within one scheme; scores only within one model
            if set(before["model_version"]) != {now[0]["model_version"]}:
                before["score"] = float("nan")
            previous = before[["uscc", "class_final", "score"]]
    table = warnings(current, previous, class_order(scheme), cfg)
    reg = pq.read_table(Path(interim) / "enterprises.parquet",
                        columns=["uscc", "name", "division_code"]).to_pandas()  # fmt: skip
    texts = reason_texts(cfg)
    table = table.merge(reg, on="uscc", how="left")
    table["reasons_zh"] = table["reasons"].map(lambda s: "；".join(texts[r] for r in s.split(";")))
    out = Path(outputs) / month / "warnings.parquet"
    tmp = out.with_name(".warnings.parquet.tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, out)
    write_csv(table, out.with_suffix(".csv"), encoding="utf-8-sig")  # formula-safe, for people
    counts = table["reasons"].str.split(";").explode().value_counts().to_dict()
    return WarnRun(table, out, {"enterprises": len(table), "rises_judged": previous is not None,
                                **{k: int(v) for k, v in counts.items()}})  # fmt: skip
