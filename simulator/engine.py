"""The province month by month: latent risk drives events, events drive the legacy
classes, classes drive double-random draws, and inspection outcomes come from the hidden
probability that a problem would be found.

One call of `simulate_chunk` generates a self-contained chunk of enterprises (everything
that ties firms together - addresses, persons, parents - stays inside a chunk), so
chunks can run in parallel and memory does not grow with the province. Pure: config,
chunk number and seed in; Arrow tables and summary counts out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from contract.tables import TABLES
from simulator import codes, mix
from simulator.calendar import NULL_DAY, Calendar
from simulator.config import RISK_CLASSES, SimulatorConfig
from simulator.eventlog import EventLog
from simulator.population import (
    CONSUMER_DIVISIONS,
    ENTITY_DIGIT,
    ENTITY_TYPES,
    Population,
    build_population,
    organisation_new_style,
)

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

NO_DAY = np.iinfo(np.int64).max  # "never" for open-ended state
CHANGE_KINDS = (
    "legal_representative",
    "address",
    "registered_capital",
    "shareholders",
    "business_scope",
    "name",
    "other",
)
_CAUSE_FOR_PROBLEM = {
    "address_unreachable": "registration",
    "false_disclosure": "registration",
    "licence": "unlicensed",
    "product_quality": "product_quality",
    "food_safety": "food_safety",
    "drug_device_safety": "drug_device_safety",
    "special_equipment": "special_equipment",
    "advertising_pricing": "false_advertising",
}
_LICENCE_FOR_TAG = {
    "food_production": "food_production",
    "food_distribution": "food_business",
    "catering": "food_business",
    "drugs": "drug_business",
    "medical_devices": "medical_device_business",
    "special_equipment": "special_equipment_use",
    "cosmetics": "cosmetics_production",
    "industrial_products": "industrial_product",
}
_PRODUCT_TAGS = (
    "food_production",
    "food_distribution",
    "catering",
    "drugs",
    "medical_devices",
    "cosmetics",
    "industrial_products",
)
_ITEM_FOR_TAG = {
    "food_production": "food_safety",
    "food_distribution": "food_safety",
    "catering": "food_safety",
    "drugs": "drug_quality",
    "medical_devices": "drug_quality",
    "special_equipment": "special_equipment",
    "cosmetics": "cosmetics",
    "industrial_products": "product_quality",
}
_ABNORMAL = ("annual_report", "concealment", "unreachable")
_TAX_RATINGS = np.array(["A", "B", "M", "C", "D"])
_TAX_SCORES = np.array([95.0, 80.0, 70.0, 55.0, 30.0])


# The day column that dates each table's records (the contract's event date).
_EVENT_DAY = {
    name: t.event_date.replace("_date", "_day") for name, t in TABLES.items() if t.event_date
}


def _sigmoid(x: F64) -> F64:
    return 1.0 / (1.0 + np.exp(-x))


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


def chunk_sizes(n_enterprises: int, chunk_size: int) -> list[int]:
    full, rest = divmod(n_enterprises, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def chunk_rng(seed: int, chunk_index: int) -> np.random.Generator:
    """Each chunk's own stream, independent of how many chunks run or in what order."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk_index,)))


class _Chunk:
    """State of one chunk while its months are simulated."""

    def __init__(
        self,
        cfg: SimulatorConfig,
        cal: Calendar,
        pop: Population,
        rng: np.random.Generator,
        seed: int,
    ) -> None:
        self.cfg, self.cal, self.pop, self.rng, self.seed = cfg, cal, pop, rng, seed
        n = pop.n
        self.n = n
        self.log = EventLog()
        self.end_day = cal.end_day
        T = cal.n_months
        # life
        self.dereg_day = np.full(n, NO_DAY, dtype=np.int64)
        self.last_event = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        self.revoked_day = np.full(n, NO_DAY, dtype=np.int64)
        self.dormant = np.zeros(n, dtype=bool)
        # latent risk: z = z_base + a, a an AR(1) with shocks
        self.a = np.zeros(n)
        self.last_shock = np.full(n, -99, dtype=np.int64)
        # lists (one open listing at a time)
        self.abn_reason = np.full(n, -1, dtype=np.int64)
        self.abn_since = np.full(n, NO_DAY, dtype=np.int64)
        self.abn_row = np.full(n, -1, dtype=np.int64)
        self.serious = np.zeros(n, dtype=bool)
        self.serious_since = np.full(n, NO_DAY, dtype=np.int64)
        self.serious_row = np.full(n, -1, dtype=np.int64)
        # judicial state
        self.enforced_until = np.full(n, -1, dtype=np.int64)
        self.dishonest_until = np.full(n, -1, dtype=np.int64)
        # licences: one per tagged firm
        self.licence_kind = np.array(
            [_LICENCE_FOR_TAG.get(t.split(";")[0], "") if t else "" for t in pop.tags], dtype=object
        )
        self.licence_until = np.full(n, NO_DAY, dtype=np.int64)
        self.licence_issued = np.full(n, NO_DAY, dtype=np.int64)
        self.licence_row = np.full(n, -1, dtype=np.int64)
        self.licence_lapsed = np.zeros(n, dtype=bool)
        self.licence_seq = np.zeros(n, dtype=np.int64)
        # annual reports: the year whose report is still owed, -1 when none
        self.owed_year = np.full(n, -1, dtype=np.int64)
        self.file_month = np.zeros(n, dtype=np.int64)
        self.files_on_time = np.zeros(n, dtype=bool)
        self.ever_reported = np.zeros(n, dtype=bool)
        self.zero_report = np.zeros(n, dtype=bool)
        # persons: current legal representative row, changes so far
        self.rep_row = np.full(n, -1, dtype=np.int64)
        self.rep_changes = np.zeros(n, dtype=np.int64)
        self.address = pop.address.copy()
        self.capital = pop.capital.copy()
        self.name = list(pop.names)
        # scheduled follow-ups (one slot each): month index, -1 when none
        self.pending_penalty = np.full(n, -1, dtype=np.int64)
        self.pending_penalty_cause = np.zeros(n, dtype=object)
        self.pending_targeted = np.full(n, -1, dtype=np.int64)
        # monthly counters for the legacy scheme (cumulative, so windows are differences)
        self.counts = {
            k: np.zeros((n, T + 1), dtype=np.int32)
            for k in ("penalty", "minor_penalty", "problem", "complaint", "rep_change")
        }
        self.legacy = np.zeros(n, dtype=np.int64)  # class index used for this month's draws
        self.division_offset = rng.integers(0, 12 // cfg.inspections.rounds_per_year, 10_000)
        self.seq = 0  # record numbers within the chunk
        # Record, person and address numbers are offset by the chunk so they never collide
        # across chunks (a chunk numbers fewer than 10^9 records and 10^10 persons).
        self.id_base = int(pop.global_index[0] // cfg.chunk_size) * 10**9
        self.nominee_pool = np.unique(pop.nominee[pop.nominee >= 0])
        inds = mix.industries()
        self.ind_div = np.array(inds.division)[pop.industry_idx]
        self.consumer = np.isin(self.ind_div, list(CONSUMER_DIVISIONS))
        self.tag_sets = [frozenset(t.split(";")) if t else frozenset() for t in pop.tags]
        self.product_tag = np.array(
            [next((t for t in _PRODUCT_TAGS if t in s), "") for s in self.tag_sets], dtype=object
        )
        # truth and stats
        W = cal.n_months - cal.burn_in
        self.truth_z = np.full((n, W), np.nan, dtype=np.float32)
        self.truth_p = np.full((n, W), np.nan, dtype=np.float32)
        self.truth_dormant = np.zeros((n, W), dtype=bool)
        self.truth_class = np.full((n, W), -1, dtype=np.int8)
        self.class_counts = np.zeros((W, 4), dtype=np.int64)
        self.alive_counts = np.zeros(W, dtype=np.int64)
        self.dr_n = np.zeros(4, dtype=np.int64)
        self.dr_hits = np.zeros(4, dtype=np.int64)
        self.inspected_years: dict[int, set[int]] = {}
        self.alive_years: dict[int, B] = {}
        self.insp_truth_rows: list[I64] = []
        self.insp_truth_p: list[F64] = []
        self.insp_truth_z: list[F64] = []

    # ------------------------------------------------------------------ helpers
    def _next_ids(self, count: int) -> I64:
        ids = np.arange(self.seq, self.seq + count, dtype=np.int64)
        self.seq += count
        return ids

    def _received(self, table: str, event_day: I64) -> I64:
        lc = self.cfg.lags
        median = lc.median_days[table]
        lag = np.floor(self.rng.exponential(median / np.log(2), len(event_day))).astype(np.int64)
        late = self.rng.random(len(event_day)) < lc.late_share
        lag = np.where(late, self.rng.integers(30, int(lc.late_max_days) + 1, len(event_day)), lag)
        return event_day + lag

    def z(self) -> F64:
        return self.pop.z_base + self.a

    def p_problem(self, bonus: float = 0.0) -> F64:
        rc = self.cfg.risk
        p = _sigmoid(rc.problem_intercept + rc.problem_slope * self.z() + bonus)
        return np.where(self.dormant, np.maximum(p, rc.dormant_problem_prob), p)

    def _bern(self, p: F64 | float, mask: B) -> I64:
        """Indices of firms in ``mask`` for which a Bernoulli(p) draw succeeds."""
        u = self.rng.random(self.n)
        return np.flatnonzero(mask & (u < p))

    def _add(self, table: str, **columns: object) -> I64:
        """Record events, remembering each firm's latest event (it cannot deregister before it)."""
        rows = self.log.add(table, **columns)
        day = columns[_EVENT_DAY[table]]
        firms = columns["firm"]
        if isinstance(day, np.ndarray) and isinstance(firms, np.ndarray) and len(firms):
            np.maximum.at(self.last_event, firms, day)
        return rows

    def _count(self, key: str, firms: I64, k: int) -> None:
        np.add.at(self.counts[key], (firms, np.full(len(firms), k)), 1)

    def _day(self, k: int, firms: I64) -> I64:
        """A day in month ``k``, not before the firm was established."""
        d = self.cal.days_in(k, self.rng.random(len(firms)))
        return np.maximum(d, self.pop.established[firms])

    # ------------------------------------------------------------------ set-up
    def initial_state(self) -> None:
        """Persons, links and licences from establishment; lists already open at the start."""
        pop, rng, n = self.pop, self.rng, self.n
        est = pop.established
        everyone = np.arange(n)
        start0 = int(self.cal.start[0])
        # legal representative: a nominee for shells, else the firm's own person
        rep_person = np.where(pop.nominee >= 0, pop.nominee, everyone * 8)
        self.rep_row = self._add(
            "persons",
            person=rep_person,
            firm=everyone,
            role=np.full(n, "legal_representative"),
            share_pct=np.full(n, np.nan),
            from_day=est,
            to_day=np.full(n, NULL_DAY, dtype=np.int64),
        )
        # shareholders of companies; in small LLCs the legal representative holds shares
        company = (pop.entity == 0) & ~np.isin(pop.legal_form, ["branch", "state_owned"])
        holders = np.where(pop.legal_form == "llc_sole_natural_person", 1, rng.integers(1, 4, n))
        for slot in range(3):
            firms = np.flatnonzero(company & (holders > slot))
            person = firms * 8 + 1 + slot
            if slot == 0:
                same = rng.random(len(firms)) < 0.7
                person = np.where(same, rep_person[firms], person)
                inv = pop.investor[firms] >= 0
                person = np.where(inv, pop.investor[firms], person)
            share = np.round(100.0 / holders[firms], 2)
            self._add(
                "persons",
                person=person,
                firm=firms,
                role=np.full(len(firms), "shareholder"),
                share_pct=share,
                from_day=est[firms],
                to_day=np.full(len(firms), NULL_DAY, dtype=np.int64),
            )
        sup = np.flatnonzero(company & (rng.random(n) < 0.8))
        self._add(
            "persons",
            person=sup * 8 + 7,
            firm=sup,
            role=np.full(len(sup), "supervisor"),
            share_pct=np.full(len(sup), np.nan),
            from_day=est[sup],
            to_day=np.full(len(sup), NULL_DAY, dtype=np.int64),
        )
        # parents and head offices
        for child_of, kind in ((pop.parent, "investment"), (pop.branch_of, "branch")):
            kids = np.flatnonzero(child_of >= 0)
            share = (
                np.round(rng.uniform(51, 100, len(kids)), 2)
                if kind == "investment"
                else np.full(len(kids), np.nan)
            )
            self._add(
                "enterprise_links",
                firm=child_of[kids],
                linked=kids,
                link_kind=np.full(len(kids), kind),
                share_pct=share,
                from_day=est[kids],
                to_day=np.full(len(kids), NULL_DAY, dtype=np.int64),
            )
        # licences held at the start were issued within the last five years
        has_lic = np.flatnonzero((self.licence_kind != "") & (est < start0))
        issued = np.maximum(est[has_lic], start0 - rng.integers(1, 5 * 365, len(has_lic)))
        self._grant_licence(has_lic, issued)
        # firms that were already dormant, listed, or seriously listed before the data begin
        rc = self.cfg.risk
        age = (start0 - est) / 365.25
        old = est < start0
        p_dormant = (
            _sigmoid(rc.dormancy_intercept + 3.1 + rc.dormancy_slope * self.z())
            * np.minimum(age, 6)
            / 6
        )
        self.dormant = old & (rng.random(n) < p_dormant)
        listed_for = rng.uniform(0, 5, n) * 365.25
        since = np.maximum(est + 200, start0 - listed_for.astype(np.int64))
        dorm = np.flatnonzero(self.dormant & (since < start0))
        long_listed = dorm[(start0 - since[dorm]) > 3 * 365]
        short_listed = dorm[(start0 - since[dorm]) <= 3 * 365]
        self._list_abnormal(short_listed, since[short_listed], "annual_report")
        serious_since = since[long_listed] + 3 * 365
        self._list_serious(long_listed, serious_since, "abnormal_3y")

    def _grant_licence(self, firms: I64, issued: I64) -> None:
        if len(firms) == 0:
            return
        self.licence_seq[firms] += 1
        lic_no = np.array(
            [
                f"L{g:010d}{s:02d}"
                for g, s in zip(self.pop.global_index[firms], self.licence_seq[firms], strict=True)
            ]
        )
        until = issued + 5 * 365  # licences run five years
        rows = self._add(
            "licences",
            firm=firms,
            licence_no=lic_no,
            licence_kind=self.licence_kind[firms].astype(str),
            issued_day=issued,
            valid_until=until,
            revoked_day=np.full(len(firms), NULL_DAY, dtype=np.int64),
            cancelled_day=np.full(len(firms), NULL_DAY, dtype=np.int64),
        )
        self.licence_until[firms] = until
        self.licence_issued[firms] = issued
        self.licence_row[firms] = rows
        self.licence_lapsed[firms] = False

    def _list_abnormal(self, firms: I64, day: I64, reason: str) -> None:
        firms, first = np.unique(firms, return_index=True)
        day = day[first]
        free = self.abn_reason[firms] < 0
        firms, day = firms[free], day[free]
        if len(firms) == 0:
            return
        rows = self._add(
            "abnormal_list",
            firm=firms,
            reason=np.full(len(firms), reason),
            listed_day=day,
            removed_day=np.full(len(firms), NULL_DAY, dtype=np.int64),
            removal_reason=np.full(len(firms), "", dtype=object),
        )
        self.abn_reason[firms] = _ABNORMAL.index(reason)
        self.abn_since[firms] = day
        self.abn_row[firms] = rows

    def _unlist_abnormal(self, firms: I64, day: I64, reason: str) -> None:
        keep = self.abn_reason[firms] >= 0
        firms, day = firms[keep], day[keep]
        day = np.maximum(day, self.abn_since[firms] + 1)
        self.log.update("abnormal_list", "removed_day", self.abn_row[firms], day)
        self.log.update(
            "abnormal_list",
            "removal_reason",
            self.abn_row[firms],
            np.full(len(firms), reason, dtype=object),
        )
        self.abn_reason[firms] = -1
        self.abn_since[firms] = NO_DAY
        self.abn_row[firms] = -1

    def _list_serious(self, firms: I64, day: I64, reason: str) -> None:
        keep = ~self.serious[firms]
        firms, day = firms[keep], day[keep]
        if len(firms) == 0:
            return
        rows = self._add(
            "serious_dishonest_list",
            firm=firms,
            reason=np.full(len(firms), reason),
            listed_day=day,
            removed_day=np.full(len(firms), NULL_DAY, dtype=np.int64),
            removal_reason=np.full(len(firms), "", dtype=object),
        )
        self.serious[firms] = True
        self.serious_since[firms] = day
        self.serious_row[firms] = rows

    # ------------------------------------------------------------------ the month
    def step(self, k: int) -> None:
        cfg, cal, rng, pop = self.cfg, self.cal, self.rng, self.pop
        rc = cfg.risk
        n = self.n
        start, end = int(cal.start[k]), int(cal.start[k] + cal.ndays[k] - 1)
        year, month = int(cal.year[k]), int(cal.month[k])
        exists = (pop.established <= end) & (self.dereg_day > end)

        # 1. latent risk drifts; idiosyncratic and cluster-wide shocks
        self.a = rc.ar_coefficient * self.a + rng.normal(0, rc.monthly_noise_sd, n)
        shocked = rng.random(n) < rc.shock_monthly_prob
        cluster_hit = rng.random(10_000) < rc.cluster_shock_monthly_prob
        for group in (pop.shell_cluster, pop.investor):
            has = group >= 0
            shocked[has] |= cluster_hit[group[has] % 10_000]
        self.a[shocked] += rng.exponential(rc.shock_mean_size, int(shocked.sum()))
        self.last_shock[shocked] = k

        # 2. deregistration (dormant firms far more often), then dormancy
        alive = exists & (self.revoked_day > end)
        young = np.clip(1 - (start - pop.established) / (3 * 365.25), 0, 1)
        h = rc.deregistration_monthly * np.where(
            self.dormant, rc.dormant_deregistration_multiplier, 1.0
        )
        h = np.where(self.serious, h * 0.2, h)  # the seriously listed cannot deregister easily
        gone = self._bern(h, exists & (pop.established < start))
        # a firm deregisters after its last recorded event (a listing, a court filing ...)
        gone_day = np.maximum(self._day(k, gone), self.last_event[gone] + 1)
        gone, gone_day = gone[gone_day <= end], gone_day[gone_day <= end]
        self._deregister(gone, gone_day)
        alive[gone] = False
        exists[gone] = False
        p_d = _sigmoid(rc.dormancy_intercept + rc.dormancy_slope * self.z() + 1.0 * young)
        self.dormant[self._bern(p_d, alive & ~self.dormant)] = True
        active = alive & ~self.dormant

        # 3. annual reports for last year: filed January-June; missing -> listed in July
        self._annual_reports(k, year, month, alive, active)

        # 4. complaints, penalties, judicial, changes, pledges, licences, sampling, social
        self._complaints(k, active)
        self._penalties(k, alive)
        self._judicial(k, alive)
        self._changes(k, active)
        self._pledges(k, active)
        self._licences(start, end, alive, active)
        self._sampling(k, active)
        self._social(k, year, month, alive)

        # 5. inspections: double-random rounds in the window, targeted ones throughout
        self._inspections(k, month, alive)

        # 6. lists move on: 3 years abnormal -> serious; serious lists end or get repaired
        self._list_transitions(k, start, end, alive)

        # 7. bookkeeping: legacy classes for next month's draws, truth
        for key in self.counts:
            self.counts[key][:, k + 1] += self.counts[key][:, k]
        self.legacy = self._legacy_classes(k, end)
        w = k - cal.burn_in
        if w >= 0:
            live = np.flatnonzero(exists)
            self.truth_z[live, w] = self.z()[live]
            self.truth_p[live, w] = self.p_problem()[live]
            self.truth_dormant[live, w] = self.dormant[live]
            self.truth_class[live, w] = self.legacy[live]
            self.class_counts[w] += np.bincount(self.legacy[live], minlength=4)
            self.alive_counts[w] += len(live)
            yr = self.alive_years.setdefault(year, np.zeros(n, dtype=bool))
            yr[live] = True

    def _deregister(self, firms: I64, day: I64) -> None:
        if len(firms) == 0:
            return
        self.dereg_day[firms] = day
        listed = firms[self.abn_reason[firms] >= 0]
        self._unlist_abnormal(listed, self.dereg_day[listed], "deregistered")
        self.log.update("persons", "to_day", self.rep_row[firms], day)
        lic = firms[self.licence_row[firms] >= 0]
        self.log.update(
            "licences", "cancelled_day", self.licence_row[lic], np.maximum(self.dereg_day[lic], 0)
        )
        self.licence_row[lic] = -1
        self.pending_penalty[firms] = -1
        self.pending_targeted[firms] = -1

    def _annual_reports(self, k: int, year: int, month: int, alive: B, active: B) -> None:
        ec, rng, pop, n = self.cfg.events, self.rng, self.pop, self.n
        first_of_year = int(np.datetime64(f"{year}-01-01").astype(np.int64))
        if month == 1:
            due = alive & (pop.established < first_of_year)
            # a year still owed from before is forgotten once a new one is due (kept on list)
            self.owed_year = np.where(due, year - 1, -1)
            z = self.z()
            p = _sigmoid(ec.annual_report_on_time_intercept - ec.annual_report_on_time_slope * z)
            # shells file (empty reports) half the time to stay off the list
            p = np.where(pop.shell, 0.5, np.where(self.dormant, 0.0, p))
            self.files_on_time = due & (rng.random(n) < p)
            # most reports come in May and June, before the June 30 deadline
            self.file_month = rng.choice(6, size=n, p=[0.04, 0.05, 0.09, 0.17, 0.27, 0.38]) + 1
            self.zero_report = (
                rng.random(n) < _sigmoid(ec.zero_report_intercept + ec.zero_report_slope * z)
            ) | (pop.shell & (rng.random(n) < 0.8))
        if 1 <= month <= 6:
            filing = np.flatnonzero(
                active & self.files_on_time & (self.file_month == month) & (self.owed_year >= 0)
            )
            self._file_reports(k, filing)
        elif month == 7:
            # listed for not filing within the period (the bureau lists in July)
            missing = np.flatnonzero(alive & (self.owed_year >= 0))
            days = self._day(k, missing)
            self._list_abnormal(missing, days, "annual_report")
        # late filers leave the list by filing the missing report
        late = self._bern(
            ec.annual_report_late_monthly, active & (self.abn_reason == 0) & (self.owed_year >= 0)
        )
        late = late[self.abn_since[late] < self.cal.start[k]]
        if len(late):
            days = self._file_reports(k, late)
            self._unlist_abnormal(late, days + rng.integers(0, 10, len(late)), "report_filed")

    def _file_reports(self, k: int, firms: I64) -> I64:
        rng, pop = self.rng, self.pop
        m = len(firms)
        days = self._day(k, firms)
        emp = np.floor(pop.employees[firms] * rng.lognormal(0, 0.25, m))
        cap = np.nan_to_num(self.capital[firms], nan=5.0)
        with np.errstate(divide="ignore"):  # zero capital: log -> -inf, revenue 0 (intended)
            revenue = np.round(np.exp(rng.normal(0.55 * np.log(cap) + 1.5, 1.1)), 2)
        assets = np.round(revenue * rng.lognormal(0, 0.6, m), 2)
        tax = np.round(np.where(rng.random(m) < 0.3, 0.0, revenue * rng.uniform(0.005, 0.06, m)), 2)
        profit = np.round(revenue * rng.normal(0.03, 0.12, m), 2)
        insured = np.floor(emp * rng.uniform(0.3, 1.0, m))
        zero = self.zero_report[firms]
        self._add(
            "annual_reports",
            firm=firms,
            report_year=self.owed_year[firms],
            submitted_day=days,
            employees=np.where(zero, 0.0, emp),
            revenue=np.where(zero, 0.0, revenue),
            total_assets=np.where(zero, 0.0, assets),
            tax_paid=np.where(zero, 0.0, tax),
            net_profit=np.where(zero, 0.0, profit),
            social_insurance_count=np.where(zero, 0.0, insured),
        )
        self.owed_year[firms] = -1
        self.ever_reported[firms] = True
        return days

    def _complaints(self, k: int, active: B) -> None:
        ec, rng = self.cfg.events, self.rng
        lam = (
            ec.complaint_monthly
            * np.exp(ec.complaint_slope * self.z())
            * np.where(self.consumer, ec.complaint_consumer_multiplier, 1.0)
        )
        counts = rng.poisson(np.where(active, lam, 0.0))
        firms = np.repeat(np.arange(self.n), counts)
        if len(firms) == 0:
            return
        m = len(firms)
        food = np.array(
            [
                bool(self.tag_sets[j] & {"food_production", "food_distribution", "catering"})
                for j in firms
            ]
        )
        cats = np.array(["quality", "service", "price", "contract", "advertising", "safety"])
        cat = np.where(food & (rng.random(m) < 0.5), "food", cats[rng.integers(0, len(cats), m)])
        subst = rng.random(m) < _sigmoid(
            -0.8 + self.cfg.events.complaint_substantiated_slope * self.z()[firms]
        )
        self._add(
            "complaints",
            firm=firms,
            complaint_id=self._next_ids(m),
            kind=np.where(rng.random(m) < 0.8, "complaint", "report"),
            category=cat,
            complaint_day=self._day(k, firms),
            substantiated=np.where(rng.random(m) < 0.1, np.nan, subst.astype(float)),
        )
        self._count("complaint", firms, k)
        trig = np.unique(firms[rng.random(m) < self.cfg.inspections.complaint_trigger_prob])
        trig = trig[self.pending_targeted[trig] < 0]
        self.pending_targeted[trig] = k + rng.integers(0, 2, len(trig))

    def _penalties(self, k: int, alive: B) -> None:
        ec, rng = self.cfg.events, self.rng
        h = ec.penalty_monthly * np.exp(ec.penalty_slope * self.z())
        spontaneous = self._bern(h, alive & ~self.dormant)
        due = np.flatnonzero(alive & (self.pending_penalty == k))
        firms = np.concatenate([spontaneous, due])
        self.pending_penalty[due] = -1
        if len(firms) == 0:
            return
        m = len(firms)
        cause = np.empty(m, dtype=object)
        cause[len(spontaneous) :] = self.pending_penalty_cause[due]
        tagged_cause = np.array([self._cause_for(j) for j in spontaneous], dtype=object)
        cause[: len(spontaneous)] = tagged_cause
        kinds = np.array(
            [
                "warning",
                "fine",
                "confiscation",
                "suspension",
                "licence_revocation",
                "business_licence_revocation",
            ]
        )
        kind = kinds[rng.choice(6, size=m, p=[0.14, 0.70, 0.09, 0.03, 0.03, 0.01])]
        minor = (kind == "warning") | ((kind == "fine") & (rng.random(m) < 0.3))
        amount = np.where(kind == "warning", 0.0, np.round(rng.lognormal(np.log(1.0), 1.3, m), 2))
        amount = np.where(minor & (kind == "fine"), np.minimum(amount, 0.5), amount)
        days = self._day(k, firms)
        z = self.z()[firms]
        repaired = (~minor) & (rng.random(m) < ec.penalty_repair_share * _sigmoid(-z))
        repair_day = np.where(repaired, days + rng.integers(365, 900, m), NULL_DAY)
        repair_day = np.where(repair_day > self.end_day, NULL_DAY, repair_day)
        year = self.cal.year[k]
        ids = self._next_ids(m)
        self._add(
            "penalties",
            firm=firms,
            decision_no=np.array([f"粤市监罚〔{year}〕{i:08d}号" for i in ids + self.id_base]),
            penalty_kind=kind,
            cause=cause.astype(str),
            decision_day=days,
            amount=amount,
            minor=minor,
            repaired_day=repair_day,
        )
        self._count("penalty", firms[~minor], k)
        self._count("minor_penalty", firms[minor], k)
        self.a[firms] += self.cfg.risk.correction_effect * 0.5  # a penalty deters a little
        rev = firms[kind == "business_licence_revocation"]
        self.revoked_day[rev] = np.minimum(
            self.revoked_day[rev], days[kind == "business_licence_revocation"]
        )
        lic_mask = (kind == "licence_revocation") & (self.licence_row[firms] >= 0)
        lic = firms[lic_mask]
        # a renewal can be dated a few days ahead; revocation never precedes the issue
        revoked = np.maximum(days[lic_mask], self.licence_issued[lic])
        self.log.update("licences", "revoked_day", self.licence_row[lic], revoked)
        self.licence_row[lic] = -1
        self.licence_lapsed[lic] = True
        # heavy penalties for serious violations put a firm on the serious list
        heavy = firms[
            (np.isin(kind, ["suspension", "licence_revocation", "business_licence_revocation"]))
            & (z > 1.0)
        ]
        self._list_serious(
            heavy,
            np.full(len(heavy), int(self.cal.start[k] + self.cal.ndays[k] - 1)),
            "major_violation",
        )

    def _cause_for(self, j: int) -> str:
        tags = self.tag_sets[j]
        if tags & {"food_production", "food_distribution", "catering"}:
            return "food_safety"
        if tags & {"drugs", "medical_devices"}:
            return "drug_device_safety"
        if "special_equipment" in tags:
            return "special_equipment"
        if tags & {"industrial_products", "cosmetics"}:
            return "product_quality"
        return (
            "false_advertising",
            "pricing",
            "registration",
            "unlicensed",
            "consumer_rights",
            "trademark_ip",
            "unfair_competition",
            "other",
        )[int(self.rng.integers(0, 8))]

    def _judicial(self, k: int, alive: B) -> None:
        ec, rng, pop = self.cfg.events, self.rng, self.pop
        h = ec.judicial_monthly * np.exp(ec.judicial_slope * self.z())
        firms = self._bern(h, alive & (pop.entity == 0))
        if len(firms) == 0:
            return
        m = len(firms)
        days = self._day(k, firms)
        cap = np.nan_to_num(self.capital[firms], nan=10.0)
        amount = np.round(rng.lognormal(np.log(np.maximum(cap, 1) * 0.3), 1.0), 2)
        closes = days + rng.geometric(1 / 300, m)
        closed = np.where(closes > self.end_day, NULL_DAY, closes)
        ids = self._next_ids(m)
        case = np.array([f"({self.cal.year[k]})粤执{i:08d}号" for i in ids + self.id_base])
        self._add(
            "judicial",
            firm=firms,
            case_no=case,
            kind=np.full(m, "enforcement"),
            filed_day=days,
            amount=amount,
            closed_day=closed,
        )
        self.enforced_until[firms] = np.where(closed == NULL_DAY, NO_DAY, closed)
        # dishonest judgment debtors: those who do not pay, published months later
        z = self.z()[firms]
        bad = rng.random(m) < ec.dishonest_debtor_share * 2 * _sigmoid(z)
        d_day = days + rng.integers(60, 180, m)
        ok = bad & (d_day <= np.where(closed == NULL_DAY, NO_DAY, closed))
        if ok.any():
            dd_close = np.where(closed[ok] == NULL_DAY, NULL_DAY, closed[ok])
            self._add(
                "judicial",
                firm=firms[ok],
                case_no=case[ok],
                kind=np.full(int(ok.sum()), "dishonest_debtor"),
                filed_day=d_day[ok],
                amount=amount[ok],
                closed_day=dd_close,
            )
            self.dishonest_until[firms[ok]] = np.where(dd_close == NULL_DAY, NO_DAY, dd_close)
        frz = rng.random(m) < 0.1
        if frz.any():
            self._add(
                "judicial",
                firm=firms[frz],
                case_no=case[frz],
                kind=np.full(int(frz.sum()), "equity_freeze"),
                filed_day=days[frz],
                amount=amount[frz],
                closed_day=closed[frz],
            )

    def _changes(self, k: int, active: B) -> None:
        ec, rng, pop = self.cfg.events, self.rng, self.pop
        burst = np.where(k - self.last_shock <= 3, ec.shock_change_multiplier, 1.0)
        scale = np.exp(ec.change_slope * self.z()) * burst
        for kind in CHANGE_KINDS:
            firms = self._bern(
                ec.change_monthly[kind] * scale, active & (pop.established < self.cal.start[k])
            )
            if kind == "legal_representative":
                firms = firms[
                    pop.entity[firms] != 1
                ]  # an individual business cannot change its operator
            if len(firms) == 0:
                continue
            m = len(firms)
            days = self._day(k, firms)
            before = np.full(m, None, dtype=object)
            after = np.full(m, None, dtype=object)
            if kind == "legal_representative":
                self.log.update("persons", "to_day", self.rep_row[firms], days)
                self.rep_changes[firms] += 1
                new_person = firms * 8 + 4 + self.rep_changes[firms] % 3
                # risky firms hand over to professional nominees
                use_nominee = (
                    (self.z()[firms] > 1.5) & (rng.random(m) < 0.5) & (len(self.nominee_pool) > 0)
                )
                if len(self.nominee_pool):
                    new_person = np.where(use_nominee, rng.choice(self.nominee_pool, m), new_person)
                self.rep_row[firms] = self._add(
                    "persons",
                    person=new_person,
                    firm=firms,
                    role=np.full(m, "legal_representative"),
                    share_pct=np.full(m, np.nan),
                    from_day=days,
                    to_day=np.full(m, NULL_DAY, dtype=np.int64),
                )
                self.counts["rep_change"][firms, k] += 1
            elif kind == "address":
                before = self._address_ids(self.address[firms])
                self.address[firms] = self.n + firms * 16 + k % 16  # a new, unshared address
                after = self._address_ids(self.address[firms])
            elif kind == "registered_capital":
                old = self.capital[firms]
                factor = np.where(
                    self.z()[firms] > 1.0, rng.uniform(0.1, 0.9, m), rng.uniform(1.2, 5.0, m)
                )
                new = np.round(np.nan_to_num(old, nan=10.0) * factor, 2)
                before = np.array([f"{v:g}" for v in np.nan_to_num(old, nan=0.0)], dtype=object)
                after = np.array([f"{v:g}" for v in new], dtype=object)
                self.capital[firms] = new
            elif kind == "name":
                before = np.array([self.name[j] for j in firms], dtype=object)
                for j in firms:
                    self.name[j] = (
                        self.name[j].replace("有限公司", "科技有限公司", 1)
                        if "科技" not in self.name[j]
                        else self.name[j].replace("科技", "实业", 1)
                    )
                after = np.array([self.name[j] for j in firms], dtype=object)
            self._add(
                "changes",
                firm=firms,
                change_kind=np.full(m, kind),
                change_day=days,
                before_value=before,
                after_value=after,
            )

    def _address_ids(self, address: I64) -> npt.NDArray[np.object_]:
        chunk = self.id_base // 10**9
        return np.array([f"AD{chunk:05d}{a:010d}" for a in address], dtype=object)

    def _pledges(self, k: int, active: B) -> None:
        ec, rng, pop = self.cfg.events, self.rng, self.pop
        h = (
            ec.pledge_monthly
            * np.exp(ec.pledge_slope * self.z())
            * np.clip(np.log10(np.nan_to_num(self.capital, nan=1.0) + 1), 0.2, 4)
        )
        firms = self._bern(h, active & (pop.entity == 0))
        if len(firms) == 0:
            return
        m = len(firms)
        days = self._day(k, firms)
        kinds = np.array(["equity", "chattel", "ip"])[rng.choice(3, size=m, p=[0.6, 0.3, 0.1])]
        amount = np.round(
            np.nan_to_num(self.capital[firms], nan=10.0) * rng.uniform(0.1, 1.0, m), 2
        )
        release = days + rng.integers(180, 1100, m)
        release = np.where(release > self.end_day, NULL_DAY, release)
        self._add(
            "pledges",
            firm=firms,
            pledge_kind=kinds,
            registered_day=days,
            amount=amount,
            released_day=release,
        )

    def _licences(self, start: int, end: int, alive: B, active: B) -> None:
        pop, rng = self.pop, self.rng
        # new firms in key sectors get their licence within weeks of establishment
        born = np.flatnonzero(
            (pop.established >= start) & (pop.established <= end) & (self.licence_kind != "")
        )
        self._grant_licence(born, pop.established[born] + rng.integers(5, 40, len(born)))
        # expiring licences are renewed by firms that still trade and comply
        expiring = np.flatnonzero(
            alive
            & (self.licence_row >= 0)
            & (self.licence_until >= start)
            & (self.licence_until <= end)
        )
        p = self.cfg.events.licence_renewal_prob * _sigmoid(2.5 - self.z()[expiring])
        renew = expiring[active[expiring] & (rng.random(len(expiring)) < p)]
        lapse = np.setdiff1d(expiring, renew)
        self._grant_licence(
            renew,
            np.maximum(
                self.licence_until[renew] - rng.integers(0, 30, len(renew)), pop.established[renew]
            ),
        )
        self.licence_row[lapse] = -1
        self.licence_lapsed[lapse] = True

    def _sampling(self, k: int, active: B) -> None:
        ec, rng = self.cfg.events, self.rng
        firms = self._bern(ec.sampling_monthly, active & (self.product_tag != ""))
        if len(firms) == 0:
            return
        m = len(firms)
        fail = rng.random(m) < _sigmoid(
            ec.sampling_fail_intercept + ec.sampling_fail_slope * self.z()[firms]
        )
        self._add(
            "product_sampling",
            firm=firms,
            sample_id=self._next_ids(m),
            sample_day=self._day(k, firms),
            product_tag=self.product_tag[firms].astype(str),
            result=np.where(fail, "fail", "pass"),
        )
        bad = firms[fail & (self.pending_penalty[firms] < 0) & (rng.random(m) < 0.6)]
        self.pending_penalty[bad] = k + rng.integers(1, 4, len(bad))
        # product-tagged firms always map to a sector cause (never a random one)
        self.pending_penalty_cause[bad] = [self._cause_for(j) for j in bad]

    def _social(self, k: int, year: int, month: int, alive: B) -> None:
        rng, pop = self.rng, self.pop
        if month == 4:
            # tax credit ratings for last year, published in April
            first_of_last = int(np.datetime64(f"{year - 1}-01-01").astype(np.int64))
            rated = np.flatnonzero(alive & (pop.entity == 0) & (pop.established < first_of_last))
            s = self.z()[rated] + rng.normal(0, 0.5, len(rated))
            new = pop.established[rated] >= first_of_last - 365
            cls = np.where(s > 2.2, 4, np.where(s > 1.3, 3, np.where(s > -0.6, 1, 0)))
            cls = np.where(
                self.dormant[rated] | (self.dishonest_until[rated] > self.cal.start[k]), 4, cls
            )
            cls = np.where(new & (cls < 3), 2, cls)
            self._add(
                "social",
                firm=rated,
                indicator=np.full(len(rated), "tax_credit_rating"),
                value=_TAX_RATINGS[cls],
                score=_TAX_SCORES[cls],
                eval_day=self._day(k, rated),
            )
        if month == 1:
            cat = np.flatnonzero(
                alive & ~self.dormant & np.array(["catering" in t for t in self.tag_sets])
            )
            score = np.clip(
                np.round(4.6 - 0.3 * self.z()[cat] + rng.normal(0, 0.25, len(cat)), 1), 1.0, 5.0
            )
            self._add(
                "social",
                firm=cat,
                indicator=np.full(len(cat), "platform_rating"),
                value=np.array([f"{v:.1f}" for v in score]),
                score=score,
                eval_day=self._day(k, cat),
            )
        news = self._bern(self.cfg.events.news_monthly * np.exp(self.z()), alive)
        if len(news):
            sev = rng.integers(1, 6, len(news)).astype(float)
            self._add(
                "social",
                firm=news,
                indicator=np.full(len(news), "news_sentiment"),
                value=np.full(len(news), "negative"),
                score=-sev,
                eval_day=self._day(k, news),
            )

    def _inspections(self, k: int, month: int, alive: B) -> None:
        cfg, rng, pop = self.cfg, self.rng, self.pop
        ic = cfg.inspections
        eligible = alive & (pop.established < self.cal.start[k])
        parts: list[tuple[I64, str, F64]] = []
        if k >= self.cal.burn_in:
            period = 12 // ic.rounds_per_year
            in_round = (month - 1 + self.division_offset[pop.division_idx]) % period == 0
            rate = np.array([ic.class_rates[c] for c in RISK_CLASSES])[self.legacy]
            drawn = np.flatnonzero(eligible & in_round & (rng.random(self.n) < rate))
            parts.append((drawn, "double_random", rate[drawn]))
        targeted = np.flatnonzero(eligible & (self.pending_targeted == k))
        self.pending_targeted[self.pending_targeted == k] = -1
        campaign = self._bern(
            ic.campaign_monthly * np.exp(0.5 * self.z()), eligible & (self.product_tag != "")
        )
        referral = self._bern(ic.referral_monthly * np.exp(self.z()), eligible)
        for firms, trig in (
            (targeted, "complaint"),
            (campaign, "campaign"),
            (referral, "referral"),
        ):
            parts.append((firms, trig, np.full(len(firms), np.nan)))
        for firms, mode, prob in parts:
            if len(firms) == 0:
                continue
            self._inspect(k, firms, mode, prob)

    def _inspect(self, k: int, firms: I64, mode: str, prob: F64) -> None:
        cfg, rng, pop = self.cfg, self.rng, self.pop
        m = len(firms)
        double = mode == "double_random"
        bonus = 0.0 if double else cfg.inspections.targeted_problem_bonus
        p = self.p_problem(bonus)[firms]
        found = rng.random(m) < p
        days = self._day(k, firms)
        category = np.array([self._problem_category(j) for j in firms], dtype=object)
        category = np.where(self.dormant[firms], "address_unreachable", category)
        category = np.where(found, category, None)  # type: ignore[call-overload]
        result = np.where(
            found,
            np.where(
                category == "address_unreachable",
                "unreachable",
                np.where(rng.random(m) < 0.7, "corrected", "case_filed"),
            ),
            np.where(
                rng.random(m) < cfg.inspections.no_activity_share,
                "no_relevant_activity",
                "no_problem",
            ),
        )
        items = np.array([self._items(j) for j in firms], dtype=object)
        cls = np.array(RISK_CLASSES)[self.legacy[firms]]
        div = pop.division[firms].astype(str)
        ym = f"{self.cal.year[k]}{self.cal.month[k]:02d}"
        ids = self._next_ids(m)
        rows = self._add(
            "inspections",
            firm=firms,
            inspection_id=np.array([f"JC{ym}{i:010d}" for i in ids + self.id_base]),
            draw_mode=np.full(m, "double_random" if double else "targeted"),
            plan_id=np.array([f"SJ{d}{ym}" for d in div], dtype=object)
            if double
            else np.full(m, None, dtype=object),
            stratum=np.char.add(np.char.add(div, ":"), cls).astype(object)
            if double
            else np.full(m, None, dtype=object),
            risk_class_at_draw=cls.astype(object) if double else np.full(m, None, dtype=object),
            inclusion_probability=prob,
            trigger=np.full(m, None, dtype=object) if double else np.full(m, mode, dtype=object),
            items=items,
            inspection_day=days,
            result=result,
            problem_found=found,
            problem_category=category,
        )
        self.insp_truth_rows.append(rows)
        self.insp_truth_p.append(p)
        self.insp_truth_z.append(self.z()[firms])
        if double and k >= self.cal.burn_in:
            c = self.legacy[firms]
            self.dr_n += np.bincount(c, minlength=4)
            self.dr_hits += np.bincount(c[found], minlength=4)
            self.inspected_years.setdefault(int(self.cal.year[k]), set()).update(firms.tolist())
        # consequences
        hit = firms[found]
        hit_days = days[found]
        cat = category[found]
        self.counts["problem"][hit, k] += 1
        unreachable = cat == "address_unreachable"
        self._list_abnormal(
            hit[unreachable],
            hit_days[unreachable] + rng.integers(1, 20, int(unreachable.sum())),
            "unreachable",
        )
        false = cat == "false_disclosure"
        self._list_abnormal(
            hit[false], hit_days[false] + rng.integers(1, 20, int(false.sum())), "concealment"
        )
        corrected = hit[~unreachable]
        self.a[corrected] += cfg.risk.correction_effect
        pen = corrected[
            (self.pending_penalty[corrected] < 0)
            & (rng.random(len(corrected)) < cfg.events.penalty_after_problem)
        ]
        self.pending_penalty[pen] = k + rng.integers(1, 4, len(pen))
        cat_of = dict(zip(hit.tolist(), cat.tolist(), strict=True))
        self.pending_penalty_cause[pen] = [_CAUSE_FOR_PROBLEM[cat_of[j]] for j in pen]

    def _problem_category(self, j: int) -> str:
        """What an inspector finds at a firm with a problem follows from what the firm is."""
        tags = self.tag_sets[j]
        w = {
            "false_disclosure": 1.5 + 2.0 * self.zero_report[j] + 1.5 * (self.owed_year[j] >= 0),
            "licence": 0.5 + 4.0 * self.licence_lapsed[j],
            "product_quality": 0.4 + 1.5 * bool(tags & {"industrial_products", "cosmetics"}),
            "food_safety": 3.0 * bool(tags & {"food_production", "food_distribution", "catering"}),
            "drug_device_safety": 3.0 * bool(tags & {"drugs", "medical_devices"}),
            "special_equipment": 3.0 * ("special_equipment" in tags),
            "advertising_pricing": 0.8 + 1.2 * bool(self.consumer[j]),
            "address_unreachable": 0.3 + 1.0 * self.pop.cluster_address[j],
        }
        keys = list(w)
        p = np.array([w[c] for c in keys], dtype=float)
        return keys[int(np.searchsorted(np.cumsum(p), self.rng.random() * p.sum()))]

    def _items(self, j: int) -> str:
        items = ["disclosure", "registration"]
        for tag in sorted(self.tag_sets[j]):
            item = _ITEM_FOR_TAG.get(tag)
            if item and item not in items:
                items.append(item)
        if self.consumer[j]:
            items.append("advertising_pricing")
        return ";".join(items)

    def _list_transitions(self, k: int, start: int, end: int, alive: B) -> None:
        ec, rng = self.cfg.events, self.rng
        # unreachable firms that regularise leave the list
        back = self._bern(
            self.cfg.events.unreachable_regularised_monthly,
            alive & ~self.dormant & (self.abn_reason == 2) & (self.abn_since < start),
        )
        self._unlist_abnormal(back, self._day(k, back), "reachable")
        conc = self._bern(0.05, alive & (self.abn_reason == 1) & (self.abn_since < start))
        self._unlist_abnormal(conc, self._day(k, conc), "corrected")
        # three years on the abnormal list -> the serious list (Regulation on the serious list)
        due = np.flatnonzero(
            alive
            & (self.abn_reason >= 0)
            & (self.abn_since + 3 * 365 <= end)
            & (self.abn_since + 3 * 365 >= start)
        )
        day = self.abn_since[due] + 3 * 365
        self._unlist_abnormal(due, day, "moved_to_serious")
        self._list_serious(due, day, "abnormal_3y")
        # serious listings end after 3 years, or earlier by credit repair
        listed = np.flatnonzero(self.serious & (self.serious_since < start))
        expired = listed[self.serious_since[listed] + 3 * 365 <= end]
        repair = listed[
            (rng.random(len(listed)) < ec.serious_repair_monthly)
            & ~self.dormant[listed]
            & alive[listed]
        ]
        for firms, reason in (
            (np.setdiff1d(expired, repair), "expired"),
            (repair, "credit_repair"),
        ):
            if len(firms) == 0:
                continue
            day = np.maximum(self._day(k, firms), self.serious_since[firms] + 1)
            if reason == "expired":
                day = np.minimum(np.maximum(self.serious_since[firms] + 3 * 365, start), end)
            self.log.update("serious_dishonest_list", "removed_day", self.serious_row[firms], day)
            self.log.update(
                "serious_dishonest_list",
                "removal_reason",
                self.serious_row[firms],
                np.full(len(firms), reason, dtype=object),
            )
            self.serious[firms] = False
            self.serious_since[firms] = NO_DAY
        # dormant firms on the serious list get their business licence revoked
        rev = self._bern(ec.revocation_after_serious_monthly, alive & self.serious & self.dormant)
        if len(rev):
            days = self._day(k, rev)
            ids = self._next_ids(len(rev))
            self._add(
                "penalties",
                firm=rev,
                decision_no=np.array(
                    [f"粤市监罚〔{self.cal.year[k]}〕{i:08d}号" for i in ids + self.id_base]
                ),
                penalty_kind=np.full(len(rev), "business_licence_revocation"),
                cause=np.full(len(rev), "registration"),
                decision_day=days,
                amount=np.zeros(len(rev)),
                minor=np.zeros(len(rev), dtype=bool),
                repaired_day=np.full(len(rev), NULL_DAY, dtype=np.int64),
            )
            self._count("penalty", rev, k)
            self.revoked_day[rev] = days

    def _legacy_classes(self, k: int, end: int) -> I64:
        """The rule-based scheme (加权评定) the bureau used before a model: points for
        what it could see at the month end, cut at configured thresholds."""
        pts = self.cfg.legacy_scheme.points
        th = self.cfg.legacy_scheme.thresholds
        c = self.counts
        k1 = k + 1

        def window(key: str, months: int) -> npt.NDArray[np.int32]:
            return c[key][:, k1] - c[key][:, max(0, k1 - months)]

        pop = self.pop
        score = (
            pts["serious_list"] * self.serious
            + pts["abnormal_list"] * (self.abn_reason >= 0)
            + pts["dishonest_debtor"] * (self.dishonest_until > end)
            + pts["penalty_12m"] * np.minimum(window("penalty", 12), 2)
            + pts["minor_penalty_12m"] * np.minimum(window("minor_penalty", 12), 2)
            + pts["penalty_36m"] * np.minimum(window("penalty", 36) - window("penalty", 12), 2)
            + pts["problem_24m"] * (window("problem", 24) > 0)
            + pts["complaints_12m"] * np.minimum(window("complaint", 12), 2)
            + pts["shared_address"] * (self.pop.address_size >= 5)
            + pts["enforcement"] * (self.enforced_until > end)
            + pts["licence_lapsed"] * self.licence_lapsed
            + pts["legal_rep_changes_12m"] * (window("rep_change", 12) >= 2)
            + pts["young_2y"] * (end - pop.established < 730)
            + pts["no_annual_report_history"]
            * (~self.ever_reported & (end - pop.established > 540))
        )
        cls = np.zeros(self.n, dtype=np.int64)
        cls[score >= th["B"]] = 1
        cls[score >= th["C"]] = 2
        cls[score >= th["D"]] = 3
        return cls

    # ------------------------------------------------------------------ output
    def finish(self) -> ChunkResult:
        tables = {name: self._table(name) for name in TABLES}
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

    def _event_columns(self, name: str, raw: dict[str, npt.NDArray]) -> tuple[dict[str, object], B]:
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


def _arrow(values: npt.NDArray, dtype: str) -> pa.Array:
    if dtype == "date":
        v = np.asarray(values, dtype=np.int64)
        mask = v == NULL_DAY
        return pa.array(np.where(mask, 0, v).astype(np.int32), type=pa.date32(), mask=mask)
    if dtype == "float":
        v = np.asarray(values, dtype=np.float64)
        return pa.array(v, type=pa.float64(), mask=np.isnan(v))
    if dtype == "int":
        v = np.asarray(values, dtype=np.float64)
        mask = np.isnan(v)
        return pa.array(np.where(mask, 0, v).astype(np.int64), type=pa.int64(), mask=mask)
    if dtype == "bool":
        v = np.asarray(values)
        if v.dtype == np.float64:
            mask = np.isnan(v)
            return pa.array(np.where(mask, 0, v).astype(bool), type=pa.bool_(), mask=mask)
        return pa.array(v.astype(bool), type=pa.bool_())
    v = np.asarray(values, dtype=object)
    mask = (
        np.array([x is None or x == "" for x in v], dtype=bool)
        if len(v)
        else np.zeros(0, dtype=bool)
    )
    return pa.array(np.where(mask, "", v).astype(str), type=pa.string(), mask=mask)


def simulate_chunk(
    cfg: SimulatorConfig, months: int, chunk_index: int, n: int, seed: int
) -> ChunkResult:
    """Generate chunk ``chunk_index`` (``n`` enterprises) over ``months`` window months."""
    cal = Calendar.ending(cfg.end_month, months, cfg.burn_in_months)
    rng = chunk_rng(seed, chunk_index)
    pop = build_population(cfg, cal, chunk_index, n, rng)
    chunk = _Chunk(cfg, cal, pop, rng, seed)
    chunk.initial_state()
    for k in range(cal.n_months):
        chunk.step(k)
    return chunk.finish()
