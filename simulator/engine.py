"""The province month by month: latent risk drives events, events drive the legacy
classes, classes drive double-random draws, and inspection outcomes come from the hidden
probability that a problem would be found.

One call of `simulate_chunk` generates a self-contained chunk of enterprises (everything
that ties firms together - addresses, persons, parents - stays inside a chunk), so
chunks can run in parallel and memory does not grow with the province. Pure: config,
chunk number and seed in; Arrow tables and summary counts out.

This module owns the chunk's set-up and the order of a month (`_Chunk.step`); the parts
are mixins, each in its own module: the state and its helpers (`simulator.state`), the
records (`simulator.events`), the legacy scheme and inspections (`simulator.legacy`) and
the output (`simulator.tables`). The order of the random draws is the order of the calls
here; moving a call moves every later draw.
"""

from __future__ import annotations

import numpy as np

from simulator.calendar import NULL_DAY, Calendar
from simulator.config import SimulatorConfig
from simulator.events import _Events
from simulator.legacy import _Legacy
from simulator.population import build_population
from simulator.state import _sigmoid
from simulator.tables import ChunkResult, ChunkStats, _Tables

__all__ = ["ChunkResult", "ChunkStats", "chunk_rng", "chunk_sizes", "simulate_chunk"]


def chunk_sizes(n_enterprises: int, chunk_size: int) -> list[int]:
    """Enterprises per chunk: full chunks, then the rest.

    >>> chunk_sizes(250_000, 100_000)
    [100000, 100000, 50000]
    """
    full, rest = divmod(n_enterprises, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def chunk_rng(seed: int, chunk_index: int) -> np.random.Generator:
    """Each chunk's own stream, independent of how many chunks run or in what order."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk_index,)))


class _Chunk(_Legacy, _Events, _Tables):
    """One chunk while its months are simulated: set-up, then one `step` per month."""

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

    # ------------------------------------------------------------------ the month
    def step(self, k: int) -> None:
        cfg, cal, rng, pop = self.cfg, self.cal, self.rng, self.pop
        rc = cfg.risk
        n = self.n
        start, end = int(cal.start[k]), int(cal.start[k] + cal.ndays[k] - 1)
        year, month = int(cal.year[k]), int(cal.month[k])
        exists = (pop.established <= end) & (self.dereg_day > end)
        self.set_young(start)

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
            present = self.p_problem()[live]
            self.truth_present[live, w] = present
            self.truth_p[live, w] = present * self.expected_detection(k, live)
            self.truth_dormant[live, w] = self.dormant[live]
            self.truth_class[live, w] = self.legacy[live]
            self.class_counts[w] += np.bincount(self.legacy[live], minlength=4)
            self.alive_counts[w] += len(live)
            yr = self.alive_years.setdefault(year, np.zeros(n, dtype=bool))
            yr[live] = True


def simulate_chunk(
    cfg: SimulatorConfig, months: int, chunk_index: int, n: int, seed: int
) -> ChunkResult:
    """Generate chunk ``chunk_index`` (``n`` enterprises) over ``months`` window months."""
    cal = Calendar.ending(cfg.end_month, months, cfg.burn_in_months, cfg.warm_up_months)
    rng = chunk_rng(seed, chunk_index)
    pop = build_population(cfg, cal, chunk_index, n, rng)
    chunk = _Chunk(cfg, cal, pop, rng, seed)
    chunk.initial_state()
    for k in range(cal.n_months):
        chunk.step(k)
    return chunk.finish()
