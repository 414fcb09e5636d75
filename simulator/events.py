"""The records a chunk's enterprises leave month by month: annual reports, complaints,
penalties, court cases, registry changes, pledges, licences, product sampling, social
signals, the abnormal-operation and serious-dishonesty lists, and deregistration.

`_Events` is a mixin of `simulator.engine._Chunk`; its methods draw from the chunk's
random stream in the order `_Chunk.step` calls them (do not reorder draws: the same seed
must give the same province).
"""

from __future__ import annotations

import numpy as np

from simulator.calendar import NULL_DAY
from simulator.state import I64, NO_DAY, B, _ChunkState, _sigmoid

CHANGE_KINDS = (
    "legal_representative",
    "address",
    "registered_capital",
    "shareholders",
    "business_scope",
    "name",
    "other",
)
_ABNORMAL = ("annual_report", "concealment", "unreachable")
_TAX_RATINGS = np.array(["A", "B", "M", "C", "D"])
_TAX_SCORES = np.array([95.0, 80.0, 70.0, 55.0, 30.0])


class _Events(_ChunkState):
    """Monthly events and the lists they lead to."""

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
            z = self.zo()
            p = _sigmoid(ec.annual_report_on_time_intercept - ec.annual_report_on_time_slope * z)
            # shells file (empty reports) half the time to stay off the list
            # dormant firms file nothing, or (signal.dormant_filing_share) an empty report
            dormant_files = self.cfg.signal.dormant_filing_share
            p = np.where(pop.shell, 0.5, np.where(self.dormant, dormant_files, p))
            self.files_on_time = due & (rng.random(n) < p)
            # most reports come in May and June, before the June 30 deadline
            self.file_month = rng.choice(6, size=n, p=[0.04, 0.05, 0.09, 0.17, 0.27, 0.38]) + 1
            self.zero_report = (
                rng.random(n) < _sigmoid(ec.zero_report_intercept + ec.zero_report_slope * z)
            ) | (pop.shell & (rng.random(n) < 0.8))
            self.zero_report |= self.dormant
        if 1 <= month <= 6:
            filing = np.flatnonzero(
                (active | (alive & self.dormant & (self.cfg.signal.dormant_filing_share > 0)))
                & self.files_on_time
                & (self.file_month == month)
                & (self.owed_year >= 0)
            )
            days = self._file_reports(k, filing)
            # a firm listed for an earlier missing report files that one too, and leaves
            listed = self.abn_reason[filing] == 0
            self._unlist_abnormal(
                filing[listed],
                days[listed] + rng.integers(0, 10, int(listed.sum())),
                "report_filed",
            )
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
            * np.exp(ec.complaint_slope * self.zo())
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
            -0.8 + self.cfg.events.complaint_substantiated_slope * self.zo()[firms]
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
        h = ec.penalty_monthly * np.exp(ec.penalty_slope * self.zo())
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
        z = self.zo()[firms]
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
        # heavy penalties for serious violations put a firm on the serious list (the
        # violation is real: its seriousness follows the true risk, not the records)
        heavy = firms[
            (np.isin(kind, ["suspension", "licence_revocation", "business_licence_revocation"]))
            & (self.z()[firms] > 1.0)
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
        h = ec.judicial_monthly * np.exp(ec.judicial_slope * self.zo())
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
        z = self.zo()[firms]
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
        scale = np.exp(ec.change_slope * self.zo()) * burst
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
                    (self.zo()[firms] > 1.5) & (rng.random(m) < 0.5) & (len(self.nominee_pool) > 0)
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
                    self.zo()[firms] > 1.0, rng.uniform(0.1, 0.9, m), rng.uniform(1.2, 5.0, m)
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

    def _pledges(self, k: int, active: B) -> None:
        ec, rng, pop = self.cfg.events, self.rng, self.pop
        h = (
            ec.pledge_monthly
            * np.exp(ec.pledge_slope * self.zo())
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
        p = self.cfg.events.licence_renewal_prob * _sigmoid(2.5 - self.zo()[expiring])
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
            ec.sampling_fail_intercept + ec.sampling_fail_slope * self.zo()[firms]
        )
        self._add(
            "product_sampling",
            firm=firms,
            sample_id=self._next_ids(m),
            sample_day=self._day(k, firms),
            product_tag=self.product_tag[firms].astype(str),
            result=np.where(fail, "fail", "pass"),
        )
        self.last_fail[firms[fail]] = k
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
            s = self.zo()[rated] + rng.normal(0, self.cfg.signal.tax_rating_noise_sd, len(rated))
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
                np.round(
                    4.6
                    - 0.3 * self.zo()[cat]
                    + rng.normal(0, self.cfg.signal.platform_rating_noise_sd, len(cat)),
                    1,
                ),
                1.0,
                5.0,
            )
            self._add(
                "social",
                firm=cat,
                indicator=np.full(len(cat), "platform_rating"),
                value=np.array([f"{v:.1f}" for v in score]),
                score=score,
                eval_day=self._day(k, cat),
            )
        news = self._bern(self.cfg.events.news_monthly * np.exp(self.zo()), alive)
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
