"""The bureau's legacy classification scheme and the inspections it drives.

`_legacy_classes` is the rule-based scheme (加权评定) the bureau used before a model;
its classes set each firm's draw rate in the double-random rounds. `_inspections` draws
those rounds and the targeted inspections (complaints, campaigns, referrals), and
`_inspect` records each inspection, decides from the hidden problem probability what it
finds, and applies the consequences (listing, a correction of the latent risk, a penalty
later). `_Legacy` is a mixin of `simulator.engine._Chunk`; its draws happen in the order
`_Chunk.step` calls them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from simulator.config import RISK_CLASSES
from simulator.events import _Events
from simulator.state import F64, I64, B, _sigmoid

CATEGORIES = (
    "false_disclosure",
    "licence",
    "product_quality",
    "food_safety",
    "drug_device_safety",
    "special_equipment",
    "advertising_pricing",
    "address_unreachable",
)
# the inspection item under which each category of problem is checked (its detection rate)
_ITEM_FOR_CATEGORY = {
    "false_disclosure": "disclosure",
    "licence": "registration",
    "product_quality": "product_quality",
    "food_safety": "food_safety",
    "drug_device_safety": "drug_quality",
    "special_equipment": "special_equipment",
    "advertising_pricing": "advertising_pricing",
    "address_unreachable": "address",
}
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


class _Legacy(_Events):
    """The legacy scheme, the inspection draws it weights, and what inspections find.

    It builds on `_Events`: a finding lists a firm or schedules a penalty."""

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
            # found unreachable at the registered address (a listing by inspection)
            + (pts.get("abnormal_unreachable", pts["abnormal_list"]) - pts["abnormal_list"])
            * (self.abn_reason == 2)
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

    def _inspections(self, k: int, month: int, alive: B) -> None:
        cfg, rng, pop = self.cfg, self.rng, self.pop
        ic = cfg.inspections
        eligible = alive & (pop.established < self.cal.start[k])
        parts: list[tuple[I64, str, F64]] = []
        # double-random rounds run in every month, warm-up and delivered history included,
        # so that a feature's 36-month window of inspections is full from the first month
        period = 12 // ic.rounds_per_year
        in_round = (month - 1 + self.division_offset[pop.division_idx]) % period == 0
        rate = np.array([ic.class_rates[c] for c in RISK_CLASSES])[self.legacy]
        drawn = np.flatnonzero(eligible & in_round & (rng.random(self.n) < rate))
        parts.append((drawn, "double_random", rate[drawn]))
        targeted = np.flatnonzero(eligible & (self.pending_targeted == k))
        self.pending_targeted[self.pending_targeted == k] = -1
        campaign = self._bern(
            ic.campaign_monthly * np.exp(0.5 * self.zo()), eligible & (self.product_tag != "")
        )
        referral = self._bern(ic.referral_monthly * np.exp(self.zo()), eligible)
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

    def _category_weights(self, k: int, firms: I64) -> F64:
        """Weights of each problem category (columns in `CATEGORIES` order) for ``firms``:
        a problem is found where the firm's own records point (a lapsed licence, a failed
        sampling of its product, complaints, an owed or empty annual report); the sector
        alone weighs little."""
        pop = self.pop
        c = self.counts["complaint"]
        complaints = np.minimum(c[firms, k] - c[firms, max(0, k - 12)], 3)
        failed = (k - self.last_fail[firms]) <= 12
        food, drug, se, prod = (self.tag_masks[t][firms] for t in ("food", "drug", "se", "prod"))
        w = np.column_stack(
            [
                0.3 + 3.0 * self.zero_report[firms] + 3.0 * (self.owed_year[firms] >= 0),
                0.2 + 6.0 * self.licence_lapsed[firms],
                prod * (0.5 + 6.0 * failed),
                food * (0.5 + 6.0 * failed),
                drug * (0.5 + 6.0 * failed),
                se * 0.8,
                0.2 + 0.4 * self.consumer[firms] + 2.0 * complaints,
                0.1 + 0.6 * pop.cluster_address[firms],
            ]
        ).astype(np.float64)
        # dormant firms are found unreachable at their address
        w[self.dormant[firms]] = np.eye(len(CATEGORIES))[CATEGORIES.index("address_unreachable")]
        return w

    def _detection(self, firms: I64, cat_idx: I64, skill: F64) -> F64:
        """Chance that an inspector of ``skill`` sees a problem of category ``cat_idx``."""
        rates = np.array([self.cfg.detection.item_rates[_ITEM_FOR_CATEGORY[c]] for c in CATEGORIES])
        rate = np.clip(rates[cat_idx], 1e-6, 1 - 1e-6)
        return _sigmoid(np.log(rate / (1 - rate)) + skill)

    def _pool_detection(self) -> F64:
        """Per division slot and category: the chance that an inspector drawn at random from
        the division's pool sees the problem (the mean over the pool; fixed by the seed)."""
        table: F64 | None = getattr(self, "_pool_table", None)
        if table is None:
            rates = np.array(
                [self.cfg.detection.item_rates[_ITEM_FOR_CATEGORY[c]] for c in CATEGORIES]
            )
            logit = np.log(np.clip(rates, 1e-6, 1 - 1e-6) / np.clip(1 - rates, 1e-6, 1))
            skill = self.inspector_skill  # (division slots, inspectors)
            table = _sigmoid(logit[None, None, :] + skill[:, :, None]).mean(axis=1)
            self._pool_table = table
        return table

    def expected_detection(self, k: int, firms: I64) -> F64:
        """Chance that the inspector drawn for a firm finds its problem: over the categories
        the problem may be and the division's pool of inspectors (nothing a targeting policy
        could not know beyond the firm itself)."""
        w = self._category_weights(k, firms)
        w = w / w.sum(axis=1, keepdims=True)
        per_cat = self._pool_detection()[self.pop.division_idx[firms]]
        out: F64 = (w * per_cat).sum(axis=1)
        return out

    def _inspect(self, k: int, firms: I64, mode: str, prob: F64) -> None:
        cfg, rng, pop = self.cfg, self.rng, self.pop
        m = len(firms)
        double = mode == "double_random"
        bonus = 0.0 if double else cfg.inspections.targeted_problem_bonus
        p_present = self.p_problem(bonus)[firms]
        present = rng.random(m) < p_present
        # what the problem is follows from the events that caused it (hidden truth)
        w = self._category_weights(k, firms)
        cum = np.cumsum(w, axis=1)
        cat_idx = (cum < (rng.random(m) * cum[:, -1])[:, None]).sum(axis=1)
        cat_idx = np.minimum(cat_idx, len(CATEGORIES) - 1)
        # the inspector, drawn at random from the division's pool, sees it or misses it
        inspector = rng.integers(0, cfg.detection.inspectors_per_division, m)
        skill = self.inspector_skill[pop.division_idx[firms], inspector]
        p_detect = self._detection(firms, cat_idx, skill)
        detected = rng.random(m) < p_detect
        found = present & detected
        # the true probability that this inspection finds a problem, as far as anything about
        # the firm could tell (not which inspector came, nor which category was drawn): the
        # oracle every model is compared with
        p = p_present * self.expected_detection(k, firms)
        days = self._day(k, firms)
        names: npt.NDArray[np.object_] = np.array(CATEGORIES, dtype=object)[cat_idx]
        category = names.copy()
        category[~found] = None
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
        self.insp_truth_present.append(present)
        self.insp_truth_detected.append(detected)
        self.insp_truth_inspector.append(pop.division_idx[firms] * 1000 + inspector)
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

    def _items(self, j: int) -> str:
        items = ["disclosure", "registration"]
        for tag in sorted(self.tag_sets[j]):
            item = _ITEM_FOR_TAG.get(tag)
            if item and item not in items:
                items.append(item)
        if self.consumer[j]:
            items.append("advertising_pricing")
        return ";".join(items)
