"""Dynamic information (企业动态信息): annual reports, registration changes, licences,
pledges and mortgages, and signs of dormancy.
"""

from __future__ import annotations

from features.catalog import Feature
from features.engine import Block, Window, flag, least_strict, sum_strict

#: The licence each key-sector tag requires (any one of the kinds listed).
LICENCE_FOR_SECTOR = {
    "food_production": ("food_production",),
    "food_distribution": ("food_business",),
    "catering": ("food_business",),
    "drugs": ("drug_business", "drug_production"),
    "medical_devices": ("medical_device_business",),
    "special_equipment": ("special_equipment_use",),
    "cosmetics": ("cosmetics_production",),
    "industrial_products": ("industrial_product",),
}


def _reports(w: Window) -> str:
    """Annual reports known at the month end (``Window.end``): the latest, the one before, and filing history."""
    due = w.last_due_year
    late = " + ".join(
        f"CASE WHEN report_year = {y} AND submitted_date > {w.report_deadline(y)} THEN 1 ELSE 0 END"
        for y in range(due - 2, due + 1)
    )
    return f"""
    WITH m AS (
      SELECT uscc, MAX(report_year) AS year,
        MAX(CASE WHEN report_year <= {due} THEN report_year END) AS max_due_year,
        SUM({late}) AS late_3y
      FROM pit_annual_reports GROUP BY uscc
    )
    SELECT m.uscc, m.year, m.max_due_year, m.late_3y,
      r.revenue, r.total_assets AS assets, r.tax_paid AS tax, r.employees,
      r.net_profit AS profit, r.social_insurance_count AS insured, r.submitted_date AS submitted,
      q.report_year AS prev_year, q.revenue AS prev_revenue
    FROM m
    JOIN pit_annual_reports r ON r.uscc = m.uscc AND r.report_year = m.year
    LEFT JOIN pit_annual_reports q ON q.uscc = m.uscc AND q.report_year = m.year - 1"""


def _changes(w: Window) -> str:
    m12, m36 = w.ago(12), w.ago(36)

    def n(kind: str, since: str) -> str:
        return f"SUM(CASE WHEN change_kind = '{kind}' AND change_date > {since} THEN 1 ELSE 0 END)"

    # a capital change whose amounts are not both stated may or may not be a reduction
    down = flag("TRY_CAST(after_value AS DOUBLE) < TRY_CAST(before_value AS DOUBLE)")
    capital_down = sum_strict(
        f"CASE WHEN change_kind = 'registered_capital' AND change_date > {m12} THEN {down} "
        "ELSE 0 END"
    )
    return f"""
    SELECT uscc,
      {n("legal_representative", m12)} AS legal_rep_12m,
      {n("legal_representative", m36)} AS legal_rep_36m,
      {n("address", m12)} AS address_12m,
      {n("shareholders", m12)} AS shareholders_12m,
      {n("name", m36)} AS name_36m,
      {capital_down} AS capital_down_12m,
      SUM(CASE WHEN change_date > {m12} THEN 1 ELSE 0 END) AS total_12m,
      SUM(CASE WHEN change_date > {m36} THEN 1 ELSE 0 END) AS total_36m,
      MAX(change_date) AS last_date
    FROM pit_changes
    GROUP BY uscc"""


def _licences(w: Window) -> str:
    """Licences known at the month end (``Window.end``): valid, lapsed without renewal, revoked, expiring."""
    valid = (
        f"(valid_until >= {w.end} AND (revoked_date IS NULL OR revoked_date > {w.end})"
        f" AND (cancelled_date IS NULL OR cancelled_date > {w.end}))"
    )
    covered = " OR ".join(
        f"(p.tags LIKE '%;{tag};%' AND k.kind IN ({', '.join(repr(x) for x in kinds)}))"
        for tag, kinds in LICENCE_FOR_SECTOR.items()
    )
    needs = " OR ".join(f"p.tags LIKE '%;{tag};%'" for tag in LICENCE_FOR_SECTOR)
    return f"""
    WITH k AS (
      SELECT uscc, licence_kind AS kind,
        MAX(CASE WHEN {valid} THEN 1 ELSE 0 END) AS valid,
        MAX(CASE WHEN valid_until < {w.end} AND valid_until > {w.ago(12)}
                  AND (revoked_date IS NULL OR revoked_date > valid_until)
                  AND (cancelled_date IS NULL OR cancelled_date > valid_until)
                 THEN 1 ELSE 0 END) AS expired_12m,
        SUM(CASE WHEN revoked_date > {w.ago(36)} AND revoked_date <= {w.end} THEN 1 ELSE 0 END)
          AS revoked_36m,
        -- a kind expires when its latest valid licence does: a renewal exported as a new row
        -- beside the old one is no longer expiring
        CASE WHEN MAX(CASE WHEN {valid} THEN valid_until END) <= {w.ago(-3)} THEN 1 ELSE 0 END
          AS expiring
      FROM pit_licences GROUP BY uscc, licence_kind
    )
    SELECT p.uscc,
      SUM(COALESCE(k.valid, 0)) AS valid,
      SUM(CASE WHEN k.expired_12m = 1 AND k.valid = 0 THEN 1 ELSE 0 END) AS lapsed_12m,
      SUM(COALESCE(k.revoked_36m, 0)) AS revoked_36m,
      SUM(COALESCE(k.expiring, 0)) AS expiring_3m,
      CASE WHEN {needs} THEN
        1 - MAX(CASE WHEN k.valid = 1 AND ({covered}) THEN 1 ELSE 0 END) END AS unlicensed
    FROM pop p LEFT JOIN k ON k.uscc = p.uscc
    GROUP BY p.uscc, p.tags"""


def _pledges(w: Window) -> str:
    active = f"(released_date IS NULL OR released_date > {w.end})"
    return f"""
    SELECT uscc,
      SUM(CASE WHEN {active} THEN 1 ELSE 0 END) AS active,
      SUM(CASE WHEN {active} THEN amount ELSE 0 END) AS active_amount,
      SUM(CASE WHEN registered_date > {w.ago(12)} THEN 1 ELSE 0 END) AS new_12m,
      MAX(CASE WHEN {active} AND pledge_kind = 'equity' THEN 1 ELSE 0 END) AS equity
    FROM pit_pledges GROUP BY uscc"""


AR = ("enterprises", "changes", "annual_reports")
CHG = ("enterprises", "changes")
LIC = ("enterprises", "changes", "licences")
PLG = ("enterprises", "changes", "pledges")
DORMANT = ("enterprises", "changes", "annual_reports")

BLOCKS = (
    Block("ar", AR, _reports),
    Block("chg", CHG, _changes),
    Block("lic", LIC, _licences),
    Block("plg", PLG, _pledges),
)

_FILE_ZH = "在每年6月30日前报送并公示上一年度年度报告"
_FILE_EN = "file and publish the annual report for the previous year by 30 June"
# the report year whose deadline has passed, for firms that existed in it
_OWES = "year(p.established_date) <= {w.last_due_year}"
# the latest due year is inside the annual reports on record (left-censoring: a year whose
# reports were filed before the records start is neither filed nor missing, but unknown)
_COVERED = "{w.last_due_year} >= {w.first_report_year}"
# dormant: the last due report is missing or all zero, and nothing registered for a while
_ALL_ZERO = "(ar.revenue = 0 AND ar.tax = 0 AND ar.employees = 0 AND ar.assets = 0)"
# no registration change since the dormancy window began; unknown (NULL) when the change
# records start inside the window and show none
_NO_RECENT_CHANGE = (
    "CASE WHEN chg.last_date > {w.dormancy_since} THEN FALSE "
    "WHEN {w.covered_from[changes]} > {w.dormancy_since} THEN NULL ELSE TRUE END"
)

FEATURES = (
    # ------------------------------------------------------------------ annual reports
    Feature(
        "ar_last_due_missing",
        "dynamic",
        "未报最近一期年报",
        "latest annual report not filed",
        "截至统计月末未报送已过截止日期的最近一个年度的年度报告；当年尚无报送义务，"
        "或该年度的报送期早于年报记录的起始日时缺失",
        "the annual report for the latest year past its deadline has not been filed; missing "
        "when the enterprise did not yet owe one, or when that year's reports were filed "
        "before the annual reports on record begin",
        "flag",
        "CASE WHEN " + _OWES + " AND " + _COVERED + " THEN "
        "CASE WHEN ar.max_due_year = {w.last_due_year} THEN 0 ELSE 1 END END",
        AR,
        kind="flag",
        direction=1,
        actionable=True,
        template_zh="截至统计月末未报送已到期的最近一期年度报告",
        template_en="the annual report for the last due year has not been filed",
        advice_zh=_FILE_ZH,
        advice_en=_FILE_EN,
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "ar_missing_years",
        "dynamic",
        "连续未报年报年数",
        "consecutive years without a report",
        "截至最近一个到期年度连续未报年度报告的年数(最多回溯3年，见配置)；报送期早于年报"
        "记录起始日的年度不计入(即至少该年数)，最近一个到期年度也早于记录起始日时缺失",
        "consecutive due years without an annual report, back from the latest due year "
        "(at most 3, see config); years whose reports were filed before the annual reports on "
        "record begin do not count (so: at least that many), and it is missing when even the "
        "latest due year is before them",
        "years",
        "CASE WHEN " + _OWES + " AND " + _COVERED + " THEN {w.last_due_year} - greatest("
        "COALESCE(ar.max_due_year, 0), year(p.established_date) - 1, "
        "{w.last_due_year} - {w.cfg.annual_report_lookback_years}, "
        "{w.first_report_year} - 1) END",
        AR,
        direction=1,
        actionable=True,
        template_zh="连续{value:.0f}年未报送年度报告",
        template_en="no annual report for {value:.0f} consecutive years",
        advice_zh=_FILE_ZH,
        advice_en=_FILE_EN,
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "ar_late_3y",
        "dynamic",
        "近三年逾期报送年报次数",
        "late annual reports",
        "最近3个到期年度中逾期(6月30日后)报送年度报告的次数",
        "annual reports of the last 3 due years filed after the 30 June deadline",
        "count",
        "ar.late_3y",
        AR,
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="近三年有{value:.0f}次逾期报送年度报告",
        template_en="{value:.0f} late annual reports in 3 years",
        advice_zh=_FILE_ZH,
        advice_en=_FILE_EN,
        categories=("false_disclosure",),
    ),
    Feature(
        "ar_all_zero",
        "dynamic",
        "年报全零",
        "all-zero annual report",
        "最近一期年报的营业收入、资产、纳税、从业人数均为0；无年报，或未填的项目使之无法判断时缺失",
        "the latest annual report shows zero revenue, assets, tax and employees; missing "
        "without a report, or when an item not stated leaves it open",
        "flag",
        "CASE WHEN ar.year IS NOT NULL THEN " + flag(_ALL_ZERO) + " END",
        AR,
        kind="flag",
        direction=1,
        actionable=True,
        template_zh="{ar_latest_year:.0f}年度报告的收入、资产、纳税和从业人数均为零",
        template_en="the {ar_latest_year:.0f} annual report shows zero revenue, assets, tax and employees",
        advice_zh="如实填报年度报告中的经营数据",
        advice_en="report real business figures in the annual report",
        categories=("false_disclosure",),
    ),
    Feature(
        "ar_big_capital_zero",
        "dynamic",
        "大额注册资本零经营",
        "large capital, nothing reported",
        "注册资本1亿元以上而最近一期年报纳税、营业收入或从业人数为0；无年报，或注册资本、"
        "年报数据不详而无法判断时缺失",
        "registered capital of 100m yuan or more while the latest report shows zero tax, revenue "
        "or employees; missing without a report, or when an unknown capital or report item "
        "leaves it open",
        "flag",
        "CASE WHEN ar.year IS NOT NULL THEN "
        + flag(
            "p.registered_capital >= {w.cfg.big_capital_wan_yuan} "
            "AND (ar.tax = 0 OR ar.revenue = 0 OR ar.employees = 0)"
        )
        + " END",
        AR,
        kind="flag",
        direction=1,
        template_zh="注册资本{registered_capital:.0f}万元，但{ar_latest_year:.0f}年度报告纳税、营业收入或从业人数为零",
        template_en="registered capital {registered_capital:.0f} (10k yuan) but the {ar_latest_year:.0f} "
        "report shows zero tax, revenue or employees",
        categories=("false_disclosure",),
    ),
    Feature(
        "ar_revenue_log",
        "dynamic",
        "营业收入(对数)",
        "revenue (log)",
        "最近一期年报营业总收入，ln(1+万元)；无年报时缺失",
        "revenue in the latest report, ln(1 + 10k yuan); missing without a report",
        "log_wan_yuan",
        "ln(1 + ar.revenue)",
        AR,
        template_zh="{ar_latest_year:.0f}年营业收入{ar_revenue:.1f}万元",
        template_en="revenue of {ar_revenue:.1f} (10k yuan) in {ar_latest_year:.0f}",
    ),
    Feature(
        "ar_revenue",
        "dynamic",
        "营业收入",
        "revenue",
        "最近一期年报营业总收入",
        "revenue in the latest report",
        "wan_yuan",
        "ar.revenue",
        AR,
        role="context",
    ),
    Feature(
        "ar_latest_year",
        "dynamic",
        "最近年报年度",
        "latest report year",
        "已报送的最近一期年报的年度",
        "year of the latest annual report filed",
        "years",
        "ar.year",
        AR,
        role="context",
    ),
    Feature(
        "ar_revenue_growth",
        "dynamic",
        "营业收入增长率",
        "revenue growth",
        "最近两期连续年报的营业收入增长率；上期收入为0或缺失时缺失",
        "revenue growth between the two latest consecutive reports; missing when the earlier is 0 or absent",
        "ratio",
        "CASE WHEN ar.prev_year = ar.year - 1 AND ar.prev_revenue > 0 "
        "THEN (ar.revenue - ar.prev_revenue) / ar.prev_revenue END",
        AR,
        template_zh="营业收入同比变化{value:+.0%}",
        template_en="revenue changed {value:+.0%} year on year",
    ),
    Feature(
        "ar_employees",
        "dynamic",
        "年报从业人数",
        "employees (report)",
        "最近一期年报的从业人数；无年报时缺失",
        "employees in the latest report; missing without a report",
        "persons",
        "ar.employees",
        AR,
        template_zh="年报从业人数{value:.0f}人",
        template_en="{value:.0f} employees reported",
    ),
    Feature(
        "ar_tax_zero",
        "dynamic",
        "年报纳税为零",
        "no tax reported",
        "最近一期年报纳税总额为0；无年报时缺失",
        "the latest report shows no tax paid; missing without a report",
        "flag",
        "CASE WHEN ar.tax IS NOT NULL THEN CASE WHEN ar.tax = 0 THEN 1 ELSE 0 END END",
        AR,
        kind="flag",
        direction=1,
        template_zh="{ar_latest_year:.0f}年度报告纳税总额为零",
        template_en="the {ar_latest_year:.0f} report shows no tax paid",
        categories=("false_disclosure",),
    ),
    Feature(
        "ar_insured_share",
        "dynamic",
        "参保人数占比",
        "share insured",
        "最近一期年报参保人数占从业人数的比例(至多为1)；从业人数为0或未填、参保人数未填时缺失",
        "employees with social insurance over employees in the latest report (at most 1); "
        "missing when there are none or either count is not stated",
        "share",
        "CASE WHEN ar.employees > 0 THEN "
        + least_strict("CAST(ar.insured AS DOUBLE) / ar.employees", "1.0")
        + " END",
        AR,
        direction=-1,
        template_zh="参保人数仅占从业人数的{value:.0%}",
        template_en="only {value:.0%} of employees are insured",
    ),
    Feature(
        "ar_loss",
        "dynamic",
        "年报亏损",
        "loss reported",
        "最近一期年报净利润为负；无年报时缺失",
        "the latest report shows a net loss; missing without a report",
        "flag",
        "CASE WHEN ar.profit IS NOT NULL THEN CASE WHEN ar.profit < 0 THEN 1 ELSE 0 END END",
        AR,
        kind="flag",
        template_zh="{ar_latest_year:.0f}年度亏损",
        template_en="a net loss in {ar_latest_year:.0f}",
    ),
    Feature(
        "ar_assets_log",
        "dynamic",
        "资产总额(对数)",
        "total assets (log)",
        "最近一期年报资产总额，ln(1+万元)；无年报时缺失",
        "total assets in the latest report, ln(1 + 10k yuan); missing without a report",
        "log_wan_yuan",
        "ln(1 + ar.assets)",
        AR,
        template_zh="资产总额(对数){value:.1f}",
        template_en="total assets (log) {value:.1f}",
    ),
    # ------------------------------------------------------------------ changes
    Feature(
        "chg_legal_rep_12m",
        "dynamic",
        "近12个月法定代表人变更",
        "legal-representative changes, 12 months",
        "近12个月法定代表人变更次数",
        "changes of legal representative in the last 12 months",
        "count",
        "chg.legal_rep_12m",
        CHG,
        direction=1,
        fill="zero",
        template_zh="近12个月变更法定代表人{value:.0f}次",
        template_en="changed its legal representative {value:.0f} times in 12 months",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "chg_legal_rep_36m",
        "dynamic",
        "近36个月法定代表人变更",
        "legal-representative changes, 36 months",
        "近36个月法定代表人变更次数",
        "changes of legal representative in the last 36 months",
        "count",
        "chg.legal_rep_36m",
        CHG,
        direction=1,
        fill="zero",
        template_zh="近三年变更法定代表人{value:.0f}次",
        template_en="changed its legal representative {value:.0f} times in 3 years",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "chg_address_12m",
        "dynamic",
        "近12个月住所变更",
        "address changes, 12 months",
        "近12个月住所(经营场所)变更次数",
        "changes of address in the last 12 months",
        "count",
        "chg.address_12m",
        CHG,
        direction=1,
        fill="zero",
        template_zh="近12个月变更住所{value:.0f}次",
        template_en="moved its registered address {value:.0f} times in 12 months",
        categories=("address_unreachable",),
    ),
    Feature(
        "chg_shareholders_12m",
        "dynamic",
        "近12个月股东变更",
        "shareholder changes, 12 months",
        "近12个月股东(投资人)变更次数",
        "changes of shareholders in the last 12 months",
        "count",
        "chg.shareholders_12m",
        CHG,
        direction=1,
        fill="zero",
        template_zh="近12个月变更股东{value:.0f}次",
        template_en="changed shareholders {value:.0f} times in 12 months",
        categories=("false_disclosure",),
    ),
    Feature(
        "chg_capital_down_12m",
        "dynamic",
        "近12个月减资",
        "capital reductions, 12 months",
        "近12个月注册资本减少的次数",
        "reductions of registered capital in the last 12 months",
        "count",
        "chg.capital_down_12m",
        CHG,
        direction=1,
        fill="zero",
        template_zh="近12个月减少注册资本{value:.0f}次",
        template_en="reduced its registered capital {value:.0f} times in 12 months",
        categories=("false_disclosure",),
    ),
    Feature(
        "chg_name_36m",
        "dynamic",
        "近36个月名称变更",
        "name changes, 36 months",
        "近36个月企业名称变更次数",
        "changes of name in the last 36 months",
        "count",
        "chg.name_36m",
        CHG,
        direction=1,
        fill="zero",
        template_zh="近三年变更企业名称{value:.0f}次",
        template_en="changed its name {value:.0f} times in 3 years",
    ),
    Feature(
        "chg_total_12m",
        "dynamic",
        "近12个月变更登记",
        "changes, 12 months",
        "近12个月各类变更登记次数",
        "registration changes of any kind in the last 12 months",
        "count",
        "chg.total_12m",
        CHG,
        direction=1,
        fill="zero",
        template_zh="近12个月办理变更登记{value:.0f}次",
        template_en="{value:.0f} registration changes in 12 months",
    ),
    Feature(
        "chg_total_36m",
        "dynamic",
        "近36个月变更登记",
        "changes, 36 months",
        "近36个月各类变更登记次数",
        "registration changes of any kind in the last 36 months",
        "count",
        "chg.total_36m",
        CHG,
        fill="zero",
        template_zh="近三年办理变更登记{value:.0f}次",
        template_en="{value:.0f} registration changes in 3 years",
    ),
    Feature(
        "chg_days_since_last",
        "dynamic",
        "距最近一次变更天数",
        "days since the last change",
        "距最近一次变更登记的天数；从未变更时缺失",
        "days since the latest registration change; missing if never",
        "days",
        "days_between(chg.last_date, {w.end})",
        CHG,
        template_zh="最近一次变更登记在{value:.0f}天前",
        template_en="last registration change {value:.0f} days ago",
    ),
    # ------------------------------------------------------------------ licences
    Feature(
        "lic_valid_count",
        "dynamic",
        "有效许可证数",
        "valid licences",
        "统计月末有效的行政许可种类数",
        "kinds of licence valid at the month end",
        "count",
        "lic.valid",
        LIC,
        fill="zero",
        template_zh="持有有效许可证{value:.0f}类",
        template_en="holds {value:.0f} kinds of valid licence",
        categories=("licence",),
    ),
    Feature(
        "lic_lapsed_12m",
        "dynamic",
        "近12个月许可证过期未续",
        "licences lapsed, 12 months",
        "近12个月到期且未续期的许可证种类数",
        "kinds of licence that expired in the last 12 months and were not renewed",
        "count",
        "lic.lapsed_12m",
        LIC,
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="{value:.0f}类许可证近12个月到期后未延续",
        template_en="{value:.0f} licences expired in the last 12 months without renewal",
        advice_zh="依法办理许可证延续，或停止需许可的经营活动",
        advice_en="renew the licence, or stop the activity that needs it",
        categories=("licence",),
    ),
    Feature(
        "lic_revoked_36m",
        "dynamic",
        "近36个月许可证被吊销",
        "licences revoked, 36 months",
        "近36个月被吊销(撤销)的许可证数",
        "licences revoked in the last 36 months",
        "count",
        "lic.revoked_36m",
        LIC,
        direction=1,
        fill="zero",
        template_zh="近三年{value:.0f}个许可证被吊销或撤销",
        template_en="{value:.0f} licences revoked in 3 years",
        categories=("licence",),
    ),
    Feature(
        "lic_expiring_3m",
        "dynamic",
        "3个月内到期许可证",
        "licences expiring in 3 months",
        "有效期在3个月内届满且未延续的许可证种类数(同类许可证以最晚届满的有效许可证为准)",
        "kinds of licence whose latest valid licence expires within 3 months (not yet renewed)",
        "count",
        "lic.expiring_3m",
        LIC,
        fill="zero",
        actionable=True,
        template_zh="{value:.0f}类许可证将在3个月内到期",
        template_en="{value:.0f} licences expire within 3 months",
        advice_zh="在许可证到期前申请延续",
        advice_en="apply to renew the licence before it expires",
        categories=("licence",),
    ),
    Feature(
        "lic_unlicensed_sector",
        "dynamic",
        "重点领域无有效许可",
        "key sector without a valid licence",
        "属于需许可的重点领域(食品、药品、特种设备等)但无对应的有效许可证；不属于这些领域时缺失",
        "in a key sector that needs a licence (food, drugs, special equipment ...) but holds none "
        "valid for it; missing outside those sectors",
        "flag",
        "lic.unlicensed",
        LIC,
        kind="flag",
        direction=1,
        actionable=True,
        template_zh="属于需许可的重点领域，但统计月末无对应的有效许可证",
        template_en="works in a sector that needs a licence but holds no valid one",
        advice_zh="依法取得或延续相应许可证后再从事相关经营",
        advice_en="obtain or renew the required licence before trading",
        categories=("licence",),
    ),
    # ------------------------------------------------------------------ pledges
    Feature(
        "pledge_active_count",
        "dynamic",
        "未解除出质抵押",
        "active pledges",
        "统计月末未解除的股权出质、知识产权质押和动产抵押笔数",
        "equity pledges, IP pledges and chattel mortgages not released at the month end",
        "count",
        "plg.active",
        PLG,
        direction=1,
        fill="zero",
        template_zh="有{value:.0f}笔出质或抵押尚未解除",
        template_en="{value:.0f} pledges or mortgages outstanding",
    ),
    Feature(
        "pledge_amount_ratio",
        "dynamic",
        "出质抵押金额占注册资本",
        "pledged amount over capital",
        "未解除出质抵押金额合计除以注册资本；注册资本为0时缺失",
        "amount pledged and outstanding over registered capital; missing when capital is 0",
        "ratio",
        "CASE WHEN p.registered_capital > 0 THEN COALESCE(plg.active_amount, 0) / p.registered_capital END",
        PLG,
        direction=1,
        template_zh="未解除出质抵押金额相当于注册资本的{value:.0%}",
        template_en="outstanding pledges equal {value:.0%} of registered capital",
    ),
    Feature(
        "pledge_new_12m",
        "dynamic",
        "近12个月新增出质抵押",
        "new pledges, 12 months",
        "近12个月新登记的出质、质押和抵押笔数",
        "pledges and mortgages registered in the last 12 months",
        "count",
        "plg.new_12m",
        PLG,
        direction=1,
        fill="zero",
        template_zh="近12个月新增出质或抵押{value:.0f}笔",
        template_en="{value:.0f} new pledges or mortgages in 12 months",
    ),
    Feature(
        "pledge_equity_active",
        "dynamic",
        "股权出质中",
        "equity pledged",
        "统计月末有未解除的股权出质",
        "equity pledged and not released at the month end",
        "flag",
        "plg.equity",
        PLG,
        kind="flag",
        direction=1,
        fill="zero",
        template_zh="股权处于出质状态",
        template_en="its equity is pledged",
    ),
    # ------------------------------------------------------------------ dormancy
    Feature(
        "months_since_activity",
        "dynamic",
        "距最近经营活动月数",
        "months since any activity",
        "距最近一次年报报送、变更登记或成立的月数；成立早于年报和变更记录的起始日、且此后"
        "没有记录的企业，取距记录起始日的月数(记录起始前的活动不可见，即至少该月数)；"
        "最多计36个月；"
        "统计月末早于记录起始日时缺失",
        "months since the latest annual report, registration change or establishment; for an "
        "enterprise older than the annual-report and change records with no record since they "
        "begin, the months since they begin (activity before is not on record: at least that "
        "many); capped at 36 months (longer would only measure how far the records reach "
        "back, issue 19); missing for a month end before they begin",
        "months",
        "CASE WHEN {w.covered_from[annual_reports]} <= {w.end} "
        "AND {w.covered_from[changes]} <= {w.end} THEN "
        "least(days_between(greatest(p.established_date, "
        "COALESCE(ar.submitted, p.established_date), "
        "COALESCE(chg.last_date, p.established_date), {w.covered_from[annual_reports]}, "
        "{w.covered_from[changes]}), {w.end}) / 30.4375, 36.0) END",
        DORMANT,
        direction=1,
        template_zh="已有{value:.0f}个月无年报报送或变更登记等活动",
        template_en="no annual report, change or other activity for {value:.0f} months",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "dormant",
        "dynamic",
        "休眠迹象",
        "signs of dormancy",
        "成立满1年，最近一期到期年报未报或全零，且近24个月(见配置)无变更登记；年报数据不详、"
        "或年报和变更记录的起始日太晚而无法判断时缺失",
        "over a year old, the latest due annual report missing or all zero, and no registration "
        "change in 24 months (see config); missing when unknown report items, or annual-report "
        "and change records that begin too late, leave it open",
        "flag",
        flag(
            "days_between(p.established_date, {w.end}) >= 365 "
            "AND (("
            + _OWES
            + " AND CASE WHEN "
            + _COVERED
            + " THEN COALESCE(ar.max_due_year, 0) < {w.last_due_year} END) "
            "OR (ar.year IS NOT NULL AND " + _ALL_ZERO + ")) AND " + _NO_RECENT_CHANGE
        ),
        DORMANT,
        kind="flag",
        direction=1,
        actionable=True,
        template_zh="呈休眠迹象：年报未报或全零，且长期无变更登记",
        template_en="shows signs of dormancy: no or empty annual reports and no registration activity",
        advice_zh="恢复正常经营并如实报送年报，或依法办理歇业备案或注销登记",
        advice_en="resume business and file real reports, or register a suspension or deregister",
        categories=("address_unreachable", "false_disclosure"),
    ),
)
