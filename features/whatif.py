"""What would lower the risk: remedies, as changes to an enterprise's own records.

A *remedy* is something an enterprise can lawfully do that changes the records the bureau
holds about it (the contract tables of `contract.tables`), stated as exactly those changes,
dated at the month end (a record filed and received on the last day of the month); each
remedy (and the features it answers):

- ``annual_report`` (``ar_last_due_missing``, ``ar_missing_years``, ``dormant``, ``abn_listed``, ``abn_listed_annual_report``): adds a row to ``annual_reports``
  for every year owed and not filed (from the year of establishment, or the first year the
  records cover, to the latest year past its deadline), submitted and received at the month
  end, with the figures of the latest report filed (unknown when none was); and removes a
  listing on the abnormal list for unfiled reports (补报年报后申请移出经营异常名录:
  ``removal_reason`` report_filed, removed and received at the month end);
- ``abnormal_address`` (``abn_listed``, ``abn_listed_unreachable``): removes a listing for
  being unreachable at the registered address (``reachable``);
- ``abnormal_disclosure`` (``abn_listed``, ``abn_listed_disclosure``): removes a listing for
  false or withheld public information (``corrected``);
- ``licence`` (``lic_lapsed_12m``, ``lic_expiring_3m``, ``lic_unlicensed_sector``): adds a
  renewed licence (``<no>-R``, issued and received at the month end, valid
  `RemedyRules.licence_valid_years` from the old expiry or the month end) of every kind that
  lapsed in the last 12 months without renewal or expires within 3 months (a licence revoked
  or cancelled before its expiry is not renewed);
- ``court`` (``jud_enforcement_open``, ``jud_enforcement_amount``, ``jud_dishonest_debtor``):
  closes every open enforcement case and dishonest-debtor entry (``closed_date`` = month end);
- ``serious_repair`` (``sd_listed``): credit repair of a serious-list entry
  (``removal_reason`` credit_repair), only for one listed at least
  `RemedyRules.serious_repair_months` for a reason in `RemedyRules.serious_repair_reasons`;
- ``penalty_repair`` (``pen_count_36m``): credit repair of a penalty still
  published (``repaired_date`` = month end), only for one decided at least
  `RemedyRules.penalty_repair_months` before the month end, and (with ``credit_repairs``
  delivered) neither repaired there already nor with a revoked repair (no new application
  for three years after a revocation).

Only records the bureau knows at the month end are changed (the point-in-time reading of
`features.engine`); nothing is invented beyond the remedy itself (the figures of a report
filed late are the latest filed ones, or unknown). Other enterprises' records are never
touched. A remedy applies to an enterprise only when it changes at least one of its records
(`targets`), and only the remedies answering an actionable feature among its risk points,
or the features of the override that set its class, are tried (`remedies_for`).

`apply` returns each table's rows for every *scenario* (an enterprise with a set of remedies
applied, under a synthetic key ``<uscc>#<n>``): building the features of those keys with the
same feature SQL re-scores them exactly (`pipelines.whatif`). `HELD_BLOCKS` names the blocks
whose values for an enterprise depend on other enterprises' records (industry and county
context, related parties, shared addresses): a build over a few enterprises cannot compute
them, and a remedy does not change them for the enterprise itself (each leaves the enterprise
out), so they are taken from the month's feature file (`held_features`).

>>> [r.key for r in REMEDIES]
['annual_report', 'abnormal_address', 'abnormal_disclosure', 'licence', 'court', 'serious_repair', 'penalty_repair']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalog import Feature
from features.engine import Window, block_aliases

#: Blocks whose value for one enterprise reads other enterprises' records (leave-one-out
#: context, related parties, shared addresses, persons' other firms): held fixed.
HELD_BLOCKS = frozenset({"ctx", "flags", "act", "per", "rel", "addr", "lnk"})

#: Separates an enterprise's code from its scenario number in a synthetic key.
KEY_SEP = "#"


@dataclass(frozen=True)
class RemedyRules:
    """When the rules allow a remedy (configs/model.yaml ``whatif``)."""

    #: a serious-list entry may be repaired after this many months listed
    serious_repair_months: int = 12
    serious_repair_reasons: tuple[str, ...] = ("abnormal_3y", "major_violation")
    #: a published penalty may be repaired this many months after its decision
    penalty_repair_months: int = 12
    #: a renewed licence's validity
    licence_valid_years: int = 5


@dataclass(frozen=True)
class Remedy:
    """One remedy: its key, the action in words, and the features it answers."""

    key: str
    zh: str
    en: str
    features: tuple[str, ...]
    tables: tuple[str, ...]


REMEDIES: tuple[Remedy, ...] = (
    Remedy(
        "annual_report",
        "补报年度报告",
        "file the missing annual reports",
        (
            "ar_last_due_missing",
            "ar_missing_years",
            "dormant",
            "abn_listed",
            "abn_listed_annual_report",
        ),
        ("annual_reports", "abnormal_list"),
    ),
    Remedy(
        "abnormal_address",
        "办理住所变更登记或恢复联系后申请移出经营异常名录",
        "become reachable at the registered address and leave the abnormal list",
        ("abn_listed", "abn_listed_unreachable"),
        ("abnormal_list",),
    ),
    Remedy(
        "abnormal_disclosure",
        "更正公示信息后申请移出经营异常名录",
        "correct the public information and leave the abnormal list",
        ("abn_listed", "abn_listed_disclosure"),
        ("abnormal_list",),
    ),
    Remedy(
        "licence",
        "办理许可证延续",
        "renew the licence",
        ("lic_lapsed_12m", "lic_expiring_3m", "lic_unlicensed_sector"),
        ("licences",),
    ),
    Remedy(
        "court",
        "履行生效法律文书确定的义务、结清执行案件",
        "meet the court's judgment and settle the enforcement cases",
        ("jud_enforcement_open", "jud_enforcement_amount", "jud_dishonest_debtor"),
        ("judicial",),
    ),
    Remedy(
        "serious_repair",
        "申请严重违法失信名单信用修复",
        "obtain credit repair of the serious-dishonesty listing",
        ("sd_listed",),
        ("serious_dishonest_list",),
    ),
    Remedy(
        "penalty_repair",
        "申请行政处罚信息信用修复",
        "obtain credit repair of the published penalties",
        # only penalties decided penalty_repair_months (12) or more ago can be repaired: never
        # one a 12-month count holds, so pen_count_12m is not a risk point this remedy answers
        ("pen_count_36m",),
        ("penalties",),
    ),
)
BY_KEY = {r.key: r for r in REMEDIES}

_ABN_REASONS = {
    "annual_report": (("annual_report",), "report_filed"),
    "abnormal_address": (("unreachable",), "reachable"),
    "abnormal_disclosure": (("concealment", "instant_info"), "corrected"),
}


def held_features(catalog: Iterable[Feature]) -> list[str]:
    """The features whose value reads other enterprises' records (`HELD_BLOCKS`)."""
    return [f.name for f in catalog if block_aliases(f.sql) & HELD_BLOCKS]


def remedies_for(features: Iterable[str]) -> list[str]:
    """The remedies (keys, in `REMEDIES` order) answering any of ``features``."""
    wanted = set(features)
    return [r.key for r in REMEDIES if wanted & set(r.features)]


def synthetic_key(uscc: str, n: int) -> str:
    """The key of scenario ``n`` of an enterprise.

    >>> synthetic_key("91440101MA59XXXXXX", 2)
    '91440101MA59XXXXXX#2'
    """
    return f"{uscc}{KEY_SEP}{n}"


# ------------------------------------------------------------------ dates
def _d(s: pd.Series) -> pd.Series:
    """A date column as datetime64 (NaT where missing)."""
    return pd.to_datetime(s, errors="coerce")


def _known(t: pd.DataFrame, event: str, end: pd.Timestamp) -> pd.Series:
    return (_d(t[event]) <= end) & (_d(t["received_date"]) <= end)


def _current_listing(t: pd.DataFrame, end: pd.Timestamp) -> pd.Series:
    removed = (_d(t["removed_date"]) <= end) & (_d(t["removal_received_date"]) <= end)
    return _known(t, "listed_date", end) & ~removed


def _months_before(end: dt.date, months: int) -> pd.Timestamp:
    k = end.year * 12 + end.month - 1 - months
    y, m = divmod(k, 12)
    first_next = dt.date(y + (m + 1) // 12, (m + 1) % 12 + 1, 1)
    return pd.Timestamp(first_next - dt.timedelta(days=1))


# ------------------------------------------------------------------ targets
@dataclass(frozen=True)
class Targets:
    """What each remedy would change, per enterprise: ``records`` (uscc -> number of records
    added or changed) and ``detail`` (uscc -> the years filed, for annual reports)."""

    records: dict[str, dict[str, int]]
    detail: dict[str, dict[str, str]]


def _owed_years(t: Mapping[str, pd.DataFrame], w: Window) -> dict[str, list[int]]:
    """Per enterprise: the report years owed and not filed at the month end."""
    end = pd.Timestamp(w.end_date)
    reg = t["enterprises"]
    est = _d(reg["established_date"])
    ok = est.notna() & (est <= end)
    first = np.maximum(est[ok].dt.year.to_numpy(), w.first_report_year)
    starts = dict(zip(reg.loc[ok, "uscc"], first, strict=True))
    ar = t.get("annual_reports")
    filed: dict[str, set[int]] = {}
    if ar is not None and len(ar):
        known = ar[_known(ar, "submitted_date", end)]
        for u, years in known.groupby("uscc", sort=False)["report_year"]:
            filed[str(u)] = {int(y) for y in years}
    due = w.last_due_year
    out: dict[str, list[int]] = {}
    for u, s in starts.items():
        years = [y for y in range(int(s), due + 1) if y not in filed.get(str(u), set())]
        if years:
            out[str(u)] = years
    return out


def _lapsed_licences(lic: pd.DataFrame, end: pd.Timestamp, w: Window) -> pd.DataFrame:
    """Per (uscc, kind) the latest licence known at the month end, where the kind lapsed in the
    last 12 months without renewal or expires within 3 months, and was not revoked."""
    if lic is None or not len(lic):
        return pd.DataFrame(columns=["uscc", "licence_kind", "licence_no", "valid_until"])
    k = lic[_known(lic, "issued_date", end)].copy()
    k["_until"] = _d(k["valid_until"])
    gone = (_d(k["revoked_date"]) <= end) | (_d(k["cancelled_date"]) <= end)
    k["_valid"] = (k["_until"] >= end) & ~gone
    revoked_early = (_d(k["revoked_date"]) <= k["_until"]) | (
        _d(k["cancelled_date"]) <= k["_until"]
    )
    ago12, ahead3 = _months_before(w.end_date, 12), _months_before(w.end_date, -3)
    k["_lapsed"] = (k["_until"] < end) & (k["_until"] > ago12) & ~revoked_early
    k["_valid_until"] = k["_until"].where(k["_valid"])
    g = k.groupby(["uscc", "licence_kind"], sort=True)
    state = g.agg(valid=("_valid", "max"), lapsed=("_lapsed", "max"), last=("_valid_until", "max"))
    # as the feature SQL: a kind expires when its latest valid licence does
    state["expiring"] = state["last"].notna() & (state["last"] <= ahead3)
    need = state[(state["lapsed"] & ~state["valid"]) | state["expiring"]].reset_index()
    latest = (
        k.sort_values(["uscc", "licence_kind", "_until", "licence_no"])
        .groupby(["uscc", "licence_kind"], sort=True)
        .tail(1)[["uscc", "licence_kind", "licence_no", "valid_until"]]
    )
    return need[["uscc", "licence_kind"]].merge(latest, on=["uscc", "licence_kind"])


def _penalty_repairs(rep: pd.DataFrame, end: pd.Timestamp) -> tuple[pd.MultiIndex, pd.MultiIndex]:
    """(uscc, decision_no) of penalties with a granted repair in force at the month end, and
    of those with a granted repair whose revocation is known by then."""
    known = rep[
        _known(rep, "decided_date", end)
        & (rep["decision"] == "granted")
        & (rep["target_table"] == "penalties")
    ]
    revoked = (_d(known["revoked_date"]) <= end) & (_d(known["revocation_received_date"]) <= end)

    def keys(frame: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(frame[["uscc", "decision_no"]].astype(str))

    return keys(known[~revoked]), keys(known[revoked])


def _rows(t: Mapping[str, pd.DataFrame], key: str, w: Window, rules: RemedyRules) -> pd.Series:
    """For a remedy that changes existing rows: which rows of its table it changes."""
    end = pd.Timestamp(w.end_date)
    if key in _ABN_REASONS:
        a = t["abnormal_list"]
        return _current_listing(a, end) & a["reason"].isin(_ABN_REASONS[key][0])
    if key == "court":
        j = t["judicial"]
        open_ = j["closed_date"].isna() | (_d(j["closed_date"]) > end)
        return (
            _known(j, "filed_date", end)
            & open_
            & j["kind"].isin(["enforcement", "dishonest_debtor"])
        )
    if key == "serious_repair":
        s = t["serious_dishonest_list"]
        long = _d(s["listed_date"]) <= _months_before(w.end_date, rules.serious_repair_months)
        return _current_listing(s, end) & long & s["reason"].isin(rules.serious_repair_reasons)
    if key == "penalty_repair":
        p = t["penalties"]
        decided = _d(p["decision_date"])
        minor = p["minor"].fillna(False).astype(bool)
        major_from = _months_before(w.end_date, w.cfg.penalty_publication_months)
        minor_from = _months_before(w.end_date, w.cfg.minor_penalty_publication_months)
        published = decided > pd.Series(major_from, index=p.index).where(~minor, minor_from)
        unrepaired = p["repaired_date"].isna() | (_d(p["repaired_date"]) > end)
        if "credit_repairs" in t and len(t["credit_repairs"]) and len(p):
            # as features.supervision: a granted repair in force means repaired; a revoked
            # one bars a new application (撤销后三年内不予受理), so neither is a remedy left
            in_force, revoked = _penalty_repairs(t["credit_repairs"], end)
            mine = pd.MultiIndex.from_frame(p[["uscc", "decision_no"]].astype(str))
            r = t["credit_repairs"]
            r = r[r["target_table"] == "penalties"]
            known = pd.MultiIndex.from_frame(r[["uscc", "decision_no"]].astype(str))
            # the penalty's own repaired_date counts only where the repair table has no record
            unrepaired = (
                (unrepaired | mine.isin(known)) & ~mine.isin(in_force) & ~mine.isin(revoked)
            )
        old = decided <= _months_before(w.end_date, rules.penalty_repair_months)
        return _known(p, "decision_date", end) & unrepaired & published & old
    raise KeyError(key)


_TABLE_OF = {
    "annual_report": "abnormal_list",
    "abnormal_address": "abnormal_list",
    "abnormal_disclosure": "abnormal_list",
    "court": "judicial",
    "serious_repair": "serious_dishonest_list",
    "penalty_repair": "penalties",
}


def targets(t: Mapping[str, pd.DataFrame], w: Window, rules: RemedyRules) -> Targets:
    """What every remedy would change for the enterprises of ``t`` (their own records only,
    every contract table restricted to them; a table not delivered is absent from ``t``)."""
    end = pd.Timestamp(w.end_date)
    records: dict[str, dict[str, int]] = {r.key: {} for r in REMEDIES}
    detail: dict[str, dict[str, str]] = {r.key: {} for r in REMEDIES}
    if "annual_reports" in t:
        for u, years in _owed_years(t, w).items():
            records["annual_report"][u] = len(years)
            detail["annual_report"][u] = ",".join(map(str, years))
    if "licences" in t:
        lapsed = _lapsed_licences(t["licences"], end, w)
        for u, n in lapsed.groupby("uscc", sort=False).size().items():
            records["licence"][str(u)] = int(n)
    for key, table in _TABLE_OF.items():
        if table not in t or not len(t[table]):
            continue
        if key == "annual_report" and "annual_reports" not in t:
            continue
        hit = t[table][_rows(t, key, w, rules).fillna(False).to_numpy(dtype=bool)]
        for u, n in hit.groupby("uscc", sort=False).size().items():
            records[key][str(u)] = records[key].get(str(u), 0) + int(n)
    return Targets(records, detail)


# ------------------------------------------------------------------ scenarios
def apply(
    t: Mapping[str, pd.DataFrame],
    scenarios: pd.DataFrame,
    w: Window,
    rules: RemedyRules,
) -> dict[str, pd.DataFrame]:
    """Every table's rows for every scenario.

    ``scenarios`` has ``key`` (the synthetic key), ``uscc`` and one boolean column per remedy
    key (applied or not). Each table of ``t`` (restricted to the scenarios' enterprises)
    comes back with every enterprise's rows once per scenario under its key, with the
    scenario's remedies applied: rows changed in place, rows added (`REMEDIES` says which).
    """
    end = pd.Timestamp(w.end_date)
    end_date = w.end_date
    out: dict[str, pd.DataFrame] = {}
    keys = scenarios[["key", "uscc"]]
    on_of = scenarios.set_index("key")
    for table, frame in t.items():
        rows = frame.reset_index(drop=True)
        changed = {
            key: _rows({**t, table: rows}, key, w, rules).fillna(False).to_numpy(dtype=bool)
            for key, tab in _TABLE_OF.items()
            if tab == table and key in scenarios.columns
        }
        rows["_row"] = np.arange(len(rows))
        copies = rows.merge(keys, on="uscc", how="inner", sort=False)
        for key, mask in changed.items():
            on = on_of[key].reindex(copies["key"]).to_numpy(dtype=bool)
            hit = on & mask[copies["_row"].to_numpy()]
            if hit.any():
                copies = _change(copies, table, key, hit, end_date)
        copies = copies.drop(columns=["_row"])
        added = _added(t, table, scenarios, w, rules, end)
        if added is not None and len(added):
            copies = pd.concat(
                [copies.astype(object), added.reindex(columns=copies.columns).astype(object)],
                ignore_index=True,
            )
        copies["uscc"] = copies.pop("key")
        out[table] = copies[list(frame.columns)]
    return out


def _change(
    copies: pd.DataFrame, table: str, key: str, hit: np.ndarray, end: dt.date
) -> pd.DataFrame:
    copies = copies.copy()
    idx = copies.index[hit]
    if table in ("abnormal_list", "serious_dishonest_list"):
        reason = _ABN_REASONS[key][1] if key in _ABN_REASONS else "credit_repair"
        copies["removed_date"] = copies["removed_date"].astype(object)
        copies["removal_received_date"] = copies["removal_received_date"].astype(object)
        copies["removal_reason"] = copies["removal_reason"].astype(object)
        copies.loc[idx, "removed_date"] = end
        copies.loc[idx, "removal_received_date"] = end
        copies.loc[idx, "removal_reason"] = reason
    elif table == "judicial":
        copies["closed_date"] = copies["closed_date"].astype(object)
        copies.loc[idx, "closed_date"] = end
    elif table == "penalties":
        copies["repaired_date"] = copies["repaired_date"].astype(object)
        copies.loc[idx, "repaired_date"] = end
    return copies


def _added(
    t: Mapping[str, pd.DataFrame],
    table: str,
    scenarios: pd.DataFrame,
    w: Window,
    rules: RemedyRules,
    end: pd.Timestamp,
) -> pd.DataFrame | None:
    """Rows a scenario adds to ``table`` (with its ``key``): reports filed, licences renewed."""
    end_date = w.end_date
    if table == "annual_reports" and "annual_report" in scenarios.columns:
        on = scenarios[scenarios["annual_report"]]
        owed = _owed_years(t, w)
        ar = t["annual_reports"]
        known = ar[_known(ar, "submitted_date", end)]
        latest = known.sort_values(["uscc", "report_year"]).groupby("uscc", sort=False).tail(1)
        figures = [
            c
            for c in (
                "employees",
                "revenue",
                "total_assets",
                "tax_paid",
                "net_profit",
                "social_insurance_count",
            )
            if c in latest.columns
        ]
        pairs = [
            (key, u, y)
            for key, u in zip(on["key"], on["uscc"], strict=True)
            for y in owed.get(str(u), [])
        ]
        if not pairs:
            return None
        rows = pd.DataFrame(pairs, columns=["key", "uscc", "report_year"])
        rows["submitted_date"] = end_date
        rows["received_date"] = end_date
        return rows.merge(latest[["uscc", *figures]], on="uscc", how="left")
    if table == "credit_repairs" and "penalty_repair" in scenarios.columns and "penalties" in t:
        # with the repair table, a penalty is repaired by a granted repair received (the
        # penalty's own repaired_date counts only where the table has no record of it): the
        # remedy is that record, decided and received at the month end
        on = scenarios[scenarios["penalty_repair"]]
        pen = t["penalties"]
        due = pen.loc[_rows(t, "penalty_repair", w, rules).fillna(False).to_numpy(dtype=bool)]
        if not len(on) or not len(due):
            return None
        add = on[["key", "uscc"]].merge(due[["uscc", "decision_no"]], on="uscc")
        add["repair_id"] = "WHATIF-" + add["decision_no"].astype(str)
        add["target_table"] = "penalties"
        add["decision"] = "granted"
        for c in ("applied_date", "decided_date", "received_date"):
            add[c] = end_date
        return add
    if table == "licences" and "licence" in scenarios.columns:
        on = scenarios[scenarios["licence"]]
        lapsed = _lapsed_licences(t["licences"], end, w)
        if not len(lapsed) or not len(on):
            return None
        add = on[["key", "uscc"]].merge(lapsed, on="uscc")
        until = pd.to_datetime(add["valid_until"], errors="coerce")
        base = until.where(until > end, end)
        add["licence_no"] = add["licence_no"].astype(str) + "-R"
        add["issued_date"] = end_date
        add["valid_until"] = [
            _add_years(d.date(), rules.licence_valid_years) for d in base.fillna(end)
        ]
        add["revoked_date"] = None
        add["cancelled_date"] = None
        add["received_date"] = end_date
        return add
    return None


def _add_years(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)
