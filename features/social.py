"""Social evaluation (社会评价信息): court enforcement and judicial assistance, tax credit
rating, news, and ratings by platforms.
"""

from __future__ import annotations

from features.catalog import Feature
from features.engine import Block, Window, flag, sum_strict


def _judicial(w: Window) -> str:
    return f"""
    SELECT uscc,
      SUM(CASE WHEN kind = 'enforcement' AND open = 1 THEN 1 ELSE 0 END) AS enforcement,
      {sum_strict("CASE WHEN kind = 'enforcement' AND open = 1 THEN amount ELSE 0 END")}
        AS enforcement_amount,
      MAX(CASE WHEN kind = 'dishonest_debtor' AND open = 1 THEN 1 ELSE 0 END) AS dishonest,
      MAX(CASE WHEN kind = 'equity_freeze' AND open = 1 THEN 1 ELSE 0 END) AS frozen,
      SUM(CASE WHEN filed_date > {w.ago(36)} THEN 1 ELSE 0 END) AS n_36m,
      MAX(filed_date) AS last_date
    FROM (
      SELECT *, CASE WHEN closed_date IS NULL OR closed_date > {w.end} THEN 1 ELSE 0 END AS open
      FROM pit_judicial
    ) j
    GROUP BY uscc"""


def _social(w: Window) -> str:
    m12 = w.ago(12)
    rating = "COALESCE(score, TRY_CAST(value AS DOUBLE))"
    return f"""
    SELECT uscc,
      MAX(CASE WHEN indicator = 'tax_credit_rating' AND rn = 1 THEN value END) AS tax,
      MAX(CASE WHEN indicator = 'tax_credit_rating' AND rn = 2 THEN value END) AS tax_prev,
      SUM(CASE WHEN indicator = 'news_sentiment' AND value = 'negative' AND eval_date > {m12}
               THEN 1 ELSE 0 END) AS news_12m,
      MAX(CASE WHEN indicator = 'platform_rating' AND rn = 1 THEN {rating} END) AS platform,
      SUM(CASE WHEN indicator = 'platform_rating' AND eval_date > {m12} THEN 1 ELSE 0 END)
        AS platform_12m
    FROM (
      SELECT *, ROW_NUMBER() OVER (PARTITION BY uscc, indicator
                                   ORDER BY eval_date DESC, received_date DESC, value) AS rn
      FROM pit_social
    ) s
    GROUP BY uscc"""


def tax_level(col: str) -> str:
    """纳税信用等级 A > B > M > C > D as 5 .. 1."""
    return (
        f"CASE {col} WHEN 'A' THEN 5 WHEN 'B' THEN 4 WHEN 'M' THEN 3 WHEN 'C' THEN 2 "
        f"WHEN 'D' THEN 1 END"
    )


JUD = ("enterprises", "changes", "judicial")
SOC = ("enterprises", "changes", "social")

BLOCKS = (
    Block("jud", JUD, _judicial),
    Block("soc", SOC, _social),
)

_SETTLE_ZH = "履行生效法律文书确定的义务，结清执行案件"
_SETTLE_EN = "meet the court's judgment and settle the enforcement case"

FEATURES = (
    Feature(
        "jud_enforcement_open",
        "social",
        "未结执行案件数",
        "open enforcement cases",
        "统计月末尚未结案的被执行案件数",
        "enforcement cases against it still open at the month end",
        "count",
        "jud.enforcement",
        JUD,
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="有{value:.0f}件被执行案件尚未结案，执行标的{jud_enforcement_amount:.1f}万元",
        template_en="{value:.0f} enforcement cases open, {jud_enforcement_amount:.1f} (10k yuan) at stake",
        advice_zh=_SETTLE_ZH,
        advice_en=_SETTLE_EN,
    ),
    Feature(
        "jud_enforcement_amount",
        "social",
        "未结执行标的",
        "amount under enforcement",
        "未结被执行案件的执行标的合计；有未结案件的标的不详时缺失",
        "total amount of open enforcement cases; missing when an open case's amount is not stated",
        "wan_yuan",
        "jud.enforcement_amount",
        JUD,
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="未结执行标的合计{value:.1f}万元",
        template_en="{value:.1f} (10k yuan) under enforcement",
        advice_zh=_SETTLE_ZH,
        advice_en=_SETTLE_EN,
    ),
    Feature(
        "jud_dishonest_debtor",
        "social",
        "失信被执行人",
        "dishonest judgment debtor",
        "统计月末被人民法院列为失信被执行人",
        "listed by a court as a dishonest judgment debtor at the month end",
        "flag",
        "jud.dishonest",
        JUD,
        kind="flag",
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="被人民法院列为失信被执行人",
        template_en="listed by a court as a dishonest judgment debtor",
        advice_zh="履行判决义务后申请法院删除失信信息",
        advice_en="meet the judgment and ask the court to lift the listing",
    ),
    Feature(
        "jud_equity_frozen",
        "social",
        "股权被冻结",
        "equity frozen",
        "统计月末有未解除的股权冻结",
        "equity frozen by a court and not lifted at the month end",
        "flag",
        "jud.frozen",
        JUD,
        kind="flag",
        direction=1,
        fill="zero",
        template_zh="股权被司法冻结",
        template_en="its equity is frozen by a court",
    ),
    Feature(
        "jud_cases_36m",
        "social",
        "近36个月司法案件数",
        "court cases, 36 months",
        "近36个月立案(发布)的执行、失信和股权冻结记录数",
        "enforcement, dishonest-debtor and freeze records of the last 36 months",
        "count",
        "jud.n_36m",
        JUD,
        direction=1,
        fill="zero",
        template_zh="近三年涉及司法执行记录{value:.0f}条，最近一条在{jud_last_date}",
        template_en="{value:.0f} court enforcement records in 3 years, the latest on {jud_last_date}",
    ),
    Feature(
        "jud_days_since_last",
        "social",
        "距最近司法记录天数",
        "days since the last court record",
        "距最近一条司法协助记录的天数；无记录时缺失",
        "days since the latest court record; missing if none",
        "days",
        "days_between(jud.last_date, {w.end})",
        JUD,
        direction=-1,
        template_zh="最近一条司法记录在{value:.0f}天前",
        template_en="the latest court record is {value:.0f} days old",
    ),
    Feature(
        "jud_last_date",
        "social",
        "最近司法记录日期",
        "date of the latest court record",
        "最近一条司法协助记录的立案(发布)日期",
        "date of the latest court record",
        "date",
        "jud.last_date",
        JUD,
        kind="date",
        role="context",
    ),
    Feature(
        "tax_rating_level",
        "social",
        "纳税信用等级",
        "tax credit rating",
        "最近一次纳税信用等级，A=5、B=4、M=3、C=2、D=1；无评价时缺失",
        "latest tax credit rating, A=5, B=4, M=3, C=2, D=1; missing if never rated",
        "score",
        tax_level("soc.tax"),
        SOC,
        direction=-1,
        template_zh="纳税信用等级为{tax_rating}级",
        template_en="tax credit rating {tax_rating}",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "tax_rating",
        "social",
        "纳税信用等级(字母)",
        "tax credit rating (letter)",
        "最近一次纳税信用等级",
        "latest tax credit rating",
        "code",
        "soc.tax",
        SOC,
        kind="category",
        role="context",
    ),
    Feature(
        "tax_rating_d",
        "social",
        "纳税信用D级",
        "tax rating D",
        "最近一次纳税信用等级为D；无评价时缺失",
        "latest tax credit rating is D; missing if never rated",
        "flag",
        "CASE WHEN soc.tax IS NOT NULL THEN CASE WHEN soc.tax = 'D' THEN 1 ELSE 0 END END",
        SOC,
        kind="flag",
        direction=1,
        template_zh="纳税信用等级被评为D级",
        template_en="rated D for tax credit",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "tax_rating_down",
        "social",
        "纳税信用降级",
        "tax rating lowered",
        "最近一次纳税信用等级低于上一次；评价少于两次或等级无法识别时缺失",
        "latest tax credit rating below the one before; missing with fewer than two, or an "
        "unrecognised rating",
        "flag",
        "CASE WHEN soc.tax_prev IS NOT NULL THEN "
        + flag(f"{tax_level('soc.tax')} < {tax_level('soc.tax_prev')}")
        + " END",
        SOC,
        kind="flag",
        direction=1,
        template_zh="纳税信用等级较上次下降",
        template_en="its tax rating was lowered",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "news_negative_12m",
        "social",
        "近12个月负面舆情",
        "negative news, 12 months",
        "近12个月负面舆情条数",
        "negative news items in the last 12 months",
        "count",
        "soc.news_12m",
        SOC,
        direction=1,
        fill="zero",
        template_zh="近12个月有负面舆情{value:.0f}条",
        template_en="{value:.0f} negative news items in 12 months",
        categories=("product_quality", "food_safety", "advertising_pricing"),
    ),
    Feature(
        "platform_rating",
        "social",
        "平台评分",
        "platform rating",
        "最近一次平台(消费者)评分(满分5分)；无评分时缺失",
        "latest platform (consumer) rating out of 5; missing if none",
        "score",
        "soc.platform",
        SOC,
        direction=-1,
        template_zh="平台评分{value:.1f}分",
        template_en="platform rating {value:.1f} out of 5",
        categories=("product_quality", "advertising_pricing"),
    ),
    Feature(
        "platform_rating_low",
        "social",
        "平台评分偏低",
        "low platform rating",
        "最近一次平台评分低于3.5分(阈值见配置)；无评分时缺失",
        "latest platform rating below 3.5 (threshold in config); missing if none",
        "flag",
        "CASE WHEN soc.platform IS NOT NULL THEN CASE WHEN soc.platform < "
        "{w.cfg.low_platform_rating} THEN 1 ELSE 0 END END",
        SOC,
        kind="flag",
        direction=1,
        template_zh="平台评分偏低（{platform_rating:.1f}分）",
        template_en="low platform rating ({platform_rating:.1f})",
        categories=("product_quality", "advertising_pricing"),
    ),
    Feature(
        "platform_ratings_12m",
        "social",
        "近12个月平台评价数",
        "platform ratings, 12 months",
        "近12个月平台评价条数",
        "platform ratings in the last 12 months",
        "count",
        "soc.platform_12m",
        SOC,
        fill="zero",
        template_zh="近12个月平台评价{value:.0f}条",
        template_en="{value:.0f} platform ratings in 12 months",
    ),
)
