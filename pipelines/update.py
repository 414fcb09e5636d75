"""Stage `update` (`riskclass update`): a within-month delivery applies the hard overrides at once.

Policy (seeds/000 (四): 分类结果 ... 实现实时动态更新; seeds/002 item 4: 分类结果记于企业名下，
按月动态更新): the month's classes are computed at month end, the model score with them; a
delivery received within the following month (new serious-list entries, penalties, court
records, a licence revoked) may trigger a hard override of the class scheme
(``overrides:`` of configs/classes/*.yaml). Such a firm moves to the override's class the day
the delivery is applied; its model score is NOT recomputed (only at month end, from the
whole month's records). An enterprise not classified at the month end (registered after it)
waits for the next month end. What a delivery does:

1. it goes in through the same ingestion as `riskclass ingest` (`pipelines.intake.engine`:
   validation, quarantine with reasons, merge by natural key) into the interim tables, with
   ``as_of`` the month of the delivery date (records dated after that month are refused); an
   ingest refused for too little accepted (the accept floor) leaves the interim tables as they
   were, and a delivery of which nothing was accepted is an error too;
2. for the enterprises the delivery names (rows of this delivery in any table), the features
   the overrides read are recomputed at the delivery date with the SAME feature SQL
   (`features.engine`, `Window.cutoff`): only records whose event date AND received date are
   on or before that day count (a record received later does not). The override features are
   the enterprise's own (serious list, court records, heavy penalties, revoked licence), so
   computing them over the named enterprises' records alone gives the province run's values;
3. the scheme's overrides are applied (first matching rule wins) against the class served now
   (the month-end class with the month's earlier updates, the latest winning):

   - ``applied``: an override fires that the served class did not have: the class becomes the
     override's class at once;
   - ``lift_pending``: the served class came from an override that no longer holds (a listing
     removed, a court record lifted). The firm keeps its served class until the next month
     end: the override had replaced the model's class, and the model's score (which also read
     the lifted record) is only recomputed at month end (002: 按月动态更新). Lowering a class
     on the strength of a stale score is not what the policy describes; raising it on a hard
     rule is (000: 实时动态更新; the scheme's rule holds "whatever the model said").

Every change is written to ``outputs/<month>/updates/<date>-<n>.parquet`` (`COLUMNS`) with a
summary ``<date>-<n>.json`` of counts only; `riskclass update` then re-seals the month with a
reason (the update files are under the month's folder, so the seal covers them). Internal to
the bureau like the classes: nothing here is logged or published.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contract.months import month_end, parse_month
from contract.tables import TABLES
from features import base
from features.config import FeaturesConfig
from features.definitions import BLOCKS, CATALOG
from features.engine import build_month, define_macros
from models.classes import ClassScheme, holds
from pipelines import store
from pipelines.intake.config import IngestConfig
from pipelines.intake.engine import IngestError, run_ingest
from pipelines.intake.readers import StructuralError
from pipelines.intake.reconciliation import IngestReport
from pipelines.io import write_json, write_parquet
from pipelines.paths import Outputs
from pipelines.updates import (
    COLUMNS,
    EFFECTS,
    SCHEMA,
    current,
    read_updates,
    update_files,
    updates_dir,
)


class UpdateError(ValueError):
    """The update cannot be applied (the month is not classified, the date is outside the
    month after it, the delivery was refused or nothing of it was accepted)."""


@dataclass
class UpdateReport:
    """What an update did: counts only (the summary JSON)."""

    month: str
    date: str
    n: int
    out: str
    ingest: IngestReport
    named: int = 0
    effects: dict[str, int] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        return sum(self.effects.values())

    def to_dict(self) -> dict[str, Any]:
        tables = {
            t.table: {
                "rows_read": t.rows_read,
                "accepted": t.accepted,
                "quarantined": t.quarantined,
            }
            for t in self.ingest.tables
            if t.status == "ingested"
        }
        return {
            "month": self.month,
            "date": self.date,
            "n": self.n,
            "delivery": self.ingest.run_name,
            "tables": tables,
            "enterprises_named": self.named,
            "changes": self.changes,
            "effects": {e: self.effects.get(e, 0) for e in EFFECTS},
            "rules": dict(sorted(self.rules.items())),
            "score_recomputed": False,
            "out": self.out,
        }


def describe(row: Any, scheme: ClassScheme, lang: str = "zh") -> str:
    """Why the served class differs from the month-end one, in words (item 5 of issue 20):
    the hard rule that fired on the delivery date, and that the model's score is a month-end
    figure recomputed at the next month end. For staff only (it names the class)."""
    rules = {r.name: r for r in scheme.overrides}
    date = str(row["delivered"])
    effect = str(row["effect"])
    if effect == "applied":
        r = rules.get(str(row["override_rule"]))
        what_zh = r.zh if r else str(row["override_rule"])
        what_en = r.en if r else str(row["override_rule"])
        if lang == "en":
            return (
                f"Delivered {date}: {what_en}; moved to class {row['class_after']} by rule "
                f"(was {row['class_before']}). The model's risk score is computed at "
                "month end and will be recomputed at the next month end; a hard rule does not "
                "look at the score."
            )
        return (
            f"{date} 归集：{what_zh}，按规则调整为{row['class_after']}类"
            f"（此前为{row['class_before']}类）；模型风险分为月末计算，下次月末重新计算，"
            "硬性规则不看分数"
        )
    r = rules.get(str(row["rule_before"]))
    what_zh = r.zh if r else str(row["rule_before"])
    what_en = r.en if r else str(row["rule_before"])
    if lang == "en":
        return (
            f"Delivered {date}: no longer {what_en}. The class stays {row['class_after']} until "
            "the next month end, when the model's risk score is recomputed from the month's "
            "records and the class follows it."
        )
    return (
        f"{date} 归集：已不再{what_zh}；月末前维持{row['class_after']}类，"
        "下次月末重新计算模型风险分后按分数重新分类"
    )


def _check_date(month: str, date: dt.date) -> str:
    """The delivery date must lie in the month after the classified month; returns that
    month (the delivery's data month)."""
    y, m = parse_month(month)
    end = month_end(y, m)
    k = y * 12 + m  # the next month, 0-based month index
    ny, nm = k // 12, k % 12 + 1
    if not end < date <= month_end(ny, nm):
        raise UpdateError(
            f"update: --date {date.isoformat()} is not in the month after {month} "
            f"({ny:04d}-{nm:02d}) [rule: update within the following month]; a later delivery "
            "belongs to the next month's classification"
        )
    return f"{ny:04d}-{nm:02d}"


def _next_n(outputs: Path, month: str, date: dt.date) -> int:
    done = [p for p in update_files(outputs, month) if p.name.startswith(date.isoformat() + "-")]
    return len(done) + 1


def _named(interim: Path, run_name: str, report: IngestReport) -> list[str]:
    """The enterprises the delivery's accepted rows name (in any table)."""
    con = duckdb.connect()
    found: set[str] = set()
    try:
        for t in report.tables:
            snap = store.open_table(interim, t.table)
            if t.status != "ingested" or t.accepted == 0 or snap is None:
                continue
            rows = con.execute(
                f"SELECT DISTINCT uscc FROM {snap.sql()} WHERE _delivery = ? AND uscc IS NOT NULL",
                [run_name],
            ).fetchall()
            found.update(str(r[0]) for r in rows)
    finally:
        con.close()
    return sorted(found)


def _connect(cfg: FeaturesConfig) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB as the features stage opens one (`pipelines.features.connect`:
    stages are independent, so its few lines are repeated here)."""
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{cfg.duckdb_memory_limit}'")
    con.execute(f"SET threads = {cfg.duckdb_threads}")
    define_macros(con)
    return con


def _coverage(interim: Path) -> dict[str, dt.date]:
    """The first day each table's records cover (``coverage`` of ``availability.json``, as
    `pipelines.features.table_coverage` reads it)."""
    path = store.side_file(Path(interim), "availability.json")
    if not path.is_file():
        return {}
    found = json.loads(path.read_text(encoding="utf-8")).get("coverage", {})
    return {
        str(t): dt.date.fromisoformat(str(span["first"]))
        for t, span in dict(found).items()
        if isinstance(span, dict) and span.get("first")
    }


def override_features(
    cfg: FeaturesConfig,
    interim: Path,
    usccs: list[str],
    date: dt.date,
    features: set[str],
) -> pd.DataFrame:
    """The ``features`` of the enterprises ``usccs`` computed at ``date`` by the catalog's own
    SQL (`features.engine.build_month` with a cutoff): records with event and received date
    on or before ``date``. Only enterprise-own features are meaningful here (every table is
    restricted to these enterprises' rows)."""
    month = f"{date.year:04d}-{date.month:02d}"
    tables = store.open_tables(Path(interim))
    if "enterprises" not in tables:
        raise UpdateError(
            f"update: the interim folder {interim} has no registry (table enterprises)"
        )
    catalog = tuple(f for f in CATALOG if f.name in features)
    missing = features - {f.name for f in catalog}
    if missing:
        raise UpdateError(
            f"update: the overrides read features not in the catalog: {sorted(missing)}"
        )
    con = _connect(cfg)
    try:
        con.register("named_usccs", pd.DataFrame({"uscc": usccs}))
        for name, snap in tables.items():
            cols = {c.name for c in TABLES[name].columns} if name in TABLES else set()
            where = " WHERE uscc IN (SELECT uscc FROM named_usccs)" if "uscc" in cols else ""
            con.execute(f"CREATE OR REPLACE VIEW raw_{name} AS SELECT * FROM {snap.sql()}{where}")
        table = build_month(
            con,
            month,
            cfg,
            tables,
            catalog,
            BLOCKS,
            base.population,
            coverage=_coverage(Path(interim)),
            cutoff=date,
        )
    finally:
        con.close()
    return table.to_pandas()


def _first_rule(frame: pd.DataFrame, scheme: ClassScheme) -> pd.Series:
    """The first override rule each row matches (None when none does)."""
    rule = np.full(len(frame), None, dtype=object)
    decided = np.zeros(len(frame), dtype=bool)
    for r in scheme.overrides:
        hit = ~decided
        for cond in r.when:
            hit &= holds(frame[cond.feature], cond, f"class scheme {scheme.name!r}, {r.name!r}")
        rule[hit] = r.name
        decided |= hit
    return pd.Series(rule, index=frame.index, dtype=object)


def _record(interim: Path, run_name: str, table: str, uscc: str, date: dt.date) -> tuple[str, str]:
    """The record that fired a rule: the latest row of ``table`` for ``uscc`` with event and
    received date on or before ``date``, this delivery's rows first; (table, natural key)."""
    spec = TABLES[table]
    snap = store.open_table(interim, table)
    if snap is None:
        return table, ""
    key = ", ".join(spec.natural_key)
    conds = ["uscc = ?"]
    if spec.event_date:
        conds.append(f"{spec.event_date} <= ?")
    if spec.received_date:
        conds.append(f"{spec.received_date} <= ?")
    params: list[Any] = [uscc] + [date] * (len(conds) - 1)
    order = f"{spec.event_date} DESC" if spec.event_date else "1"
    con = duckdb.connect()
    try:
        row = con.execute(
            f"SELECT {key} FROM {snap.sql()} WHERE {' AND '.join(conds)} "
            f"ORDER BY CASE WHEN _delivery = ? THEN 0 ELSE 1 END, {order} LIMIT 1",
            [*params, run_name],
        ).fetchone()
    finally:
        con.close()
    if row is None:
        return table, ""
    return table, "|".join("" if v is None else str(v) for v in row)


def _rule_table(scheme: ClassScheme, rule: str) -> str:
    """The contract table whose records fire ``rule``: the last source of its first
    condition's feature (the registry only for a registry feature such as ``revoked``)."""
    feats = {f.name: f for f in CATALOG}
    r = next(x for x in scheme.overrides if x.name == rule)
    f = feats[r.when[0].feature]
    own = [t for t in f.sources if t not in ("enterprises", "changes")]
    return own[-1] if own else "enterprises"


def run_update(
    ingest_cfg: IngestConfig,
    features_cfg: FeaturesConfig,
    scheme: ClassScheme,
    delivery: Path,
    interim: Path,
    outputs: Path,
    month: str,
    date: dt.date,
) -> UpdateReport:
    """Ingest ``delivery`` (received on ``date``, in the month after ``month``) into
    ``interim`` and apply the scheme's overrides at once to the enterprises it names; write
    ``outputs/<month>/updates/<date>-<n>.parquet`` and its summary. Sealing is the caller's
    (`riskclass update` re-seals the month)."""
    parse_month(month)
    classes_path = Outputs(Path(outputs)).classes(month)
    if not classes_path.is_file():
        raise UpdateError(f"update: {month} is not classified ({classes_path}); nothing to update")
    data_month = _check_date(month, date)
    try:
        ingested = run_ingest(
            ingest_cfg, Path(delivery), Path(interim), as_of=data_month, delivery_date=date
        )
    except (IngestError, StructuralError) as exc:
        raise UpdateError(f"update: the delivery was refused: {exc}") from None
    delivered = [t for t in ingested.tables if t.status == "ingested"]
    read = sum(t.rows_read for t in delivered)
    accepted = sum(t.accepted for t in delivered)
    if accepted == 0:
        raise UpdateError(
            f"update: nothing of the delivery {delivery} was accepted ({read} rows read, "
            f"{accepted} accepted) [rule: empty delivery]; {Path(interim) / 'quarantine'} says "
            "why each row was refused"
        )
    n = _next_n(outputs, month, date)
    folder = updates_dir(outputs, month)
    out = folder / f"{date.isoformat()}-{n}.parquet"
    report = UpdateReport(month, date.isoformat(), n, str(out), ingested)
    usccs = _named(Path(interim), ingested.run_name, ingested)
    report.named = len(usccs)
    month_classes = pq.read_table(
        classes_path, columns=["uscc", "class_final", "override_rule"]
    ).to_pandas()
    served = current(month_classes, read_updates(outputs, month)).set_index("uscc")
    rows: list[dict[str, str]] = []
    if usccs:
        needed = {c.feature for r in scheme.overrides for c in r.when}
        feats = override_features(features_cfg, Path(interim), usccs, date, needed)
        feats = feats[feats["uscc"].isin(served.index)]  # classified at month end only
        feats = feats.assign(rule=_first_rule(feats, scheme).to_numpy())
        to = {r.name: r.to for r in scheme.overrides}
        for uscc, found in zip(feats["uscc"], feats["rule"], strict=True):
            rule = found if isinstance(found, str) else None  # NaN or None: no rule
            now = served.loc[uscc]
            cls, rule_now = str(now["class_final"]), now["override_rule"]
            rule_now = None if pd.isna(rule_now) or rule_now == "" else str(rule_now)
            pending = now["update_effect"] == "lift_pending"
            if rule is not None and (rule != rule_now or pending):
                table, key = _record(
                    Path(interim), ingested.run_name, _rule_table(scheme, rule), uscc, date
                )
                rows.append(
                    {
                        "uscc": uscc,
                        "class_before": cls,
                        "class_after": to[rule],
                        "rule_before": rule_now or "",
                        "override_rule": rule,
                        "effect": "applied",
                        "record_table": table,
                        "record_key": key,
                        "delivered": date.isoformat(),
                    }
                )
            elif rule is None and rule_now is not None and not pending:
                table = _rule_table(scheme, rule_now)
                rows.append(
                    {
                        "uscc": uscc,
                        "class_before": cls,
                        "class_after": cls,  # kept until the month end (module docstring)
                        "rule_before": rule_now,
                        "override_rule": "",
                        "effect": "lift_pending",
                        "record_table": table,
                        "record_key": _record(Path(interim), ingested.run_name, table, uscc, date)[
                            1
                        ],
                        "delivered": date.isoformat(),
                    }
                )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for r in rows:
        report.effects[r["effect"]] = report.effects.get(r["effect"], 0) + 1
        name = r["override_rule"] or r["rule_before"]
        report.rules[name] = report.rules.get(name, 0) + 1
    folder.mkdir(parents=True, exist_ok=True)
    table_out = pa.Table.from_pandas(frame, schema=SCHEMA, preserve_index=False)
    write_parquet(table_out, out)
    write_json(report.to_dict(), out.with_suffix(".json"))
    return report
