"""A plain-pandas baseline for the feature benchmark: the same values as the DuckDB
definitions (`features.definitions.CATALOG`) for a representative subset of features, one
month, from the same ingested Parquet files.

Only pandas and numpy compute here (no DuckDB, no polars). Every rule follows the SQL it
mirrors, NULL semantics included:

* point in time: an event record counts only if its event date
  (``contract.tables.TABLES[name].event_date``) and its ``received_date`` are on or before
  the month end;
* population: established by the month end and not deregistered by then, with the address
  and registered capital as known at the month end, rebuilt from ``changes`` exactly like
  ``features.base._as_known``;
* ``fill='zero'`` features are 0 where an enterprise has no record, the others NaN; a
  feature whose optional source table was not delivered is NaN for everyone.

    >>> from benchmarks.pandas_features import pandas_features   # doctest: +SKIP
    >>> pandas_features(Path("data/interim"), "2026-10", cfg)     # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd

from contract.tables import TABLES
from features.config import FeaturesConfig

#: The catalog features this baseline computes, in catalog order.
FEATURES: tuple[str, ...] = (
    # base
    "age_years",
    "registered_capital",
    "paid_in_ratio",
    "revoked",
    # dynamic
    "ar_last_due_missing",
    "ar_missing_years",
    "ar_late_3y",
    "ar_all_zero",
    "ar_revenue_growth",
    "chg_legal_rep_12m",
    "chg_address_12m",
    "chg_total_36m",
    "chg_days_since_last",
    # supervision
    "pen_count_12m",
    "pen_count_36m",
    "pen_amount_36m",
    "pen_days_since_last",
    "abn_listed",
    "abn_count_36m",
    "sd_listed",
    "insp_problems_36m",
    "insp_problem_rate_36m",
    "cmp_count_12m",
    "cmp_growth_12m",
    "rep_refused_36m",
    "rep_revoked_36m",
    "com_broken_36m",
    # relations
    "rel_linked_firms",
    "rel_abnormal_share",
    "rel_penalised_share",
    "addr_firm_count",
    "addr_abnormal_share",
    # social
    "jud_enforcement_open",
    "tax_rating_level",
)

TAX_LEVEL = {"A": 5.0, "B": 4.0, "M": 3.0, "C": 2.0, "D": 1.0}


class _Window:
    """The month end and the dates the definitions need (`features.engine.Window`)."""

    def __init__(
        self, as_of: str, cfg: FeaturesConfig, coverage: dict[str, dt.date] | None = None
    ) -> None:
        m = re.fullmatch(r"(\d{4})-(\d{2})", as_of or "")
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValueError(f"a month is written YYYY-MM, got {as_of!r}")
        self.cfg = cfg
        self._k = int(m.group(1)) * 12 + int(m.group(2)) - 1
        self.end = self.ago(0)
        self.coverage = dict(coverage or {})

    @property
    def first_report_year(self) -> int:
        """The first report year filed wholly inside the annual reports on record (a report
        for Y is filed from 1 January of Y+1); 0 when they are not censored."""
        first = self.coverage.get("annual_reports")
        if first is None:
            return 0
        return first.year - 1 if (first.month, first.day) == (1, 1) else first.year

    def ago(self, months: int) -> pd.Timestamp:
        """The month end ``months`` months before the month end."""
        k = self._k - months + 1  # the first day of the month after
        return pd.Timestamp(dt.date(k // 12, k % 12 + 1, 1) - dt.timedelta(days=1))

    @property
    def last_due_year(self) -> int:
        cfg = self.cfg
        deadline = pd.Timestamp(
            self.end.year, cfg.annual_report_deadline_month, cfg.annual_report_deadline_day
        )
        return self.end.year - 1 if self.end > deadline else self.end.year - 2

    def deadline(self, report_year: int) -> pd.Timestamp:
        cfg = self.cfg
        return pd.Timestamp(
            report_year + 1, cfg.annual_report_deadline_month, cfg.annual_report_deadline_day
        )


def _read(source: Path, table: str, columns: list[str]) -> pd.DataFrame | None:
    """The columns of one ingested table (dates as datetime64); None when not delivered."""
    from pipelines.store import open_table

    snap = open_table(Path(source), table)
    if snap is None:
        if TABLES[table].required:
            raise FileNotFoundError(f"required table {table} is missing from {source}")
        return None
    frame: pd.DataFrame = snap.arrow(columns).to_pandas(date_as_object=False)
    return frame


def _pit(frame: pd.DataFrame, table: str, w: _Window) -> pd.DataFrame:
    """Rows whose event date and received date are both on or before the month end."""
    event = TABLES[table].event_date
    return frame[(frame[event] <= w.end) & (frame["received_date"] <= w.end)]


def _days(since: pd.Series, w: _Window) -> pd.Series:
    return (w.end - since).dt.days.astype(float)


def _as_known(changes: pd.DataFrame, kind: str, w: _Window) -> pd.DataFrame:
    """``known_value`` and ``before_unknown`` per uscc, as `features.base._as_known`.

    The after-value of the latest change known at the month end (ordered by change date,
    received date, after-value; NULLs lowest); the before-value of the earliest change not
    yet known (NULLs highest). ``has_known`` / ``has_before``: whether such a change exists
    (then its value decides, NULL included: an unstated value is unknown).
    """
    c = changes[changes["change_kind"] == kind]
    known = (c["change_date"] <= w.end) & (c["received_date"] <= w.end)
    keys = ["uscc", "change_date", "received_date", "after_value"]
    last = (
        c[known]
        .sort_values(keys, na_position="first")
        .drop_duplicates("uscc", keep="last")
        .set_index("uscc")["after_value"]
    )
    first = (
        c[~known]
        .sort_values(keys, na_position="last")
        .drop_duplicates("uscc", keep="first")
        .set_index("uscc")["before_value"]
    )
    return pd.DataFrame(
        {
            "known_value": last,
            "before_unknown": first,
            "has_known": pd.Series(True, index=last.index),
            "has_before": pd.Series(True, index=first.index),
        }
    )


def _at_month_end(k: pd.DataFrame, registry: pd.Series, numeric: bool) -> pd.Series:
    """The value at the month end: the latest known change's after-value, else the earliest
    unknown change's before-value, else the registry's (`features.base.population`)."""
    known = k["known_value"]
    before = k["before_unknown"]
    if numeric:
        known = pd.to_numeric(known, errors="coerce")
        before = pd.to_numeric(before, errors="coerce")
        out = registry.astype(float)
    else:
        out = registry.astype(object)
    out = out.where(~k["has_before"].eq(True), before)
    return out.where(~k["has_known"].eq(True), known)


def _population(source: Path, changes: pd.DataFrame, w: _Window) -> pd.DataFrame:
    cols = ["uscc", "established_date", "deregistered_date", "revoked_date"]
    ent = _read(
        source, "enterprises", [*cols, "registered_capital", "paid_in_capital", "address_id"]
    )
    assert ent is not None
    alive = (ent["established_date"] <= w.end) & ~(ent["deregistered_date"] <= w.end)
    pop = ent[alive].set_index("uscc").sort_index()
    pop["revoked"] = (pop["revoked_date"] <= w.end).astype(float)
    addr = _as_known(changes, "address", w).reindex(pop.index)
    pop["address_id"] = _at_month_end(addr, pop["address_id"], numeric=False)
    cap = _as_known(changes, "registered_capital", w).reindex(pop.index)
    pop["registered_capital"] = _at_month_end(cap, pop["registered_capital"], numeric=True)
    return pop


def _zero(values: pd.Series, index: pd.Index) -> pd.Series:
    """A count per enterprise, 0 where it has no record (``fill='zero'``); a value left
    unknown by a record (NaN) stays NaN."""
    return values.reindex(index).astype(float).where(index.isin(values.index), 0.0)


def _missing(values: pd.Series, index: pd.Index) -> pd.Series:
    return values.reindex(index).astype(float)


def _base(pop: pd.DataFrame, w: _Window) -> dict[str, pd.Series]:
    cap = pop["registered_capital"]
    return {
        "age_years": _days(pop["established_date"], w) / 365.25,
        "registered_capital": cap.astype(float),
        "paid_in_ratio": (pop["paid_in_capital"] / cap).where(cap > 0),
        "revoked": pop["revoked"],
    }


def _reports(source: Path, pop: pd.DataFrame, w: _Window) -> dict[str, pd.Series]:
    cols = ["uscc", "report_year", "submitted_date", "received_date"]
    ar = _read(
        source, "annual_reports", [*cols, "revenue", "total_assets", "tax_paid", "employees"]
    )
    assert ar is not None
    ar = _pit(ar, "annual_reports", w)
    due = w.last_due_year
    year = ar["report_year"]
    late = sum(
        ((year == y) & (ar["submitted_date"] > w.deadline(y))).astype(int)
        for y in range(due - 2, due + 1)
    )
    per = pd.DataFrame({"uscc": ar["uscc"], "due_year": year.where(year <= due), "late": late})
    agg = per.groupby("uscc", sort=False).agg(
        max_due_year=("due_year", "max"), late_3y=("late", "sum")
    )
    ordered = ar.sort_values(["uscc", "report_year"])
    latest = ordered.drop_duplicates("uscc", keep="last").set_index("uscc")
    prev = ordered.groupby("uscc", sort=False).nth(-2).set_index("uscc")

    idx = pop.index
    est_year = pop["established_date"].dt.year
    owes = est_year <= due
    max_due = agg["max_due_year"].reindex(idx)
    lookback = due - w.cfg.annual_report_lookback_years
    # years filed before the annual reports on record begin are unknown (left-censoring)
    first = w.first_report_year
    owes = owes & (due >= first)
    floor = np.maximum(np.maximum(max_due.fillna(0), est_year - 1), max(lookback, first - 1))
    lt = latest.reindex(idx)
    items = lt[["revenue", "tax_paid", "employees", "total_assets"]].astype(float)
    # three-valued: all four known zeros -> 1; any known non-zero -> 0; otherwise unknown
    zero = pd.Series(
        np.where(
            (items == 0).all(axis=1),
            1.0,
            np.where((items.notna() & (items != 0)).any(axis=1), 0.0, np.nan),
        ),
        index=idx,
    )
    pv = prev.reindex(idx)
    consecutive = (pv["report_year"] == lt["report_year"] - 1) & (pv["revenue"] > 0)
    return {
        "ar_last_due_missing": (max_due != due).astype(float).where(owes),
        "ar_missing_years": (due - floor).astype(float).where(owes),
        "ar_late_3y": _zero(agg["late_3y"], idx),
        "ar_all_zero": zero.where(lt["report_year"].notna()),
        "ar_revenue_growth": ((lt["revenue"] - pv["revenue"]) / pv["revenue"]).where(consecutive),
    }


def _changes(changes: pd.DataFrame, pop: pd.DataFrame, w: _Window) -> dict[str, pd.Series]:
    chg = _pit(changes, "changes", w)
    kind, date = chg["change_kind"], chg["change_date"]
    m12, m36 = w.ago(12), w.ago(36)
    agg = (
        pd.DataFrame(
            {
                "uscc": chg["uscc"],
                "legal_rep_12m": (kind == "legal_representative") & (date > m12),
                "address_12m": (kind == "address") & (date > m12),
                "total_36m": date > m36,
                "last_date": date,
            }
        )
        .groupby("uscc", sort=False)
        .agg(
            legal_rep_12m=("legal_rep_12m", "sum"),
            address_12m=("address_12m", "sum"),
            total_36m=("total_36m", "sum"),
            last_date=("last_date", "max"),
        )
    )
    idx = pop.index
    return {
        "chg_legal_rep_12m": _zero(agg["legal_rep_12m"], idx),
        "chg_address_12m": _zero(agg["address_12m"], idx),
        "chg_total_36m": _zero(agg["total_36m"], idx),
        "chg_days_since_last": _days(agg["last_date"].reindex(idx), w),
    }


def _repairs(source: Path, w: _Window) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """Credit repairs known at the month end: (granted and in force, granted and revoked);
    a revocation counts once its date and the date it was received have passed. None when
    the table was not delivered."""
    cols = [
        "uscc", "target_table", "decision_no", "listing_reason", "listed_date", "decision",
        "decided_date", "received_date", "revoked_date", "revocation_received_date",
    ]  # fmt: skip
    rep = _read(source, "credit_repairs", cols)
    if rep is None:
        return None
    rep = _pit(rep, "credit_repairs", w)
    granted = rep[rep["decision"] == "granted"]
    revoked = (granted["revoked_date"] <= w.end) & (granted["revocation_received_date"] <= w.end)
    return granted[~revoked], granted[revoked]


def _keys(frame: pd.DataFrame, columns: list[str]) -> pd.MultiIndex:
    return pd.MultiIndex.from_frame(frame[columns])


def _effective_penalties(source: Path, w: _Window) -> pd.DataFrame:
    """Penalties known at the month end, in their publication period and not repaired
    (with the credit-repair table: a granted repair in force, or a ``repaired_date`` that
    has passed for a penalty the repair table has no record of)."""
    cols = ["uscc", "decision_no", "decision_date", "received_date", "amount", "minor"]
    pen = _read(source, "penalties", [*cols, "repaired_date", "penalty_kind"])
    assert pen is not None
    pen = _pit(pen, "penalties", w)
    cfg = w.cfg
    minor = pen["minor"].eq(True)  # NULL is not minor (SQL: CASE WHEN NULL -> ELSE)
    since = np.where(
        minor,
        w.ago(cfg.minor_penalty_publication_months),
        w.ago(cfg.penalty_publication_months),
    )
    repaired = (pen["repaired_date"] <= w.end).to_numpy()
    reps = _repairs(source, w)
    if reps is not None:
        key = ["uscc", "decision_no"]
        in_force, _revoked = (r[r["target_table"] == "penalties"] for r in reps)
        mine = _keys(pen, key)
        # the penalty's own repaired_date counts only where the repair table has no record
        everything = _read(source, "credit_repairs", ["uscc", "target_table", "decision_no"])
        assert everything is not None
        recorded = _keys(everything[everything["target_table"] == "penalties"], key)
        repaired = mine.isin(_keys(in_force, key)) | (repaired & ~mine.isin(recorded))
    keep = ~repaired & (pen["decision_date"] > since).to_numpy()
    return pen[keep]


def _listed(source: Path, table: str, w: _Window) -> pd.DataFrame:
    """Listings known at the month end with ``current``: not removed (and received) by then,
    or a repair of it revoked (and received) with none in force."""
    cols = [
        "uscc",
        "reason",
        "listed_date",
        "received_date",
        "removed_date",
        "removal_received_date",
    ]
    lst = _read(source, table, cols)
    assert lst is not None
    lst = _pit(lst, table, w)
    removed = ((lst["removed_date"] <= w.end) & (lst["removal_received_date"] <= w.end)).to_numpy()
    reps = _repairs(source, w)
    if reps is not None:
        in_force, revoked = (
            r[r["target_table"] == table].rename(columns={"listing_reason": "reason"}) for r in reps
        )
        key = ["uscc", "reason", "listed_date"]
        mine = _keys(lst, key)
        back = mine.isin(_keys(revoked, key)) & ~mine.isin(_keys(in_force, key))
        removed = removed & ~back
    return lst.assign(current=(~removed).astype(int))


def _repair_counts(source: Path, idx: pd.Index, w: _Window) -> dict[str, pd.Series]:
    cols = ["uscc", "decision", "decided_date", "received_date", "revoked_date",
            "revocation_received_date"]  # fmt: skip
    rep = _read(source, "credit_repairs", cols)
    if rep is None:
        return {n: pd.Series(np.nan, index=idx) for n in ("rep_refused_36m", "rep_revoked_36m")}
    rep = _pit(rep, "credit_repairs", w)
    m36 = w.ago(36)
    refused = (rep["decision"] == "refused") & (rep["decided_date"] > m36)
    revoked = (
        (rep["decision"] == "granted")
        & (rep["revoked_date"] <= w.end)
        & (rep["revocation_received_date"] <= w.end)
        & (rep["revoked_date"] > m36)
    )
    agg = pd.DataFrame({"uscc": rep["uscc"], "refused": refused, "revoked": revoked})
    agg = agg.groupby("uscc", sort=False).sum()
    return {
        "rep_refused_36m": _zero(agg["refused"], idx),
        "rep_revoked_36m": _zero(agg["revoked"], idx),
    }


def _commitment_counts(source: Path, idx: pd.Index, w: _Window) -> dict[str, pd.Series]:
    cols = ["uscc", "made_date", "received_date", "kept", "assessed_date",
            "assessment_received_date"]  # fmt: skip
    com = _read(source, "commitments", cols)
    if com is None:
        return {"com_broken_36m": pd.Series(np.nan, index=idx)}
    com = _pit(com, "commitments", w)
    assessed = (
        (com["assessed_date"] <= w.end)
        & (com["assessment_received_date"] <= w.end)
        & (com["assessed_date"] > w.ago(36))
    )
    # an assessed commitment whose result is unknown makes the count unknown (sum_strict)
    broken = pd.Series(np.where(assessed, np.where(com["kept"].isna(), np.nan,
                                                   (com["kept"] == False).astype(float)), 0.0),  # noqa: E712
                       index=com.index)  # fmt: skip
    agg = (
        pd.DataFrame({"uscc": com["uscc"], "broken": broken})
        .groupby("uscc", sort=False)["broken"]
        .agg(lambda v: v.sum() if v.notna().all() else np.nan)
    )
    return {"com_broken_36m": _zero(agg, idx)}


def _supervision(
    source: Path, pop: pd.DataFrame, pen: pd.DataFrame, abn: pd.DataFrame, w: _Window
) -> dict[str, pd.Series]:
    idx = pop.index
    m12, m36 = w.ago(12), w.ago(36)
    pen36 = pen[pen["decision_date"] > m36]
    # a warning or suspension has no amount (a true 0); a fine without one: total unknown
    monetary = pen36["penalty_kind"].isin(["fine", "confiscation"])
    fine = pen36["amount"].where(monetary | pen36["amount"].notna(), 0.0)
    pen_agg = (
        pen36.assign(n_12m=pen36["decision_date"] > m12, fine=fine)
        .groupby("uscc", sort=False)
        .agg(
            n_12m=("n_12m", "sum"),
            n_36m=("decision_date", "size"),
            amount_36m=("fine", lambda v: v.sum() if v.notna().all() else np.nan),
            last_date=("decision_date", "max"),
        )
    )
    abn_agg = (
        abn.assign(n_36m=abn["listed_date"] > m36)
        .groupby("uscc", sort=False)
        .agg(listed=("current", "max"), n_36m=("n_36m", "sum"))
    )
    sd = _listed(source, "serious_dishonest_list", w)
    sd_listed = sd.groupby("uscc", sort=False)["current"].max()

    insp = _read(
        source, "inspections", ["uscc", "inspection_date", "received_date", "problem_found"]
    )
    assert insp is not None
    insp = _pit(insp, "inspections", w)
    insp = insp[insp["inspection_date"] > m36]
    insp_agg = (
        insp.assign(problem=insp["problem_found"].eq(True))
        .groupby("uscc", sort=False)
        .agg(n=("inspection_date", "size"), problems=("problem", "sum"))
    )
    n = insp_agg["n"].reindex(idx)
    problems = _zero(insp_agg["problems"], idx)
    out = {
        "pen_count_12m": _zero(pen_agg["n_12m"], idx),
        "pen_count_36m": _zero(pen_agg["n_36m"], idx),
        "pen_amount_36m": _zero(pen_agg["amount_36m"], idx),
        "pen_days_since_last": _days(pen_agg["last_date"].reindex(idx), w),
        "abn_listed": _zero(abn_agg["listed"], idx),
        "abn_count_36m": _zero(abn_agg["n_36m"], idx),
        "sd_listed": _zero(sd_listed, idx),
        "insp_problems_36m": problems,
        "insp_problem_rate_36m": (problems / n).where(n > 0),
    }
    cmp = _read(source, "complaints", ["uscc", "complaint_date", "received_date"])
    if cmp is None:
        out["cmp_count_12m"] = out["cmp_growth_12m"] = pd.Series(np.nan, index=idx)
    else:
        cmp = _pit(cmp, "complaints", w)
        cmp = cmp[cmp["complaint_date"] > w.ago(24)]
        recent = cmp["complaint_date"] > m12
        cmp_agg = (
            pd.DataFrame({"uscc": cmp["uscc"], "n_12m": recent, "n_prev": ~recent})
            .groupby("uscc", sort=False)
            .sum()
        )
        n12, prev = _zero(cmp_agg["n_12m"], idx), _zero(cmp_agg["n_prev"], idx)
        out["cmp_count_12m"] = n12
        out["cmp_growth_12m"] = (n12 - prev) / (prev + 1.0)
    out.update(_repair_counts(source, idx, w))
    out.update(_commitment_counts(source, idx, w))
    return out


def _relations(
    source: Path, pop: pd.DataFrame, pen: pd.DataFrame, abn: pd.DataFrame, w: _Window
) -> dict[str, pd.Series]:
    idx = pop.index
    # the state of every enterprise of the population (`features.supervision._flags`)
    flags = pd.DataFrame(
        {
            "abnormal": idx.isin(abn.loc[abn["current"] == 1, "uscc"]).astype(int),
            "penalised": idx.isin(pen.loc[pen["decision_date"] > w.ago(12), "uscc"]).astype(int),
        },
        index=idx,
    )
    # related: a current person in common, or a current investment or branch link
    cols = ["person_id", "uscc", "from_date", "to_date", "received_date"]
    per = _read(source, "persons", cols)
    assert per is not None
    per = _pit(per, "persons", w)
    per = per[per["uscc"].isin(idx) & ~(per["to_date"] <= w.end)]
    pf = per[["person_id", "uscc"]].drop_duplicates()
    pairs = pf.merge(pf.rename(columns={"uscc": "other"}), on="person_id")[["uscc", "other"]]
    parts = [pairs]
    links = _read(
        source, "enterprise_links", ["uscc", "linked_uscc", "from_date", "to_date", "received_date"]
    )
    if links is not None:
        links = _pit(links, "enterprise_links", w)
        links = links[~(links["to_date"] <= w.end)]
        parts.append(links[["uscc", "linked_uscc"]].set_axis(["uscc", "other"], axis=1))
        parts.append(links[["linked_uscc", "uscc"]].set_axis(["uscc", "other"], axis=1))
    rel = pd.concat(parts, ignore_index=True).drop_duplicates()
    rel = rel[rel["uscc"] != rel["other"]].merge(flags, left_on="other", right_index=True)
    rel_agg = rel.groupby("uscc", sort=False).agg(
        n=("other", "size"), abnormal=("abnormal", "sum"), penalised=("penalised", "sum")
    )
    n = rel_agg["n"].reindex(idx)
    # enterprises of the population registered at the same address
    by_addr = flags["abnormal"].groupby(pop["address_id"])
    addr_n = by_addr.transform("size").astype(float)
    addr_abn = by_addr.transform("sum")
    return {
        "rel_linked_firms": _zero(rel_agg["n"], idx),
        "rel_abnormal_share": (rel_agg["abnormal"].reindex(idx) / n).where(n > 0),
        "rel_penalised_share": (rel_agg["penalised"].reindex(idx) / n).where(n > 0),
        "addr_firm_count": addr_n,
        "addr_abnormal_share": ((addr_abn - flags["abnormal"]) / (addr_n - 1.0)).where(addr_n > 1),
    }


def _social(source: Path, pop: pd.DataFrame, w: _Window) -> dict[str, pd.Series]:
    idx = pop.index
    out = {}
    jud = _read(source, "judicial", ["uscc", "kind", "filed_date", "closed_date", "received_date"])
    if jud is None:
        out["jud_enforcement_open"] = pd.Series(np.nan, index=idx)
    else:
        jud = _pit(jud, "judicial", w)
        open_enf = (jud["kind"] == "enforcement") & ~(jud["closed_date"] <= w.end)
        out["jud_enforcement_open"] = _zero(open_enf.groupby(jud["uscc"], sort=False).sum(), idx)
    soc = _read(source, "social", ["uscc", "indicator", "value", "eval_date", "received_date"])
    if soc is None:
        out["tax_rating_level"] = pd.Series(np.nan, index=idx)
    else:
        soc = _pit(soc, "social", w)
        tax = (
            soc[soc["indicator"] == "tax_credit_rating"]
            .sort_values(
                ["uscc", "eval_date", "received_date", "value"],
                ascending=[True, False, False, True],
                na_position="last",
            )
            .drop_duplicates("uscc", keep="first")
            .set_index("uscc")["value"]
        )
        out["tax_rating_level"] = tax.reindex(idx).map(TAX_LEVEL).astype(float)
    return out


def pandas_features(
    source: Path, as_of: str, cfg: FeaturesConfig, coverage: dict[str, dt.date] | None = None
) -> pd.DataFrame:
    """The `FEATURES` of every enterprise of the population at the end of ``as_of``.

    One row per enterprise, column ``uscc`` first, sorted by uscc, values as float64.
    ``coverage``: the first day each table's records cover (left-censoring).
    """
    source = Path(source)
    w = _Window(as_of, cfg, coverage)
    cols = ["uscc", "change_kind", "change_date", "received_date", "before_value", "after_value"]
    changes = _read(source, "changes", cols)
    assert changes is not None
    pop = _population(source, changes, w)
    pen = _effective_penalties(source, w)
    abn = _listed(source, "abnormal_list", w)
    values = {
        **_base(pop, w),
        **_reports(source, pop, w),
        **_changes(changes, pop, w),
        **_supervision(source, pop, pen, abn, w),
        **_relations(source, pop, pen, abn, w),
        **_social(source, pop, w),
    }
    out = pd.DataFrame({name: values[name] for name in FEATURES}, index=pop.index)
    out.index.name = "uscc"
    return out.reset_index()
