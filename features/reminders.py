"""Facts an enterprise can act on, from its own records only: the content of risk reminders.

seeds/002 asks the bureau to 「加强与企业沟通，适时进行风险提醒，引导企业加强自我管理」. A reminder
may say only what the enterprise's own public records say and what it can do about them: never
its class, score or the model (classes are internal). So the facts here are computed from the
contract tables directly, point in time (a record counts when both its event date and its
received date are on or before ``as_of``), never from classes, features of other firms or a
model. The same module defines dormant enterprises (休眠企业, seeds/000: 「列入休眠企业库并集中
公示」) for publication.

Fact kinds (one row per fact, `FACT_COLUMNS`):

* ``annual_report``: a report year whose deadline (6月30日 of the next year, 企业信息公示暂行条例
  第八条) has passed with no report received, within ``annual_report_years``; or, between
  1 January and the deadline, the previous year's report not yet filed (``due``);
* ``licence``: a licence lapsing within ``licence_horizon_days`` or lapsed within
  ``licence_lapsed_days``, not revoked or cancelled and not replaced by a licence of the same
  kind valid beyond the horizon;
* ``abnormal``: a listing on the abnormal list not removed as of ``as_of`` (with
  ``credit_repairs``: or removed, but its repair revoked since and no other repair in force);
* ``serious``: a listing on the seriously-dishonest list not removed;
* ``penalty``: a penalty still in its publicity period and not repaired, with the date from
  which credit repair may be applied for. With the ``credit_repairs`` table (matched on uscc
  and decision_no, point in time: a decision counts once received), a granted repair in force
  repairs it, and a revoked one (revocation received by ``as_of``) makes it count again, also
  over ``penalties.repaired_date``; the latest refusal or revocation known is kept on the fact
  (``repair``, ``repair_date``, ``repair_reason``) so that the notice can say it;
* ``enforcement``: a court enforcement record (被执行人, 失信被执行人, 股权冻结) not closed.

>>> cfg = OutreachConfig()
>>> cfg.remind.annual_report_deadline
(6, 30)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

FACT_KINDS = ("annual_report", "licence", "abnormal", "serious", "penalty", "enforcement")
#: One fact: the enterprise, its kind, the record's reference (year, licence no, decision
#: no, case no), its vocabulary code, the dates that matter and an amount (万元) if any.
#: Penalties only: ``repair`` (``refused`` or ``revoked``: the latest such credit-repair record
#: known), its date (decision or revocation) and its reason code (refusal or revocation).
FACT_COLUMNS = [
    "uscc", "kind", "ref", "code", "since", "until", "act_from", "amount", "status",
    "repair", "repair_date", "repair_reason",
]  # fmt: skip


class RemindRules(BaseModel):
    """What is reminded and the periods that apply (configs/remind.yaml, ``remind``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    annual_report_deadline: tuple[int, int] = (6, 30)
    annual_report_years: int = Field(3, ge=1, le=10)
    remind_due_report: bool = True
    licence_horizon_days: int = Field(90, ge=0, le=730)
    licence_lapsed_days: int = Field(365, ge=0, le=3650)
    renew_before_days: int = Field(30, ge=0, le=365)
    repair_wait_months_minor: int = Field(3, ge=0, le=60)
    repair_wait_months: int = Field(12, ge=0, le=60)
    penalty_publicity_years: int = Field(3, ge=1, le=10)
    not_repairable_kinds: tuple[str, ...] = ()
    #: refusal reason (repair_refusal_reason) -> months after the refusal from which a new
    #: application may be made (never before the usual wait); a reason not named: no date
    repair_reapply_months: dict[str, int] = Field(default_factory=dict)
    #: years after a revocation before a repair may be applied for again (the contract's
    #: refusal reason barred_after_revocation)
    repair_barred_years_after_revocation: int = Field(3, ge=0, le=10)
    abnormal_to_serious_years: int = Field(3, ge=1, le=10)
    removal_steps: dict[str, str] = Field(default_factory=dict)
    licence_steps: str = ""
    annual_report_steps: str = ""
    serious_steps: str = ""
    penalty_steps: str = ""
    enforcement_steps: str = ""
    intro: str = ""
    closing: str = ""


class DormantRule(BaseModel):
    """休眠企业 for publication (configs/remind.yaml, ``dormant``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: no annual report received for any of the last N report years that are due
    no_report_years: int = Field(2, ge=1, le=10)
    #: and no record of any activity (change, licence, pledge, penalty, inspection with
    #: activity, product sample) with an event in the last N years
    no_activity_years: int = Field(2, ge=1, le=10)
    #: and established at least this many years before as_of
    min_age_years: int = Field(3, ge=0, le=50)


class PublishRules(BaseModel):
    """Naming in publications (configs/remind.yaml, ``publish``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: 检查实施机关 from the enterprise's division: ``{county}`` is the division's name
    authority_template: str = "{county}市场监督管理局"
    #: division code -> authority, where the template does not fit
    authority_overrides: dict[str, str] = Field(default_factory=dict)
    task_name_template: str = "{month}{campaign}"


class OutreachConfig(BaseModel):
    """configs/remind.yaml: reminders to enterprises, dormant firms, publication naming."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    remind: RemindRules = Field(default_factory=RemindRules)
    dormant: DormantRule = Field(default_factory=DormantRule)
    publish: PublishRules = Field(default_factory=PublishRules)


def _d(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, errors="coerce")


def _known(frame: pd.DataFrame, event: str, as_of: dt.date) -> pd.DataFrame:
    """Rows whose event and receipt are both on or before ``as_of`` (point in time)."""
    end = pd.Timestamp(as_of)
    keep = (_d(frame[event]) <= end) & (_d(frame["received_date"]) <= end)
    return frame.loc[keep]


def _still_on(
    frame: pd.DataFrame, as_of: dt.date, table: str = "", repairs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Listings not removed as of ``as_of`` (a removal counts once it is received).

    With ``repairs`` (credit_repairs), as `features.supervision` reads them: a removal does
    not count when a repair of the listing (``table``, uscc, reason, listed date) was revoked
    (revocation received by ``as_of``) and no other repair of it is in force; a repair in
    force changes nothing (the removal record is what removes a listing)."""
    end = pd.Timestamp(as_of)
    removed = (_d(frame["removed_date"]) <= end) & (_d(frame["removal_received_date"]) <= end)
    if repairs is not None and not repairs.empty and removed.any():
        known = _known(repairs, "decided_date", as_of)
        known = known.loc[(known["target_table"] == table) & (known["decision"] == "granted")]
        undone = (_d(known["revoked_date"]) <= end) & (_d(known["revocation_received_date"]) <= end)
        keys = list(zip(known["uscc"], known["listing_reason"], _d(known["listed_date"]),
                        strict=True))  # fmt: skip
        revoked = {k for k, u in zip(keys, undone, strict=True) if u}
        in_force = {k for k, u in zip(keys, undone, strict=True) if not u}
        back = [
            k in revoked and k not in in_force
            for k in zip(frame["uscc"], frame["reason"], _d(frame["listed_date"]), strict=True)
        ]
        removed = removed & ~pd.Series(back, index=frame.index, dtype=bool)
    return frame.loc[~removed]


def _facts(rows: dict[str, object], n: int) -> pd.DataFrame:
    # a column not given (or given as None or an empty list) is all None
    out = pd.DataFrame({c: rows.get(c) or [None] * n for c in FACT_COLUMNS})
    return out


def operating(enterprises: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Enterprises established by ``as_of`` and neither deregistered nor revoked by then."""
    end = pd.Timestamp(as_of)
    e = enterprises
    keep = (
        (_d(e["established_date"]) <= end)
        & ~(_d(e["deregistered_date"]) <= end)
        & ~(_d(e["revoked_date"]) <= end)
    )
    return e.loc[keep]


def _due_years(as_of: dt.date, rules: RemindRules) -> tuple[list[int], int | None]:
    """Report years overdue (deadline passed) within the lookback, and the year now due."""
    month, day = rules.annual_report_deadline
    deadline_passed = (as_of.month, as_of.day) > (month, day)
    last_overdue = as_of.year - 1 if deadline_passed else as_of.year - 2
    overdue = list(range(last_overdue - rules.annual_report_years + 1, last_overdue + 1))
    due = None if deadline_passed else as_of.year - 1
    return overdue, due


def annual_report_facts(
    firms: pd.DataFrame, reports: pd.DataFrame, as_of: dt.date, rules: RemindRules
) -> pd.DataFrame:
    """Report years not filed by ``as_of``: overdue ones, and the one now due (if reminded).

    An enterprise reports from the year after the year it was established (a firm set up in
    2024 first reports for 2024 by 30 June 2025)."""
    overdue, due = _due_years(as_of, rules)
    years = overdue + ([due] if due is not None and rules.remind_due_report else [])
    if not years or firms.empty:
        return _facts({}, 0)
    filed = _known(reports, "submitted_date", as_of)
    filed_keys = set(zip(filed["uscc"], filed["report_year"].astype(int), strict=True))
    est_year = _d(firms["established_date"]).dt.year
    month, day = rules.annual_report_deadline
    rows: dict[str, list[object]] = {c: [] for c in FACT_COLUMNS}
    for uscc, first in zip(firms["uscc"], est_year, strict=True):
        for y in years:
            if y < first or (uscc, y) in filed_keys:
                continue
            rows["uscc"].append(uscc)
            rows["kind"].append("annual_report")
            rows["ref"].append(str(y))
            rows["code"].append("due" if y == due else "overdue")
            rows["since"].append(None)
            rows["until"].append(dt.date(y + 1, month, day))
            rows["act_from"].append(None)
            rows["amount"].append(None)
            rows["status"].append("due" if y == due else "overdue")
    return _facts(dict(rows), len(rows["uscc"]))


def licence_facts(
    firms: pd.DataFrame, licences: pd.DataFrame, as_of: dt.date, rules: RemindRules
) -> pd.DataFrame:
    """Licences lapsing soon or lapsed lately, not revoked, cancelled or replaced."""
    end = pd.Timestamp(as_of)
    lic = _known(licences[licences["uscc"].isin(firms["uscc"])], "issued_date", as_of)
    if lic.empty:
        return _facts({}, 0)
    until = _d(lic["valid_until"])
    gone = (_d(lic["revoked_date"]) <= end) | (_d(lic["cancelled_date"]) <= end)
    horizon = end + pd.Timedelta(days=rules.licence_horizon_days)
    lapsed_from = end - pd.Timedelta(days=rules.licence_lapsed_days)
    live = lic.loc[~gone]
    # a licence of the same kind valid beyond the horizon: the lapse is already dealt with
    renewed = set(
        zip(
            live.loc[_d(live["valid_until"]) > horizon, "uscc"],
            live.loc[_d(live["valid_until"]) > horizon, "licence_kind"],
            strict=True,
        )
    )
    pick = lic.loc[~gone & (until <= horizon) & (until > lapsed_from)]
    pick = pick.loc[
        [(u, k) not in renewed for u, k in zip(pick["uscc"], pick["licence_kind"], strict=True)]
    ]
    if pick.empty:
        return _facts({}, 0)
    valid = _d(pick["valid_until"])
    return _facts(
        {
            "uscc": pick["uscc"].tolist(),
            "kind": ["licence"] * len(pick),
            "ref": pick["licence_no"].tolist(),
            "code": pick["licence_kind"].tolist(),
            "since": [None] * len(pick),
            "until": valid.dt.date.tolist(),
            "act_from": (valid - pd.Timedelta(days=rules.renew_before_days)).dt.date.tolist(),
            "amount": [None] * len(pick),
            "status": ["lapsed" if v < end else "lapsing" for v in valid],
        },
        len(pick),
    )


def listing_facts(
    firms: pd.DataFrame,
    listings: pd.DataFrame,
    as_of: dt.date,
    kind: str,
    rules: RemindRules,
    repairs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Abnormal (``kind="abnormal"``) or serious-list (``"serious"``) listings still on
    (`_still_on`: a listing whose repair was revoked is on again)."""
    table = "abnormal_list" if kind == "abnormal" else "serious_dishonest_list"
    rows = _still_on(
        _known(listings[listings["uscc"].isin(firms["uscc"])], "listed_date", as_of),
        as_of,
        table,
        repairs,
    )
    if rows.empty:
        return _facts({}, 0)
    listed = _d(rows["listed_date"])
    act = (
        (listed + pd.DateOffset(years=rules.abnormal_to_serious_years)).dt.date.tolist()
        if kind == "abnormal"
        else [None] * len(rows)
    )
    return _facts(
        {
            "uscc": rows["uscc"].tolist(),
            "kind": [kind] * len(rows),
            "ref": [None] * len(rows),
            "code": rows["reason"].tolist(),
            "since": listed.dt.date.tolist(),
            "until": act,  # abnormal: the date it would move to the serious list
            "act_from": [None] * len(rows),
            "amount": [None] * len(rows),
            "status": ["listed"] * len(rows),
        },
        len(rows),
    )


def _penalty_repairs(
    repairs: pd.DataFrame | None, as_of: dt.date
) -> tuple[set[tuple[str, str]], set[tuple[str, str]], pd.DataFrame]:
    """Penalty repairs known at ``as_of``, by (uscc, decision_no): those granted and in force,
    those revoked (revocation received by ``as_of``), and the latest refusal or revocation of
    each penalty (columns uscc, decision_no, repair, repair_date, repair_reason)."""
    cols = ["uscc", "decision_no", "repair", "repair_date", "repair_reason"]
    if repairs is None or repairs.empty:
        return set(), set(), pd.DataFrame(columns=cols)
    end = pd.Timestamp(as_of)
    known = _known(repairs, "decided_date", as_of)
    known = known.loc[known["target_table"] == "penalties"]
    granted = known["decision"] == "granted"
    revoked = (
        granted
        & (_d(known["revoked_date"]) <= end)
        & (_d(known["revocation_received_date"]) <= end)
    )
    keys = list(zip(known["uscc"], known["decision_no"], strict=True))
    in_force = {k for k, g, r in zip(keys, granted, revoked, strict=True) if g and not r}
    undone = {k for k, r in zip(keys, revoked, strict=True) if r}
    refused = known.loc[known["decision"] == "refused"]
    gone = known.loc[revoked]
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "uscc": refused["uscc"],
                    "decision_no": refused["decision_no"],
                    "repair": "refused",
                    "repair_date": _d(refused["decided_date"]),
                    "repair_reason": refused["refusal_reason"],
                    "_rank": 0,
                    "_id": refused["repair_id"].astype(str),
                }
            ),
            pd.DataFrame(
                {
                    "uscc": gone["uscc"],
                    "decision_no": gone["decision_no"],
                    "repair": "revoked",
                    "repair_date": _d(gone["revoked_date"]),
                    "repair_reason": gone["revocation_reason"],
                    "_rank": 1,
                    "_id": gone["repair_id"].astype(str),
                }
            ),
        ],
        ignore_index=True,
    )
    latest = (
        events.sort_values(["repair_date", "_rank", "_id"], kind="stable")
        .drop_duplicates(["uscc", "decision_no"], keep="last")
        .loc[:, cols]
    )
    return in_force, undone, latest


def _reapply_from(
    repair: object, when: pd.Timestamp, reason: object, revoked_at: object, rules: RemindRules
) -> dt.date | None:
    """The date from which a penalty refused or revoked may be repaired again, if stated."""
    barred = pd.DateOffset(years=rules.repair_barred_years_after_revocation)
    start: pd.Timestamp
    if repair == "revoked":
        start = when + barred
    elif reason in rules.repair_reapply_months:
        start = when + pd.DateOffset(months=rules.repair_reapply_months[str(reason)])
    elif reason == "barred_after_revocation" and isinstance(revoked_at, pd.Timestamp):
        start = revoked_at + barred
    else:
        return None
    return dt.date(start.year, start.month, start.day)


def penalty_facts(
    firms: pd.DataFrame,
    penalties: pd.DataFrame,
    as_of: dt.date,
    rules: RemindRules,
    repairs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Penalties in their publicity period, not repaired by ``as_of``, that may be repaired.

    Repaired: a granted repair in ``repairs`` (credit_repairs) in force at ``as_of``, or a
    ``repaired_date`` on or before it for a penalty the repair table has no record of.
    A penalty last refused or revoked carries that record; after a revocation, or a refusal
    whose reason ``repair_reapply_months`` names, ``act_from`` is the later of the usual date
    and the date a new application may be made; a refusal for another reason has the status
    ``remedy`` (may apply again once the reason is remedied, no date stated)."""
    end = pd.Timestamp(as_of)
    pen = _known(penalties[penalties["uscc"].isin(firms["uscc"])], "decision_date", as_of)
    in_force, undone, latest = _penalty_repairs(repairs, as_of)
    keys = list(zip(pen["uscc"], pen["decision_no"], strict=True))
    decided = _d(pen["decision_date"])
    # the penalty's own repaired_date counts only where the repair table has no record of it
    # (as features.supervision: a granted repair counts from its decision's receipt)
    recorded: set[tuple[str, str]] = set()
    if repairs is not None and len(repairs):
        r = repairs[repairs["target_table"] == "penalties"]
        recorded = set(zip(r["uscc"].astype(str), r["decision_no"].astype(str), strict=True))
    legacy = (_d(pen["repaired_date"]) <= end) & pd.Series(
        [k not in undone and (str(k[0]), str(k[1])) not in recorded for k in keys],
        index=pen.index,
        dtype=bool,
    )
    repaired = legacy | pd.Series([k in in_force for k in keys], index=pen.index, dtype=bool)
    public = decided > end - pd.DateOffset(years=rules.penalty_publicity_years)
    ok = ~pen["penalty_kind"].isin(rules.not_repairable_kinds)
    pick = pen.loc[~repaired & public & ok]
    if pick.empty:
        return _facts({}, 0)
    pick = pick.merge(latest, on=["uscc", "decision_no"], how="left")
    last_revoked = (
        latest.loc[latest["repair"] == "revoked"]
        .set_index(["uscc", "decision_no"])["repair_date"]
        .to_dict()
    )
    when = _d(pick["decision_date"])
    minor = pick["minor"].eq(True)  # unknown (NA): the longer wait, never a guess of minor
    act: list[dt.date] = []
    status: list[str] = []
    for u, no, d, m, rep, rd, rr in zip(
        pick["uscc"], pick["decision_no"], when, minor, pick["repair"], pick["repair_date"],
        pick["repair_reason"], strict=True,
    ):  # fmt: skip
        wait = rules.repair_wait_months_minor if m else rules.repair_wait_months
        a = (d + pd.DateOffset(months=wait)).date()
        again = (
            _reapply_from(rep, rd, rr, last_revoked.get((u, no)), rules)
            if isinstance(rep, str)
            else None
        )
        a = max(a, again) if again is not None else a
        act.append(a)
        if rep == "refused" and again is None:
            status.append("remedy")
        else:
            status.append("repairable" if a <= as_of else "wait")
    repair_date = _d(pick["repair_date"])
    return _facts(
        {
            "uscc": pick["uscc"].tolist(),
            "kind": ["penalty"] * len(pick),
            "ref": pick["decision_no"].tolist(),
            "code": pick["penalty_kind"].tolist(),
            "since": when.dt.date.tolist(),
            "until": None,
            "act_from": act,
            "amount": pick["amount"].tolist(),
            "status": status,
            "repair": [r if isinstance(r, str) else None for r in pick["repair"]],
            "repair_date": [None if pd.isna(t) else t.date() for t in repair_date],
            "repair_reason": [r if isinstance(r, str) else None for r in pick["repair_reason"]],
        },
        len(pick),
    )


def enforcement_facts(firms: pd.DataFrame, judicial: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Court enforcement records filed and not closed as of ``as_of``."""
    end = pd.Timestamp(as_of)
    jud = _known(judicial[judicial["uscc"].isin(firms["uscc"])], "filed_date", as_of)
    pick = jud.loc[~(_d(jud["closed_date"]) <= end)]
    if pick.empty:
        return _facts({}, 0)
    return _facts(
        {
            "uscc": pick["uscc"].tolist(),
            "kind": ["enforcement"] * len(pick),
            "ref": pick["case_no"].tolist(),
            "code": pick["kind"].tolist(),
            "since": _d(pick["filed_date"]).dt.date.tolist(),
            "until": None,
            "act_from": None,
            "amount": pick["amount"].tolist(),
            "status": ["open"] * len(pick),
        },
        len(pick),
    )


def reminder_facts(
    firms: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    as_of: dt.date,
    rules: RemindRules,
) -> pd.DataFrame:
    """Every fact to remind ``firms`` (operating ones, as `operating` returns) of, sorted by
    enterprise and kind. ``tables``: the contract tables by name; an absent optional table
    (licences, judicial) gives no facts of its kind, never a guess; without credit_repairs,
    penalties are repaired by ``penalties.repaired_date`` alone.

    >>> firms = pd.DataFrame({"uscc": ["X"], "established_date": [dt.date(2020, 1, 1)]})
    >>> reports = pd.DataFrame({"uscc": ["X"], "report_year": [2024],
    ...     "submitted_date": [dt.date(2025, 5, 1)], "received_date": [dt.date(2025, 5, 2)]})
    >>> f = reminder_facts(firms, {"annual_reports": reports}, dt.date(2026, 10, 31), RemindRules())
    >>> f[["kind", "ref", "status"]].values.tolist()
    [['annual_report', '2023', 'overdue'], ['annual_report', '2025', 'overdue']]
    """
    parts = []
    if "annual_reports" in tables:
        parts.append(annual_report_facts(firms, tables["annual_reports"], as_of, rules))
    if "licences" in tables:
        parts.append(licence_facts(firms, tables["licences"], as_of, rules))
    repairs = tables.get("credit_repairs")
    if "abnormal_list" in tables:
        parts.append(
            listing_facts(firms, tables["abnormal_list"], as_of, "abnormal", rules, repairs)
        )
    if "serious_dishonest_list" in tables:
        parts.append(
            listing_facts(firms, tables["serious_dishonest_list"], as_of, "serious", rules, repairs)
        )
    if "penalties" in tables:
        parts.append(
            penalty_facts(firms, tables["penalties"], as_of, rules, tables.get("credit_repairs"))
        )
    if "judicial" in tables:
        parts.append(enforcement_facts(firms, tables["judicial"], as_of))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _facts({}, 0)
    out = pd.concat(parts, ignore_index=True)
    order = {k: i for i, k in enumerate(FACT_KINDS)}
    out["_k"] = out["kind"].map(order)
    out["_r"] = out["ref"].astype(str)
    return (
        out.sort_values(["uscc", "_k", "_r"], kind="stable")
        .drop(columns=["_k", "_r"])
        .reset_index(drop=True)
    )


ACTIVITY_TABLES = {
    "changes": "change_date",
    "licences": "issued_date",
    "pledges": "registered_date",
    "penalties": "decision_date",
    "product_sampling": "sample_date",
    "annual_reports": "submitted_date",
}


def dormant(
    firms: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    as_of: dt.date,
    rule: DormantRule,
    deadline: tuple[int, int] = (6, 30),
) -> pd.DataFrame:
    """Operating ``firms`` that look dormant (休眠) as of ``as_of``: old enough, no annual
    report received for any of the last ``no_report_years`` due years, and no event of
    activity (`ACTIVITY_TABLES`, and inspections that found the firm active) in the last
    ``no_activity_years``. Returns ``uscc, last_report_year, last_activity_date``."""
    end = pd.Timestamp(as_of)
    old = firms.loc[_d(firms["established_date"]) <= end - pd.DateOffset(years=rule.min_age_years)]
    month, day = deadline
    last_due = as_of.year - 1 if (as_of.month, as_of.day) > (month, day) else as_of.year - 2
    due_years = set(range(last_due - rule.no_report_years + 1, last_due + 1))
    reports = tables.get("annual_reports")
    last_report = pd.Series(dtype="float64")
    if reports is not None:
        known = _known(reports, "submitted_date", as_of)
        last_report = known.groupby("uscc")["report_year"].max()
        filed = set(known.loc[known["report_year"].isin(due_years), "uscc"])
        old = old.loc[~old["uscc"].isin(filed)]
    since = end - pd.DateOffset(years=rule.no_activity_years)
    last_seen: list[pd.Series] = []
    for name, col in ACTIVITY_TABLES.items():
        t = tables.get(name)
        if t is None:
            continue
        k = _known(t, col, as_of)
        last_seen.append(_d(k[col]).groupby(k["uscc"]).max())
    insp = tables.get("inspections")
    if insp is not None:
        k = _known(insp, "inspection_date", as_of)
        k = k.loc[k["result"] != "no_relevant_activity"]
        last_seen.append(_d(k["inspection_date"]).groupby(k["uscc"]).max())
    last = pd.concat(last_seen).groupby(level=0).max() if last_seen else pd.Series(dtype="object")
    active = set(last.index[last > since])
    out = old.loc[~old["uscc"].isin(active), ["uscc"]].copy()
    out["last_report_year"] = out["uscc"].map(last_report).astype("Int64")
    out["last_activity_date"] = out["uscc"].map(last).dt.date if len(last) else None
    return out.reset_index(drop=True)
