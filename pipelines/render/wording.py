"""The fixed wording of what people read: reports, the verification report, the service.

Owns THE internal-use banner (`BANNER_ZH`, `BANNER_EN`): every page, printed page and export
that shows classes carries it, and every one of them takes it from here. Also the reports'
fixed text (`TEXT`, Chinese first, English available) and the GB/T 4754-2017 sections
(`SECTIONS`, `section_name`, `section_letter`).

Feature sentences come from the catalog (`features.catalog.Feature.template_zh/en`); the
class measures from the class scheme (`models.classes.ClassDef.measures_zh/en`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

#: The internal-use banner: classes are an internal reference of the bureau, never published.
BANNER_ZH = "内部参考，不作为对企业的信用评价，不得对外公开"
BANNER_EN = "Internal reference only: not a credit rating of the enterprise; not to be disclosed"

TEXT: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "zh": MappingProxyType(
            {
                "lang": "zh-CN",
                "colon": "：",
                "banner": BANNER_ZH,
                "title": "企业信用风险分类报告",
                "uscc": "统一社会信用代码",
                "division": "登记机关区划",
                "industry": "所属行业",
                "entity_type": "主体类型",
                "established": "成立日期",
                "status": "登记状态",
                "data_month": "数据截至",
                "model": "模型版本",
                "scheme": "分类方案",
                "class": "风险分类",
                "score": "风险分",
                "score_note": "风险分 = 抽查发现问题的估计概率 × {scale}（0–{scale}分，越高风险越大）",
                "probability": "估计抽查问题发现概率",
                "measures": "对应的差异化监管措施",
                "override": "本企业依据分类规则「{rule}」直接列为{final}；模型评分对应{model}。",
                "override_same": "本企业因「{rule}」按分类规则列为{final}；模型评分本身也对应该类。",
                "why": "主要风险点",
                "why_intro": "以下情况提高了本企业的风险分（按影响大小排序），均来自本企业自己的登记、监管和社会评价记录：",
                "none_low": "模型未发现明显推高本企业风险的因素：本企业的风险分不高于模型的基准水平（一般企业）。",
                "none_spread": "模型未发现单个明显推高本企业风险的因素：本企业的风险分高于基准水平，是许多影响都较小的因素共同造成的（见下图）。",
                "approx_step": "两模型概率平均的近似差",
                "waterfall_bands": "背景色块为各类别的分数区间。",
                "raises": "提高风险分约 {points} 分",
                "waterfall": "风险分是怎样形成的",
                "waterfall_note": "从全部企业的基准水平出发，依次加上各因素的影响，得到本企业的风险分。",
                "start": "基准水平（一般企业）",
                "end": "本企业风险分",
                "other_up": "其他提高风险的因素（{n}项）",
                "other_down": "降低风险的因素（{n}项）",
                "groups": "五类信息的影响",
                "groups_note": "向右为提高风险，向左为降低风险；长度表示相对影响大小。",
                "strong_up": "明显提高风险",
                "up": "略微提高风险",
                "flat": "基本无影响",
                "down": "略微降低风险",
                "strong_down": "明显降低风险",
                "favourable": "有利因素",
                "favourable_intro": "以下情况降低了本企业的风险分：",
                "peers": "与同类企业比较",
                "peer_industry": "同行业（{name}）",
                "peer_division": "同区划（{name}）",
                "peer_rank": "风险分高于 {share} 的同类企业（共 {n} 家）",
                "peer_too_few": "同类企业不足 {n} 家，不作比较",
                "peer_classes": "同类企业分类构成",
                "peer_feature": "主要风险点与同行业比较",
                "feature": "指标",
                "this": "本企业",
                "peer_typical": "同行业一般水平",
                "median": "中位数 {v}",
                "share_yes": "{share} 的企业为“是”",
                "advice": "企业可以怎样降低风险",
                "advice_intro": "针对上述主要风险点，企业可依法采取以下措施（完成并经核实后，风险分将在下月更新）：",
                "no_advice": "上述主要风险点均为企业的客观情况，没有可由企业直接采取的对应措施；建议结合检查核实。",
                "history": "近12个月分类",
                "history_note": "“—”表示当月未分类（尚未成立、已注销或当月无分类结果）。",
                "approx": "说明：本模型对专业领域企业采用通用模型与专业模型概率平均，图中分解为两模型影响的平均值，属近似。",
                "footer": "本报告由企业信用风险分类系统根据{month}月末数据自动生成；模型 {model} 版本 {version}；解释方法：TreeSHAP（精确值）。",
                "missing": "无数据",
                "yes": "是",
                "no": "否",
                "not_classified": "—",
            }
        ),
        "en": MappingProxyType(
            {
                "lang": "en",
                "colon": ": ",
                "banner": BANNER_EN,
                "title": "Enterprise credit-risk class report",
                "uscc": "Unified social credit code",
                "division": "Registration division",
                "industry": "Industry",
                "entity_type": "Entity type",
                "established": "Established",
                "status": "Registration status",
                "data_month": "Data as of",
                "model": "Model version",
                "scheme": "Class scheme",
                "class": "Risk class",
                "score": "Risk score",
                "score_note": "Risk score = estimated chance that an inspection finds a problem × {scale} (0–{scale}, higher is riskier)",
                "probability": "Estimated chance an inspection finds a problem",
                "measures": "What the class means for supervision",
                "override": "This enterprise is in {final} by the rule “{rule}”; the model's score alone gives {model}.",
                "override_same": "This enterprise is in {final} by the rule “{rule}”; the model's score alone gives the same class.",
                "why": "Main risk points",
                "why_intro": "These facts raise the enterprise's risk score (largest first); each comes from the enterprise's own registry, supervision and social records:",
                "none_low": "The model found nothing that clearly raises this enterprise's risk: its score is not above the model's baseline (a typical enterprise).",
                "none_spread": "The model found no single factor that clearly raises this enterprise's risk: its score is above the baseline through many factors of small effect each (see the chart).",
                "approx_step": "approximation (two models' probabilities averaged)",
                "waterfall_bands": "Shaded areas are the score ranges of the classes.",
                "raises": "raises the score by about {points} points",
                "waterfall": "How the risk score is made up",
                "waterfall_note": "Starting from the baseline of all enterprises, each factor's effect is added in turn to reach this enterprise's score.",
                "start": "Baseline (a typical enterprise)",
                "end": "This enterprise's score",
                "other_up": "Other factors raising the risk ({n})",
                "other_down": "Factors lowering the risk ({n})",
                "groups": "Effect of the five information groups",
                "groups_note": "Right raises the risk, left lowers it; length shows the relative effect.",
                "strong_up": "clearly raises the risk",
                "up": "slightly raises the risk",
                "flat": "little effect",
                "down": "slightly lowers the risk",
                "strong_down": "clearly lowers the risk",
                "favourable": "Favourable factors",
                "favourable_intro": "These facts lower the enterprise's risk score:",
                "peers": "Compared with similar enterprises",
                "peer_industry": "Same industry ({name})",
                "peer_division": "Same division ({name})",
                "peer_rank": "Risk score higher than {share} of them ({n} enterprises)",
                "peer_too_few": "Fewer than {n} such enterprises: no comparison",
                "peer_classes": "Their classes",
                "peer_feature": "Main risk points against the industry",
                "feature": "Indicator",
                "this": "This enterprise",
                "peer_typical": "Typical in its industry",
                "median": "median {v}",
                "share_yes": "{share} answer yes",
                "advice": "What the enterprise can do to lower its risk",
                "advice_intro": "For the risk points above, the enterprise can lawfully take these steps (once done and verified, the score changes at the next monthly update):",
                "no_advice": "The main risk points are facts the enterprise cannot change by itself; check them on inspection.",
                "history": "Class over the last 12 months",
                "history_note": "“—”: not classified that month (not yet established, deregistered, or no result).",
                "approx": "Note: for sector enterprises this model averages the general and the sector model's probabilities; the breakdown shown is the average of both models' effects, an approximation.",
                "footer": "Generated by the enterprise credit-risk classification system from data as of the end of {month}; model {model} version {version}; explanations: TreeSHAP (exact).",
                "missing": "no data",
                "yes": "yes",
                "no": "no",
                "not_classified": "—",
            }
        ),
    }
)

# GB/T 4754-2017 sections (门类) by 2-digit division ranges: the fallback industry name when
# no industry list is configured.
SECTIONS: tuple[tuple[int, int, str, str], ...] = (
    (1, 5, "农、林、牧、渔业", "agriculture, forestry, animal husbandry and fishery"),
    (6, 12, "采矿业", "mining"),
    (13, 43, "制造业", "manufacturing"),
    (44, 46, "电力、热力、燃气及水生产和供应业", "electricity, heat, gas and water"),
    (47, 50, "建筑业", "construction"),
    (51, 52, "批发和零售业", "wholesale and retail trade"),
    (53, 60, "交通运输、仓储和邮政业", "transport, storage and post"),
    (61, 62, "住宿和餐饮业", "accommodation and catering"),
    (63, 65, "信息传输、软件和信息技术服务业", "information and software services"),
    (66, 69, "金融业", "finance"),
    (70, 70, "房地产业", "real estate"),
    (71, 72, "租赁和商务服务业", "leasing and business services"),
    (73, 75, "科学研究和技术服务业", "research and technical services"),
    (76, 79, "水利、环境和公共设施管理业", "water, environment and public facilities"),
    (80, 82, "居民服务、修理和其他服务业", "residential, repair and other services"),
    (83, 83, "教育", "education"),
    (84, 85, "卫生和社会工作", "health and social work"),
    (86, 90, "文化、体育和娱乐业", "culture, sports and entertainment"),
    (91, 97, "公共管理、社会保障和社会组织", "public administration and social organisations"),
)


def _section(division2: str) -> int | None:
    """Index in `SECTIONS` of a 2-digit industry division, or None."""
    if not division2.isdigit():
        return None
    d = int(division2)
    return next((i for i, (lo, hi, _zh, _en) in enumerate(SECTIONS) if lo <= d <= hi), None)


def section_name(division2: str, lang: str) -> str | None:
    """The GB/T 4754-2017 section of a 2-digit industry division, or None."""
    i = _section(division2)
    if i is None:
        return None
    _lo, _hi, zh, en = SECTIONS[i]
    return str(zh if lang == "zh" else en)


def section_letter(division2: str) -> str | None:
    """The section's letter (A, B, ... in the order of `SECTIONS`), or None."""
    i = _section(division2)
    return None if i is None else chr(ord("A") + i)
