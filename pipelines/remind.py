"""Stage `remind`: risk reminders to enterprises (风险提醒), one notice per enterprise, in Chinese.

seeds/002: 「加强与企业沟通，适时进行风险提醒，引导企业加强自我管理」. A notice lists only facts from
the enterprise's own records as of the month end (point in time: event and received date on or
before it) and what it can do about each: overdue annual reports, licences lapsing or lapsed,
abnormal and serious listings and how to be removed, penalties that may be repaired (with a
refused or revoked credit repair said, from ``credit_repairs`` where the interim folder has it),
open court enforcement (`features.reminders`). It is computed from the contract tables in ``data/interim``
directly: never from ``classes.parquet``, the features, the model, a score or a class, so that
a notice cannot leak them (tests/pipelines/test_remind.py scans every file written). An
enterprise with nothing to remind gets no notice.

Where: ``outputs/outreach/<month>/reminders/<division>/`` (`reminder_folder`). Not under
``outputs/<month>/``: that folder is sealed (`service.seal` names every file added after the
seal, and the service then refuses the month), and reminders are files meant for enterprises,
not internal outputs; they can be regenerated from the registry at any time.

A batch (a division, or a list of USCCs) writes ``<USCC>.html`` per enterprise, ``index.html``
and ``index.csv`` (formula-safe), ``remind.json`` (counts that reconcile: firms selected =
operating + not operating; operating = with a notice + nothing to remind) and, with
``--format pdf|both``, ``reminders.pdf``: all notices in one printable file, a page break per
enterprise, printed by one headless Chromium run (the report stage's printer, passed in as
`Printer`) from ``reminders.html`` (kept: the same pages for a browser). For a single
enterprise the PDF is ``<USCC>.pdf``; for several given USCCs, ``selected.pdf``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from contract.months import Month
from contract.reference import division_name
from contract.tables import vocabulary
from features.reminders import FACT_KINDS, OutreachConfig, operating, reminder_facts
from pipelines import store
from pipelines.io import atomic_directory, atomic_write, write_csv, write_json
from pipelines.paths import OUTPUTS
from pipelines.render.html import environment

log = logging.getLogger(__name__)

Format = Literal["html", "pdf", "both"]
#: Prints an HTML file to PDF: ``printer(html, pdf, timeout)``. The report stage's Chromium
#: printer (`pipelines.report.pdf.to_pdf`), passed in by the caller (the CLI, a test, the
#: benchmark): stages never import each other, and there is one PDF route, not two.
Printer = Callable[..., None]

#: The tables a reminder reads, with the columns it needs (nothing else is read).
SOURCES: dict[str, list[str]] = {
    "annual_reports": ["uscc", "report_year", "submitted_date", "received_date"],
    "licences": [
        "uscc", "licence_no", "licence_kind", "issued_date", "valid_until",
        "revoked_date", "cancelled_date", "received_date",
    ],
    "abnormal_list": [
        "uscc", "reason", "listed_date", "received_date", "removed_date",
        "removal_reason", "removal_received_date",
    ],
    "serious_dishonest_list": [
        "uscc", "reason", "listed_date", "received_date", "removed_date",
        "removal_reason", "removal_received_date",
    ],
    "penalties": [
        "uscc", "decision_no", "penalty_kind", "decision_date", "amount", "minor",
        "repaired_date", "received_date",
    ],
    "judicial": ["uscc", "case_no", "kind", "filed_date", "amount", "closed_date", "received_date"],
    "credit_repairs": [
        "repair_id", "uscc", "target_table", "decision_no", "listing_reason", "listed_date",
        "decision", "refusal_reason",
        "decided_date", "received_date", "revoked_date", "revocation_reason",
        "revocation_received_date",
    ],
}  # fmt: skip
REGISTRY = ["uscc", "name", "division_code", "established_date", "deregistered_date",
            "revoked_date"]  # fmt: skip

HEADINGS = {
    "annual_report": "年度报告",
    "licence": "行政许可",
    "abnormal": "经营异常名录",
    "serious": "严重违法失信名单",
    "penalty": "行政处罚信息与信用修复",
    "enforcement": "司法协助(被执行)信息",
}


class RemindError(ValueError):
    """A reminder cannot be made: a missing table, an unknown enterprise or division."""


@dataclass
class RemindRun:
    folder: Path
    notices: list[Path]
    index: Path | None
    pdf: Path | None
    summary: dict[str, Any]


def reminder_folder(outputs: Path, month: str, division: str) -> Path:
    """``<outputs>/outreach/<month>/reminders/<division>``: outside the sealed month folder."""
    return Path(outputs) / "outreach" / month / "reminders" / division


def load_tables(interim: Path) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The registry and the tables reminders read; optional tables absent give no facts."""
    found = store.open_tables(interim)
    if "enterprises" not in found:
        raise RemindError(f"remind: table enterprises not found in {interim}; run ingest")
    registry = found["enterprises"].pandas(REGISTRY)
    tables = {name: found[name].pandas(cols) for name, cols in SOURCES.items() if name in found}
    return registry, tables


def _date(value: object) -> str:
    if value is None or (not isinstance(value, dt.date) and pd.isna(value)):
        return ""
    d = pd.Timestamp(value)
    return f"{d.year}年{d.month}月{d.day}日"


def _amount(value: object) -> str:
    if not isinstance(value, int | float) or pd.isna(value):
        return ""
    return f"{float(value):,.2f}万元"


def _label(vocab: str, code: object) -> str:
    return vocabulary(vocab).get(str(code), (str(code), ""))[0]


def sentence(fact: dict[str, Any], as_of: dt.date, cfg: OutreachConfig) -> tuple[str, str]:
    """A fact as a plain Chinese sentence and what the enterprise can do about it."""
    r = cfg.remind
    kind = fact["kind"]
    if kind == "annual_report":
        if fact["status"] == "due":
            return (
                f"{fact['ref']}年度年度报告尚未报送，报送截止日期为{_date(fact['until'])}。",
                r.annual_report_steps,
            )
        return (
            f"{fact['ref']}年度年度报告应于{_date(fact['until'])}前报送，"
            f"截至{_date(as_of)}尚未报送。",
            r.annual_report_steps,
        )
    if kind == "licence":
        what = f"{_label('licence_kind', fact['code'])}（编号{fact['ref']}）有效期至{_date(fact['until'])}"
        state = "，已过有效期" if fact["status"] == "lapsed" else "，即将到期"
        step = f"请于{_date(fact['act_from'])}前申请延续。" if fact["status"] != "lapsed" else ""
        return what + state + "。", step + r.licence_steps
    if kind == "abnormal":
        reason = _label("abnormal_reason", fact["code"])
        text = f"{_date(fact['since'])}因“{reason}”被列入经营异常名录。"
        warn = (
            f"列入满{r.abnormal_to_serious_years}年（{_date(fact['until'])}）仍未履行相关义务的，"
            "将被列入严重违法失信名单。"
        )
        return text, r.removal_steps.get(str(fact["code"]), "") + warn
    if kind == "serious":
        reason = _label("serious_reason", fact["code"])
        return f"{_date(fact['since'])}因“{reason}”被列入严重违法失信名单。", r.serious_steps
    if kind == "penalty":
        what = (
            f"行政处罚决定书{fact['ref']}（{_date(fact['since'])}，"
            f"{_label('penalty_kind', fact['code'])}"
            + (f"，{_amount(fact['amount'])}" if _amount(fact["amount"]) else "")
            + "）仍在公示期内。"
        )
        again = "再次" if fact.get("repair") in ("refused", "revoked") else ""
        history = ""
        if fact.get("repair") == "refused":
            history = (
                f"{_date(fact['repair_date'])}对该处罚的信用修复申请作出不予信用修复决定，"
                f"不予修复情形：“{_label('repair_refusal_reason', fact['repair_reason'])}”。"
            )
        elif fact.get("repair") == "revoked":
            history = (
                f"该处罚的信用修复已于{_date(fact['repair_date'])}被撤销"
                f"（撤销原因：“{_label('repair_revocation_reason', fact['repair_reason'])}”），"
                "处罚信息恢复公示。"
            )
        if fact["status"] == "remedy":
            when = "消除上述情形后可再次申请信用修复。"
        elif fact["status"] == "repairable":
            when = f"现已可{again}申请信用修复。"
        else:
            when = f"自{_date(fact['act_from'])}起可{again}申请信用修复。"
        return what + history + when, r.penalty_steps
    if kind == "enforcement":
        amount = _amount(fact["amount"])
        return (
            f"案号{fact['ref']}（{_label('judicial_kind', fact['code'])}，"
            f"{_date(fact['since'])}立案" + (f"，标的{amount}" if amount else "") + "）尚未结案。",
            r.enforcement_steps,
        )
    raise RemindError(f"remind: unknown fact kind {kind!r}")


def notices(
    firms: pd.DataFrame, facts: pd.DataFrame, as_of: dt.date, cfg: OutreachConfig
) -> list[dict[str, Any]]:
    """One notice per enterprise with facts: its name, USCC and sections of sentences."""
    names = firms.set_index("uscc")["name"]
    out = []
    for uscc, rows in facts.groupby("uscc", sort=True):
        sections: dict[str, list[dict[str, str]]] = {}
        for fact in rows.to_dict("records"):
            text, step = sentence(fact, as_of, cfg)
            sections.setdefault(fact["kind"], []).append({"text": text, "step": step})
        out.append(
            {
                "uscc": str(uscc),
                "name": str(names.get(uscc, "")),
                "sections": [
                    {"heading": HEADINGS[k], "items": sections[k]}
                    for k in FACT_KINDS
                    if k in sections
                ],
                "counts": {k: len(sections.get(k, [])) for k in FACT_KINDS},
            }
        )
    return out


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def select(
    registry: pd.DataFrame, usccs: Sequence[str] = (), division: str | None = None
) -> pd.DataFrame:
    """The enterprises asked for: given USCCs (each must exist) or a division code or prefix."""
    if usccs:
        unknown = sorted(set(usccs) - set(registry["uscc"]))
        if unknown:
            raise RemindError(
                f"remind: enterprises.uscc: {len(unknown)} USCC(s) not in the registry "
                f"(first: {unknown[0]})"
            )
        return registry.loc[registry["uscc"].isin(usccs)]
    if not division or not division.isdigit():
        raise RemindError("remind: give --uscc or --division (a division code, e.g. 440106)")
    chosen = registry.loc[registry["division_code"].astype(str).str.startswith(division)]
    if chosen.empty:
        raise RemindError(f"remind: enterprises.division_code: no enterprise in {division}")
    return chosen


def run_remind(
    as_of: str,
    cfg: OutreachConfig,
    interim: Path,
    outputs: Path = OUTPUTS.root,
    *,
    usccs: Sequence[str] = (),
    division: str | None = None,
    fmt: Format = "html",
    printer: Printer | None = None,
    pdf_timeout: float = 1800,
) -> RemindRun:
    """Write the notices of a batch (see the module docstring); returns what was written.
    ``fmt`` pdf or both needs ``printer`` (`Printer`)."""
    if fmt != "html" and printer is None:
        raise RemindError("remind: --format pdf needs the PDF printer (pipelines.report.to_pdf)")
    month = Month(as_of)
    end = month.end
    registry, tables = load_tables(interim)
    chosen = select(registry, usccs, division)
    live = operating(chosen, end)
    facts = reminder_facts(live, tables, end, cfg.remind)
    batch = notices(live, facts, end, cfg)
    # a few enterprises named one by one go to their own folder: a county's batch folder holds
    # exactly the batch its index and remind.json count (the service ships the folder whole)
    label = division or "selected"
    folder = reminder_folder(outputs, str(month), label)
    summary: dict[str, Any] = {
        "as_of": str(month),
        "division": division,
        "division_name": division_name(division) if division else None,
        "selected": len(chosen),
        "operating": len(live),
        "not_operating": len(chosen) - len(live),
        "with_notice": len(batch),
        "nothing_to_remind": len(live) - len(batch),
        "facts": {k: int((facts["kind"] == k).sum()) for k in FACT_KINDS},
        "tables_absent": sorted(set(SOURCES) - set(tables)),
    }
    env = environment()
    page = env.get_template("remind.html.j2")
    common = {"as_of": _date(end), "month": str(month), "intro": cfg.remind.intro,
              "closing": cfg.remind.closing}  # fmt: skip
    single = bool(usccs) and len(batch) == 1

    def write_batch(target: Path) -> tuple[list[Path], Path | None, Path | None]:
        written = []
        for n in batch:
            path = target / f"{n['uscc']}.html"
            _write_text(path, page.render(notices=[n], **common))
            written.append(path)
        index = pdf = None
        if not batch:
            return written, index, pdf
        rows = pd.DataFrame(
            [
                {"uscc": n["uscc"], "name": n["name"], **n["counts"], "file": f"{n['uscc']}.html"}
                for n in batch
            ]
        )
        if not usccs:  # a division's batch has an index; a few USCCs add to a folder
            index = target / "index.html"
            _write_text(
                index,
                env.get_template("remind_index.html.j2").render(
                    rows=rows.to_dict("records"), headings=HEADINGS, summary=summary, **common
                ),
            )
            write_csv(rows, target / "index.csv")
        if fmt in ("pdf", "both"):
            # a division's batch keeps the combined page the PDF is printed from
            combined = target / ("reminders.html" if not usccs else ".selected.html")
            _write_text(combined, page.render(notices=batch, **common))
            name = "reminders.pdf" if not usccs else "selected.pdf"
            pdf = target / (f"{batch[0]['uscc']}.pdf" if single else name)
            assert printer is not None  # checked on entry
            printer(combined, pdf, timeout=pdf_timeout)
            if usccs:
                combined.unlink()
            if fmt == "pdf" and single:
                written[0].unlink()
                written = [pdf]
        return written, index, pdf

    if usccs:  # a few enterprises: add to the folder, never replace a county's batch
        folder.mkdir(parents=True, exist_ok=True)
        written, index, pdf = write_batch(folder)
    else:
        with atomic_directory(folder) as scratch:
            written, index, pdf = write_batch(scratch)
            write_json(summary, scratch / "remind.json")
        written = [folder / p.name for p in written]
        index = folder / index.name if index else None
        pdf = folder / pdf.name if pdf else None
    log.info("remind %s: %d notices of %d enterprises", label, len(batch), len(chosen))
    return RemindRun(folder, written, index, pdf, summary)
