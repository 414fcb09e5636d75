"""Relationship information (关联关系信息): key persons, related enterprises, shared addresses,
investments and branches.

"Related" enterprises are those that share a current key person (legal representative,
shareholder, director, supervisor, manager) with the enterprise, or are linked to it by a
current investment or branch relation; the enterprise itself is never its own relation,
and only enterprises of the month's population (not deregistered) count. Their state
(abnormal, seriously dishonest, revoked, penalised) is taken at the same month end.
"""

from __future__ import annotations

from features.catalog import Feature
from features.engine import Block, Window, any_strict, flag


def _persons_active(w: Window) -> str:
    """(person, enterprise) pairs in office at the month end (``Window.end``), population enterprises only.

    One row per pair whatever the number of roles; shared by the person and related-party
    blocks.
    """
    return f"""
    SELECT x.person_id, x.uscc,
      MAX(CASE WHEN x.role = 'legal_representative' THEN 1 ELSE 0 END) AS legal_rep,
      MAX(CASE WHEN x.role = 'shareholder' THEN 1 ELSE 0 END) AS shareholder,
      MAX(CASE WHEN x.role = 'legal_representative' THEN x.from_date END) AS legal_rep_since
    FROM pit_persons x JOIN pop p ON p.uscc = x.uscc
    WHERE x.to_date IS NULL OR x.to_date > {w.end}
    GROUP BY x.person_id, x.uscc"""


def _persons(w: Window) -> str:
    return """
    WITH pn AS (SELECT person_id, COUNT(*) AS firms, SUM(legal_rep) AS legal_rep_firms
                FROM blk_act GROUP BY person_id)
    SELECT a.uscc,
      COUNT(*) AS persons,
      SUM(a.shareholder) AS shareholders,
      MAX(pn.firms) - 1 AS person_other_firms,
      MAX(CASE WHEN a.legal_rep = 1 THEN pn.legal_rep_firms END) - 1 AS legal_rep_other_firms,
      MAX(a.legal_rep_since) AS legal_rep_since
    FROM blk_act a JOIN pn ON pn.person_id = a.person_id
    GROUP BY a.uscc"""


def _active_links(w: Window) -> str:
    return f"SELECT * FROM pit_enterprise_links WHERE to_date IS NULL OR to_date > {w.end}"


def _related(w: Window) -> str:
    links = ""
    if w.has("enterprise_links"):
        links = f"""
      UNION
      SELECT uscc, linked_uscc AS other FROM ({_active_links(w)}) l1
      UNION
      SELECT linked_uscc AS uscc, uscc AS other FROM ({_active_links(w)}) l2"""
    return f"""
    WITH pairs AS (
      SELECT a.uscc, b.uscc AS other
      FROM blk_act a JOIN blk_act b ON a.person_id = b.person_id AND a.uscc <> b.uscc{links}
    )
    SELECT r.uscc,
      COUNT(*) AS n,
      SUM(f.abnormal) AS abnormal,
      SUM(f.serious) AS serious,
      SUM(f.revoked) AS revoked,
      SUM(f.penalised_12m) AS penalised,
      SUM(CASE WHEN f.abnormal + f.serious + f.revoked + f.penalised_12m > 0 THEN 1 ELSE 0 END)
        AS risky
    FROM pairs r JOIN blk_flags f ON f.uscc = r.other
    WHERE r.uscc <> r.other
    GROUP BY r.uscc"""


def _address(w: Window) -> str:
    return """
    WITH a AS (SELECT p.uscc, p.address_id, f.abnormal FROM pop p JOIN blk_flags f ON f.uscc = p.uscc),
    g AS (SELECT address_id, COUNT(*) AS n, SUM(abnormal) AS abnormal FROM a GROUP BY address_id)
    SELECT a.uscc, g.n,
      CASE WHEN g.n > 1 THEN (g.abnormal - a.abnormal) / (g.n - 1.0) END AS abnormal_share
    FROM a JOIN g ON g.address_id = a.address_id"""


def _links(w: Window) -> str:
    parent = "(l.link_kind = 'branch' OR l.share_pct >= 50)"
    # a parent outside the month's population (deregistered) is on none of its lists
    risky = "COALESCE(f.abnormal + f.serious + f.revoked, 0) > 0"
    # an investment of unstated share may or may not make the investor a parent: unknown;
    # the counts are true counts (every enterprise of the population has a row here)
    return f"""
    WITH l AS ({_active_links(w)}),
    outs AS (
      SELECT uscc,
        SUM(CASE WHEN link_kind = 'investment' THEN 1 ELSE 0 END) AS investments,
        SUM(CASE WHEN link_kind = 'branch' THEN 1 ELSE 0 END) AS branches
      FROM l GROUP BY uscc
    ),
    ins AS (
      SELECT l.linked_uscc AS uscc,
        SUM(CASE WHEN l.link_kind = 'investment' THEN 1 ELSE 0 END) AS investors,
        {any_strict(flag(parent))} AS has_parent,
        {any_strict(flag(f"{parent} AND {risky}"))} AS parent_risky
      FROM l LEFT JOIN blk_flags f ON f.uscc = l.uscc
      GROUP BY l.linked_uscc
    )
    SELECT p.uscc,
      COALESCE(o.investments, 0) AS investments, COALESCE(o.branches, 0) AS branches,
      COALESCE(i.investors, 0) AS investors,
      CASE WHEN i.parent_risky = 1 THEN 1 WHEN i.has_parent = 1 THEN i.parent_risky END
        AS parent_risky
    FROM pop p LEFT JOIN outs o ON o.uscc = p.uscc LEFT JOIN ins i ON i.uscc = p.uscc"""


FLAGS = ("enterprises", "changes", "abnormal_list", "serious_dishonest_list", "penalties")
PER = ("enterprises", "changes", "persons")
REL = (*FLAGS, "persons")
LNK = (*FLAGS, "enterprise_links")

BLOCKS = (
    Block("act", PER, _persons_active, joined=False),
    Block("per", PER, _persons, needs=("act",)),
    # the flags read credit repairs when delivered (features.supervision._flags)
    Block(
        "rel",
        REL,
        _related,
        needs=("flags", "act"),
        optional=("enterprise_links", "credit_repairs"),
    ),
    Block("addr", FLAGS, _address, needs=("flags",), optional=("credit_repairs",)),
    Block("lnk", LNK, _links, needs=("flags",), optional=("credit_repairs",)),
)


def _share(
    flag: str, zh: str, en: str, zh_t: str, en_t: str, categories: tuple[str, ...] = ()
) -> Feature:
    return Feature(
        f"rel_{flag}_share",
        "relations",
        f"关联企业{zh}占比",
        f"related enterprises {en}",
        f"通过共同人员或投资、分支关系关联的其他企业中{zh}的比例；无关联企业时缺失",
        f"share of the enterprises related through shared persons, investments or branches "
        f"that are {en}; missing without related enterprises",
        "share",
        f"CASE WHEN rel.n > 0 THEN CAST(rel.{flag} AS DOUBLE) / rel.n END",
        REL,
        direction=1,
        template_zh=zh_t,
        template_en=en_t,
        categories=categories,
    )


FEATURES = (
    Feature(
        "rel_persons",
        "relations",
        "主要人员数",
        "key persons",
        "统计月末在任的主要人员和自然人股东人数",
        "key persons and shareholders in office at the month end",
        "persons",
        "per.persons",
        PER,
        fill="zero",
        template_zh="登记主要人员和股东{value:.0f}人",
        template_en="{value:.0f} key persons and shareholders",
    ),
    Feature(
        "rel_shareholders",
        "relations",
        "自然人股东数",
        "natural-person shareholders",
        "统计月末的自然人股东人数",
        "natural-person shareholders at the month end",
        "persons",
        "per.shareholders",
        PER,
        fill="zero",
        template_zh="自然人股东{value:.0f}人",
        template_en="{value:.0f} natural-person shareholders",
    ),
    Feature(
        "rel_legal_rep_other_firms",
        "relations",
        "法定代表人兼任企业数",
        "other firms of the legal representative",
        "法定代表人同时担任法定代表人的其他企业数；未登记在任法定代表人时缺失",
        "other enterprises whose legal representative is the same person; missing without a "
        "legal representative on record",
        "count",
        "per.legal_rep_other_firms",
        PER,
        direction=1,
        template_zh="法定代表人同时担任另外{value:.0f}家企业的法定代表人",
        template_en="its legal representative is legal representative of {value:.0f} other enterprises",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "rel_person_max_other_firms",
        "relations",
        "人员最多关联企业数",
        "most other firms of one person",
        "本企业主要人员或股东中任一人在其他企业任职或出资的最多企业数；无在任人员时缺失",
        "the largest number of other enterprises in which one of its key persons or shareholders "
        "also holds a role; missing without persons on record",
        "count",
        "per.person_other_firms",
        PER,
        direction=1,
        template_zh="其一名主要人员或股东还关联另外{value:.0f}家企业",
        template_en="one of its key persons or shareholders is tied to {value:.0f} other enterprises",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "rel_legal_rep_tenure_years",
        "relations",
        "法定代表人任职年限",
        "tenure of the legal representative",
        "现任法定代表人任职至统计月末的年数；未登记时缺失",
        "years the current legal representative has served; missing without one",
        "years",
        "days_between(per.legal_rep_since, {w.end}) / 365.25",
        PER,
        direction=-1,
        template_zh="现任法定代表人任职{value:.1f}年",
        template_en="the legal representative has served {value:.1f} years",
    ),
    Feature(
        "rel_linked_firms",
        "relations",
        "关联企业数",
        "related enterprises",
        "通过共同人员或投资、分支关系关联的其他在册企业数",
        "other enterprises related through shared persons, investments or branches",
        "count",
        "rel.n",
        REL,
        fill="zero",
        template_zh="有{value:.0f}家关联企业",
        template_en="{value:.0f} related enterprises",
    ),
    _share(
        "abnormal",
        "正列入经营异常名录",
        "on the abnormal list",
        "关联企业中{value:.0%}正被列入经营异常名录",
        "{value:.0%} of its related enterprises are on the abnormal list",
        categories=("address_unreachable", "false_disclosure"),
    ),
    _share(
        "serious",
        "正列入严重违法失信名单",
        "on the serious list",
        "关联企业中{value:.0%}正被列入严重违法失信名单",
        "{value:.0%} of its related enterprises are on the serious list",
        categories=("address_unreachable", "false_disclosure"),
    ),
    _share(
        "revoked",
        "营业执照被吊销",
        "with a revoked licence",
        "关联企业中{value:.0%}营业执照已被吊销",
        "{value:.0%} of its related enterprises had their licence revoked",
        categories=("address_unreachable",),
    ),
    _share(
        "penalised",
        "近12个月受过处罚",
        "penalised in 12 months",
        "关联企业中{value:.0%}近12个月受过行政处罚",
        "{value:.0%} of its related enterprises were penalised in the last 12 months",
    ),
    Feature(
        "rel_risky_firms",
        "relations",
        "高风险关联企业数",
        "related enterprises at risk",
        "关联企业中列异、严重失信、被吊销或近12个月受处罚的企业数",
        "related enterprises that are abnormal, seriously dishonest, revoked or penalised in 12 months",
        "count",
        "rel.risky",
        REL,
        direction=1,
        fill="zero",
        template_zh="{value:.0f}家关联企业存在列异、失信、吊销或处罚记录",
        template_en="{value:.0f} related enterprises are listed, revoked or recently penalised",
    ),
    Feature(
        "addr_firm_count",
        "relations",
        "同址企业数",
        "enterprises at the address",
        "统计月末登记在同一住所的在册企业数(含本企业)",
        "enterprises registered at the same address at the month end (itself included)",
        "count",
        "addr.n",
        FLAGS,
        direction=1,
        template_zh="同一住所登记了{value:.0f}家企业",
        template_en="{value:.0f} enterprises are registered at its address",
        categories=("address_unreachable",),
    ),
    Feature(
        "addr_cluster",
        "relations",
        "住所集中登记",
        "address shared by many",
        "同一住所登记企业达10家以上(阈值见配置)",
        "10 or more enterprises at the same address (threshold in config)",
        "flag",
        flag("addr.n >= {w.cfg.address_cluster_size}"),
        FLAGS,
        kind="flag",
        direction=1,
        template_zh="住所为集中登记地址（同址{addr_firm_count:.0f}家企业）",
        template_en="its address hosts {addr_firm_count:.0f} enterprises",
        categories=("address_unreachable",),
    ),
    Feature(
        "addr_abnormal_share",
        "relations",
        "同址企业列异占比",
        "address peers on the abnormal list",
        "同一住所其他企业中正列入经营异常名录的比例(不含本企业)；独占住所时缺失",
        "share of the other enterprises at the same address on the abnormal list (itself left out); "
        "missing when it is alone",
        "share",
        "addr.abnormal_share",
        FLAGS,
        direction=1,
        template_zh="同址其他企业中{value:.0%}在经营异常名录中",
        template_en="{value:.0%} of the other enterprises at its address are on the abnormal list",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "inv_out_count",
        "relations",
        "对外投资企业数",
        "investments",
        "统计月末在续的对外投资企业数",
        "enterprises it invests in at the month end",
        "count",
        "lnk.investments",
        LNK,
        fill="zero",
        template_zh="对外投资{value:.0f}家企业",
        template_en="invests in {value:.0f} enterprises",
    ),
    Feature(
        "branch_count",
        "relations",
        "分支机构数",
        "branches",
        "统计月末在续的分支机构数",
        "branches at the month end",
        "count",
        "lnk.branches",
        LNK,
        fill="zero",
        template_zh="设有{value:.0f}家分支机构",
        template_en="{value:.0f} branches",
    ),
    Feature(
        "investor_firm_count",
        "relations",
        "企业股东数",
        "corporate investors",
        "统计月末投资本企业的企业数",
        "enterprises investing in it at the month end",
        "count",
        "lnk.investors",
        LNK,
        fill="zero",
        template_zh="有{value:.0f}家企业股东",
        template_en="{value:.0f} corporate investors",
    ),
    Feature(
        "parent_risky",
        "relations",
        "母公司(总公司)存在风险",
        "parent at risk",
        "控股股东企业(持股50%以上)或总公司正列异、严重失信或被吊销；无母公司，或持股比例不详"
        "而无法判断时缺失",
        "the controlling corporate shareholder (50%+) or head office is abnormal, seriously "
        "dishonest or revoked; missing without one, or when an unstated share leaves it open",
        "flag",
        "lnk.parent_risky",
        LNK,
        kind="flag",
        direction=1,
        template_zh="其控股企业或总公司存在列异、严重失信或吊销情形",
        template_en="its parent or head office is listed or revoked",
    ),
)
