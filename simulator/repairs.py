"""Credit repairs and credit commitments (seeds/003), grown from a chunk's exported records.

`_Repairs` is a mixin of `simulator.engine._Chunk`, called by `simulator.tables._Tables.finish`
after every other table is built (its draws come last, so the rest of the province is the same
with or without it):

* every penalty the events repaired becomes a granted repair record (decided on the day the
  events repaired it, received after the ``credit_repairs`` lag); ``penalties.repaired_date``
  is then left empty unless ``repairs.repaired_date_on_penalty`` (a bureau that exports
  repairs as their own table);
* every serious-list removal by credit repair and a share of the abnormal-list removals by the
  enterprise's own remedy become granted repairs of the listing, delivered with the removal;
* a share of the published penalties and of the current serious listings get a refused
  application (riskier firms apply while still ineligible more often), with a reason drawn from
  ``repairs.refusal_reasons``;
* a few granted repairs are revoked later (riskier firms more often), and the revocation is
  delivered after its own lag: the record repaired counts again (features.supervision);
* commitments: one per repair application (信用修复承诺), a share of licences granted by
  notification and commitment (告知承诺制), a share of registrations in the window, and
  voluntary public ones of food producers; each is assessed after a while (kept or broken,
  broken with a probability rising with the firm's risk as the records show it), and a broken
  repair commitment is a revoked repair's reason.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from contract.tables import TABLES
from simulator.calendar import NULL_DAY
from simulator.eventlog import _arrow
from simulator.state import F64, I64, B, _ChunkState, _sigmoid


def _days(t: pa.Table, col: str) -> I64:
    arr = t[col].cast(pa.int32()).to_numpy(zero_copy_only=False)
    out = np.asarray(arr, dtype=np.float64)
    return np.where(np.isnan(out), NULL_DAY, out).astype(np.int64)


def _strings(t: pa.Table, col: str) -> npt.NDArray[np.object_]:
    return np.asarray(t[col].to_numpy(zero_copy_only=False), dtype=object)


def _table(name: str, cols: dict[str, Any]) -> pa.Table:
    spec = TABLES[name]
    return pa.Table.from_arrays(
        [_arrow(np.asarray(cols[c.name]), c.dtype) for c in spec.columns],
        names=list(spec.column_names),
    )


class _Repairs(_ChunkState):
    """Repair and commitment records of a chunk, from its other tables."""

    #: the chunk's USCCs by firm (set by `simulator.tables._Tables._enterprises`)
    uscc: npt.NDArray[Any]

    def _firm_of(self, uscc: npt.NDArray[np.object_]) -> I64:
        index = {u: i for i, u in enumerate(self.uscc)}
        return np.array([index[u] for u in uscc], dtype=np.int64)

    def _pick(self, weights: dict[str, float], n: int) -> npt.NDArray[np.object_]:
        codes = list(weights)
        p = np.array([weights[c] for c in codes], dtype=np.float64)
        return np.asarray(
            np.array(codes, dtype=object)[self.rng.choice(len(codes), n, p=p / p.sum())]
        )

    def _uniform(self, lo: I64 | int, hi: I64 | int, n: int) -> I64:
        lo_a = np.broadcast_to(np.asarray(lo, dtype=np.int64), (n,))
        hi_a = np.broadcast_to(np.asarray(hi, dtype=np.int64), (n,))
        step = np.floor(self.rng.random(n) * (np.maximum(hi_a - lo_a, 0) + 1)).astype(np.int64)
        out: I64 = lo_a + step
        return out

    def _repairs_and_commitments(self, tables: dict[str, pa.Table]) -> None:
        """Replace ``tables``' credit_repairs, commitments and (repaired dates of) penalties."""
        rc = self.cfg.repairs
        end = self.end_day
        risk: F64 = self.zo()
        parts: list[dict[str, Any]] = []

        # ---------------------------------------------------------------- penalties
        pen = tables["penalties"]
        p_uscc = _strings(pen, "uscc")
        p_no = _strings(pen, "decision_no")
        p_day = _days(pen, "decision_date")
        p_rep = _days(pen, "repaired_date")
        p_minor = np.asarray(pen["minor"].to_numpy(zero_copy_only=False), dtype=bool)
        p_firm = self._firm_of(p_uscc)
        granted = p_rep != NULL_DAY
        g = np.flatnonzero(granted)
        parts.append(
            {
                "uscc": p_uscc[g],
                "target_table": np.full(len(g), "penalties", dtype=object),
                "decision_no": p_no[g],
                "listing_reason": np.full(len(g), None, dtype=object),
                "listed_day": np.full(len(g), NULL_DAY, dtype=np.int64),
                "decided_day": p_rep[g],
                "applied_day": np.maximum(p_day[g], p_rep[g] - self._uniform(15, 60, len(g))),
                "decision": np.full(len(g), "granted", dtype=object),
                "firm": p_firm[g],
                "received_day": np.full(len(g), NULL_DAY, dtype=np.int64),
            }
        )
        # refused applications: published, not repaired, not minor; risk raises the odds
        cand = np.flatnonzero(~granted & ~p_minor & (p_day <= end - 90))
        odds = rc.penalty_refused_share * 2 * _sigmoid(risk[p_firm[cand]])
        r = cand[self.rng.random(len(cand)) < odds]
        applied = p_day[r] + self._uniform(90, 700, len(r))
        parts.append(
            {
                "uscc": p_uscc[r],
                "target_table": np.full(len(r), "penalties", dtype=object),
                "decision_no": p_no[r],
                "listing_reason": np.full(len(r), None, dtype=object),
                "listed_day": np.full(len(r), NULL_DAY, dtype=np.int64),
                "applied_day": applied,
                "decided_day": applied + self._uniform(10, 40, len(r)),
                "decision": np.full(len(r), "refused", dtype=object),
                "firm": p_firm[r],
                "received_day": np.full(len(r), NULL_DAY, dtype=np.int64),
            }
        )
        if not rc.repaired_date_on_penalty:
            tables["penalties"] = pen.set_column(
                pen.schema.get_field_index("repaired_date"),
                "repaired_date",
                pa.nulls(pen.num_rows, pa.date32()),
            )

        # ---------------------------------------------------------------- listings
        for name, reasons, share in (
            ("serious_dishonest_list", ("credit_repair",), 1.0),
            (
                "abnormal_list",
                ("report_filed", "corrected", "reachable"),
                rc.abnormal_recorded_share,
            ),
        ):
            t = tables[name]
            l_uscc = _strings(t, "uscc")
            l_reason = _strings(t, "reason")
            l_day = _days(t, "listed_date")
            removed = _days(t, "removed_date")
            rec = _days(t, "removal_received_date")
            why = _strings(t, "removal_reason")
            l_firm = self._firm_of(l_uscc)
            g = np.flatnonzero(np.isin(why, reasons) & (self.rng.random(len(why)) < share))
            parts.append(
                {
                    "uscc": l_uscc[g],
                    "target_table": np.full(len(g), name, dtype=object),
                    "decision_no": np.full(len(g), None, dtype=object),
                    "listing_reason": l_reason[g],
                    "listed_day": l_day[g],
                    "decided_day": removed[g],
                    "applied_day": np.maximum(l_day[g], removed[g] - self._uniform(5, 30, len(g))),
                    "decision": np.full(len(g), "granted", dtype=object),
                    "firm": l_firm[g],
                    # delivered with the removal
                    "received_day": rec[g],
                }
            )
            if name == "serious_dishonest_list":
                cand = np.flatnonzero((removed == NULL_DAY) & (l_day <= end - 180))
                odds = rc.serious_refused_share * 2 * _sigmoid(risk[l_firm[cand]])
                r = cand[self.rng.random(len(cand)) < odds]
                applied = l_day[r] + self._uniform(180, 900, len(r))
                parts.append(
                    {
                        "uscc": l_uscc[r],
                        "target_table": np.full(len(r), name, dtype=object),
                        "decision_no": np.full(len(r), None, dtype=object),
                        "listing_reason": l_reason[r],
                        "listed_day": l_day[r],
                        "applied_day": applied,
                        "decided_day": applied + self._uniform(10, 40, len(r)),
                        "decision": np.full(len(r), "refused", dtype=object),
                        "firm": l_firm[r],
                        "received_day": np.full(len(r), NULL_DAY, dtype=np.int64),
                    }
                )

        cols = {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}
        n = len(cols["uscc"])
        rec_given = cols["received_day"].astype(np.int64)
        decided = cols["decided_day"].astype(np.int64)
        applied = cols["applied_day"].astype(np.int64)
        received = np.where(
            rec_given != NULL_DAY, rec_given, self._received("credit_repairs", decided)
        )
        decision = cols["decision"].astype(object)
        refused = decision == "refused"
        refusal = np.where(refused, self._pick(rc.refusal_reasons, n), None)  # type: ignore[call-overload]
        firm = cols["firm"].astype(np.int64)
        # revocations: a few granted repairs, riskier firms more often
        odds = rc.revoked_share * 2 * _sigmoid(risk[firm]) if n else np.empty(0)
        revoke = ~refused & (self.rng.random(n) < odds)
        revoked = np.where(revoke, decided + self._uniform(30, 540, n), NULL_DAY)
        rev_rec = np.where(
            revoke, self._received("credit_repairs", np.where(revoke, revoked, 0)), NULL_DAY
        )
        rev_known = revoke & (rev_rec <= end)
        rev_reason = np.where(rev_known, self._pick(rc.revocation_reasons, n), None)  # type: ignore[call-overload]
        keep = (received <= end) & (decided >= self.cal.data_start) & (decided <= end)
        # within the firm's life (no decision about a firm deregistered before it)
        keep &= (decided >= self.pop.established[firm]) & (decided <= self.dereg_day[firm])
        ids = np.arange(n, dtype=np.int64) + self.id_base
        repairs = {
            "repair_id": np.array([f"XF{i:014d}" for i in ids], dtype=object),
            "uscc": cols["uscc"],
            "target_table": cols["target_table"],
            "decision_no": cols["decision_no"],
            "listing_reason": cols["listing_reason"],
            "listed_date": cols["listed_day"].astype(np.int64),
            "applied_date": applied,
            "decision": decision,
            "refusal_reason": refusal,
            "decided_date": decided,
            "received_date": received,
            "revoked_date": np.where(rev_known, revoked, NULL_DAY),
            "revocation_reason": rev_reason,
            "revocation_received_date": np.where(rev_known, rev_rec, NULL_DAY),
        }
        repairs = {k: np.asarray(v)[keep] for k, v in repairs.items()}
        tables["credit_repairs"] = _table("credit_repairs", repairs)
        tables["commitments"] = self._commitments(tables, repairs, risk)

    def _commitments(
        self, tables: dict[str, pa.Table], repairs: dict[str, Any], risk: F64
    ) -> pa.Table:
        cc = self.cfg.commitments
        end = self.end_day
        kinds: list[npt.NDArray[np.object_]] = []
        firms: list[I64] = []
        made: list[I64] = []
        broken_forced: list[B] = []
        # one 信用修复承诺 per repair application; a repair revoked for a broken commitment
        # breaks it (assessed on the revocation)
        rep_firm = self._firm_of(np.asarray(repairs["uscc"], dtype=object))
        kinds.append(np.full(len(rep_firm), "credit_repair", dtype=object))
        firms.append(rep_firm)
        made.append(np.asarray(repairs["applied_date"], dtype=np.int64))
        broken_forced.append(np.asarray(repairs["revocation_reason"] == "commitment_broken"))
        # 告知承诺制: a share of licences granted on a commitment
        lic = tables["licences"]
        pick = self.rng.random(lic.num_rows) < cc.notification_share
        issued = _days(lic, "issued_date")[pick]
        kinds.append(np.full(len(issued), "notification_approval", dtype=object))
        firms.append(self._firm_of(_strings(lic, "uscc")[pick]))
        made.append(issued - self._uniform(0, 20, len(issued)))
        broken_forced.append(np.zeros(len(issued), dtype=bool))
        # registration commitments of firms established in the window
        ent = tables["enterprises"]
        est = _days(ent, "established_date")
        pick = (est >= self.cal.data_start) & (
            self.rng.random(ent.num_rows) < cc.registration_share
        )
        kinds.append(np.full(int(pick.sum()), "registration", dtype=object))
        firms.append(self._firm_of(_strings(ent, "uscc")[pick]))
        made.append(est[pick])
        broken_forced.append(np.zeros(int(pick.sum()), dtype=bool))
        # voluntary public commitments of food producers, about once every few years
        food = np.array(["food_production" in (t or "") for t in self.pop.tags], dtype=bool)
        years = max((end - self.cal.data_start) / 365.25, 0.0)
        count = self.rng.poisson(cc.voluntary_yearly_food * years, self.n) * food
        vf = np.repeat(np.arange(self.n, dtype=np.int64), count)
        first = np.maximum(self.pop.established[vf], self.cal.data_start)
        kinds.append(np.full(len(vf), "voluntary", dtype=object))
        firms.append(vf)
        made.append(self._uniform(first, end, len(vf)))
        broken_forced.append(np.zeros(len(vf), dtype=bool))

        kind = np.concatenate(kinds)
        firm = np.concatenate(firms)
        day = np.concatenate(made)
        forced = np.concatenate(broken_forced)
        day = np.maximum(day, self.pop.established[firm])  # not before the firm exists
        n = len(kind)
        received = self._received("commitments", day)
        assessed = day + self._uniform(cc.assess_min_days, cc.assess_max_days, n)
        p_broken = _sigmoid(cc.broken_intercept + cc.broken_slope * risk[firm])
        kept = ~(forced | (self.rng.random(n) < p_broken))
        a_rec = self._received("commitments", assessed)
        known = a_rec <= end
        keep = (day >= self.cal.data_start) & (day <= end) & (received <= end)
        keep &= day <= self.dereg_day[firm]
        ids = np.arange(n, dtype=np.int64) + self.id_base
        cols = {
            "commitment_id": np.array([f"CN{i:014d}" for i in ids], dtype=object),
            "uscc": self.uscc[firm],
            "kind": kind,
            "made_date": day,
            "received_date": received,
            "kept": np.where(known, kept.astype(np.float64), np.nan),
            "assessed_date": np.where(known, assessed, NULL_DAY),
            "assessment_received_date": np.where(known, a_rec, NULL_DAY),
        }
        return _table("commitments", {k: np.asarray(v)[keep] for k, v in cols.items()})
