"""Base attributes (企业基础属性信息): who the enterprise is, and the context it works in.

Also defines the month's population (`population`): every enterprise established on or
before the month end and not deregistered by then, with its address and registered capital
as the bureau knew them at the month end.
"""

from __future__ import annotations

from features.catalog import Feature
from features.engine import Block, Window, flag

REGISTRY = ("enterprises", "changes")
CONTEXT = (*REGISTRY, "inspections", "penalties", "abnormal_list", "serious_dishonest_list")


def _as_known(w: Window) -> str:
    """Address and registered capital at the month end (``Window.end``), rebuilt from the change records.

    For each: the after-value of the latest change known by then; failing that, the
    before-value of the earliest change not yet known (today's registry already shows its
    after-value); failing that (no change at all), the registry's own value. A change whose
    value is not stated (NULL) leaves the value unknown: it never falls through to an older
    or a later one (``*_has_*`` says which change decides).
    """

    def pick(kind: str, known: int, rn: str, col: str) -> str:
        return (
            f"MAX(CASE WHEN change_kind = '{kind}' AND known = {known} AND {rn} = 1 THEN {col} END)"
        )

    def seen(kind: str, known: int) -> str:
        return f"MAX(CASE WHEN change_kind = '{kind}' AND known = {known} THEN 1 ELSE 0 END)"

    return f"""
    SELECT uscc,
      {pick("address", 1, "rn_last", "after_value")} AS address_known,
      {pick("address", 0, "rn_first", "before_value")} AS address_before,
      {pick("registered_capital", 1, "rn_last", "after_value")} AS capital_known,
      {pick("registered_capital", 0, "rn_first", "before_value")} AS capital_before,
      {seen("address", 1)} AS address_has_known,
      {seen("address", 0)} AS address_has_before,
      {seen("registered_capital", 1)} AS capital_has_known,
      {seen("registered_capital", 0)} AS capital_has_before
    FROM (
      SELECT uscc, change_kind, before_value, after_value, known,
             ROW_NUMBER() OVER (PARTITION BY uscc, change_kind, known
                                ORDER BY change_date DESC, received_date DESC, after_value DESC) AS rn_last,
             ROW_NUMBER() OVER (PARTITION BY uscc, change_kind, known
                                ORDER BY change_date, received_date, after_value) AS rn_first
      FROM (
        SELECT uscc, change_kind, before_value, after_value, change_date, received_date,
               CASE WHEN change_date <= {w.end} AND received_date <= {w.end}
                    THEN 1 ELSE 0 END AS known
        FROM raw_changes WHERE change_kind IN ('address', 'registered_capital')
      ) c
    ) r
    GROUP BY uscc"""


def population(w: Window) -> str:
    """The month's population; without the change records (declared unavailable) the
    address and registered capital at the month end are unknown (NULL), and every feature
    reading them is NULL anyway (their sources name ``changes``)."""
    if w.has("changes"):
        known = f"LEFT JOIN ({_as_known(w)}) k ON k.uscc = e.uscc"
        address = (
            "CASE WHEN k.address_has_known = 1 THEN k.address_known "
            "WHEN k.address_has_before = 1 THEN k.address_before ELSE e.address_id END"
        )
        capital = (
            "CASE WHEN k.capital_has_known = 1 THEN TRY_CAST(k.capital_known AS DOUBLE) "
            "WHEN k.capital_has_before = 1 THEN TRY_CAST(k.capital_before AS DOUBLE) "
            "ELSE e.registered_capital END"
        )
    else:
        known, address, capital = "", "CAST(NULL AS VARCHAR)", "CAST(NULL AS DOUBLE)"
    # sector_tags NULL is the empty list (a list column cannot tell the two apart), and
    # revoked_date NULL is "not revoked" - but only in a registry that describes the firm: a
    # registry of ids only (ingest's `registry: ids_only`, no establishment date, which the
    # contract otherwise requires) knows neither, so both stay unknown (NULL)
    return f"""
    SELECT e.uscc, e.entity_type, e.legal_form, e.industry_code, e.division_code,
           e.established_date, e.paid_in_capital, e.sector_tags,
           CASE WHEN e.established_date IS NULL THEN NULL
                WHEN e.revoked_date IS NOT NULL AND e.revoked_date <= {w.end}
                THEN 1 ELSE 0 END AS revoked,
           {address} AS address_id,
           {capital} AS registered_capital,
           CASE WHEN e.established_date IS NOT NULL
                THEN ';' || COALESCE(e.sector_tags, '') || ';' END AS tags
    FROM raw_enterprises e
    {known}
    WHERE (e.established_date IS NULL OR e.established_date <= {w.end})
      AND (e.deregistered_date IS NULL OR e.deregistered_date > {w.end})"""


def _context(w: Window) -> str:
    """Industry (GB/T 4754 division, 2 digits) and county context, each enterprise left out.

    Problem rates come from double-random inspections of the last ``context_window_months``
    (targeted inspections are not a sample of anything); ``(other problems + k x province
    rate) / (other inspections + k)``, the province rate itself leaving the enterprise out.
    Shares are over the other enterprises of the same industry or county in the population.
    """
    k = w.cfg.context_prior_strength
    since = w.ago(w.cfg.context_window_months)
    return f"""
    WITH own AS (
      SELECT uscc, COUNT(*) AS n, SUM(CASE WHEN problem_found THEN 1 ELSE 0 END) AS y
      FROM pit_inspections
      WHERE draw_mode = 'double_random' AND inspection_date > {since}
      GROUP BY uscc
    ),
    firm AS (
      SELECT p.uscc, substr(p.industry_code, 1, 2) AS ind, p.division_code AS divi,
             COALESCE(o.n, 0) AS n, COALESCE(o.y, 0) AS y,
             f.penalised_12m AS pen, f.abnormal AS abn
      FROM pop p LEFT JOIN own o ON o.uscc = p.uscc LEFT JOIN blk_flags f ON f.uscc = p.uscc
    ),
    prov AS (SELECT SUM(n) AS n, SUM(y) AS y FROM firm),
    ind AS (SELECT ind, SUM(n) AS n, SUM(y) AS y, SUM(pen) AS pen, SUM(abn) AS abn,
                   COUNT(*) AS firms FROM firm GROUP BY ind),
    divi AS (SELECT divi, SUM(n) AS n, SUM(y) AS y, SUM(pen) AS pen, SUM(abn) AS abn,
                    COUNT(*) AS firms FROM firm GROUP BY divi)
    SELECT f.uscc,
      CASE WHEN prov.n - f.n > 0 THEN
        (i.y - f.y + {k} * (prov.y - f.y) / (prov.n - f.n)) / (i.n - f.n + {k}) END AS ind_rate,
      CASE WHEN prov.n - f.n > 0 THEN
        (d.y - f.y + {k} * (prov.y - f.y) / (prov.n - f.n)) / (d.n - f.n + {k}) END AS div_rate,
      CASE WHEN i.firms > 1 THEN (i.pen - f.pen) / (i.firms - 1.0) END AS ind_pen,
      CASE WHEN d.firms > 1 THEN (d.pen - f.pen) / (d.firms - 1.0) END AS div_pen,
      CASE WHEN i.firms > 1 THEN (i.abn - f.abn) / (i.firms - 1.0) END AS ind_abn,
      CASE WHEN d.firms > 1 THEN (d.abn - f.abn) / (d.firms - 1.0) END AS div_abn
    FROM firm f CROSS JOIN prov
    JOIN ind i ON i.ind = f.ind
    JOIN divi d ON d.divi = f.divi"""


BLOCKS = (
    Block(
        "ctx",
        ("inspections", "penalties", "abnormal_list", "serious_dishonest_list"),
        _context,
        needs=("flags",),
        optional=("credit_repairs",),  # through the flags (features.supervision._flags)
    ),
)


def _sector(*tags: str) -> str:
    return (
        "CASE WHEN p.tags IS NULL THEN NULL WHEN "
        + " OR ".join(f"p.tags LIKE '%;{t};%'" for t in tags)
        + " THEN 1 ELSE 0 END"
    )


FEATURES = (
    Feature(
        "age_years",
        "base",
        "成立年限",
        "age",
        "自成立日期至统计月末的年数",
        "years from establishment to the month end",
        "years",
        "days_between(p.established_date, {w.end}) / 365.25",
        REGISTRY,
        direction=-1,
        template_zh="企业成立{value:.1f}年（成立于{established_date}）",
        template_en="the enterprise is {value:.1f} years old (established {established_date})",
    ),
    Feature(
        "young_3y",
        "base",
        "成立不满三年",
        "under three years old",
        "成立不满3年(适用包容审慎监管)",
        "established less than 3 years ago (tolerant treatment applies)",
        "flag",
        flag("days_between(p.established_date, {w.end}) < 3 * 365.25"),
        REGISTRY,
        kind="flag",
        template_zh="企业成立不满三年",
        template_en="the enterprise is under three years old",
    ),
    Feature(
        "entity_type",
        "base",
        "主体类型",
        "entity type",
        "企业、个体工商户或农民专业合作社",
        "enterprise, individual business or farmer cooperative",
        "code",
        "p.entity_type",
        REGISTRY,
        kind="category",
        template_zh="主体类型为{value}",
        template_en="entity type {value}",
    ),
    Feature(
        "legal_form",
        "base",
        "企业类型",
        "legal form",
        "登记的企业类型(组织形式)",
        "registered legal form",
        "code",
        "p.legal_form",
        REGISTRY,
        kind="category",
        template_zh="企业类型为{value}",
        template_en="legal form {value}",
    ),
    Feature(
        "industry_division",
        "base",
        "行业大类",
        "industry division",
        "国民经济行业分类(GB/T 4754-2017)大类代码(2位)",
        "GB/T 4754-2017 industry division (2 digits)",
        "code",
        "substr(p.industry_code, 1, 2)",
        REGISTRY,
        kind="category",
        template_zh="所属行业大类{value}",
        template_en="industry division {value}",
    ),
    Feature(
        "city",
        "base",
        "所在地市",
        "city",
        "登记机关所在地级市(行政区划代码前4位)",
        "prefecture-level city (first 4 digits of the division code)",
        "code",
        "substr(p.division_code, 1, 4)",
        REGISTRY,
        kind="category",
        template_zh="登记于{value}",
        template_en="registered in {value}",
    ),
    Feature(
        "registered_capital_log",
        "base",
        "注册资本(对数)",
        "registered capital (log)",
        "统计月末的注册资本(据变更记录还原)，取ln(1+万元)",
        "registered capital at the month end (rebuilt from change records), ln(1 + 10k yuan)",
        "log_wan_yuan",
        "ln(1 + p.registered_capital)",
        REGISTRY,
        template_zh="注册资本{registered_capital}万元",
        template_en="registered capital {registered_capital} (10k yuan)",
    ),
    Feature(
        "registered_capital",
        "base",
        "注册资本",
        "registered capital",
        "统计月末的注册资本",
        "registered capital at the month end",
        "wan_yuan",
        "p.registered_capital",
        REGISTRY,
        role="context",
    ),
    Feature(
        "capital_1yi_plus",
        "base",
        "注册资本1亿元以上",
        "registered capital of 100m yuan or more",
        "注册资本不低于1亿元(阈值见配置)；注册资本不详时缺失",
        "registered capital of at least 100m yuan (threshold in config); missing when the "
        "capital is unknown",
        "flag",
        flag("p.registered_capital >= {w.cfg.big_capital_wan_yuan}"),
        REGISTRY,
        kind="flag",
        template_zh="注册资本达1亿元以上",
        template_en="registered capital of 100m yuan or more",
    ),
    Feature(
        "paid_in_ratio",
        "base",
        "实缴比例",
        "paid-in share",
        "实缴资本占注册资本的比例；注册资本为0或未填实缴时缺失",
        "paid-in capital over registered capital; missing when capital is 0 or paid-in unknown",
        "share",
        "CASE WHEN p.registered_capital > 0 THEN p.paid_in_capital / p.registered_capital END",
        REGISTRY,
        # no direction: since the 2014 subscription reform paid-in capital is not required
        template_zh="实缴资本占注册资本的{value:.0%}",
        template_en="{value:.0%} of the registered capital is paid in",
        categories=("false_disclosure",),
    ),
    Feature(
        "revoked",
        "base",
        "营业执照被吊销",
        "business licence revoked",
        "统计月末营业执照已被吊销(尚未注销)",
        "business licence revoked by the month end (not deregistered)",
        "flag",
        "p.revoked",
        REGISTRY,
        kind="flag",
        direction=1,
        template_zh="营业执照已被吊销",
        template_en="the business licence has been revoked",
        categories=("address_unreachable", "licence"),
    ),
    Feature(
        "sector_food",
        "base",
        "食品领域",
        "food sector",
        "重点领域标签含食品生产、销售或餐饮",
        "key-sector tags include food production, distribution or catering",
        "flag",
        _sector("food_production", "food_distribution", "catering"),
        REGISTRY,
        kind="flag",
        template_zh="属于食品重点领域",
        template_en="in the food sector",
        categories=("food_safety",),
    ),
    Feature(
        "sector_drug",
        "base",
        "药械化领域",
        "drugs, devices and cosmetics",
        "重点领域标签含药品、医疗器械或化妆品",
        "key-sector tags include drugs, medical devices or cosmetics",
        "flag",
        _sector("drugs", "medical_devices", "cosmetics"),
        REGISTRY,
        kind="flag",
        template_zh="属于药品、医疗器械或化妆品重点领域",
        template_en="in the drugs, devices or cosmetics sector",
        categories=("drug_device_safety",),
    ),
    Feature(
        "sector_special_equipment",
        "base",
        "特种设备领域",
        "special equipment",
        "重点领域标签含特种设备",
        "key-sector tags include special equipment",
        "flag",
        _sector("special_equipment"),
        REGISTRY,
        kind="flag",
        template_zh="属于特种设备重点领域",
        template_en="in the special-equipment sector",
        categories=("special_equipment",),
    ),
    Feature(
        "sector_industrial",
        "base",
        "重要工业产品领域",
        "key industrial products",
        "重点领域标签含重要工业产品",
        "key-sector tags include key industrial products",
        "flag",
        _sector("industrial_products"),
        REGISTRY,
        kind="flag",
        template_zh="属于重要工业产品领域",
        template_en="in the key-industrial-products sector",
        categories=("product_quality",),
    ),
    Feature(
        "sector_tag_count",
        "base",
        "重点领域数",
        "key sectors",
        "重点领域标签个数",
        "number of key-sector tags",
        "count",
        "CASE WHEN p.tags IS NULL THEN NULL WHEN p.sector_tags IS NULL OR p.sector_tags = '' THEN 0 "
        "ELSE length(p.sector_tags) - length(replace(p.sector_tags, ';', '')) + 1 END",
        REGISTRY,
        template_zh="涉及{value:.0f}个重点领域",
        template_en="in {value:.0f} key sectors",
        categories=(
            "licence",
            "product_quality",
            "food_safety",
            "drug_device_safety",
            "special_equipment",
        ),
    ),
    Feature(
        "established_date",
        "base",
        "成立日期",
        "date of establishment",
        "成立日期",
        "date of establishment",
        "date",
        "p.established_date",
        REGISTRY,
        kind="date",
        role="context",
    ),
    Feature(
        "ctx_industry_problem_rate",
        "base",
        "行业问题发现率",
        "industry problem rate",
        "同行业大类其他企业近36个月双随机抽查的问题发现率(不含本企业，向全省收缩)",
        "problem rate of double-random inspections of other enterprises of the same industry "
        "division, last 36 months (this enterprise left out, shrunk towards the province rate)",
        "share",
        "ctx.ind_rate",
        CONTEXT,
        direction=1,
        template_zh="同行业企业抽查问题发现率为{value:.1%}",
        template_en="inspections of peers in its industry found problems {value:.1%} of the time",
    ),
    Feature(
        "ctx_division_problem_rate",
        "base",
        "辖区问题发现率",
        "county problem rate",
        "同县区其他企业近36个月双随机抽查的问题发现率(不含本企业，向全省收缩)",
        "problem rate of double-random inspections of other enterprises of the same county, "
        "last 36 months (this enterprise left out, shrunk towards the province rate)",
        "share",
        "ctx.div_rate",
        CONTEXT,
        direction=1,
        template_zh="所在县区企业抽查问题发现率为{value:.1%}",
        template_en="inspections in its county found problems {value:.1%} of the time",
    ),
    Feature(
        "ctx_industry_penalised_share",
        "base",
        "行业受罚企业占比",
        "industry share penalised",
        "同行业大类其他企业中近12个月受到行政处罚的比例",
        "share of other enterprises of the industry division penalised in the last 12 months",
        "share",
        "ctx.ind_pen",
        CONTEXT,
        direction=1,
        template_zh="同行业企业近12个月受处罚比例为{value:.1%}",
        template_en="{value:.1%} of its industry peers were penalised in the last 12 months",
    ),
    Feature(
        "ctx_division_penalised_share",
        "base",
        "辖区受罚企业占比",
        "county share penalised",
        "同县区其他企业中近12个月受到行政处罚的比例",
        "share of other enterprises of the county penalised in the last 12 months",
        "share",
        "ctx.div_pen",
        CONTEXT,
        direction=1,
        template_zh="所在县区企业近12个月受处罚比例为{value:.1%}",
        template_en="{value:.1%} of enterprises in its county were penalised in the last 12 months",
    ),
    Feature(
        "ctx_industry_abnormal_share",
        "base",
        "行业异常名录占比",
        "industry share on the abnormal list",
        "同行业大类其他企业中正被列入经营异常名录的比例",
        "share of other enterprises of the industry division now on the abnormal list",
        "share",
        "ctx.ind_abn",
        CONTEXT,
        direction=1,
        template_zh="同行业企业有{value:.1%}在经营异常名录中",
        template_en="{value:.1%} of its industry peers are on the abnormal list",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "ctx_division_abnormal_share",
        "base",
        "辖区异常名录占比",
        "county share on the abnormal list",
        "同县区其他企业中正被列入经营异常名录的比例",
        "share of other enterprises of the county now on the abnormal list",
        "share",
        "ctx.div_abn",
        CONTEXT,
        direction=1,
        template_zh="所在县区企业有{value:.1%}在经营异常名录中",
        template_en="{value:.1%} of enterprises in its county are on the abnormal list",
        categories=("address_unreachable", "false_disclosure"),
    ),
)
