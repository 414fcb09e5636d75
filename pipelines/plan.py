"""Stage `plan`: the double-random inspection list of a month, for the platform.

Population: every enterprise classified for the month (``outputs/<month>/classes.parquet``)
that is still operating in the registry; enterprises inspected within the campaign's
``exclude_inspected_months`` (any inspection received by the month end) are not drawn again
unless their class is in ``always_draw``. The draw (`models.sampling`) is seeded by the
published seed, the month and the campaign name only.

Writes ``outputs/<month>/plans/<campaign>/``: ``plan.csv`` (UTF-8 with BOM, which Excel and
the platforms' importers read) and ``plan.xlsx``, both formula-safe (`pipelines.io`: text a
spreadsheet would run, such as a name starting with ``=``, gets a leading apostrophe), with
one row per (item, enterprise): plan id, item code and name, USCC, name, division, class at
draw, stratum, stratum size, drawn, inclusion probability, the enterprise's probability over
all its items, batch, draw mode, trigger, how the enterprise was selected, check mode,
department(s), inspectors; ``due.csv`` (formula-safe), the enterprises in scope due a visit
under their class's yearly frequency (`models.sampling.due`) and whether the plan draws
them; and ``plan.json`` with the seed, campaign, scheme, scope, strata, frequencies, check
modes, trigger and the counts per stratum. Internal to the bureau, like the classes.

A county planning for itself (``division``) gets the campaign limited to its division and
drawn with strata by division; its plan is ``<campaign>-<division>``. A targeted campaign
(``mode: targeted``) lists the enterprises of a file of USCCs or those whose month's
features match its rule (`models.classes.holds`); nothing is drawn at random.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from contract.months import month_end, parse_month
from models.classes import ClassScheme, SchemeError, holds
from models.sampling import (
    Campaign,
    PlanError,
    assign_inspectors,
    draw,
    due,
    rates_for,
    rng_for,
    targeted,
    visits,
)
from pipelines import store
from pipelines.io import write_csv, write_json, write_xlsx
from pipelines.paths import Outputs, features_file
from pipelines.updates import current, read_updates

COLUMNS = [
    "plan_id",
    "item",
    "item_zh",
    "uscc",
    "name",
    "division_code",
    "class",
    "stratum",
    "stratum_size",
    "drawn",
    "inclusion_probability",
    "enterprise_probability",
    "batch",
    "draw_mode",
    "trigger",
    "selected_by",
    "check_mode",
    "department",
    "departments",
    "inspectors",
]
#: due.csv: who is due a visit under the class's yearly frequency
DUE_COLUMNS = [
    "uscc",
    "name",
    "division_code",
    "class",
    "visits_per_year",
    "visits_expected",
    "inspections_12m",
    "in_plan",
]


@dataclass
class PlanRun:
    plan: pd.DataFrame
    folder: Path
    summary: dict[str, Any]


def county(campaign: Campaign, division: str) -> Campaign:
    """The campaign a county (or city: a prefix) draws for itself: its division only, strata by
    division, named ``<campaign>-<division>``."""
    if not re.fullmatch(r"\d{2}(\d{2}){0,2}", division):
        raise PlanError(f"plan: division {division!r} is not a GB/T 2260 code or prefix")
    if campaign.divisions and not any(division.startswith(d) for d in campaign.divisions):
        raise PlanError(
            f"plan: division {division} is outside campaign {campaign.name}'s divisions "
            f"({', '.join(campaign.divisions)}) [rule: a county plans within the campaign's scope]"
        )
    strata = tuple(dict.fromkeys((*campaign.strata, "division")))
    return Campaign.model_validate(
        {
            **campaign.model_dump(),
            "name": f"{campaign.name}-{division}",
            "divisions": (division,),
            "strata": strata,
        }
    )


def population(
    as_of: str,
    outputs: Path,
    interim: Path,
    campaign: Campaign,
    visits_per_year: Mapping[str, int | None] | None = None,
) -> pd.DataFrame:
    """Enterprises in the campaign's scope that may be drawn, with their class, tags, whether
    they are excluded, their inspections of the last 12 months and whether they are due."""
    parse_month(as_of)
    path = Outputs(Path(outputs)).classes(as_of)
    if not path.is_file():
        raise PlanError(
            f"plan: no classes for {as_of} ({path}); run `riskclass classify --as-of {as_of}`"
        )
    have = set(pq.read_schema(path).names)
    cols = [
        "uscc",
        "class_final",
        "scheme",
        *(["override_rule"] if "override_rule" in have else []),
    ]
    # the classes in force on the day the plan is drawn: with the month's within-month updates
    classes = current(
        pq.read_table(path, columns=cols).to_pandas(), read_updates(Path(outputs), as_of)
    )[["uscc", "class_final", "scheme"]]
    registry = store.open_table(interim, "enterprises")
    if registry is None:
        raise PlanError(f"plan: table enterprises not found in {interim}; run ingest")
    wanted = ["uscc", "name", "division_code", "industry_code", "established_date"]
    wanted += ["status", "sector_tags"]
    present = set(registry.schema().names)
    reg = registry.pandas([c for c in wanted if c in present])
    # a registry without these (older deliveries): no industry scope possible, and every
    # enterprise counted as existing all of the last 12 months
    for optional in ("industry_code", "established_date"):
        if optional not in reg.columns:
            if optional == "industry_code" and campaign.industries:
                raise PlanError(
                    f"plan: table enterprises ({interim}) has no column industry_code "
                    f"[rule: industries scope of campaign {campaign.name}]"
                )
            reg[optional] = None
    pop = classes.merge(reg, on="uscc", how="left", validate="one_to_one")
    pop = pop[campaign.in_scope(pop["division_code"], pop["industry_code"])]
    pop = pop.reset_index(drop=True)
    if pop.empty:
        raise PlanError(
            f"plan: campaign {campaign.name}: no enterprise classified for {as_of} is in its "
            f"scope (divisions {list(campaign.divisions) or 'all'}, industries "
            f"{list(campaign.industries) or 'all'})"
        )
    end = pd.Timestamp(month_end(*parse_month(as_of)))
    recent = pd.Series(False, index=pop.index)
    count = pd.Series(0, index=pop.index)
    insp_table = store.open_table(interim, "inspections")
    if insp_table is not None:
        insp = insp_table.pandas(["uscc", "inspection_date", "received_date"])
        when = pd.to_datetime(insp["inspection_date"])
        known = insp[(when <= end) & (pd.to_datetime(insp["received_date"]) <= end)]
        when = pd.to_datetime(known["inspection_date"])
        if campaign.exclude_inspected_months:
            since = end - pd.DateOffset(months=campaign.exclude_inspected_months)
            recent = pop["uscc"].isin(set(known.loc[when > since, "uscc"]))
        year = known[when > end - pd.DateOffset(months=12)]
        count = pop["uscc"].map(year["uscc"].value_counts()).fillna(0).astype("int64")
    # pro rata: the part of the last 12 months the enterprise existed (unknown: all of it)
    est = pd.to_datetime(pop["established_date"])
    start = est.where(est > end - pd.DateOffset(months=12), end - pd.DateOffset(months=12))
    months = ((end - start).dt.days / (365.25 / 12)).clip(0, 12).fillna(12.0)
    frame = due(
        pd.DataFrame(
            {"class": pop["class_final"], "inspections_12m": count, "months_active": months}
        ),
        visits_per_year or {},
    )
    operating = pop["status"] == "operating"
    is_due = frame["due"] & operating
    always = pop["class_final"].isin(campaign.always_draw)
    # a firm due a visit is drawn again, whenever it was last inspected, when the plan takes
    # the due in
    keep = always | (is_due & campaign.include_due)
    return pd.DataFrame(
        {
            "uscc": pop["uscc"],
            "class": pop["class_final"],
            "name": pop["name"],
            "division": pop["division_code"].fillna(""),
            "industry": pop["industry_code"].fillna(""),
            "tags": pop["sector_tags"]
            .fillna("")
            .map(lambda s: tuple(t for t in s.split(";") if t)),
            "excluded": (recent & ~keep) | ~operating,
            "recent": recent,
            "inspections_12m": count,
            "months_active": months.round(1),
            "visits_per_year": frame["visits_per_year"],
            "visits_expected": frame["visits_expected"],
            "due": is_due,
        }
    )


def run_plan(
    as_of: str,
    campaign: Campaign,
    scheme: ClassScheme,
    seed: int,
    outputs: Path,
    interim: Path,
    roster: Path | None = None,
    *,
    division: str | None = None,
    features: Path | None = None,
    targets: Path | None = None,
) -> PlanRun:
    """Draw the plan of ``campaign`` for ``as_of`` with the published ``seed`` (see the module
    doc); ``roster``: inspectors to assign (CSV), none when not given; ``division``: a county
    planning for itself; ``features``: the features folder (a targeted campaign's rule);
    ``targets``: the file of USCCs of a targeted campaign (default its ``enterprises_file``)."""
    if division:
        campaign = county(campaign, division)
    frequency = {c.code: c.visits_per_year for c in scheme.classes}
    check_modes = {c.code: c.check_mode for c in scheme.classes}
    pop = population(as_of, outputs, interim, campaign, frequency)
    rng = rng_for(seed, as_of, campaign.name)
    rates: dict[str, float] = {}
    selection: dict[str, Any] = {}
    if campaign.mode == "targeted":
        selected, selection = _selected(pop, campaign, as_of, features, targets)
        plan = targeted(pop.assign(selected=selected), campaign, selection["selected_by"])
    else:
        minimum = {c.code: c.min_sampling_rate for c in scheme.classes}
        rates = rates_for(campaign, minimum)
        plan = draw(pop, campaign, rates, rng)
    if roster is not None:
        plan = assign_inspectors(
            plan,
            dict(zip(pop["uscc"], pop["division"], strict=True)),
            read_roster(roster),
            campaign,
            rng,
        )
    else:
        plan["inspectors"] = ""
    plan = visits(plan, campaign, check_modes)
    labels = {i.code: i.zh for i in campaign.items}
    info = pop.set_index("uscc")
    plan_id = f"{campaign.name}-{as_of}-{seed}"
    plan = plan.assign(
        plan_id=plan_id,
        item_zh=plan["item"].map(labels),
        name=plan["uscc"].map(info["name"]),
        division_code=plan["uscc"].map(info["division"]),
    )[COLUMNS]
    where = Outputs(Path(outputs))
    folder = where.plan(as_of, campaign.name)
    folder.mkdir(parents=True, exist_ok=True)
    # formula-safe: an enterprise named "=HYPERLINK(...)" must not run in Excel. Feedback
    # reads plan.csv back and links by plan_id, uscc, item and class codes, never by name;
    # only plan_id (from the campaign's name) could carry the apostrophe, read_plan undoes it
    write_csv(plan, where.plan_csv(as_of, campaign.name), encoding="utf-8-sig")
    write_xlsx(plan, where.plan_xlsx(as_of, campaign.name), sheet_name="plan")
    due_firms = pop[pop["due"]].rename(columns={"division": "division_code"})
    due_firms = due_firms.assign(in_plan=due_firms["uscc"].isin(set(plan["uscc"])))[DUE_COLUMNS]
    write_csv(due_firms, folder / "due.csv", encoding="utf-8-sig")
    strata = plan.drop_duplicates("stratum").set_index("stratum")
    firms = plan.drop_duplicates("uscc")
    summary = {
        "plan_id": plan_id,
        "month": as_of,
        "campaign": campaign.name,
        "seed": seed,
        "scheme": scheme.name,
        "mode": campaign.mode,
        "draw_mode": "targeted" if campaign.mode == "targeted" else "double_random",
        "trigger": campaign.trigger,
        "scope": {
            "divisions": list(campaign.divisions),
            "industries": list(campaign.industries),
        },
        "strata_by": list(campaign.strata),
        "rates": rates,
        "frequencies": {c: v for c, v in frequency.items() if v},
        "check_modes": {c: m or "on_site" for c, m in check_modes.items()},
        "include_due": campaign.include_due,
        "due": {
            "enterprises": len(due_firms),
            "in_plan": int(due_firms["in_plan"].sum()),
            "by_class": {str(k): int(v) for k, v in due_firms["class"].value_counts().items()},
        },
        "selection": selection,
        "enterprises": len(pop),
        "excluded": int(pop["excluded"].sum()),
        "inspections": int(plan["uscc"].nunique()),
        "rows": len(plan),
        "visits_by_check_mode": {
            str(k): int(v) for k, v in firms["check_mode"].value_counts().items()
        },
        "departments": sorted({i.department for i in campaign.items}),
        "strata": {
            s: {
                "size": int(r["stratum_size"]),
                "drawn": int(r["drawn"]),
                "inclusion_probability": (
                    None
                    if pd.isna(r["inclusion_probability"])
                    else float(r["inclusion_probability"])
                ),
            }
            for s, r in strata.iterrows()
        },
        "redraw": f"riskclass plan --as-of {as_of} --campaign <this campaign> --seed {seed}"
        + (f" --division {division}" if division else ""),
    }
    write_json(summary, where.plan_json(as_of, campaign.name))
    return PlanRun(plan, folder, summary)


def _selected(
    pop: pd.DataFrame,
    campaign: Campaign,
    as_of: str,
    features: Path | None,
    targets: Path | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Who a targeted campaign lists: its file of USCCs or its rule over the month's features,
    and what happened to them (listed, not in scope or not classified, not operating)."""
    if campaign.rule:
        if features is None:
            raise PlanError(f"plan: campaign {campaign.name} has a rule: give the features folder")
        path = features_file(features, as_of)
        if not path.is_file():
            raise PlanError(f"plan: campaign {campaign.name}: no features for {as_of} ({path})")
        wanted = sorted({c.feature for c in campaign.rule})
        names = set(pq.read_schema(path).names)
        missing = [f for f in wanted if f not in names]
        if missing:
            raise PlanError(
                f"plan: campaign {campaign.name}, rule: {path} has no column(s) "
                f"{', '.join(missing)} [rule: feature of the month]"
            )
        feats = pq.read_table(path, columns=["uscc", *wanted]).to_pandas()
        hit = np.ones(len(feats), dtype=bool)
        for cond in campaign.rule:
            try:
                hit &= holds(feats[cond.feature], cond, f"campaign {campaign.name}, rule")
            except SchemeError as exc:
                raise PlanError(f"plan: {exc}") from None
        chosen = set(feats.loc[hit, "uscc"])
        text = " AND ".join(f"{c.feature} {c.op} {c.value}" for c in campaign.rule)
        selected_by = f"rule: {text}"
    else:
        path = Path(targets or campaign.enterprises_file or "")
        chosen = set(read_targets(path))
        selected_by = f"list: {path.name}"
    selected = pop["uscc"].isin(chosen).to_numpy()
    operating = ~pop["excluded"].to_numpy()
    return selected, {
        "selected_by": selected_by,
        "selected": len(chosen),
        "not_in_scope_or_not_classified": len(chosen - set(pop["uscc"])),
        "not_operating_or_excluded": int((selected & ~operating).sum()),
    }


def read_targets(path: Path) -> list[str]:
    """A targeted campaign's enterprises: a CSV with a ``uscc`` column, or one USCC a line."""
    if not Path(path).is_file():
        raise PlanError(f"plan: targets file {path} not found")
    text = Path(path).read_text(encoding="utf-8-sig")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines and "," in lines[0]:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if "uscc" not in frame.columns:
            raise PlanError(f"plan: targets file {path} lacks the column uscc")
        lines = [u.strip() for u in frame["uscc"] if u.strip()]
    elif lines and lines[0].lower() == "uscc":
        lines = lines[1:]
    bad = [u for u in lines if not re.fullmatch(r"[0-9A-Z]{18}", u.upper())]
    if bad:
        raise PlanError(
            f"plan: targets file {path}, column uscc: {bad[0]!r} is not an 18-character USCC"
        )
    return [u.upper() for u in lines]


def read_roster(path: Path) -> pd.DataFrame:
    """inspector_id, name, unit, conflicts (USCCs separated by ``;``)."""
    if not Path(path).is_file():
        raise PlanError(f"plan: roster {path} not found")
    r = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"inspector_id", "unit"} - set(r.columns)
    if missing:
        raise PlanError(f"plan: roster {path} lacks column(s) {', '.join(sorted(missing))}")
    if r["inspector_id"].duplicated().any():
        dup = r.loc[r["inspector_id"].duplicated(), "inspector_id"].iloc[0]
        raise PlanError(f"plan: roster {path}, column inspector_id: {dup} appears twice")
    conflicts = r["conflicts"] if "conflicts" in r.columns else pd.Series("", index=r.index)
    return r.assign(conflicts=conflicts.map(lambda s: tuple(u for u in s.split(";") if u)))
