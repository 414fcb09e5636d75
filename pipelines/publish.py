"""Stage `publish`: what the bureau publishes, with no class in it (the "一公开" half).

Two publications, each a formula-safe CSV (UTF-8 with BOM) and XLSX (`pipelines.io`):

* the inspection results of a double-random round (seeds/004: 「强化双随机抽查检查结果公示运用，
  及时通过国家企业信用信息公示系统统一归集公示」), in the publicity system's layout: task number
  and name, enterprise name and USCC, item, result (the contract's Chinese label), date and the
  inspecting authority (检查实施机关, named from the enterprise's division: configs/remind.yaml
  ``publish``). One row per enterprise and item. Built from the round's records in
  ``data/interim/inspections`` (those with its ``plan_id``) and the registry;
* dormant enterprises (休眠企业, seeds/000: 「列入休眠企业库并集中公示」), as
  `features.reminders.dormant` defines them (configs/remind.yaml ``dormant``).

Classes are internal (../shared/domain.md): a publication is built from an explicit allow-list
of columns (`INSPECTION_COLUMNS`, `DORMANT_COLUMNS`) and `_allowed` refuses any other, so a
class, score, probability, stratum, inclusion probability or risk point cannot reach it; it
never reads ``classes.parquet`` (tests/pipelines/test_publish.py runs it without one and scans
the files).

Where: ``outputs/outreach/<month>/publication/<plan_id>/`` and ``.../publication/dormant/``
(`publication_folder`), outside the sealed month folder (a file added under ``outputs/<month>/``
after its seal makes the service refuse the month). Records whose enterprise is not in the
registry are not published and are kept in ``rejected.csv`` with the reason; counts reconcile
in ``publish.json``: records of the round = published + rejected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.compute as pc

from contract.months import Month
from contract.reference import division_name
from contract.tables import LIST_SEPARATOR, vocabulary
from features.reminders import OutreachConfig, PublishRules, dormant, operating
from pipelines import store
from pipelines.io import atomic_directory, write_csv, write_json, write_xlsx
from pipelines.paths import OUTPUTS

#: The publicity layout of inspection results: internal name -> header. Nothing else is written.
INSPECTION_COLUMNS: dict[str, str] = {
    "task_no": "抽查任务编号",
    "task_name": "抽查任务名称",
    "name": "企业名称",
    "uscc": "统一社会信用代码",
    "item": "检查事项",
    "result": "检查结果",
    "date": "检查完成日期",
    "authority": "检查实施机关",
}
#: The dormant-firm list's layout.
DORMANT_COLUMNS: dict[str, str] = {
    "uscc": "统一社会信用代码",
    "name": "企业名称",
    "established": "成立日期",
    "last_report_year": "最近报送年度报告年度",
    "authority": "登记机关",
    "as_of": "认定信息截至日期",
}
REGISTRY = ["uscc", "name", "division_code", "established_date", "deregistered_date",
            "revoked_date"]  # fmt: skip
INSPECTION_SOURCE = ["inspection_id", "uscc", "plan_id", "items", "inspection_date", "result"]


class PublishError(ValueError):
    """A publication cannot be made: no plan, no records, a missing table."""


@dataclass
class PublishRun:
    folder: Path
    files: list[Path]
    summary: dict[str, Any]


def publication_folder(outputs: Path, month: str, name: str) -> Path:
    """``<outputs>/outreach/<month>/publication/<name>``: outside the sealed month folder."""
    return Path(outputs) / "outreach" / month / "publication" / name


def authority(division_code: str, rules: PublishRules) -> str:
    """检查实施机关 (or 登记机关) of a division: an override, else the template on its name.

    >>> authority("440106", PublishRules())
    '天河区市场监督管理局'
    >>> authority("440106", PublishRules(authority_overrides={"440106": "某局"}))
    '某局'
    """
    code = str(division_code)
    if code in rules.authority_overrides:
        return rules.authority_overrides[code]
    name = division_name(code)
    if name is None:
        raise PublishError(
            f"publish: enterprises.division_code {code!r} has no GB/T 2260 name; name its "
            "authority in configs/remind.yaml publish.authority_overrides"
        )
    return rules.authority_template.format(county=name)


def _allowed(frame: pd.DataFrame, layout: dict[str, str]) -> pd.DataFrame:
    """Only the allow-listed columns, in order, with their published headers."""
    extra = set(frame.columns) - set(layout)
    missing = set(layout) - set(frame.columns)
    if missing:
        raise PublishError(f"publish: columns {sorted(missing)} missing from the publication")
    if extra:  # never reached by the code here; a guard for whoever edits it
        raise PublishError(f"publish: columns {sorted(extra)} are not in the publication layout")
    return frame[list(layout)].rename(columns=layout)


def _registry(interim: Path) -> pd.DataFrame:
    snap = store.open_table(interim, "enterprises")
    if snap is None:
        raise PublishError(f"publish: table enterprises not found in {interim}; run ingest")
    return snap.pandas(REGISTRY)


def _write(frame: pd.DataFrame, folder: Path, stem: str, sheet: str) -> list[Path]:
    csv, xlsx = folder / f"{stem}.csv", folder / f"{stem}.xlsx"
    write_csv(frame, csv)
    write_xlsx(frame, xlsx, sheet_name=sheet)
    return [csv, xlsx]


def public_task_no(plan_id: str, month: str) -> str:
    """A neutral public number for a round drawn here: the month and a digest of the plan id
    (the plan id names the campaign, which can say which classes were drawn).

    >>> public_task_no("high_risk_batches-2026-10-20", "2026-10")[:7]
    '202610-'
    """
    digest = hashlib.sha256(plan_id.encode("utf-8")).hexdigest()[:8].upper()
    return f"{month.replace('-', '')}-{digest}"


def class_limited(record: dict[str, Any], scheme_classes: list[str]) -> list[str]:
    """The classes a round was limited to (empty: it drew from every class the scheme samples).
    Publishing such a round would tell the public each listed firm's class.

    >>> class_limited({"rates": {"C": 0.15, "D": 0.3}, "mode": "batches"}, ["A", "B", "C", "D"])
    ['C', 'D']
    >>> class_limited({"rates": {"A": 0.01, "B": 0.03, "C": 0.1, "D": 0.2}}, ["A", "B", "C", "D"])
    []
    """
    drawn = sorted(record.get("rates") or {})
    if record.get("mode") in ("one_class", "batches") or (
        drawn and set(drawn) != set(scheme_classes)
    ):
        return drawn
    return []


def read_plan(folder: Path) -> dict[str, Any]:
    """The record of a plan folder (``plan.json``): its plan id, month and campaign."""
    path = Path(folder) / "plan.json"
    if not path.is_file():
        raise PublishError(f"publish: {path} not found; give the folder `riskclass plan` wrote")
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    for key in ("plan_id", "month", "campaign"):
        if key not in record:
            raise PublishError(f"publish: {path}: no {key!r} in the plan's record")
    return record


def publish_inspections(
    plan_id: str,
    month: str,
    task_name: str,
    cfg: OutreachConfig,
    interim: Path,
    outputs: Path = OUTPUTS.root,
    task_no: str | None = None,
) -> PublishRun:
    """The inspection results of round ``plan_id`` in the publicity layout (module docstring).
    ``task_no``: the public task number (default ``plan_id``, a platform's own number; a plan
    drawn here gets a neutral one from the CLI, never its internal id, which names the campaign)."""
    Month(month)
    snap = store.open_table(interim, "inspections")
    if snap is None:
        raise PublishError(f"publish: table inspections not found in {interim}; run ingest")
    insp = snap.arrow(INSPECTION_SOURCE)
    insp = (
        insp.filter(pc.equal(insp.column("plan_id"), plan_id)).select(INSPECTION_SOURCE).to_pandas()
    )
    if insp.empty:
        raise PublishError(
            f"publish: inspections.plan_id: no result of round {plan_id} in {interim} "
            "(bring them back with `riskclass feedback`)"
        )
    reg = _registry(interim).set_index("uscc")
    known = insp["uscc"].isin(reg.index)
    rejected = insp.loc[~known, ["inspection_id", "uscc", "plan_id"]].assign(
        rule="enterprises.uscc", reason="企业不在登记信息中 (enterprise not in the registry)"
    )
    ok = insp.loc[known]
    rows = ok.assign(item=ok["items"].fillna("").str.split(LIST_SEPARATOR)).explode("item")
    items = vocabulary("inspection_item")
    results = vocabulary("inspection_result")
    divisions = reg.loc[rows["uscc"], "division_code"].astype(str).tolist()
    names = {d: authority(d, cfg.publish) for d in set(divisions)}
    frame = pd.DataFrame(
        {
            "task_no": task_no or plan_id,
            "task_name": task_name,
            "name": reg.loc[rows["uscc"], "name"].tolist(),
            "uscc": rows["uscc"].tolist(),
            "item": [items.get(i, (i, ""))[0] for i in rows["item"]],
            "result": [results.get(r, (r, ""))[0] for r in rows["result"]],
            "date": pd.to_datetime(rows["inspection_date"]).dt.strftime("%Y-%m-%d").tolist(),
            "authority": [names[d] for d in divisions],
        }
    ).sort_values(["authority", "uscc", "item"], kind="stable")
    public = _allowed(frame, INSPECTION_COLUMNS)
    folder = publication_folder(outputs, month, plan_id)
    summary = {
        "plan_id": plan_id,
        "month": month,
        "task_name": task_name,
        "records": len(insp),
        "published_records": int(known.sum()),
        "rejected_records": int((~known).sum()),
        "rows": len(public),
        "enterprises": int(ok["uscc"].nunique()),
        "columns": list(public.columns),
    }
    with atomic_directory(folder) as scratch:
        files = _write(public, scratch, "inspections", "抽查检查结果")
        if len(rejected):
            write_csv(rejected, scratch / "rejected.csv")
        write_json(summary, scratch / "publish.json")
    return PublishRun(folder, [folder / f.name for f in files], summary)


def publish_dormant(
    month: str, cfg: OutreachConfig, interim: Path, outputs: Path = OUTPUTS.root
) -> PublishRun:
    """The dormant-firm list of ``month`` (module docstring)."""
    end: dt.date = Month(month).end
    reg = _registry(interim)
    tables = {}
    for name in ("annual_reports", "changes", "licences", "pledges", "penalties",
                 "product_sampling", "inspections"):  # fmt: skip
        found = store.open_table(interim, name)
        if found is not None:
            tables[name] = found.pandas()
    if "annual_reports" not in tables:
        raise PublishError("publish: table annual_reports not found; dormancy needs it")
    live = operating(reg, end)
    found = dormant(live, tables, end, cfg.dormant, cfg.remind.annual_report_deadline)
    firms = live.set_index("uscc").loc[found["uscc"]]
    divisions = firms["division_code"].astype(str).tolist()
    names = {d: authority(d, cfg.publish) for d in set(divisions)}
    frame = pd.DataFrame(
        {
            "uscc": found["uscc"].tolist(),
            "name": firms["name"].tolist(),
            "established": pd.to_datetime(firms["established_date"])
            .dt.strftime("%Y-%m-%d")
            .tolist(),
            "last_report_year": found["last_report_year"].astype("string").fillna("无").tolist(),
            "authority": [names[d] for d in divisions],
            "as_of": end.isoformat(),
        }
    ).sort_values(["authority", "uscc"], kind="stable")
    public = _allowed(frame, DORMANT_COLUMNS)
    folder = publication_folder(outputs, month, "dormant")
    summary = {
        "month": month,
        "operating": len(live),
        "listed": len(public),
        "rule": cfg.dormant.model_dump(),
        "tables_absent": sorted(
            {"changes", "licences", "pledges", "penalties", "product_sampling", "inspections"}
            - set(tables)
        ),
        "columns": list(public.columns),
    }
    with atomic_directory(folder) as scratch:
        files = _write(public, scratch, "dormant", "休眠企业")
        write_json(summary, scratch / "publish.json")
    return PublishRun(folder, [folder / f.name for f in files], summary)
