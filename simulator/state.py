"""The state of one chunk of enterprises while its months are simulated, and the helpers
every part of the simulation draws with.

`_ChunkState` owns the per-firm arrays (life, latent risk, lists, licences, annual
reports, persons, scheduled follow-ups, the legacy scheme's monthly counters, the truth
and summary counts) and the small helpers that draw days, lags and Bernoulli outcomes
from the chunk's one random stream. The parts that act on it are mixins: the records
(`simulator.events`), the legacy scheme and the inspections it drives
(`simulator.legacy`) and the output tables (`simulator.tables`); `simulator.engine`
puts them together. Every draw comes from ``self.rng``, in the order the month's steps
call them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from contract.tables import TABLES
from simulator import mix
from simulator.calendar import Calendar
from simulator.config import SimulatorConfig
from simulator.eventlog import EventLog
from simulator.population import CONSUMER_DIVISIONS, Population

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

NO_DAY = np.iinfo(np.int64).max  # "never" for open-ended state

# each firm's licence, from its first sector tag
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
# product-sampling tags: a firm's product tag is the first of these it has
_PRODUCT_TAGS = (
    "food_production",
    "food_distribution",
    "catering",
    "drugs",
    "medical_devices",
    "cosmetics",
    "industrial_products",
)


# The day column that dates each table's records (the contract's event date).
_EVENT_DAY = {
    name: t.event_date.replace("_date", "_day") for name, t in TABLES.items() if t.event_date
}


def _sigmoid(x: F64) -> F64:
    return 1.0 / (1.0 + np.exp(-x))


class _ChunkState:
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
        # latent risk: z = z_base + a + young_effect * young, a an AR(1) with shocks; the
        # young-firm effect fades over the first three years (so a firm born late does not
        # stay young for ever and the province's risk does not drift up as it ages)
        self.a = np.zeros(n)
        self.young = np.zeros(n)
        self.set_young(int(cal.start[0]))
        # what the records show: the risk blurred by a firm's own offset (SignalConfig)
        sc = cfg.signal
        self.obs_offset = rng.normal(0.0, 1.0, n) * sc.observable_noise_sd
        # inspectors: per division a pool with a detection skill (hidden truth); the same
        # for every chunk (drawn from the seed alone)
        dc = cfg.detection
        pool_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31 - 1,)))
        self.inspector_skill = pool_rng.normal(
            0.0, dc.inspector_skill_sd, (10_000, dc.inspectors_per_division)
        )
        # the month of the latest failed product sampling (-99: none), for categories
        self.last_fail = np.full(n, -99, dtype=np.int64)
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
        self.tag_masks = {
            key: np.array([bool(t & tags) for t in self.tag_sets])
            for key, tags in (
                ("food", {"food_production", "food_distribution", "catering"}),
                ("drug", {"drugs", "medical_devices"}),
                ("se", {"special_equipment"}),
                ("prod", {"industrial_products", "cosmetics"}),
            )
        }
        self.product_tag = np.array(
            [next((t for t in _PRODUCT_TAGS if t in s), "") for s in self.tag_sets], dtype=object
        )
        # truth and stats
        W = cal.n_months - cal.burn_in
        self.truth_z = np.full((n, W), np.nan, dtype=np.float32)
        self.truth_p = np.full((n, W), np.nan, dtype=np.float32)
        self.truth_present = np.full((n, W), np.nan, dtype=np.float32)
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
        self.insp_truth_present: list[B] = []
        self.insp_truth_detected: list[B] = []
        self.insp_truth_inspector: list[I64] = []

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

    def set_young(self, day: int) -> None:
        """The young-firm share of the risk as of ``day`` (1 at birth, 0 from three years)."""
        age = (day - self.pop.established) / 365.25
        self.young = np.clip(1.0 - age / 3.0, 0.0, 1.0)

    def z(self) -> F64:
        z: F64 = self.pop.z_base + self.a + self.cfg.risk.young_effect * self.young
        return z

    def zo(self) -> F64:
        """The risk as the records show it (events are driven by this, problems by `z`)."""
        zo: F64 = self.cfg.signal.event_slope_scale * self.z() + self.obs_offset
        return zo

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

    def _address_ids(self, address: I64) -> npt.NDArray[np.object_]:
        chunk = self.id_base // 10**9
        return np.array([f"AD{chunk:05d}{a:010d}" for a in address], dtype=object)
