"""A chunk's output: the contract tables, the hidden truth and the summary counts.

`_Tables` is a mixin of `simulator.engine._Chunk`: `finish` turns the event log and the
state into Arrow tables in the contract's column order (dropping records the bureau had
not received by the export date, drawing their received dates), the truth tables that
only evaluation reads, and `ChunkStats`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from contract.tables import SIMULATED, TABLES
from simulator import codes, mix
from simulator.calendar import NULL_DAY
from simulator.config import RISK_CLASSES
from simulator.eventlog import Column, _arrow
from simulator.population import ENTITY_DIGIT, ENTITY_TYPES, organisation_new_style
from simulator.repairs import _Repairs
from simulator.state import F64, I64, B

#: Tables `simulator.repairs` grows from the others once they are built.
_GROWN = ("credit_repairs", "commitments")

# The dates on which a record stops being in force, for the tables that hold registers
# rather than one-off events; a record of the warm-up is delivered while in force.
_ENDS = {
    "persons": ("to_date",),
    "enterprise_links": ("to_date",),
    "licences": ("valid_until", "revoked_date", "cancelled_date"),
    "abnormal_list": ("removed_date",),
    "serious_dishonest_list": ("removed_date",),
    "judicial": ("closed_date",),
    "pledges": ("released_date",),
}


@dataclass
class ChunkStats:
    """Small aggregates the summary needs, summed over chunks."""

    window_months: list[str]
    class_counts: I64  # (window months, 4)
    alive: I64  # firms alive per window month
    dr_by_class: I64  # double-random inspections per class
    dr_hits_by_class: I64  # ... with a problem found
    year_inspected: dict[int, int] = field(default_factory=dict)  # distinct firms, double-random
    year_alive: dict[int, int] = field(default_factory=dict)  # distinct firms alive
    oracle_p: F64 = field(default_factory=lambda: np.empty(0))
    oracle_y: B = field(default_factory=lambda: np.empty(0, dtype=bool))

    def merge(self, other: ChunkStats) -> ChunkStats:
        years = set(self.year_alive) | set(other.year_alive)
        return ChunkStats(
            window_months=self.window_months,
            class_counts=self.class_counts + other.class_counts,
            alive=self.alive + other.alive,
            dr_by_class=self.dr_by_class + other.dr_by_class,
            dr_hits_by_class=self.dr_hits_by_class + other.dr_hits_by_class,
            year_inspected={
                y: self.year_inspected.get(y, 0) + other.year_inspected.get(y, 0) for y in years
            },
            year_alive={y: self.year_alive.get(y, 0) + other.year_alive.get(y, 0) for y in years},
            oracle_p=np.concatenate([self.oracle_p, other.oracle_p]),
            oracle_y=np.concatenate([self.oracle_y, other.oracle_y]),
        )


@dataclass
class ChunkResult:
    tables: dict[str, pa.Table]
    truth: dict[str, pa.Table]
    stats: ChunkStats


class _Tables(_Repairs):
    """The chunk's tables, truth and statistics once every month has run."""

    def finish(self) -> ChunkResult:
        tables = {name: self._table(name) for name in SIMULATED if name not in _GROWN}
        # repairs and commitments grow from the other tables, their draws last
        self._repairs_and_commitments(tables)
        tables = {name: tables[name] for name in SIMULATED}
        truth = self._truth(tables)
        stats = ChunkStats(
            window_months=self.cal.window_labels(),
            class_counts=self.class_counts,
            alive=self.alive_counts,
            dr_by_class=self.dr_n,
            dr_hits_by_class=self.dr_hits,
            year_inspected={y: len(s) for y, s in self.inspected_years.items()},
            year_alive={y: int(a.sum()) for y, a in self.alive_years.items()},
            oracle_p=self._oracle[0],
            oracle_y=self._oracle[1],
        )
        return ChunkResult(tables=tables, truth=truth, stats=stats)

    def _enterprises(self) -> dict[str, object]:
        pop = self.pop
        new_style = organisation_new_style(pop.established)
        uscc = codes.make_uscc(pop.global_index, pop.division, ENTITY_DIGIT[pop.entity], new_style)
        self.uscc = uscc
        has_reg_no = ~new_style & (pop.entity != 1)
        reg_no = np.where(has_reg_no, codes.make_reg_no(pop.global_index, pop.division), None)  # type: ignore[call-overload]
        status = np.where(
            self.dereg_day <= self.end_day,
            "deregistered",
            np.where(self.revoked_day <= self.end_day, "revoked", "operating"),
        )
        emp = np.where(
            self.dormant | (pop.entity == 1) & (self.rng.random(self.n) < 0.4),
            np.nan,
            pop.employees,
        )
        return {
            "uscc": uscc,
            "name": np.array(self.name, dtype=object),
            "reg_no": reg_no,
            "entity_type": np.array(ENTITY_TYPES)[pop.entity],
            "legal_form": pop.legal_form,
            "industry_code": np.array(mix.industries().code)[pop.industry_idx],
            "division_code": pop.division.astype(str),
            "established_date": pop.established,
            "deregistered_date": np.where(self.dereg_day <= self.end_day, self.dereg_day, NULL_DAY),
            "revoked_date": np.where(self.revoked_day <= self.end_day, self.revoked_day, NULL_DAY),
            "status": status,
            "registered_capital": self.capital,
            "paid_in_capital": pop.paid_in,
            "employees": emp,
            "address_id": self._address_ids(self.address),
            "sector_tags": np.array([t if t else None for t in pop.tags], dtype=object),
        }

    def _table(self, name: str) -> pa.Table:
        spec = TABLES[name]
        if name == "enterprises":
            cols: dict[str, object] = self._enterprises()
            keep = np.ones(self.n, dtype=bool)
        else:
            raw = self.log.columns(name)
            cols, keep = self._event_columns(name, raw)
        arrays = [
            _arrow(
                np.asarray(cols[c.name])[keep] if len(keep) else np.asarray(cols[c.name]), c.dtype
            )
            for c in spec.columns
        ]
        if name == "inspections":
            self._inspection_truth(keep)
        return pa.Table.from_arrays(arrays, names=list(spec.column_names))

    def _event_columns(self, name: str, raw: dict[str, Column]) -> tuple[dict[str, object], B]:
        spec = TABLES[name]
        if not raw:
            empty: dict[str, object] = {
                c.name: np.empty(0, dtype=object if c.dtype == "string" else float)
                for c in spec.columns
            }
            return empty, np.empty(0, dtype=bool)
        firm = raw.pop("firm")
        cols: dict[str, object] = {"uscc": self.uscc[firm]}
        if "linked" in raw:
            cols["linked_uscc"] = self.uscc[raw.pop("linked")]
        if "person" in raw:
            salt = self.seed * 1_000_003
            person = raw.pop("person") + self.id_base * 10
            cols["person_id"] = codes.make_person_ids(person, salt)
        for key, values in raw.items():
            cols[key.replace("_day", "_date") if key.endswith("_day") else key] = values
        for key in ("complaint_id", "sample_id"):
            if key in cols:
                prefix = "TS" if key == "complaint_id" else "CJ"
                cols[key] = np.array(
                    [f"{prefix}{i + self.id_base:014d}" for i in np.asarray(cols[key])]
                )
        if "substantiated" in cols:
            cols["substantiated"] = np.asarray(cols["substantiated"], dtype=float)
        assert spec.event_date is not None  # every table but enterprises is an event table
        event = np.asarray(cols[spec.event_date], dtype=np.int64)
        received = self._received(name, event)
        # records received after the export date are not in the export
        keep = (received <= self.end_day) & (event <= self.end_day)
        # the warm-up is not delivered: a record dated before the data start is delivered
        # only when it is still in force then (an open listing, a licence, a role ...)
        in_force = np.ones(len(event), dtype=bool)
        for end_col in _ENDS.get(name, ()):
            if end_col in cols:
                d = np.asarray(cols[end_col], dtype=np.int64)
                in_force &= (d == NULL_DAY) | (d >= self.cal.data_start)
        keep &= (event >= self.cal.data_start) | (name in _ENDS and in_force)
        cols["received_date"] = received
        for col in spec.columns:
            if col.dtype == "date" and col.name in cols and col.nullable:
                d = np.asarray(cols[col.name], dtype=np.int64)
                cols[col.name] = np.where(d > self.end_day, NULL_DAY, d)
        if "removed_date" in cols:
            removed = np.asarray(cols["removed_date"], dtype=np.int64)
            rec = np.where(
                removed == NULL_DAY,
                NULL_DAY,
                self._received(name, np.where(removed == NULL_DAY, 0, removed)),
            )
            known = (rec != NULL_DAY) & (rec <= self.end_day)
            cols["removed_date"] = np.where(known, removed, NULL_DAY)
            cols["removal_received_date"] = np.where(known, rec, NULL_DAY)
            reason = np.asarray(cols["removal_reason"], dtype=object)
            cols["removal_reason"] = np.where(known, reason, None)  # type: ignore[call-overload]
        return cols, keep

    def _inspection_truth(self, keep: B) -> None:
        rows = (
            np.concatenate(self.insp_truth_rows)
            if self.insp_truth_rows
            else np.empty(0, dtype=np.int64)
        )
        p = np.concatenate(self.insp_truth_p) if self.insp_truth_p else np.empty(0)
        z = np.concatenate(self.insp_truth_z) if self.insp_truth_z else np.empty(0)
        order = np.argsort(rows)
        self._insp_p = p[order][keep]
        self._insp_z = z[order][keep]

        def cat(parts: list[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
            return np.concatenate(parts)[order][keep] if parts else np.empty(0, dtype=dtype)

        self._insp_present = cat(self.insp_truth_present, bool)
        self._insp_detected = cat(self.insp_truth_detected, bool)
        self._insp_inspector = cat(self.insp_truth_inspector, np.int64)

    def _truth(self, tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
        insp = tables["inspections"]
        dr = np.asarray(insp["draw_mode"].to_numpy(zero_copy_only=False) == "double_random")
        in_window = np.asarray(
            insp["inspection_date"].to_numpy(zero_copy_only=False)
        ) >= np.datetime64(int(self.cal.start[self.cal.burn_in]), "D")
        found = np.asarray(insp["problem_found"].to_numpy(zero_copy_only=False), dtype=bool)
        sel = dr & in_window
        self._oracle = (self._insp_p[sel], found[sel])
        inspections = pa.table(
            {
                "inspection_id": insp["inspection_id"],
                "uscc": insp["uscc"],
                "p_problem": pa.array(self._insp_p.astype(np.float32)),
                "latent_risk": pa.array(self._insp_z.astype(np.float32)),
                # the true state: a problem was there, and the inspector saw it (or not)
                "problem_present": pa.array(self._insp_present),
                "detected": pa.array(self._insp_detected & self._insp_present),
                "inspector": pa.array([f"INS{i:08d}" for i in self._insp_inspector]),
            }
        )
        live = ~np.isnan(self.truth_p)
        firm, w = np.nonzero(live)
        labels = np.array(self.cal.window_labels())
        months = pa.table(
            {
                "uscc": pa.array(self.uscc[firm]),
                "month": pa.array(labels[w]),
                "latent_risk": pa.array(self.truth_z[firm, w]),
                "p_problem": pa.array(self.truth_p[firm, w]),
                "p_present": pa.array(self.truth_present[firm, w]),
                "dormant": pa.array(self.truth_dormant[firm, w]),
                "legacy_class": pa.array(np.array(RISK_CLASSES)[self.truth_class[firm, w]]),
            }
        )
        pop = self.pop
        enterprises = pa.table(
            {
                "uscc": pa.array(self.uscc),
                "z_base": pa.array(pop.z_base.astype(np.float32)),
                "shell": pa.array(pop.shell),
                "shell_cluster": pa.array(
                    np.where(pop.shell_cluster >= 0, pop.shell_cluster + pop.global_index[0], -1)
                ),
                "cluster_address": pa.array(pop.cluster_address),
                "dormant_at_end": pa.array(self.dormant),
            }
        )
        return {"enterprise_months": months, "enterprises": enterprises, "inspections": inspections}
