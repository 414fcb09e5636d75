"""Stage `warn`: the month's early-warning list (风险监测预警), each enterprise with its reasons.

Reads the month's classes, the previous month's (for rises: a class rise only within one
scheme, a score rise only within one model version; without them only the monitoring rules
apply) and the month's features (the rules' columns); writes
``outputs/<month>/warnings.parquet`` and ``warnings.csv`` (UTF-8 with BOM, formula-safe:
`pipelines.io`): uscc, name, division, class and score now and before, reasons (codes) and
their Chinese text. Internal to the bureau, like the classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from contract.months import parse_month, previous_month
from models.classes import ClassScheme, class_order
from models.warning import WarningConfig, reason_texts, warnings
from pipelines import store
from pipelines.io import atomic_write, write_csv
from pipelines.paths import Outputs, features_file


class WarnError(ValueError):
    """The month is not classified, or a rule names a column the features lack."""


@dataclass
class WarnRun:
    table: pd.DataFrame
    out: Path
    counts: dict[str, int]


def run_warn(
    as_of: str,
    cfg: WarningConfig,
    scheme: ClassScheme,
    outputs: Path,
    features_dir: Path,
    interim: Path,
) -> WarnRun:
    """The warning list of ``as_of`` (see the module doc); ``counts``: enterprises warned,
    whether rises were judged, and enterprises per reason."""
    parse_month(as_of)
    out_root = Outputs(Path(outputs))
    path = out_root.classes(as_of)
    if not path.is_file():
        raise WarnError(
            f"warn: no classes for {as_of} ({path}); run `riskclass classify --as-of {as_of}`"
        )
    current = pq.read_table(path, columns=["uscc", "class_final", "score"]).to_pandas()
    feats_path = features_file(features_dir, as_of)
    if not feats_path.is_file():
        raise WarnError(f"warn: no feature file {feats_path}")
    missing = sorted(cfg.features - set(pq.read_schema(feats_path).names))
    if missing:
        raise WarnError(
            f"warn: configs/warning.yaml names features {feats_path} lacks: {', '.join(missing)}"
        )
    feats = pq.read_table(feats_path, columns=["uscc", *sorted(cfg.features)]).to_pandas()
    current = current.merge(feats, on="uscc", how="left", validate="one_to_one")
    prev_path = out_root.classes(previous_month(as_of))
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
    found = warnings(current, previous, class_order(scheme), cfg)
    registry = store.open_table(interim, "enterprises")
    if registry is None:
        raise FileNotFoundError(f"warn: table enterprises not found in {interim}; run ingest")
    reg = registry.pandas(["uscc", "name", "division_code"])
    texts = reason_texts(cfg)
    found = found.merge(reg, on="uscc", how="left")
    found["reasons_zh"] = found["reasons"].map(lambda s: "；".join(texts[r] for r in s.split(";")))
    out = out_root.warnings(as_of)
    atomic_write(out, lambda tmp: found.to_parquet(tmp, index=False))
    write_csv(found, out_root.warnings_csv(as_of), encoding="utf-8-sig")  # formula-safe, for people
    counts = found["reasons"].str.split(";").explode().value_counts().to_dict()
    return WarnRun(
        found,
        out,
        {
            "enterprises": len(found),
            "rises_judged": previous is not None,
            **{k: int(v) for k, v in counts.items()},
        },
    )
