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
all its items, batch, inspectors; and ``plan.json`` with the seed, campaign, scheme, model
version and the counts per stratum. Internal to the bureau, like the classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from contract.months import month_end, parse_month
from models.classes import ClassScheme
from models.sampling import Campaign, PlanError, assign_inspectors, draw, rates_for, rng_for
from pipelines.io import write_csv, write_json, write_xlsx
from pipelines.paths import Outputs, table

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
    "inspectors",
]


@dataclass
class PlanRun:
    plan: pd.DataFrame
    folder: Path
    summary: dict[str, Any]


def population(as_of: str, outputs: Path, interim: Path, campaign: Campaign) -> pd.DataFrame:
    """Enterprises that may be drawn, with their class, tags and whether they are excluded."""
    parse_month(as_of)
    path = Outputs(Path(outputs)).classes(as_of)
    if not path.is_file():
        raise PlanError(
            f"plan: no classes for {as_of} ({path}); run `riskclass classify --as-of {as_of}`"
        )
    classes = pq.read_table(path, columns=["uscc", "class_final", "scheme"]).to_pandas()
    reg_path = table(interim, "enterprises")
    if not reg_path.is_file():
        raise PlanError(f"plan: table enterprises not found at {reg_path}; run ingest")
    reg = pq.read_table(
        reg_path, columns=["uscc", "name", "division_code", "status", "sector_tags"]
    ).to_pandas()
    pop = classes.merge(reg, on="uscc", how="left", validate="one_to_one")
    end = pd.Timestamp(month_end(*parse_month(as_of)))
    recent = pd.Series(False, index=pop.index)
    insp_path = table(interim, "inspections")
    if campaign.exclude_inspected_months and insp_path.is_file():
        insp = pq.read_table(
            insp_path, columns=["uscc", "inspection_date", "received_date"]
        ).to_pandas()
        since = end - pd.DateOffset(months=campaign.exclude_inspected_months)
        seen = insp[
            (pd.to_datetime(insp["inspection_date"]) > since)
            & (pd.to_datetime(insp["inspection_date"]) <= end)
            & (pd.to_datetime(insp["received_date"]) <= end)
        ]
        recent = pop["uscc"].isin(set(seen["uscc"]))
    always = pop["class_final"].isin(campaign.always_draw)
    return pd.DataFrame(
        {
            "uscc": pop["uscc"],
            "class": pop["class_final"],
            "name": pop["name"],
            "division": pop["division_code"].fillna(""),
            "tags": pop["sector_tags"]
            .fillna("")
            .map(lambda s: tuple(t for t in s.split(";") if t)),
            "excluded": (recent & ~always) | (pop["status"] != "operating"),
            "recent": recent,
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
) -> PlanRun:
    """Draw the plan of ``campaign`` for ``as_of`` with the published ``seed`` (see the module
    doc); ``roster``: inspectors to assign (CSV), none when not given."""
    pop = population(as_of, outputs, interim, campaign)
    minimum = {c.code: c.min_sampling_rate for c in scheme.classes}
    rates = rates_for(campaign, minimum)
    rng = rng_for(seed, as_of, campaign.name)
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
    labels = {i.code: i.zh for i in campaign.items}
    info = pop.set_index("uscc")
    plan_id = f"{campaign.name}-{as_of}-{seed}"
    plan = plan.assign(
        plan_id=plan_id,
        item_zh=plan["item"].map(labels),
        name=plan["uscc"].map(info["name"]),
        division_code=plan["uscc"].map(info["division"]),
        stratum=plan["item"] + "/" + plan["class"],
    )[COLUMNS]
    where = Outputs(Path(outputs))
    folder = where.plan(as_of, campaign.name)
    folder.mkdir(parents=True, exist_ok=True)
    # formula-safe: an enterprise named "=HYPERLINK(...)" must not run in Excel. Feedback
    # reads plan.csv back and links by plan_id, uscc, item and class codes, never by name;
    # only plan_id (from the campaign's name) could carry the apostrophe, read_plan undoes it
    write_csv(plan, where.plan_csv(as_of, campaign.name), encoding="utf-8-sig")
    write_xlsx(plan, where.plan_xlsx(as_of, campaign.name), sheet_name="plan")
    strata = plan.drop_duplicates("stratum").set_index("stratum")
    summary = {
        "plan_id": plan_id,
        "month": as_of,
        "campaign": campaign.name,
        "seed": seed,
        "scheme": scheme.name,
        "mode": campaign.mode,
        "rates": rates,
        "enterprises": len(pop),
        "excluded": int(pop["excluded"].sum()),
        "inspections": int(plan["uscc"].nunique()),
        "rows": len(plan),
        "strata": {
            s: {
                "size": int(r["stratum_size"]),
                "drawn": int(r["drawn"]),
                "inclusion_probability": float(r["inclusion_probability"]),
            }
            for s, r in strata.iterrows()
        },
        "redraw": f"riskclass plan --as-of {as_of} --campaign <this campaign> --seed {seed}",
    }
    write_json(summary, where.plan_json(as_of, campaign.name))
    return PlanRun(plan, folder, summary)


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
