"""Tiny hand-built ingested tables, for feature tests with hand-computed expected values.

`write` takes rows as dicts holding only the columns a test cares about; every other
contract column gets a harmless default (received_date = the event date, so a record is
known the day it happens unless a test says otherwise). Required tables that a test does
not mention are written empty; optional ones are left out (not delivered).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from contract.tables import TABLES
from features.config import FeaturesConfig
from features.definitions import build_month
from pipelines.config import load_config
from pipelines.features import connect, register_sources, source_tables

ROOT = Path(__file__).resolve().parents[2]
ARROW = {
    "string": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def config(**changes: Any) -> FeaturesConfig:
    cfg = load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)
    return cfg.model_copy(update=changes)


def _defaults(table: str, row: dict[str, Any], i: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if table == "enterprises":
        out = {
            "name": f"企业{row['uscc']}",
            "entity_type": "enterprise",
            "legal_form": "llc_natural_persons",
            "industry_code": "5289",
            "division_code": "440106",
            "established_date": d("2015-03-01"),
            "status": "operating",
            "registered_capital": 100.0,
            "address_id": f"AD-{row['uscc']}",
        }
    ids = {
        "penalties": ("decision_no", "P"),
        "inspections": ("inspection_id", "I"),
        "licences": ("licence_no", "L"),
        "product_sampling": ("sample_id", "S"),
        "complaints": ("complaint_id", "C"),
        "judicial": ("case_no", "J"),
        "credit_repairs": ("repair_id", "R"),
        "commitments": ("commitment_id", "K"),
    }
    if table in ids:
        out[ids[table][0]] = f"{ids[table][1]}{i:05d}"
    extra = {
        "penalties": {"penalty_kind": "fine", "cause": "other", "amount": 1.0, "minor": False},
        "inspections": {
            "draw_mode": "double_random",
            "items": "disclosure",
            "result": "no_problem",
            "problem_found": False,
            "plan_id": "SJ1",
            "stratum": "440106:B",
            "risk_class_at_draw": "B",
            "inclusion_probability": 0.03,
        },
        "complaints": {"kind": "complaint", "category": "quality"},
        "product_sampling": {"product_tag": "food_production", "result": "pass"},
        "judicial": {"kind": "enforcement"},
        "abnormal_list": {"reason": "annual_report"},
        "serious_dishonest_list": {"reason": "major_violation"},
        "persons": {"role": "shareholder"},
        "enterprise_links": {"link_kind": "investment"},
        "licences": {"licence_kind": "food_business"},
        "pledges": {"pledge_kind": "equity", "amount": 10.0},
        "social": {"indicator": "tax_credit_rating", "value": "A"},
        "changes": {"change_kind": "other"},
        "credit_repairs": {"target_table": "penalties", "decision": "granted"},
        "commitments": {"kind": "voluntary"},
    }
    out.update(extra.get(table, {}))
    spec = TABLES[table]
    out.update(row)
    if spec.event_date and "received_date" not in row and out.get(spec.event_date) is not None:
        out["received_date"] = out[spec.event_date]
    if table == "licences" and "valid_until" not in out:
        out["valid_until"] = out["issued_date"] + dt.timedelta(days=5 * 365)
    if table == "credit_repairs" and out.get("decided_date") is not None:
        out.setdefault("applied_date", out["decided_date"])
    if table == "inspections" and out.get("problem_found") and "problem_category" not in out:
        out["problem_category"] = "false_disclosure"
    return out


def write(folder: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """Write the tables as ingestion would (``<table>.parquet``); returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    names = set(tables) | {n for n, s in TABLES.items() if s.required}
    for name in names:
        spec = TABLES[name]
        rows = [_defaults(name, r, i) for i, r in enumerate(tables.get(name, []))]
        unknown = {k for r in rows for k in r} - {c.name for c in spec.columns}
        assert not unknown, f"{name}: no such columns {unknown}"
        arrays = {
            c.name: pa.array([r.get(c.name) for r in rows], type=ARROW[c.dtype])
            for c in spec.columns
        }
        pq.write_table(pa.table(arrays), folder / f"{name}.parquet")
    return folder


def build(
    folder: Path,
    month: str = "2026-10",
    cfg: FeaturesConfig | None = None,
    coverage: dict[str, dt.date] | None = None,
    unavailable: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Features of the month as ``{uscc: {feature: value}}`` (NaN and None both as None);
    ``coverage``: each table's first covered day; ``unavailable``: tables declared so
    (their files, if any, are not read)."""
    cfg = cfg or config()
    con = connect(cfg)
    tables = {k: v for k, v in source_tables(folder).items() if k not in (unavailable or {})}
    register_sources(con, tables, unavailable)
    rows = build_month(con, month, cfg, tables, coverage=coverage).to_pylist()
    con.close()
    clean = {}
    for r in rows:
        clean[r["uscc"]] = {
            k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()
        }
    return clean


def firms(*uscc: str, **common: Any) -> list[dict[str, Any]]:
    return [{"uscc": u, **common} for u in uscc]
