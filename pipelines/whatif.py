"""What would lower the risk, computed: every remedy of every high-class enterprise of a month,
re-scored exactly (run by `riskclass classify` after the classes, unless ``--no-whatif``).

For every enterprise whose final class is one of the ``whatif.top_classes`` highest of the
scheme's ladder (C and D of the A-D scheme):

1. the remedies (`features.whatif`) answering an actionable feature among its stored risk
   points, or a feature of the override rule that set its class, and that change at least one
   of its records;
2. its records (every contract table of the ingested folder, restricted to these enterprises)
   copied once per *scenario* under a synthetic key: unchanged (the check), each remedy alone,
   and all its remedies together; the remedies applied to the copies;
3. the features of all scenarios of all enterprises built in **one** run of the same feature
   SQL (`features.definitions.month_batches`, the feature file's own configuration and table
   coverage from its metadata): every feature that depends on a changed record changes. The
   features that read other enterprises' records (industry and county context, related
   parties, shared addresses: `features.whatif.HELD_BLOCKS`) are taken from the month's
   feature file: other enterprises' records stay as they are, and each of these leaves the
   enterprise itself out, so a remedy does not change them;
4. scored with the model version that classified the month (`pipelines.bundle.Bundle`: sector
   models, calibration, scale), classed with the same scheme and bands, overrides applied.

The unchanged copy must reproduce the stored score and class (``exact``); where it does not
(the records changed since the features were built, another scheme), the enterprise's
what-ifs are written with ``exact`` false and reports do not show them.

`outputs/<month>/whatif.parquet` (internal to the bureau, like the classes: never logged), one
row per enterprise and scenario (`COLUMNS`): uscc, data_month, model_version, scenario (a
remedy key, or ``all``), remedies (``;``-joined keys), records (how many records the scenario
adds or changes), detail (the report years filed), score_before, class_before, override_before,
score_after, probability_after, class_model_after, class_final_after, override_after,
override_held (an override still sets the class above the score's own), lifted_by (the
remedies, alone, after which the enterprise's current override no longer applies; computed),
features_changed (how many model features change) and their names, exact.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from contract.tables import TABLES
from features import whatif as remedies
from features.config import FeaturesConfig
from features.definitions import month_batches
from features.engine import Window, coverage_pairs, define_macros
from models import calibration, gbm
from models.classes import ClassScheme, assign, class_order
from models.config import WhatIfConfig
from pipelines import store
from pipelines.bundle import Bundle
from pipelines.io import PARQUET_OPTIONS, atomic_write
from pipelines.store import TableSnapshot

SCHEMA = pa.schema(
    [
        ("uscc", pa.string()),
        ("data_month", pa.string()),
        ("model_version", pa.string()),
        ("scenario", pa.string()),
        ("remedies", pa.string()),
        ("records", pa.int64()),
        ("detail", pa.string()),
        ("score_before", pa.float64()),
        ("class_before", pa.string()),
        ("override_before", pa.string()),
        ("score_after", pa.float64()),
        ("probability_after", pa.float64()),
        ("class_model_after", pa.string()),
        ("class_final_after", pa.string()),
        ("override_after", pa.string()),
        ("override_held", pa.bool_()),
        ("lifted_by", pa.string()),
        ("features_changed", pa.int64()),
        ("features_changed_names", pa.string()),
        ("exact", pa.bool_()),
    ]
)
COLUMNS = tuple(SCHEMA.names)
ALL = "all"


@dataclass
class WhatIfReport:
    """What a what-if run did (counts only: no enterprise, no class)."""

    enterprises: int  # of the chosen classes
    with_remedies: int  # with at least one remedy that changes a record
    scenarios: int
    inexact: int  # enterprises whose unchanged copy did not reproduce the stored score
    seconds: float
    out: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def rules(cfg: WhatIfConfig) -> remedies.RemedyRules:
    """The remedies' rules from the configuration."""
    return remedies.RemedyRules(
        serious_repair_months=cfg.serious_repair_months,
        serious_repair_reasons=tuple(cfg.serious_repair_reasons),
        penalty_repair_months=cfg.penalty_repair_months,
        licence_valid_years=cfg.licence_valid_years,
    )


def _file_settings(
    path: Path,
) -> tuple[FeaturesConfig, dict[str, Any]]:
    """The configuration and table coverage the feature file was built with (its metadata)."""
    meta = pq.read_schema(path).metadata or {}
    cfg = FeaturesConfig.model_validate(json.loads(meta[b"riskclass.config"]))
    raw = meta.get(b"riskclass.coverage")
    coverage = {t: dt.date.fromisoformat(d) for t, d in json.loads(raw).items()} if raw else {}
    return cfg, coverage


def chosen(classes: pd.DataFrame, scheme: ClassScheme, top: int) -> pd.DataFrame:
    """The enterprises of the ``top`` highest classes of the ladder."""
    high = class_order(scheme)[-top:]
    return classes[classes["class_final"].isin(high)]


def _candidates(feats: list[str], rule: object, scheme: ClassScheme) -> list[str]:
    """Remedy keys answering the enterprise's risk points or its override's features."""
    for r in scheme.overrides:
        if r.name == rule:
            feats = [*feats, *(c.feature for c in r.when)]
    return remedies.remedies_for(feats)


def run_whatif(
    bundle: Bundle,
    scheme: ClassScheme,
    cfg: WhatIfConfig,
    source: Path,
    features_path: Path,
    classes_path: Path,
    month: str,
    out: Path,
) -> WhatIfReport:
    """Compute and write the month's what-ifs (``out``: ``outputs/<month>/whatif.parquet``).
    ``scheme``: the scheme the month was classed with (the version's bands applied)."""
    t0 = time.perf_counter()
    risk_cols = [c for c in pq.read_schema(classes_path).names if c.endswith("_feature")]
    cols = ["uscc", "score", "class_model", "class_final", "override_rule", *risk_cols]
    classes = pq.read_table(classes_path, columns=cols).to_pandas()
    high = chosen(classes, scheme, cfg.top_classes).reset_index(drop=True)
    fcfg, coverage = _file_settings(features_path)
    tables = store.open_tables(Path(source))
    w = Window(month, fcfg, frozenset(tables), coverage_pairs(coverage))
    r = rules(cfg)
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{fcfg.duckdb_memory_limit}'")
    con.execute(f"SET threads = {fcfg.duckdb_threads}")
    define_macros(con)
    try:
        own = _own_records(con, tables, high["uscc"])
        tgt = remedies.targets(own, w, r)
        scen, meta = _scenarios(high, tgt, risk_cols, scheme)
        result = _rescore(con, bundle, scheme, own, scen, w, r, tables, coverage, features_path)
    finally:
        con.close()
    frame = _rows(high, scen, meta, result, bundle, month)
    atomic_write(out, lambda tmp: pq.write_table(frame, tmp, **PARQUET_OPTIONS))
    n_ent = int(pc.count_distinct(frame.column("uscc")).as_py()) if frame.num_rows else 0
    inexact = (
        int(
            pc.count_distinct(frame.filter(pc.invert(frame.column("exact"))).column("uscc")).as_py()
        )
        if frame.num_rows
        else 0
    )
    return WhatIfReport(
        len(high), n_ent, frame.num_rows, inexact, time.perf_counter() - t0, str(out)
    )


def _own_records(
    con: duckdb.DuckDBPyConnection, tables: dict[str, TableSnapshot], usccs: Iterable[str]
) -> dict[str, pd.DataFrame]:
    """Every delivered table's rows of these enterprises: the contract's columns and the
    bureau's pass-through columns (``x_*``, which derived features read); not the lineage."""
    con.register("wi_who", pa.table({"uscc": pa.array(list(usccs), pa.string())}))
    own: dict[str, pd.DataFrame] = {}
    for name, snap in tables.items():
        have = set(snap.schema().names)
        cols = [c.name for c in TABLES[name].columns if c.name in have]
        cols += sorted(c for c in have if c.startswith("x_") and c not in cols)
        sel = ", ".join(f't."{c}"' for c in cols)
        own[name] = con.execute(
            f"SELECT {sel} FROM {snap.sql()} t WHERE t.uscc IN (SELECT uscc FROM wi_who)"
        ).df()
    con.unregister("wi_who")
    return own


def _scenarios(
    high: pd.DataFrame, tgt: remedies.Targets, risk_cols: list[str], scheme: ClassScheme
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scenarios (key, uscc, one flag per remedy) and, per scenario, its name, remedies,
    records and detail. Scenario 0 of each enterprise is the unchanged copy."""
    keys = [r.key for r in remedies.REMEDIES]
    rows: list[dict[str, Any]] = []
    info: list[dict[str, Any]] = []
    points = high[risk_cols].to_numpy(dtype=object)
    for u, pts, rule in zip(high["uscc"], points, high["override_rule"], strict=True):
        u = str(u)
        feats = [p for p in pts if isinstance(p, str)]
        mine = [k for k in _candidates(feats, rule, scheme) if tgt.records[k].get(u, 0) > 0]
        if not mine:
            continue
        plans: list[tuple[str, list[str]]] = (
            [("", [])] + [(k, [k]) for k in mine] + ([(ALL, mine)] if len(mine) > 1 else [])
        )
        for n, (name, applied) in enumerate(plans):
            key = remedies.synthetic_key(u, n)
            rows.append({"key": key, "uscc": u, **{k: k in applied for k in keys}})
            info.append(
                {
                    "key": key,
                    "uscc": u,
                    "scenario": name,
                    "remedies": ";".join(applied),
                    "records": sum(tgt.records[k].get(u, 0) for k in applied),
                    "detail": tgt.detail["annual_report"].get(u)
                    if "annual_report" in applied
                    else None,
                }
            )
    cols = ["key", "uscc", *keys]
    return pd.DataFrame(rows, columns=cols), pd.DataFrame(
        info, columns=["key", "uscc", "scenario", "remedies", "records", "detail"]
    )


def _arrow(frame: pd.DataFrame, source: TableSnapshot) -> pa.Table:
    """A scenario table with the delivered table's column types."""
    schema = source.schema()
    fields = [schema.field(c) for c in frame.columns]
    arrays = []
    for f in fields:
        col = frame[f.name]
        if pa.types.is_date(f.type) or pa.types.is_timestamp(f.type):
            ts = pd.to_datetime(col, errors="coerce")
            arr = pa.array(
                ts.to_numpy(dtype="datetime64[ns]"), pa.timestamp("ns"), from_pandas=True
            )
        elif pa.types.is_integer(f.type) or pa.types.is_floating(f.type):
            arr = pa.array(
                pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64),
                pa.float64(),
                from_pandas=True,
            )
        elif pa.types.is_boolean(f.type):
            arr = pa.array(col.astype(object).where(col.notna(), None).tolist(), pa.bool_())
        else:
            arr = pa.array(col.astype(object).where(col.notna(), None).tolist(), pa.string())
        arrays.append(arr.cast(f.type))
    return pa.table(arrays, schema=pa.schema(fields))


def _rescore(
    con: duckdb.DuckDBPyConnection,
    bundle: Bundle,
    scheme: ClassScheme,
    own: dict[str, pd.DataFrame],
    scen: pd.DataFrame,
    w: Window,
    r: remedies.RemedyRules,
    tables: dict[str, TableSnapshot],
    coverage: dict[str, Any],
    features_path: Path,
) -> pd.DataFrame:
    """Score, class and features-changed of every scenario (indexed by key)."""
    if not len(scen):
        return pd.DataFrame()
    copies = remedies.apply(own, scen, w, r)
    for name, frame in copies.items():
        con.register(f"raw_{name}", _arrow(frame, tables[name]))
    with month_batches(con, w.month, w.cfg, tables, bundle.derived, coverage) as reader:
        built = reader.read_all()
    # the features that read other enterprises' records: as the month's file has them
    held = [c for c in remedies.held_features(bundle.features.values()) if c in built.schema.names]
    keys = built.column("uscc").to_pylist()
    origin = [k.rsplit(remedies.KEY_SEP, 1)[0] for k in keys]
    if held:
        fixed = pq.read_table(
            features_path, columns=["uscc", *held], filters=[("uscc", "in", sorted(set(origin)))]
        ).to_pandas()
        fixed = fixed.set_index("uscc").reindex(origin)
        for c in held:
            i = built.schema.get_field_index(c)
            built = built.set_column(
                i, c, pa.array(fixed[c].to_numpy(), built.schema.field(c).type, from_pandas=True)
            )
    x = gbm.matrix_arrow(built, bundle.design)
    flags = {f: built.column(f).to_numpy(zero_copy_only=False) for f in bundle.flag_columns()}
    p = bundle.probability(x, flags)
    over = sorted({c.feature for rule in scheme.overrides for c in rule.when})
    frame = pd.DataFrame(
        {
            "uscc": keys,
            "score": calibration.to_score(p, bundle.scale),
            "probability": p,
            **{c: built.column(c).to_pandas() for c in over},
        }
    )
    classes = assign(frame, scheme)  # chunkable schemes only (classify never runs a shares one)
    out = pd.concat([frame[["uscc", "score", "probability"]], classes], axis=1)
    out["origin"] = origin
    # which model features each scenario changes, against the unchanged copy
    base_row = {
        o: i
        for i, (k, o) in enumerate(zip(keys, origin, strict=True))
        if k.endswith(f"{remedies.KEY_SEP}0")
    }
    b = np.array([base_row[o] for o in origin])
    same = (x == x[b]) | (np.isnan(x) & np.isnan(x[b]))
    names = np.array(bundle.design.features, dtype=object)
    out["features_changed"] = (~same).sum(axis=1)
    out["features_changed_names"] = [";".join(names[~s]) for s in same]
    return out.set_index("uscc")


def _rows(
    high: pd.DataFrame,
    scen: pd.DataFrame,
    meta: pd.DataFrame,
    result: pd.DataFrame,
    bundle: Bundle,
    month: str,
) -> pa.Table:
    if not len(meta):
        return SCHEMA.empty_table()
    before = high.set_index("uscc")
    m = meta.set_index("key").join(result.drop(columns=["origin"]), how="left")
    m["uscc"] = meta.set_index("key")["uscc"]
    base = m[m["scenario"] == ""]
    # the unchanged copy must give the stored score and class (same records, model, scheme)
    stored = before.reindex(base["uscc"])
    same_score = np.abs(base["score"].to_numpy(dtype=np.float64) - stored["score"].to_numpy())
    same_class = base["class_final"].astype(str).to_numpy() == stored["class_final"].astype(str)
    exact = dict(
        zip(
            base["uscc"],
            (same_score < 1e-9) & same_class.to_numpy(dtype=bool),
            strict=True,
        )
    )
    out = m[m["scenario"] != ""].copy()
    mine = before.reindex(out["uscc"])
    out["score_before"] = mine["score"].to_numpy(dtype=np.float64)
    out["class_before"] = mine["class_final"].astype(str).to_numpy()
    out["override_before"] = [v if isinstance(v, str) else None for v in mine["override_rule"]]
    out["override_after"] = [v if isinstance(v, str) else None for v in out["override_rule"]]
    out["override_held"] = [
        isinstance(o, str) and f != c
        for o, f, c in zip(
            out["override_after"], out["class_final"], out["class_model"], strict=True
        )
    ]
    lifted: dict[str, list[str]] = {}
    for u, s, ob_, oa in zip(
        out["uscc"], out["scenario"], out["override_before"], out["override_after"], strict=True
    ):
        if s != ALL and isinstance(ob_, str) and oa != ob_:
            lifted.setdefault(u, []).append(s)
    out["lifted_by"] = [";".join(lifted[u]) if u in lifted else None for u in out["uscc"]]
    out["exact"] = [exact[u] for u in out["uscc"]]
    out = out.rename(
        columns={
            "score": "score_after",
            "probability": "probability_after",
            "class_model": "class_model_after",
            "class_final": "class_final_after",
        }
    )
    out["data_month"] = month
    out["model_version"] = bundle.version
    out = out.sort_values(
        ["uscc", "scenario"],
        key=lambda s: s.map(_order) if s.name == "scenario" else s,
        kind="stable",
    )
    arrays = []
    for f in SCHEMA:
        col = out[f.name].tolist()
        col = [
            None
            if (isinstance(v, float) and np.isnan(v) and not pa.types.is_floating(f.type))
            else v
            for v in col
        ]
        arrays.append(pa.array(col, f.type, from_pandas=True))
    return pa.table(arrays, schema=SCHEMA)


def _order(name: str) -> int:
    """Scenarios in remedy order, ``all`` last."""
    order = {r.key: i for i, r in enumerate(remedies.REMEDIES)}
    return order.get(name, len(order))
