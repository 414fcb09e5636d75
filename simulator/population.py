"""The static side of a chunk of the province: who the enterprises are, where, in what
trade, how big, and the hidden structure that ties them together (shared addresses,
nominee persons, shell clusters, investors, parents).

Pure: takes a config, a size and a random generator; returns arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulator import mix
from simulator.calendar import Calendar
from simulator.config import SimulatorConfig

ENTITY_TYPES = ("enterprise", "individual_business", "farmer_cooperative")
ENTITY_DIGIT = np.array([1, 2, 3])  # second character of the USCC (GB 32100-2015)
REFORM_DAY = int(np.datetime64("2015-10-01").astype(np.int64))  # USCCs issued from then on

# Individual businesses and cooperatives trade in a narrow set of divisions.
_INDIVIDUAL_DIVISIONS = {"52": 0.45, "62": 0.25, "80": 0.15, "51": 0.05, "81": 0.05, "53": 0.05}
_COOP_DIVISIONS = {"01": 0.55, "03": 0.25, "02": 0.1, "05": 0.1}
# Consumer-facing divisions get many more complaints.
CONSUMER_DIVISIONS = frozenset({"52", "61", "62", "70", "80", "81", "83", "86", "87", "88", "90"})

_TRADE_CHARS = (
    "华鑫盛兴隆宏达金泰恒瑞祥丰源晟德信安顺康和嘉裕乐美佳君创新锦欣荣辉"
    "邦威凯腾骏博通海天宇星辰联合中远卓越汇聚诚誉永升旭东南北粤穗深莞佛"
    "明亮光耀智慧云峰林森茂恩福禄寿喜春秋晨曦雅致尚品优乐众赢启航腾飞"
)
_TRADE = tuple(
    dict.fromkeys(
        _TRADE_CHARS
        + "鼎盈泽润鸿运宝龙凤麟晨阳煌银铜玉珠翠宁静远志毅勤俭朴素清风朗月岭川江河湖澜涛洋宏图伟业旺发昌"
        + "精工匠心和顺美途锐捷迅驰冠领先卓尔越秀粤港澳湾环球通达百汇千万亿丰收"
    )
)  # unique characters, order kept: the bijection below depends on it
_INDUSTRY_WORDS = {
    "A": "农业发展",
    "C": "实业",
    "E": "建设工程",
    "F": "贸易",
    "G": "物流",
    "H": "餐饮管理",
    "I": "科技",
    "K": "房地产开发",
    "L": "企业管理咨询",
    "M": "技术服务",
}
_SHOP_WORDS = {
    "52": "便利店",
    "62": "餐馆",
    "80": "美发店",
    "51": "商行",
    "81": "维修部",
    "53": "货运部",
}


@dataclass
class Population:
    """Per-enterprise attributes of one chunk (index j = 0..n-1)."""

    global_index: npt.NDArray[np.int64]
    entity: npt.NDArray[np.int64]  # index into ENTITY_TYPES
    legal_form: npt.NDArray[np.str_]
    division: npt.NDArray[np.int64]  # 6-digit code
    division_idx: npt.NDArray[np.int64]
    industry_idx: npt.NDArray[np.int64]  # index into mix.industries()
    established: npt.NDArray[np.int64]  # day number
    capital: npt.NDArray[np.float64]  # 万元, NaN when not registered
    paid_in: npt.NDArray[np.float64]
    employees: npt.NDArray[np.float64]
    address: npt.NDArray[np.int64]  # chunk-local address number
    address_size: npt.NDArray[np.int64]
    cluster_address: npt.NDArray[np.bool_]
    shell: npt.NDArray[np.bool_]
    shell_cluster: npt.NDArray[np.int64]  # -1 when none
    nominee: npt.NDArray[np.int64]  # person number of the nominee legal rep, -1 when none
    investor: npt.NDArray[np.int64]  # person number of a multi-firm investor, -1 when none
    parent: npt.NDArray[np.int64]  # chunk-local index of the parent enterprise, -1 when none
    branch_of: npt.NDArray[np.int64]  # head office of a branch, -1 when none
    tags: list[str]
    names: list[str]
    z_base: npt.NDArray[np.float64]

    @property
    def n(self) -> int:
        return len(self.global_index)


def _choose(rng: np.random.Generator, weights: dict[str, float], size: int) -> npt.NDArray[np.str_]:
    keys = np.array(list(weights))
    p = np.array(list(weights.values()), dtype=np.float64)
    return keys[rng.choice(len(keys), size=size, p=p / p.sum())]


def _cluster_sizes(rng: np.random.Generator, members: int, mean: float) -> npt.NDArray[np.int64]:
    """Split ``members`` into clusters of heavy-tailed size (at least 2) with about ``mean``."""
    sizes: list[int] = []
    left = members
    while left >= 2:
        s = int(min(left, max(2, round(rng.lognormal(np.log(mean) - 0.5, 1.0)))))
        sizes.append(s)
        left -= s
    if left and sizes:
        sizes[-1] += left
    return np.array(sizes, dtype=np.int64)


def build_population(
    cfg: SimulatorConfig,
    cal: Calendar,
    chunk_index: int,
    n: int,
    rng: np.random.Generator,
) -> Population:
    pc, rc = cfg.population, cfg.risk
    divs, inds = mix.divisions(cfg.province), mix.industries()
    global_index = np.arange(n, dtype=np.int64) + chunk_index * cfg.chunk_size

    entity = rng.choice(3, size=n, p=np.array(list(pc.entity_type_shares.values())))
    legal_form = _choose(rng, pc.legal_form_shares, n)
    legal_form = np.where(entity == 1, "individual_business", legal_form)
    legal_form = np.where(entity == 2, "farmer_cooperative", legal_form)

    # Where and in what trade.
    division_idx = rng.choice(len(divs.code), size=n, p=divs.weight)
    industry_idx = rng.choice(len(inds.code), size=n, p=inds.weight)
    ind_div = np.array(inds.division)
    for ent, table in ((1, _INDIVIDUAL_DIVISIONS), (2, _COOP_DIVISIONS)):
        rows = np.flatnonzero(entity == ent)
        chosen = _choose(rng, table, len(rows))
        for div in table:
            candidates = np.flatnonzero(ind_div == div)
            pick = rows[chosen == div]
            if len(candidates) == 0:
                raise ValueError(f"industry_classes.csv has no class in division {div}")
            industry_idx[pick] = rng.choice(candidates, size=len(pick))

    # Establishment: ages at the last month are heavy in young firms (exponential) with an
    # older tail. Births therefore grow over time at a steady rate, and the stock's age mix
    # is the same in every month (no drift in age, hence in the latent risk); firms born
    # before the first simulated month are there from its start.
    sim_end = cal.end_day
    age_years = np.where(
        rng.random(n) < pc.age_old_share,
        rng.uniform(5, pc.age_max_years, n),
        rng.exponential(pc.age_young_mean_years, n),
    )
    age_years = np.minimum(age_years, pc.age_max_years)
    established = sim_end - (age_years * 365.25).astype(np.int64)

    # Size: lognormal capital (万元) by entity type, rounded as registries do.
    log_median = np.array([pc.capital_log_median[e] for e in ENTITY_TYPES])[entity]
    capital = np.exp(rng.normal(log_median, pc.capital_log_sd))
    capital = np.where(capital >= 10, np.round(capital, -1), np.round(capital, 0))
    capital = np.maximum(capital, 1.0)
    paid_in = np.where(
        rng.random(n) < pc.paid_in_reported_share, capital * rng.uniform(0, 1, n), np.nan
    )
    paid_in = np.round(paid_in, 2).astype(np.float64)
    employees = np.floor(np.exp(rng.normal(pc.employees_log_mean, pc.employees_log_sd, n)))
    employees = np.where(entity == 1, np.minimum(employees, 8), employees)

    # Addresses: cluster-registration addresses host many firms; the rest are single.
    address = np.arange(n, dtype=np.int64)
    cluster_address = np.zeros(n, dtype=bool)
    in_cluster = np.flatnonzero((rng.random(n) < pc.cluster_address_share) & (entity == 0))
    rng.shuffle(in_cluster)
    start = 0
    for size in _cluster_sizes(rng, len(in_cluster), pc.cluster_address_mean_size):
        members = in_cluster[start : start + size]
        address[members] = members[0]
        # firms at one address share a division (the address is in one place)
        division_idx[members] = division_idx[members[0]]
        cluster_address[members] = True
        start += size

    # Shell clusters: one nominee legal representative behind several firms at one
    # address, often with a large registered capital and nothing behind it.
    shell = np.zeros(n, dtype=bool)
    shell_cluster = np.full(n, -1, dtype=np.int64)
    nominee = np.full(n, -1, dtype=np.int64)
    person_counter = n * 8  # person numbers below this are reserved for per-firm persons
    candidates = np.flatnonzero((entity == 0) & (legal_form != "branch"))
    n_shell = int(len(candidates) * pc.shell_cluster_share)
    shell_members = rng.choice(candidates, size=n_shell, replace=False)
    start = 0
    for c, size in enumerate(_cluster_sizes(rng, n_shell, pc.shell_cluster_mean_size)):
        members = shell_members[start : start + size]
        start += size
        shell[members] = True
        shell_cluster[members] = c
        nominee[members] = person_counter
        person_counter += 1
        address[members] = members[0]
        division_idx[members] = division_idx[members[0]]
        cluster_address[members] = True
        # shells are registered recently, in a burst
        base_day = established[members[0]]
        established[members] = base_day + rng.integers(0, 120, len(members))
    big = shell & (rng.random(n) < pc.big_capital_shell_share)
    capital = np.where(big, np.round(rng.uniform(1.0, 10.0, n)) * 10_000, capital)
    employees = np.where(shell, np.where(rng.random(n) < 0.7, 0, 1), employees)
    established = np.minimum(established, sim_end)
    counts = np.bincount(address, minlength=n)
    address_size = counts[address]

    # Ordinary investors behind 2-5 firms (family groups), and parents of subsidiaries.
    investor = np.full(n, -1, dtype=np.int64)
    fam = np.flatnonzero((rng.random(n) < pc.family_group_share) & (entity == 0) & ~shell)
    rng.shuffle(fam)
    start = 0
    while start < len(fam) - 1:
        size = int(rng.integers(2, 6))
        investor[fam[start : start + size]] = person_counter
        person_counter += 1
        start += size
    parent = np.full(n, -1, dtype=np.int64)
    # An LLC held by legal persons has, by definition, an enterprise behind it.
    is_sub = np.flatnonzero(legal_form == "llc_legal_person")
    parents_pool = np.flatnonzero((entity == 0) & (capital >= 500) & (legal_form != "branch"))
    if len(parents_pool):
        parent[is_sub] = rng.choice(parents_pool, size=len(is_sub))
        parent[parent == np.arange(n)] = -1
    branch_of = np.full(n, -1, dtype=np.int64)
    branches = np.flatnonzero(legal_form == "branch")
    heads = np.flatnonzero((entity == 0) & (legal_form != "branch"))
    branch_of[branches] = rng.choice(heads, size=len(branches))
    # Parents and head offices exist before their subsidiaries and branches (chains too:
    # repeat until nothing moves; the clamp to the last day keeps the order, as ties).
    established = np.minimum(established, sim_end)
    for _ in range(50):
        before = established.copy()
        for child_of in (parent, branch_of):
            has = np.flatnonzero(child_of >= 0)
            later = np.minimum(established[child_of[has]] + 30, sim_end)
            established[has] = np.maximum(established[has], later)
        if np.array_equal(before, established):
            break

    # Key-sector tags follow the industry class, plus special-equipment users elsewhere
    # (factories with boilers, lifts, forklifts) and food sellers among general retail.
    tags = [inds.tags[i] for i in industry_idx]
    extra_se = (rng.random(n) < 0.02) & (entity == 0)
    for j in np.flatnonzero(extra_se):
        tags[j] = ";".join(sorted(set(filter(None, [*tags[j].split(";"), "special_equipment"]))))

    # Latent risk: what the firm is, where and with whom.
    industry_effect = rng.normal(0, rc.industry_effect_sd, len(inds.code))[industry_idx]
    division_effect = rng.normal(0, rc.division_effect_sd, len(divs.code))[division_idx]
    z_base = (
        rc.base_intercept
        + rc.small_capital_effect * (np.log(100.0) - np.log(capital)).clip(-3, 4)
        + rc.individual_business_effect * (entity == 1)
        + industry_effect
        + division_effect
        + rc.cluster_address_effect * (cluster_address & ~shell)
        + rc.shell_effect * shell
        + rng.normal(0, rc.idiosyncratic_sd, n)
    )
    # Related-party risk: the investor's and the parent's other firms share part of it.
    for group in (investor, shell_cluster):
        member = group >= 0
        if member.any():
            _, inv = np.unique(group[member], return_inverse=True)
            common = rng.normal(0, 0.6, inv.max() + 1)[inv]
            z_base[member] += common
    has_parent = parent >= 0
    z_base[has_parent] = (1 - rc.parent_effect_weight) * z_base[has_parent] + (
        rc.parent_effect_weight * z_base[parent[has_parent]]
    )

    names = _names(
        cfg.province, global_index, entity, legal_form, industry_idx, division_idx, branch_of
    )
    return Population(
        global_index=global_index,
        entity=entity,
        legal_form=legal_form,
        division=divs.code[division_idx],
        division_idx=division_idx,
        industry_idx=industry_idx,
        established=established,
        capital=np.where(entity == 1, np.where(rng.random(n) < 0.5, capital, np.nan), capital),
        paid_in=paid_in,
        employees=employees,
        address=address,
        address_size=address_size,
        cluster_address=cluster_address,
        shell=shell,
        shell_cluster=shell_cluster,
        nominee=nominee,
        investor=investor,
        parent=parent,
        branch_of=branch_of,
        tags=tags,
        names=names,
        z_base=z_base,
    )


def _names(
    province: str,
    global_index: npt.NDArray[np.int64],
    entity: npt.NDArray[np.int64],
    legal_form: npt.NDArray[np.str_],
    industry_idx: npt.NDArray[np.int64],
    division_idx: npt.NDArray[np.int64],
    branch_of: npt.NDArray[np.int64],
) -> list[str]:
    """Names as registries form them: 行政区划 + 字号 + 行业 + 组织形式."""
    divs, inds = mix.divisions(province), mix.industries()
    n = len(entity)
    trade = trade_names(global_index)
    section_of = {d: _section(d) for d in set(inds.division)}
    names: list[str] = []
    for j in range(n):
        div = inds.division[industry_idx[j]]
        place = divs.prefecture_zh[division_idx[j]]
        if entity[j] == 1:
            county = divs.name_zh[division_idx[j]]
            names.append(f"{county}{trade[j]}{_SHOP_WORDS.get(div, '商店')}")
        elif entity[j] == 2:
            county = divs.name_zh[division_idx[j]]
            names.append(f"{county}{trade[j]}种养专业合作社")
        else:
            word = _INDUSTRY_WORDS.get(section_of[div], "商贸")
            form = legal_form[j]
            if form == "joint_stock":
                suffix = "股份有限公司"
            elif form == "sole_proprietorship":
                suffix = "经营部(个人独资)"
            elif form == "partnership":
                suffix = "(有限合伙)"
            else:
                suffix = "有限公司"
            names.append(f"{place}{trade[j]}{word}{suffix}")
    seen: dict[str, int] = {}
    for b in np.flatnonzero(branch_of >= 0):
        name = f"{names[branch_of[b]]}{divs.name_zh[division_idx[b]]}分公司"
        seen[name] = seen.get(name, 0) + 1
        # a second branch of one head office in one county is numbered, as registries do
        names[b] = name if seen[name] == 1 else name.replace("分公司", f"第{seen[name]}分公司")
    return names


def trade_names(global_index: npt.NDArray[np.int64]) -> npt.NDArray[np.str_]:
    """字号 unique per enterprise number: registries refuse a name already taken, so the
    trade name is a bijection of the number (three characters up to L^3 firms, then four)."""
    chars = np.array(_TRADE)
    size = len(chars)
    out = np.empty(len(global_index), dtype=object)
    for width in (3, 4):
        lo = 0 if width == 3 else size**3
        span = size**width
        sel = (global_index >= lo) & (global_index < lo + span)
        # an affine map with a multiplier coprime to the span scatters neighbours apart
        x = ((global_index[sel] - lo) * 7_919 + 104_729) % span
        parts = []
        for _ in range(width):
            parts.append(chars[x % size])
            x = x // size
        word = parts[0].astype(object)
        for p in parts[1:]:
            word = word + p.astype(object)
        out[sel] = word
    return out.astype(str)


def _section(division: str) -> str:
    d = int(division)
    bounds = [
        (5, "A"), (12, "B"), (43, "C"), (46, "D"), (50, "E"), (52, "F"), (60, "G"),
        (62, "H"), (65, "I"), (69, "J"), (70, "K"), (72, "L"), (75, "M"),
    ]  # fmt: skip
    for upper, section in bounds:
        if d <= upper:
            return section
    return "O"


def organisation_new_style(established: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    return established >= REFORM_DAY
