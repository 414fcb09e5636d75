"""Stage `feedback`: inspection results of a plan come back through ingestion, linked to it.

The double-random platform returns one result per inspected enterprise (CSV or XLSX, the
contract's column names in English or Chinese): ``plan_id, uscc, inspection_id,
inspection_date, result, problem_found, problem_category, received_date`` and optionally
``items`` (default: the items the plan drew the enterprise for). Each result is linked to
the plan that drew it (``outputs/<month>/plans/<campaign>/plan.csv``), which supplies what
the platform does not know: the draw mode, the strata, the class at the draw and the
enterprise's inclusion probability (``enterprise_probability``: the union of the draws of
every item that applies to it). The linked rows become a delivery of the contract's
``inspections`` table and go through `riskclass ingest` like any other: typed, checked,
quarantined with reasons, merged by ``inspection_id`` (a later receipt of the same record
replaces it).

Results that cannot be linked are not lost: they are kept in ``rejected.csv`` with the
rule and a reason, and counts reconcile: rows read = linked + rejected; linked = accepted +
quarantined by ingestion. Writes ``<out>/<plan_id>/<delivery>/``: ``delivery/inspections.csv``
(what ingestion reads, raw), ``rejected.csv`` (for people, formula-safe: `pipelines.io`) and
``feedback.json`` (counts, ingestion's reconciliation of the table, the enterprises of the
plan still without a result).

Linking is `pipelines.intake.findings.link` (shared with `simulate-loop`); ingestion is the
engine of the `ingest` stage, `pipelines.intake.engine.run_ingest` (stages never import each
other).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from contract.tables import TABLES
from pipelines import store
from pipelines.intake.config import IngestConfig
from pipelines.intake.engine import run_ingest
from pipelines.intake.findings import RESULT_COLUMNS, link
from pipelines.intake.readers import StructuralError, header_map, normalise_header
from pipelines.intake.reconciliation import IngestReport
from pipelines.io import atomic_write, formula_safe_text, write_csv, write_json
from pipelines.paths import plan_files


class FeedbackError(ValueError):
    """The plan or the results file cannot be read as described."""


@dataclass
class FeedbackRun:
    linked: pd.DataFrame  # the delivery, contract columns
    rejected: pd.DataFrame
    folder: Path
    summary: dict[str, Any]
    ingest: IngestReport | None


def read_plan(folder: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    plan_csv, plan_json = plan_files(folder)
    if not plan_csv.is_file() or not plan_json.is_file():
        raise FeedbackError(
            f"feedback: no plan in {folder} (plan.csv and plan.json); give the folder "
            "`riskclass plan` wrote, e.g. outputs/2026-10/plans/routine"
        )
    plan = pd.read_csv(plan_csv, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    info = json.loads(plan_json.read_text(encoding="utf-8"))
    missing = {"plan_id", "item", "uscc", "class", "stratum", "enterprise_probability"} - set(
        plan.columns
    )
    if missing:
        raise FeedbackError(
            f"feedback: {plan_csv} lacks column(s) {', '.join(sorted(missing))}; redraw the plan "
            "with this version of `riskclass plan`"
        )
    # plan.csv is formula-safe (pipelines.io): a plan_id starting like a formula (from the
    # campaign's name) was written with a leading apostrophe; the results carry it as drawn.
    # The other columns linked on (uscc, item and class codes) never start like a formula.
    plan_id = info.get("plan_id", "")
    plan["plan_id"] = plan["plan_id"].replace(formula_safe_text(plan_id), plan_id)
    return plan, info


def read_results(path: Path) -> pd.DataFrame:
    """The platform's file as text, columns renamed to the contract's names; ``_source_row``
    is the line or spreadsheet row a person would look up."""
    path = Path(path)
    if not path.is_file():
        raise FeedbackError(f"feedback: results file {path} not found")
    try:
        if path.suffix.lower() == ".xlsx":
            raw = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
        elif path.suffix.lower() == ".csv":
            data = path.read_bytes()
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = data.decode("gb18030")
            raw = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
        else:
            raise FeedbackError(f"feedback: {path}: results must be .csv or .xlsx")
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, FeedbackError):
            raise
        raise FeedbackError(
            f"feedback: {path} cannot be read ({exc}) [rule: file format]"
        ) from None
    known = header_map(TABLES["inspections"], {})
    rename = {
        c: known[normalise_header(str(c))] for c in raw.columns if normalise_header(str(c)) in known
    }
    raw = raw.rename(columns=rename)
    missing = [c for c in ("plan_id", "uscc", "inspection_id") if c not in raw.columns]
    if missing:
        raise FeedbackError(
            f"feedback: {path}, table inspections: column(s) {', '.join(missing)} missing "
            "[rule: required column]; a result links to its plan by plan_id and uscc"
        )
    for c in (*RESULT_COLUMNS, "items"):
        if c not in raw.columns:
            raw[c] = ""
    raw = raw.map(lambda v: str(v).strip())
    raw["uscc"] = raw["uscc"].str.upper()
    return raw.assign(_source_row=range(2, len(raw) + 2))


def _received(interim: Path, plan_id: str) -> pd.DataFrame:
    """The plan's results already in the inspections table (uscc, inspection_id)."""
    snap = store.open_table(interim, "inspections")
    if snap is None:
        return pd.DataFrame(columns=["uscc", "inspection_id"])
    con = duckdb.connect()
    try:
        got = con.execute(
            f"SELECT uscc, inspection_id FROM {snap.sql()} WHERE plan_id = ?", [plan_id]
        ).df()
    finally:
        con.close()
    return got[["uscc", "inspection_id"]]


def _keep_targeted(plan: pd.DataFrame, linked: pd.DataFrame) -> pd.DataFrame:
    """Results of a targeted plan (定向/专项, ``draw_mode`` targeted in plan.csv) stay targeted:
    their trigger, and no inclusion probability, so they never become double-random labels."""
    if "draw_mode" not in plan.columns or not len(linked):
        return linked
    firm = plan.drop_duplicates("uscc").set_index("uscc")
    mode = linked["uscc"].map(firm["draw_mode"])
    hit = (mode == "targeted").to_numpy()
    if not hit.any():
        return linked
    out = linked.copy()
    out["inclusion_probability"] = out["inclusion_probability"].astype(object)
    out.loc[hit, "draw_mode"] = "targeted"
    out.loc[hit, "trigger"] = linked.loc[hit, "uscc"].map(firm["trigger"])
    out.loc[hit, "inclusion_probability"] = ""
    return out


def run_feedback(
    plan_folder: Path,
    results: Path,
    interim: Path,
    out: Path,
    ingest_cfg: IngestConfig,
    as_of: str | None = None,
) -> FeedbackRun:
    plan, plan_info = read_plan(plan_folder)
    raw = read_results(results)
    linked, rejected = link(plan, raw, _received(Path(interim), plan_info["plan_id"]))
    linked = _keep_targeted(plan, linked)
    digest = hashlib.sha256(Path(results).read_bytes()).hexdigest()[:10]
    folder = Path(out) / plan_info["plan_id"] / f"{Path(results).stem}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "delivery").mkdir(exist_ok=True)  # what ingestion reads: this table only
    # raw, not formula-safe: ingestion reads this back as data, an apostrophe would change it
    atomic_write(
        folder / "delivery" / "inspections.csv",
        lambda p: linked.to_csv(p, index=False, encoding="utf-8"),
    )
    write_csv(rejected, folder / "rejected.csv", encoding="utf-8-sig")  # for people: formula-safe
    report = None
    table: dict[str, Any] = {}
    if len(linked):
        try:
            report = run_ingest(ingest_cfg, folder / "delivery", interim, as_of=as_of)
        except StructuralError as exc:
            raise FeedbackError(f"feedback: {exc}") from None
        tables: Any = report.to_dict()["tables"]
        table = tables["inspections"]
    returned = set(_received(Path(interim), plan_info["plan_id"])["uscc"])
    summary = {
        "plan_id": plan_info["plan_id"],
        "results_file": str(results),
        "rows_read": len(raw),
        "linked": len(linked),
        "rejected": len(rejected),
        "rejected_by_rule": {str(k): int(v) for k, v in rejected["rule"].value_counts().items()},
        "ingest": {
            k: table.get(k)
            for k in ("accepted", "quarantined", "quarantined_by_rule", "merge", "rows_in_interim")
        },
        "plan_enterprises": int(plan["uscc"].nunique()),
        # over every delivery ingested so far, not only this one
        "without_result": int(plan["uscc"].nunique() - len(returned & set(plan["uscc"]))),
    }
    if table and (
        table["rows_read"] != len(linked) or table["accepted"] + table["quarantined"] != len(linked)
    ):
        raise FeedbackError(
            f"feedback: {len(linked)} linked results, but ingestion read {table['rows_read']} "
            f"and accounted for {table['accepted'] + table['quarantined']}"
        )
    write_json(summary, folder / "feedback.json")
    return FeedbackRun(linked, rejected, folder, summary, report)
