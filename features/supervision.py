"""Supervision information (监管信息): penalties, the abnormal and serious lists, inspections,
product sampling, complaints.

Impact periods (`configs/features.yaml`): a penalty counts for ``penalty_publication_months``
from its decision (``minor_penalty_publication_months`` for a minor one) and stops counting
from its credit-repair date; a listing counts while the enterprise is listed (its removal
counts once both the removal date and the date the removal was received have passed),
and the listing history is kept in separate features.
"""

from __future__ import annotations

from features.catalog import Feature
from features.engine import Block, Window, flag, max_strict, sum_strict


def _revocation_known(w: Window) -> str:
    return f"(revoked_date IS NOT NULL AND revoked_date <= {w.end} AND revocation_received_date <= {w.end})"


def repairs_in_force(w: Window) -> str:
    """Granted repairs known at the month end and not revoked by then (a revocation counts
    once both its date and the date it was received have passed)."""
    return f"""
    SELECT * FROM pit_credit_repairs
    WHERE decision = 'granted' AND NOT {_revocation_known(w)}"""


def repairs_revoked(w: Window) -> str:
    """Granted repairs whose revocation is known at the month end."""
    return f"""
    SELECT * FROM pit_credit_repairs
    WHERE decision = 'granted' AND {_revocation_known(w)}"""


def _penalty_repaired(w: Window) -> str:
    """Whether a ``pit_penalties`` row ``pp`` is repaired at the month end.

    Without the credit-repair table: its ``repaired_date`` has passed. With it: a granted repair
    known at the month end (its decision received) and not revoked; a ``repaired_date`` on the
    penalty counts only for a penalty the repair table has no record of at all (a bureau that
    delivers both would otherwise count a repair from its decision date, before the decision
    was received, and a revoked repair counts again from the date the revocation was received)."""
    legacy = f"(pp.repaired_date IS NOT NULL AND pp.repaired_date <= {w.end})"
    if not w.has("credit_repairs"):
        return legacy
    match = "r.uscc = pp.uscc AND r.target_table = 'penalties' AND r.decision_no = pp.decision_no"
    return f"""(EXISTS (SELECT 1 FROM ({repairs_in_force(w)}) r WHERE {match})
         OR ({legacy} AND NOT EXISTS (SELECT 1 FROM raw_credit_repairs r WHERE {match})))"""


def effective_penalties(w: Window) -> str:
    """Penalties known at the month end (``Window.end``), within their publication period and not repaired."""
    cfg = w.cfg
    return f"""
    SELECT * FROM pit_penalties pp
    WHERE NOT {_penalty_repaired(w)}
      AND pp.decision_date > CASE WHEN pp.minor THEN {w.ago(cfg.minor_penalty_publication_months)}
                                  ELSE {w.ago(cfg.penalty_publication_months)} END"""


def _listed(table: str, w: Window) -> str:
    """Listings known at the month end (``Window.end``) with a flag for whether they are still in force.

    A removal counts once the bureau has it: one without the date it was received (the
    abnormal list's contract sets the two together; the serious list's does not) is not
    yet received, and the listing stays in force (the point-in-time reading). With the
    credit-repair table, a listing whose repair was revoked (revocation received by the
    month end) is in force again, unless another repair of it is in force."""
    removed = f"l.removed_date IS NOT NULL AND l.removed_date <= {w.end} AND l.removal_received_date <= {w.end}"
    if w.has("credit_repairs"):
        match = (
            f"r.uscc = l.uscc AND r.target_table = '{table}' "
            "AND r.listing_reason = l.reason AND r.listed_date = l.listed_date"
        )
        removed = (
            f"{removed} AND NOT (EXISTS (SELECT 1 FROM ({repairs_revoked(w)}) r WHERE {match}) "
            f"AND NOT EXISTS (SELECT 1 FROM ({repairs_in_force(w)}) r WHERE {match}))"
        )
    return f"""
    SELECT l.*, CASE WHEN {removed} THEN 0 ELSE 1 END AS current
    FROM pit_{table} l"""


def _flags(w: Window) -> str:
    """Per enterprise of the population: abnormal / serious / revoked / penalised (12 months).

    Used by the related-party and context features; not features themselves.
    """
    return f"""
    SELECT p.uscc,
      CASE WHEN a.uscc IS NULL THEN 0 ELSE 1 END AS abnormal,
      CASE WHEN s.uscc IS NULL THEN 0 ELSE 1 END AS serious,
      p.revoked AS revoked,
      CASE WHEN q.uscc IS NULL THEN 0 ELSE 1 END AS penalised_12m
    FROM pop p
    LEFT JOIN (SELECT DISTINCT uscc FROM ({_listed("abnormal_list", w)}) x WHERE current = 1) a
      ON a.uscc = p.uscc
    LEFT JOIN (SELECT DISTINCT uscc FROM ({_listed("serious_dishonest_list", w)}) x
               WHERE current = 1) s ON s.uscc = p.uscc
    LEFT JOIN (SELECT DISTINCT uscc FROM ({effective_penalties(w)}) x
               WHERE decision_date > {w.ago(12)}) q ON q.uscc = p.uscc"""


def _penalties(w: Window) -> str:
    m12 = w.ago(12)
    heavy = "('suspension', 'licence_revocation', 'business_licence_revocation')"
    # a warning or an order to suspend has no amount: its fine is a true 0 (the contract);
    # a fine or confiscation without its amount leaves the totals unknown
    fine = (
        "CASE WHEN penalty_kind IN ('fine', 'confiscation') THEN amount "
        "ELSE COALESCE(amount, 0) END"
    )
    return f"""
    SELECT uscc,
      SUM(CASE WHEN decision_date > {m12} THEN 1 ELSE 0 END) AS n_12m,
      COUNT(*) AS n_36m,
      {sum_strict(f"CASE WHEN decision_date > {m12} THEN {fine} ELSE 0 END")} AS amount_12m,
      {sum_strict(fine)} AS amount_36m,
      {max_strict(fine)} AS max_amount,
      SUM(CASE WHEN penalty_kind IN {heavy} THEN 1 ELSE 0 END) AS heavy,
      SUM(CASE WHEN cause IN ('food_safety', 'drug_device_safety') THEN 1 ELSE 0 END) AS food_drug,
      SUM(CASE WHEN cause IN ('product_quality', 'special_equipment') THEN 1 ELSE 0 END) AS quality,
      SUM(CASE WHEN cause IN ('false_advertising', 'pricing', 'unfair_competition',
                              'consumer_rights', 'trademark_ip') THEN 1 ELSE 0 END) AS commercial,
      SUM(CASE WHEN cause IN ('unlicensed', 'registration') THEN 1 ELSE 0 END) AS licensing,
      MAX(decision_date) AS last_date,
      MAX(CASE WHEN rn = 1 THEN cause END) AS last_cause
    FROM (
      SELECT *, ROW_NUMBER() OVER (PARTITION BY uscc ORDER BY decision_date DESC, decision_no DESC) AS rn
      FROM ({effective_penalties(w)}) e
      WHERE decision_date > {w.ago(36)}
    ) x
    GROUP BY uscc"""


def _abnormal(w: Window) -> str:
    m36 = w.ago(36)
    return f"""
    SELECT uscc,
      MAX(current) AS listed,
      MAX(CASE WHEN current = 1 AND reason = 'annual_report' THEN 1 ELSE 0 END) AS r_report,
      MAX(CASE WHEN current = 1 AND reason = 'unreachable' THEN 1 ELSE 0 END) AS r_unreachable,
      MAX(CASE WHEN current = 1 AND reason IN ('concealment', 'instant_info') THEN 1 ELSE 0 END)
        AS r_disclosure,
      MIN(CASE WHEN current = 1 THEN listed_date END) AS listed_since,
      SUM(CASE WHEN listed_date > {m36} THEN 1 ELSE 0 END) AS n_36m,
      SUM(CASE WHEN current = 0 AND removed_date > {m36} THEN 1 ELSE 0 END) AS removed_36m,
      MAX(CASE WHEN rn = 1 THEN reason END) AS current_reason
    FROM (
      SELECT *, ROW_NUMBER() OVER (PARTITION BY uscc ORDER BY current DESC, listed_date DESC, reason) AS rn
      FROM ({_listed("abnormal_list", w)}) l
    ) x
    GROUP BY uscc"""


def _serious(w: Window) -> str:
    return f"""
    SELECT uscc, MAX(current) AS listed, COUNT(*) AS n_ever,
           MIN(CASE WHEN current = 1 THEN listed_date END) AS listed_since
    FROM ({_listed("serious_dishonest_list", w)}) l
    GROUP BY uscc"""


def _inspections(w: Window) -> str:
    return f"""
    SELECT uscc,
      COUNT(*) AS n,
      SUM(CASE WHEN problem_found THEN 1 ELSE 0 END) AS problems,
      SUM(CASE WHEN result = 'unreachable' THEN 1 ELSE 0 END) AS unreachable,
      SUM(CASE WHEN result = 'refused' THEN 1 ELSE 0 END) AS refused,
      SUM(CASE WHEN draw_mode = 'targeted' THEN 1 ELSE 0 END) AS targeted,
      MAX(inspection_date) AS last_date,
      MAX(CASE WHEN rn = 1 THEN {flag("problem_found")} END) AS last_problem,
      MAX(CASE WHEN rn = 1 THEN problem_category END) AS last_category
    FROM (
      SELECT *, ROW_NUMBER() OVER (PARTITION BY uscc ORDER BY inspection_date DESC, inspection_id DESC) AS rn
      FROM pit_inspections WHERE inspection_date > {w.ago(36)}
    ) x
    GROUP BY uscc"""


def _sampling(w: Window) -> str:
    return f"""
    SELECT uscc, COUNT(*) AS n, SUM(CASE WHEN result = 'fail' THEN 1 ELSE 0 END) AS fails
    FROM pit_product_sampling WHERE sample_date > {w.ago(36)}
    GROUP BY uscc"""


def _complaints(w: Window) -> str:
    m12 = w.ago(12)
    return f"""
    SELECT uscc,
      SUM(CASE WHEN complaint_date > {w.ago(3)} THEN 1 ELSE 0 END) AS n_3m,
      SUM(CASE WHEN complaint_date > {m12} THEN 1 ELSE 0 END) AS n_12m,
      SUM(CASE WHEN complaint_date <= {m12} THEN 1 ELSE 0 END) AS n_prev_12m,
      SUM(CASE WHEN complaint_date > {m12} AND substantiated THEN 1 ELSE 0 END) AS substantiated,
      SUM(CASE WHEN complaint_date > {m12} AND kind = 'report' THEN 1 ELSE 0 END) AS reports,
      SUM(CASE WHEN complaint_date > {m12} AND category IN ('food', 'safety') THEN 1 ELSE 0 END)
        AS safety
    FROM pit_complaints WHERE complaint_date > {w.ago(24)}
    GROUP BY uscc"""


def _repairs(w: Window) -> str:
    """Credit repairs decided (and received) by the month end: granted ones still in force,
    refused ones and revoked ones (revocation received), with the latest reasons."""
    m36 = w.ago(36)
    revoked = _revocation_known(w)
    return f"""
    SELECT uscc,
      SUM(CASE WHEN decision = 'granted' AND NOT {revoked} AND decided_date > {m36}
               THEN 1 ELSE 0 END) AS granted_36m,
      SUM(CASE WHEN decision = 'refused' AND decided_date > {m36} THEN 1 ELSE 0 END)
        AS refused_36m,
      SUM(CASE WHEN decision = 'granted' AND {revoked} AND revoked_date > {m36}
               THEN 1 ELSE 0 END) AS revoked_36m,
      MAX(CASE WHEN rn_refused = 1 AND decision = 'refused' THEN refusal_reason END)
        AS last_refusal_reason,
      MAX(CASE WHEN rn_revoked = 1 AND decision = 'granted' AND {revoked}
               THEN revocation_reason END) AS last_revocation_reason
    FROM (
      SELECT *,
        ROW_NUMBER() OVER (PARTITION BY uscc
          ORDER BY CASE WHEN decision = 'refused' THEN 0 ELSE 1 END, decided_date DESC,
                   repair_id DESC) AS rn_refused,
        ROW_NUMBER() OVER (PARTITION BY uscc
          ORDER BY CASE WHEN decision = 'granted' AND {revoked} THEN 0 ELSE 1 END,
                   revoked_date DESC, repair_id DESC) AS rn_revoked
      FROM pit_credit_repairs
    ) x
    GROUP BY uscc"""


def _commitments(w: Window) -> str:
    """Credit commitments made by the month end, and those whose assessment (kept or not)
    was received by then; the assessed ones are windowed on the assessment date."""
    m36 = w.ago(36)
    assessed = (
        f"assessed_date IS NOT NULL AND assessed_date <= {w.end} "
        f"AND assessment_received_date <= {w.end} AND assessed_date > {m36}"
    )
    return f"""
    SELECT uscc,
      SUM(CASE WHEN made_date > {m36} THEN 1 ELSE 0 END) AS made_36m,
      {sum_strict(f"CASE WHEN {assessed} THEN {flag('kept')} ELSE 0 END")} AS kept_36m,
      {sum_strict(f"CASE WHEN {assessed} THEN {flag('NOT kept')} ELSE 0 END")} AS broken_36m
    FROM pit_commitments
    GROUP BY uscc"""


PEN = ("enterprises", "penalties")
ABN = ("enterprises", "abnormal_list")
SD = ("enterprises", "serious_dishonest_list")
INSP = ("enterprises", "inspections")
SAMP = ("enterprises", "product_sampling")
CMP = ("enterprises", "complaints")
REP = ("enterprises", "credit_repairs")
COM = ("enterprises", "commitments")
_REP_OPT = ("credit_repairs",)

BLOCKS = (
    Block(
        "flags",
        ("changes", "abnormal_list", "serious_dishonest_list", *PEN),
        _flags,
        optional=_REP_OPT,
        joined=False,
    ),
    Block("pen", PEN, _penalties, optional=_REP_OPT),
    Block("abn", ABN, _abnormal, optional=_REP_OPT),
    Block("sd", SD, _serious, optional=_REP_OPT),
    Block("insp", INSP, _inspections),
    Block("samp", SAMP, _sampling),
    Block("cmp", CMP, _complaints),
    Block("rep", REP, _repairs),
    Block("com", COM, _commitments),
)

_REPAIR_ZH = "履行行政处罚决定，公示期满后依法申请信用修复"
_REPAIR_EN = "carry out the penalty decision and apply for credit repair once eligible"
_ABN_ZH = "依法履行公示义务(补报年报、更正信息或恢复住所联系)后申请移出经营异常名录"
_ABN_EN = (
    "meet the disclosure duty (file the report, correct the record or become reachable) "
    "and apply to leave the abnormal list"
)
FEATURES = (
    # ------------------------------------------------------------------ penalties
    Feature(
        "pen_count_12m",
        "supervision",
        "近12个月行政处罚次数",
        "penalties, 12 months",
        "近12个月仍在公示期且未信用修复的行政处罚次数",
        "penalties of the last 12 months still in their publication period and not repaired",
        "count",
        "pen.n_12m",
        PEN,
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="近12个月受到行政处罚{value:.0f}次，最近一次在{pen_last_date}",
        template_en="{value:.0f} administrative penalties in the last 12 months, the latest on {pen_last_date}",
        advice_zh=_REPAIR_ZH,
        advice_en=_REPAIR_EN,
    ),
    Feature(
        "pen_count_36m",
        "supervision",
        "近36个月行政处罚次数",
        "penalties, 36 months",
        "近36个月仍在公示期且未信用修复的行政处罚次数",
        "penalties of the last 36 months still in their publication period and not repaired",
        "count",
        "pen.n_36m",
        PEN,
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="近三年受到行政处罚{value:.0f}次，最近一次在{pen_last_date}",
        template_en="{value:.0f} administrative penalties in the last 3 years, the latest on {pen_last_date}",
        advice_zh=_REPAIR_ZH,
        advice_en=_REPAIR_EN,
    ),
    Feature(
        "pen_amount_12m",
        "supervision",
        "近12个月罚没款金额",
        "fines, 12 months",
        "近12个月有效行政处罚的罚没款合计",
        "fines and confiscations of effective penalties, last 12 months",
        "wan_yuan",
        "pen.amount_12m",
        PEN,
        direction=1,
        fill="zero",
        template_zh="近12个月罚没款合计{value:.2f}万元",
        template_en="fines of {value:.2f} (10k yuan) in the last 12 months",
    ),
    Feature(
        "pen_amount_36m",
        "supervision",
        "近36个月罚没款金额",
        "fines, 36 months",
        "近36个月有效行政处罚的罚没款合计",
        "fines and confiscations of effective penalties, last 36 months",
        "wan_yuan",
        "pen.amount_36m",
        PEN,
        direction=1,
        fill="zero",
        template_zh="近三年罚没款合计{value:.2f}万元",
        template_en="fines of {value:.2f} (10k yuan) in the last 3 years",
    ),
    Feature(
        "pen_max_amount_36m",
        "supervision",
        "单笔最高罚没款",
        "largest fine, 36 months",
        "近36个月有效行政处罚中单笔最高罚没款",
        "largest single fine of effective penalties, last 36 months",
        "wan_yuan",
        "pen.max_amount",
        PEN,
        direction=1,
        fill="zero",
        template_zh="近三年单笔罚没款最高{value:.2f}万元",
        template_en="largest fine {value:.2f} (10k yuan) in the last 3 years",
    ),
    Feature(
        "pen_heavy_36m",
        "supervision",
        "较重处罚次数",
        "heavy penalties, 36 months",
        "近36个月责令停产停业、暂扣吊销许可证或吊销营业执照的次数",
        "suspensions and permit or licence revocations, last 36 months",
        "count",
        "pen.heavy",
        PEN,
        direction=1,
        fill="zero",
        template_zh="近三年受到责令停产停业或吊销许可证照等较重处罚{value:.0f}次",
        template_en="{value:.0f} heavy penalties (suspension or revocation) in the last 3 years",
    ),
    Feature(
        "pen_food_drug_36m",
        "supervision",
        "食品药品类处罚",
        "food and drug penalties",
        "近36个月因食品、药品医疗器械安全受到的处罚次数",
        "penalties for food, drug or device safety, last 36 months",
        "count",
        "pen.food_drug",
        PEN,
        direction=1,
        fill="zero",
        template_zh="近三年因食品药品安全问题受处罚{value:.0f}次",
        template_en="{value:.0f} penalties for food or drug safety in the last 3 years",
        categories=("food_safety", "drug_device_safety"),
    ),
    Feature(
        "pen_quality_36m",
        "supervision",
        "质量安全类处罚",
        "quality and equipment penalties",
        "近36个月因产品质量、特种设备安全受到的处罚次数",
        "penalties for product quality or special equipment, last 36 months",
        "count",
        "pen.quality",
        PEN,
        direction=1,
        fill="zero",
        template_zh="近三年因产品质量或特种设备安全受处罚{value:.0f}次",
        template_en="{value:.0f} penalties for product quality or equipment safety in the last 3 years",
        categories=("product_quality", "special_equipment"),
    ),
    Feature(
        "pen_commercial_36m",
        "supervision",
        "经营行为类处罚",
        "trading-practice penalties",
        "近36个月因广告、价格、不正当竞争、侵权或侵害消费者权益受到的处罚次数",
        "penalties for advertising, pricing, unfair competition, infringement or consumer rights, last 36 months",
        "count",
        "pen.commercial",
        PEN,
        direction=1,
        fill="zero",
        template_zh="近三年因广告、价格或不正当竞争等经营行为受处罚{value:.0f}次",
        template_en="{value:.0f} penalties for advertising, pricing or unfair trading in the last 3 years",
        categories=("advertising_pricing",),
    ),
    Feature(
        "pen_licensing_36m",
        "supervision",
        "无照无证及登记类处罚",
        "licensing penalties",
        "近36个月因无照无证经营或登记违法受到的处罚次数",
        "penalties for unlicensed operation or registration violations, last 36 months",
        "count",
        "pen.licensing",
        PEN,
        direction=1,
        fill="zero",
        template_zh="近三年因无照无证经营或登记违法受处罚{value:.0f}次",
        template_en="{value:.0f} penalties for unlicensed operation or registration in the last 3 years",
        categories=("licence",),
    ),
    Feature(
        "pen_days_since_last",
        "supervision",
        "距最近一次处罚天数",
        "days since the last penalty",
        "距最近一次有效行政处罚的天数；无处罚时缺失",
        "days since the latest effective penalty; missing without one",
        "days",
        "days_between(pen.last_date, {w.end})",
        PEN,
        direction=-1,
        template_zh="最近一次行政处罚在{pen_last_date}（{value:.0f}天前）",
        template_en="the latest penalty was on {pen_last_date} ({value:.0f} days ago)",
    ),
    Feature(
        "pen_last_date",
        "supervision",
        "最近处罚日期",
        "date of the latest penalty",
        "最近一次有效行政处罚的决定日期",
        "decision date of the latest effective penalty",
        "date",
        "pen.last_date",
        PEN,
        kind="date",
        role="context",
    ),
    Feature(
        "pen_last_cause",
        "supervision",
        "最近处罚违法类型",
        "cause of the latest penalty",
        "最近一次有效行政处罚的违法行为类型(penalty_cause代码)",
        "kind of violation of the latest effective penalty (penalty_cause code)",
        "code",
        "pen.last_cause",
        PEN,
        kind="category",
        role="context",
    ),
    # ------------------------------------------------------------------ abnormal list
    Feature(
        "abn_listed",
        "supervision",
        "列入经营异常名录",
        "on the abnormal list",
        "统计月末正被列入经营异常名录",
        "on the list of abnormal operations at the month end",
        "flag",
        "abn.listed",
        ABN,
        kind="flag",
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="自{abn_listed_since}起被列入经营异常名录（原因：{abn_reason}）",
        template_en="on the abnormal list since {abn_listed_since} (reason: {abn_reason})",
        advice_zh=_ABN_ZH,
        advice_en=_ABN_EN,
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "abn_listed_annual_report",
        "supervision",
        "因未报年报列异",
        "listed for a missing annual report",
        "因未按期公示年度报告正被列入经营异常名录",
        "listed now for not filing the annual report on time",
        "flag",
        "abn.r_report",
        ABN,
        kind="flag",
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="因未按规定期限公示年度报告被列入经营异常名录",
        template_en="listed as abnormal for not filing the annual report on time",
        advice_zh="补报并公示年度报告后申请移出经营异常名录",
        advice_en="file and publish the annual report, then apply to leave the abnormal list",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "abn_listed_unreachable",
        "supervision",
        "因住所失联列异",
        "listed as unreachable",
        "因通过登记的住所或经营场所无法联系正被列入经营异常名录",
        "listed now as unreachable at the registered address",
        "flag",
        "abn.r_unreachable",
        ABN,
        kind="flag",
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="因通过登记的住所无法联系被列入经营异常名录",
        template_en="listed as abnormal because it cannot be reached at its registered address",
        advice_zh="办理住所变更登记或恢复联系后申请移出经营异常名录",
        advice_en="register the real address or become reachable, then apply to leave the list",
        categories=("address_unreachable",),
    ),
    Feature(
        "abn_listed_disclosure",
        "supervision",
        "因公示信息问题列异",
        "listed for false or missing disclosures",
        "因公示信息隐瞒真实情况、弄虚作假或未按责令公示正被列入经营异常名录",
        "listed now for false, concealed or undisclosed public information",
        "flag",
        "abn.r_disclosure",
        ABN,
        kind="flag",
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="因公示信息弄虚作假或未按责令公示被列入经营异常名录",
        template_en="listed as abnormal for false or missing public disclosures",
        advice_zh="更正或补充公示信息后申请移出经营异常名录",
        advice_en="correct or complete the public information, then apply to leave the list",
        categories=("false_disclosure",),
    ),
    Feature(
        "abn_months_listed",
        "supervision",
        "列异持续月数",
        "months on the abnormal list",
        "本次列入经营异常名录已持续的月数；未列入时缺失",
        "months on the abnormal list so far; missing when not listed",
        "months",
        "days_between(abn.listed_since, {w.end}) / 30.4375",
        ABN,
        direction=1,
        template_zh="已在经营异常名录中{value:.0f}个月",
        template_en="on the abnormal list for {value:.0f} months",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "abn_count_36m",
        "supervision",
        "近36个月列异次数",
        "abnormal listings, 36 months",
        "近36个月被列入经营异常名录的次数(含已移出)",
        "listings on the abnormal list in the last 36 months, removed ones included",
        "count",
        "abn.n_36m",
        ABN,
        direction=1,
        fill="zero",
        template_zh="近三年{value:.0f}次被列入经营异常名录",
        template_en="listed as abnormal {value:.0f} times in the last 3 years",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "abn_removed_36m",
        "supervision",
        "近36个月移出异常名录次数",
        "removals from the abnormal list",
        "近36个月从经营异常名录移出的次数(历史)",
        "removals from the abnormal list in the last 36 months (history)",
        "count",
        "abn.removed_36m",
        ABN,
        direction=1,
        fill="zero",
        template_zh="近三年曾{value:.0f}次列入后移出经营异常名录",
        template_en="listed as abnormal and removed {value:.0f} times in the last 3 years",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "abn_listed_since",
        "supervision",
        "列入异常名录日期",
        "date listed as abnormal",
        "本次列入经营异常名录的日期",
        "date of the current abnormal listing",
        "date",
        "abn.listed_since",
        ABN,
        kind="date",
        role="context",
    ),
    Feature(
        "abn_reason",
        "supervision",
        "列入异常名录原因",
        "reason listed as abnormal",
        "当前(或最近一次)列入经营异常名录的原因(abnormal_reason代码)",
        "reason of the current or latest abnormal listing (abnormal_reason code)",
        "code",
        "abn.current_reason",
        ABN,
        kind="category",
        role="context",
    ),
    # ------------------------------------------------------------------ serious list
    Feature(
        "sd_listed",
        "supervision",
        "列入严重违法失信名单",
        "on the serious list",
        "统计月末正被列入严重违法失信名单",
        "on the list of seriously illegal and dishonest entities at the month end",
        "flag",
        "sd.listed",
        SD,
        kind="flag",
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="自{sd_listed_since}起被列入严重违法失信名单",
        template_en="on the list of seriously illegal and dishonest entities since {sd_listed_since}",
        advice_zh="纠正失信行为、消除不良影响后依法申请信用修复",
        advice_en="correct the conduct, remedy its effects and apply for credit repair",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "sd_count_ever",
        "supervision",
        "严重失信名单列入次数",
        "serious listings, ever",
        "被列入严重违法失信名单的次数(含已移出)",
        "listings on the serious list, removed ones included",
        "count",
        "sd.n_ever",
        SD,
        direction=1,
        fill="zero",
        template_zh="曾{value:.0f}次被列入严重违法失信名单",
        template_en="listed as seriously dishonest {value:.0f} times",
        categories=("address_unreachable", "false_disclosure"),
    ),
    Feature(
        "sd_listed_since",
        "supervision",
        "列入严重失信名单日期",
        "date listed as seriously dishonest",
        "本次列入严重违法失信名单的日期",
        "date of the current serious listing",
        "date",
        "sd.listed_since",
        SD,
        kind="date",
        role="context",
    ),
    # ------------------------------------------------------------------ inspections
    Feature(
        "insp_count_36m",
        "supervision",
        "近36个月被检查次数",
        "inspections, 36 months",
        "近36个月的抽查检查次数(双随机和重点检查)",
        "inspections in the last 36 months (double-random and targeted)",
        "count",
        "insp.n",
        INSP,
        fill="zero",
        template_zh="近三年接受检查{value:.0f}次",
        template_en="inspected {value:.0f} times in the last 3 years",
    ),
    Feature(
        "insp_problems_36m",
        "supervision",
        "近36个月检查发现问题次数",
        "problems found, 36 months",
        "近36个月检查发现问题的次数",
        "inspections that found a problem, last 36 months",
        "count",
        "insp.problems",
        INSP,
        direction=1,
        fill="zero",
        template_zh="近三年检查中{value:.0f}次发现问题，最近一次检查在{insp_last_date}",
        template_en="problems found in {value:.0f} inspections in the last 3 years, the latest inspection on {insp_last_date}",
    ),
    Feature(
        "insp_problem_rate_36m",
        "supervision",
        "检查问题发现率",
        "own problem rate",
        "近36个月检查发现问题的比例；未被检查时缺失",
        "share of inspections that found a problem, last 36 months; missing if none",
        "share",
        "CASE WHEN insp.n > 0 THEN CAST(insp.problems AS DOUBLE) / insp.n END",
        INSP,
        direction=1,
        template_zh="近三年检查问题发现率{value:.0%}",
        template_en="{value:.0%} of its inspections in 3 years found problems",
    ),
    Feature(
        "insp_last_problem",
        "supervision",
        "最近一次检查发现问题",
        "latest inspection found a problem",
        "最近一次检查发现问题；近36个月未被检查时缺失",
        "the latest inspection found a problem; missing if none in 36 months",
        "flag",
        "insp.last_problem",
        INSP,
        kind="flag",
        direction=1,
        template_zh="最近一次检查（{insp_last_date}）发现问题：{insp_last_category}",
        template_en="the latest inspection ({insp_last_date}) found a problem: {insp_last_category}",
    ),
    Feature(
        "insp_days_since_last",
        "supervision",
        "距最近一次检查天数",
        "days since the last inspection",
        "距最近一次检查的天数；近36个月未被检查时缺失",
        "days since the latest inspection; missing if none in 36 months",
        "days",
        "days_between(insp.last_date, {w.end})",
        INSP,
        template_zh="最近一次检查在{value:.0f}天前",
        template_en="last inspected {value:.0f} days ago",
    ),
    Feature(
        "insp_unreachable_36m",
        "supervision",
        "检查时失联次数",
        "unreachable at inspection",
        "近36个月检查时通过登记住所无法联系的次数",
        "inspections that could not reach it at its registered address, last 36 months",
        "count",
        "insp.unreachable",
        INSP,
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="近三年检查时{value:.0f}次在登记住所无法联系",
        template_en="could not be reached at its registered address in {value:.0f} inspections in 3 years",
        advice_zh="办理住所变更登记，确保通过登记的住所可以联系",
        advice_en="register its real address so that it can be reached there",
        categories=("address_unreachable",),
    ),
    Feature(
        "insp_refused_36m",
        "supervision",
        "拒不配合检查次数",
        "refused inspections",
        "近36个月不配合检查情节严重的次数",
        "inspections refused (seriously uncooperative), last 36 months",
        "count",
        "insp.refused",
        INSP,
        direction=1,
        fill="zero",
        template_zh="近三年{value:.0f}次拒不配合检查",
        template_en="refused inspection {value:.0f} times in 3 years",
    ),
    Feature(
        "insp_targeted_36m",
        "supervision",
        "被重点检查次数",
        "targeted inspections",
        "近36个月因投诉举报、专项整治、转办等被重点检查的次数",
        "targeted inspections (complaints, campaigns, referrals) in the last 36 months",
        "count",
        "insp.targeted",
        INSP,
        direction=1,
        fill="zero",
        template_zh="近三年被重点检查{value:.0f}次",
        template_en="{value:.0f} targeted inspections in 3 years",
    ),
    Feature(
        "insp_last_date",
        "supervision",
        "最近检查日期",
        "date of the latest inspection",
        "近36个月最近一次检查的日期",
        "date of the latest inspection in 36 months",
        "date",
        "insp.last_date",
        INSP,
        kind="date",
        role="context",
    ),
    Feature(
        "insp_last_category",
        "supervision",
        "最近检查问题类别",
        "problem found at the latest inspection",
        "最近一次检查发现的问题类别(problem_category代码)",
        "category of the problem the latest inspection found (problem_category code)",
        "code",
        "insp.last_category",
        INSP,
        kind="category",
        role="context",
    ),
    # ------------------------------------------------------------------ product sampling
    Feature(
        "samp_count_36m",
        "supervision",
        "近36个月产品抽检次数",
        "product samples, 36 months",
        "近36个月产品质量监督抽检次数",
        "product-quality samples taken in the last 36 months",
        "count",
        "samp.n",
        SAMP,
        fill="zero",
        template_zh="近三年产品被监督抽检{value:.0f}次",
        template_en="{value:.0f} product samples in 3 years",
    ),
    Feature(
        "samp_fail_36m",
        "supervision",
        "近36个月抽检不合格次数",
        "failed samples, 36 months",
        "近36个月产品质量监督抽检不合格次数",
        "failed product-quality samples, last 36 months",
        "count",
        "samp.fails",
        SAMP,
        direction=1,
        fill="zero",
        template_zh="近三年产品抽检不合格{value:.0f}次",
        template_en="{value:.0f} failed product samples in 3 years",
        categories=("product_quality", "food_safety", "drug_device_safety"),
    ),
    Feature(
        "samp_fail_rate_36m",
        "supervision",
        "抽检不合格率",
        "sample failure rate",
        "近36个月抽检不合格比例；未被抽检时缺失",
        "share of samples failed, last 36 months; missing if none",
        "share",
        "CASE WHEN samp.n > 0 THEN CAST(samp.fails AS DOUBLE) / samp.n END",
        SAMP,
        direction=1,
        template_zh="近三年产品抽检不合格率{value:.0%}",
        template_en="{value:.0%} of its product samples failed in 3 years",
        categories=("product_quality", "food_safety", "drug_device_safety"),
    ),
    # ------------------------------------------------------------------ complaints
    Feature(
        "cmp_count_3m",
        "supervision",
        "近3个月投诉举报",
        "complaints, 3 months",
        "近3个月被投诉举报次数",
        "complaints and reports in the last 3 months",
        "count",
        "cmp.n_3m",
        CMP,
        direction=1,
        fill="zero",
        template_zh="近3个月被投诉举报{value:.0f}次",
        template_en="{value:.0f} complaints in the last 3 months",
        categories=("product_quality", "advertising_pricing"),
    ),
    Feature(
        "cmp_count_12m",
        "supervision",
        "近12个月投诉举报",
        "complaints, 12 months",
        "近12个月被投诉举报次数",
        "complaints and reports in the last 12 months",
        "count",
        "cmp.n_12m",
        CMP,
        direction=1,
        fill="zero",
        template_zh="近12个月被投诉举报{value:.0f}次",
        template_en="{value:.0f} complaints in the last 12 months",
        categories=("product_quality", "advertising_pricing"),
    ),
    Feature(
        "cmp_count_prev_12m",
        "supervision",
        "上一年度投诉举报",
        "complaints, the 12 months before",
        "13至24个月前被投诉举报次数",
        "complaints and reports 13 to 24 months ago",
        "count",
        "cmp.n_prev_12m",
        CMP,
        fill="zero",
        template_zh="此前一年被投诉举报{value:.0f}次",
        template_en="{value:.0f} complaints in the year before",
        categories=("product_quality", "advertising_pricing"),
    ),
    Feature(
        "cmp_growth_12m",
        "supervision",
        "投诉举报增长",
        "complaint growth",
        "近12个月与此前12个月投诉举报数之差除以(此前数+1)",
        "(last 12 months - the 12 before) / (the 12 before + 1)",
        "ratio",
        "(COALESCE(cmp.n_12m, 0) - COALESCE(cmp.n_prev_12m, 0)) / (COALESCE(cmp.n_prev_12m, 0) + 1.0)",
        CMP,
        direction=1,
        template_zh="投诉举报比上一年增加{cmp_count_12m:.0f}次对{cmp_count_prev_12m:.0f}次",
        template_en="complaints rose to {cmp_count_12m:.0f} from {cmp_count_prev_12m:.0f} the year before",
        categories=("product_quality", "advertising_pricing"),
    ),
    Feature(
        "cmp_substantiated_12m",
        "supervision",
        "近12个月属实投诉",
        "substantiated complaints",
        "近12个月经核查属实的投诉举报次数(尚无核查结论的不计入)",
        "complaints found substantiated, last 12 months (one without a verification result "
        "has not been found substantiated and does not count)",
        "count",
        "cmp.substantiated",
        CMP,
        direction=1,
        fill="zero",
        template_zh="近12个月{value:.0f}件投诉举报经核查属实",
        template_en="{value:.0f} complaints in the last 12 months were substantiated",
        categories=("product_quality", "advertising_pricing"),
    ),
    Feature(
        "cmp_reports_12m",
        "supervision",
        "近12个月被举报",
        "reports of violations",
        "近12个月被举报(违法线索)次数",
        "reports of violations in the last 12 months",
        "count",
        "cmp.reports",
        CMP,
        direction=1,
        fill="zero",
        template_zh="近12个月被举报{value:.0f}次",
        template_en="reported for violations {value:.0f} times in 12 months",
        categories=("licence", "product_quality", "advertising_pricing"),
    ),
    Feature(
        "cmp_safety_12m",
        "supervision",
        "近12个月安全类投诉",
        "safety complaints",
        "近12个月涉及食品安全或人身财产安全的投诉举报次数",
        "complaints about food safety or personal and property safety, last 12 months",
        "count",
        "cmp.safety",
        CMP,
        direction=1,
        fill="zero",
        template_zh="近12个月涉及食品或人身财产安全的投诉举报{value:.0f}次",
        template_en="{value:.0f} complaints about food or personal safety in 12 months",
        categories=("product_quality", "food_safety", "drug_device_safety", "special_equipment"),
    ),
    # ------------------------------------------------------------------ credit repair
    Feature(
        "rep_granted_36m",
        "supervision",
        "近36个月信用修复(有效)",
        "credit repairs granted, 36 months",
        "近36个月准予且未被撤销的信用修复次数(以修复决定归集日期为准)",
        "credit repairs granted in the last 36 months and not revoked (counted once the "
        "decision was received)",
        "count",
        "rep.granted_36m",
        REP,
        fill="zero",
        template_zh="近三年{value:.0f}项失信信息已完成信用修复",
        template_en="{value:.0f} records credit-repaired in the last 3 years",
    ),
    Feature(
        "rep_refused_36m",
        "supervision",
        "近36个月信用修复被拒",
        "credit repairs refused, 36 months",
        "近36个月申请信用修复被决定不予修复的次数",
        "credit-repair applications refused in the last 36 months",
        "count",
        "rep.refused_36m",
        REP,
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="近三年{value:.0f}次申请信用修复被决定不予修复（最近一次原因：{rep_last_refusal_reason}）",
        template_en="{value:.0f} credit-repair applications refused in the last 3 years "
        "(latest reason: {rep_last_refusal_reason})",
        advice_zh="消除不予修复情形(履行处罚决定、消除不良影响、满足公示期限)后重新申请信用修复",
        advice_en="remove the reason for refusal (carry out the decision, remedy its effects, "
        "wait for the minimum period) and apply again",
    ),
    Feature(
        "rep_revoked_36m",
        "supervision",
        "近36个月信用修复被撤销",
        "credit repairs revoked, 36 months",
        "近36个月已准予的信用修复被撤销的次数(以撤销记录归集日期为准，被撤销的失信信息重新计入)",
        "granted credit repairs revoked in the last 36 months (counted once the revocation "
        "was received; the record repaired counts again)",
        "count",
        "rep.revoked_36m",
        REP,
        direction=1,
        fill="zero",
        template_zh="近三年{value:.0f}项信用修复被撤销（最近一次原因：{rep_last_revocation_reason}）",
        template_en="{value:.0f} credit repairs revoked in the last 3 years "
        "(latest reason: {rep_last_revocation_reason})",
    ),
    Feature(
        "rep_last_refusal_reason",
        "supervision",
        "最近不予修复情形",
        "reason of the latest refusal",
        "最近一次不予信用修复的情形(repair_refusal_reason代码)",
        "reason of the latest refused credit repair (repair_refusal_reason code)",
        "code",
        "rep.last_refusal_reason",
        REP,
        kind="category",
        role="context",
    ),
    Feature(
        "rep_last_revocation_reason",
        "supervision",
        "最近撤销修复原因",
        "reason of the latest revocation",
        "最近一次信用修复被撤销的原因(repair_revocation_reason代码)",
        "reason of the latest revoked credit repair (repair_revocation_reason code)",
        "code",
        "rep.last_revocation_reason",
        REP,
        kind="category",
        role="context",
    ),
    # ------------------------------------------------------------------ credit commitments
    Feature(
        "com_made_36m",
        "supervision",
        "近36个月信用承诺",
        "credit commitments, 36 months",
        "近36个月作出的事前信用承诺次数(告知承诺、登记承诺、修复承诺、主动承诺)",
        "credit commitments made in the last 36 months (approval by notification, "
        "registration, repair, voluntary)",
        "count",
        "com.made_36m",
        COM,
        fill="zero",
        template_zh="近三年作出信用承诺{value:.0f}项",
        template_en="{value:.0f} credit commitments made in the last 3 years",
    ),
    Feature(
        "com_kept_36m",
        "supervision",
        "近36个月已履行信用承诺",
        "commitments kept, 36 months",
        "近36个月经核查已履行的信用承诺次数(以核查结论归集日期为准)",
        "credit commitments found kept in the last 36 months (counted once the assessment "
        "was received)",
        "count",
        "com.kept_36m",
        COM,
        fill="zero",
        template_zh="近三年{value:.0f}项信用承诺经核查已履行",
        template_en="{value:.0f} credit commitments found kept in the last 3 years",
    ),
    Feature(
        "com_broken_36m",
        "supervision",
        "近36个月未履行信用承诺",
        "commitments broken, 36 months",
        "近36个月经核查未履行的信用承诺次数(以核查结论归集日期为准)",
        "credit commitments found broken in the last 36 months (counted once the assessment "
        "was received)",
        "count",
        "com.broken_36m",
        COM,
        direction=1,
        fill="zero",
        actionable=True,
        template_zh="近三年{value:.0f}项信用承诺经核查未履行",
        template_en="{value:.0f} credit commitments found broken in the last 3 years",
        advice_zh="按承诺补齐条件、履行承诺事项，并如实公示",
        advice_en="meet the conditions promised, keep the commitment and disclose it truthfully",
        categories=("licence", "false_disclosure"),
    ),
)
