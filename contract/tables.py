"""The raw-data contract: the tables a bureau hands over, in one place.

Everything that knows about the shape of the raw data derives from the objects here:
the simulator writes these tables, `docs/data-contract.md` is rendered from them
(`riskclass contract-docs`), and ingestion builds its validation suites from them.
Change a column here and all three follow; never describe a table a second time.

Conventions (see ``../shared/design.md``):

* every table is keyed by ``uscc`` (统一社会信用代码, GB 32100-2015, checked with
  ``stdnum.cn.uscc``);
* every event table carries the date the event happened (``event_date`` names that
  column) and the date the bureau received the record (``received_date``), so that
  features can be computed point in time: a record counts for month ``as_of`` only if
  both dates are on or before it;
* amounts are in 万元 (10,000 yuan), as registries and annual reports state them;
* coded columns take values from a named vocabulary (`VOCABULARIES`, or an external
  code list such as GB/T 2260 divisions and GB/T 4754-2017 industries);
* list-valued columns (for example ``sector_tags``) are ``;``-separated codes, so the
  same table can arrive as Parquet, CSV or a spreadsheet.

>>> TABLES["penalties"].event_date
'decision_date'
>>> [c.name for c in TABLES["enterprises"].columns][:3]
['uscc', 'name', 'reg_no']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

DType = Literal["string", "int", "float", "date", "bool"]
Group = Literal["base", "dynamic", "supervision", "relations", "social"]

#: The five information groups of the national indicator system, in report order.
GROUPS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "base": ("企业基础属性信息", "Base attributes"),
        "dynamic": ("企业动态信息", "Dynamic information"),
        "supervision": ("监管信息", "Supervision information"),
        "relations": ("关联关系信息", "Relationship information"),
        "social": ("社会评价信息", "Social evaluation"),
    }
)

LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class Column:
    """One column of a contract table.

    ``vocabulary`` names a code list (a key of `VOCABULARIES`, or ``division`` /
    ``industry`` for the external GB/T code lists); ``is_list`` marks ``;``-separated
    codes; ``minimum`` / ``maximum`` bound numeric values; ``references`` names the
    table whose ``uscc`` this column must exist in.
    """

    name: str
    dtype: DType
    zh: str
    en: str
    nullable: bool = False
    vocabulary: str | None = None
    is_list: bool = False
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    is_uscc: bool = False
    references: str | None = None


@dataclass(frozen=True)
class Check:
    """A row-level rule across columns, as a SQL predicate that must hold (DuckDB dialect)."""

    name: str
    sql: str
    zh: str
    en: str


@dataclass(frozen=True)
class Table:
    name: str
    zh: str
    en: str
    group: Group
    required: bool
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    event_date: str | None = None
    received_date: str | None = None
    checks: tuple[Check, ...] = field(default_factory=tuple)
    #: A table for what the other tables do not name (the generic indicator table): optional,
    #: never simulated, and never counted as an information group the data lacks.
    supplementary: bool = False

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name}.{name}: no such column in the contract")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


# ---------------------------------------------------------------------------
# Vocabularies: code -> (Chinese, English). Codes are stable English identifiers;
# departments' own labels are mapped to them at ingestion.
# ---------------------------------------------------------------------------
_V = dict[str, tuple[str, str]]

VOCABULARIES: Mapping[str, _V] = MappingProxyType(
    {
        "entity_type": {
            "enterprise": ("企业", "enterprise"),
            "individual_business": ("个体工商户", "individual business"),
            "farmer_cooperative": ("农民专业合作社", "farmer cooperative"),
        },
        "legal_form": {
            "llc_sole_natural_person": ("有限责任公司(自然人独资)", "LLC, one natural person"),
            "llc_natural_persons": ("有限责任公司(自然人投资或控股)", "LLC, natural persons"),
            "llc_legal_person": ("有限责任公司(法人独资或控股)", "LLC, held by legal persons"),
            "state_owned": ("国有独资或国有控股公司", "state-owned company"),
            "joint_stock": ("股份有限公司", "joint-stock company"),
            "sole_proprietorship": ("个人独资企业", "sole proprietorship"),
            "partnership": ("合伙企业", "partnership"),
            "foreign_invested": ("外商投资企业", "foreign-invested enterprise"),
            "branch": ("分公司", "branch"),
            "individual_business": ("个体工商户", "individual business"),
            "farmer_cooperative": ("农民专业合作社", "farmer cooperative"),
        },
        "status": {
            "operating": ("存续(在营、开业、在册)", "operating"),
            "revoked": ("吊销", "business licence revoked"),
            "deregistered": ("注销", "deregistered"),
        },
        "sector_tag": {
            "food_production": ("食品生产", "food production"),
            "food_distribution": ("食品销售", "food distribution"),
            "catering": ("餐饮服务", "catering"),
            "drugs": ("药品", "drugs"),
            "medical_devices": ("医疗器械", "medical devices"),
            "special_equipment": ("特种设备", "special equipment"),
            "cosmetics": ("化妆品", "cosmetics"),
            "industrial_products": ("重要工业产品", "key industrial products"),
        },
        "change_kind": {
            "legal_representative": ("法定代表人变更", "legal representative"),
            "address": ("住所(经营场所)变更", "address"),
            "registered_capital": ("注册资本变更", "registered capital"),
            "shareholders": ("股东(投资人)变更", "shareholders"),
            "business_scope": ("经营范围变更", "business scope"),
            "name": ("名称变更", "name"),
            "other": ("其他事项变更", "other"),
        },
        "licence_kind": {
            "food_production": ("食品生产许可证", "food production licence"),
            "food_business": ("食品经营许可证", "food business licence"),
            "drug_business": ("药品经营许可证", "drug business licence"),
            "drug_production": ("药品生产许可证", "drug production licence"),
            "medical_device_business": ("医疗器械经营许可证", "medical device business licence"),
            "special_equipment_use": ("特种设备使用登记证", "special equipment use registration"),
            "cosmetics_production": ("化妆品生产许可证", "cosmetics production licence"),
            "industrial_product": ("工业产品生产许可证", "industrial product licence"),
        },
        "pledge_kind": {
            "equity": ("股权出质", "equity pledge"),
            "ip": ("知识产权质押", "intellectual-property pledge"),
            "chattel": ("动产抵押", "chattel mortgage"),
        },
        "penalty_kind": {
            "warning": ("警告", "warning"),
            "fine": ("罚款", "fine"),
            "confiscation": ("没收违法所得、没收非法财物", "confiscation"),
            "suspension": ("责令停产停业", "ordered to suspend business"),
            "licence_revocation": ("暂扣或吊销许可证", "permit suspended or revoked"),
            "business_licence_revocation": ("吊销营业执照", "business licence revoked"),
        },
        "penalty_cause": {
            "unlicensed": ("无照无证经营", "operating without licence"),
            "false_advertising": ("虚假宣传、违法广告", "false advertising"),
            "food_safety": ("食品安全", "food safety"),
            "drug_device_safety": ("药品、医疗器械安全", "drug or device safety"),
            "product_quality": ("产品质量", "product quality"),
            "special_equipment": ("特种设备安全", "special equipment safety"),
            "pricing": ("价格违法", "pricing"),
            "trademark_ip": ("商标、专利侵权", "trademark or patent infringement"),
            "unfair_competition": ("不正当竞争", "unfair competition"),
            "registration": ("登记管理违法", "registration violation"),
            "consumer_rights": ("侵害消费者权益", "consumer rights"),
            "other": ("其他", "other"),
        },
        "abnormal_reason": {
            "annual_report": ("未按规定期限公示年度报告", "annual report not filed on time"),
            "concealment": (
                "公示信息隐瞒真实情况、弄虚作假",
                "false or concealed public information",
            ),
            "unreachable": (
                "通过登记的住所或者经营场所无法联系",
                "unreachable at registered address",
            ),
            "instant_info": ("未在责令的期限内公示有关企业信息", "ordered disclosure not made"),
        },
        "abnormal_removal_reason": {
            "report_filed": ("补报年度报告并公示", "annual report filed"),
            "corrected": ("更正公示信息", "public information corrected"),
            "reachable": ("依法办理住所变更登记或恢复联系", "address regularised"),
            "moved_to_serious": ("列入严重违法失信名单", "moved to the serious list"),
            "deregistered": ("注销或被吊销", "deregistered or revoked"),
        },
        "serious_reason": {
            "abnormal_3y": (
                "被列入经营异常名录届满3年仍未履行相关义务",
                "on the abnormal list 3 years",
            ),
            "false_registration": (
                "提交虚假材料或者采取其他欺诈手段隐瞒重要事实取得登记",
                "registration by fraud",
            ),
            "major_violation": (
                "因严重违法行为受到较重行政处罚",
                "heavy penalty for serious violation",
            ),
        },
        "serious_removal_reason": {
            "credit_repair": ("信用修复", "credit repair"),
            "expired": ("期满移出", "listing period expired"),
        },
        "draw_mode": {
            "double_random": ("双随机抽查", "double-random inspection"),
            "targeted": ("重点检查(投诉举报、专项、转办)", "targeted inspection"),
        },
        "trigger": {
            "complaint": ("投诉举报", "complaint or report"),
            "campaign": ("专项整治", "campaign"),
            "referral": ("转办交办案件线索", "referral"),
            "big_data": ("大数据监测", "big-data monitoring"),
        },
        "inspection_item": {
            "disclosure": ("企业公示信息情况", "public disclosures"),
            "registration": ("登记事项(住所、经营场所)", "registered matters"),
            "food_safety": ("食品安全", "food safety"),
            "drug_quality": ("药品、医疗器械质量", "drug and device quality"),
            "special_equipment": ("特种设备安全", "special equipment safety"),
            "product_quality": ("产品质量", "product quality"),
            "cosmetics": ("化妆品质量", "cosmetics quality"),
            "advertising_pricing": ("广告与价格行为", "advertising and pricing"),
        },
        "inspection_result": {
            "no_problem": ("未发现问题", "no problem found"),
            "no_relevant_activity": ("未发现开展本次抽查涉及的经营活动", "no relevant activity"),
            "corrected": ("发现问题已责令改正", "problem found, correction ordered"),
            "case_filed": ("发现问题待后续处理(已立案)", "problem found, case filed"),
            "unreachable": (
                "通过登记的住所(经营场所)无法联系",
                "unreachable at registered address",
            ),
            "refused": ("不配合检查情节严重", "refused inspection"),
        },
        "problem_category": {
            "address_unreachable": ("住所失联", "unreachable at address"),
            "false_disclosure": ("公示信息不实", "false public information"),
            "licence": ("无证或超范围经营", "licence violation"),
            "product_quality": ("产品质量问题", "product quality"),
            "food_safety": ("食品安全问题", "food safety"),
            "drug_device_safety": ("药品、医疗器械问题", "drug or device safety"),
            "special_equipment": ("特种设备安全隐患", "special equipment hazard"),
            "advertising_pricing": ("广告、价格违法", "advertising or pricing"),
        },
        "information_group": {g: (zh, en) for g, (zh, en) in GROUPS.items()},
        "sampling_result": {
            "pass": ("合格", "passed"),
            "fail": ("不合格", "failed"),
        },
        "complaint_kind": {
            "complaint": ("投诉", "complaint"),
            "report": ("举报", "report of a violation"),
        },
        "complaint_category": {
            "quality": ("商品质量", "product quality"),
            "service": ("服务质量", "service"),
            "price": ("价格收费", "price"),
            "contract": ("合同纠纷", "contract"),
            "food": ("食品安全", "food safety"),
            "advertising": ("虚假宣传", "advertising"),
            "safety": ("人身财产安全", "safety"),
        },
        "judicial_kind": {
            "enforcement": ("被执行人", "judgment debtor under enforcement"),
            "dishonest_debtor": ("失信被执行人", "dishonest judgment debtor"),
            "equity_freeze": ("股权冻结", "equity frozen"),
        },
        "person_role": {
            "legal_representative": ("法定代表人(经营者、负责人)", "legal representative"),
            "shareholder": ("股东(投资人)", "shareholder"),
            "director": ("董事", "director"),
            "supervisor": ("监事", "supervisor"),
            "manager": ("经理", "manager"),
        },
        "link_kind": {
            "investment": ("对外投资", "investment"),
            "branch": ("分支机构", "branch"),
        },
        "social_indicator": {
            "tax_credit_rating": ("纳税信用等级", "tax credit rating"),
            "news_sentiment": ("负面舆情", "negative news"),
            "platform_rating": ("平台评价", "platform rating"),
            "utility_payment": ("水电气缴费信用", "utility payment record"),
        },
        # Credit repair (seeds/003: 明确修复范围……明确不予修复情形、建立撤销机制). The three things
        # market regulation repairs are those of 《市场监督管理信用修复管理办法》(总局令第55号,
        # 2021): stopping the publication of a penalty, removal from the abnormal list, early
        # removal from the serious list.
        "repair_target": {
            "penalties": ("行政处罚信息(停止公示)", "penalty (publication stopped)"),
            "abnormal_list": ("经营异常名录(移出)", "abnormal list (removal)"),
            "serious_dishonest_list": (
                "严重违法失信名单(提前移出)",
                "serious list (early removal)",
            ),
        },
        "repair_decision": {
            "granted": ("准予信用修复", "repair granted"),
            "refused": ("不予信用修复", "repair refused"),
        },
        # 不予修复情形: seeds/003 asks for them without listing them; these are the cases of the
        # national measures cited above (assumption: our reading of 总局令第55号 and the 严重违法失信
        # 名单管理办法, 总局令第44号; a bureau's own list is mapped to them at ingestion).
        "repair_refusal_reason": {
            "period_not_met": (
                "未满最短公示期或列入期限(不符合申请条件)",
                "minimum publication or listing period not reached",
            ),
            "obligations_unmet": (
                "未履行行政处罚决定或未消除危害后果和不良影响",
                "penalty not carried out or its effects not remedied",
            ),
            "heavier_penalty": (
                "期间再次受到较重行政处罚",
                "another heavier penalty in the meantime",
            ),
            "measure_in_force": (
                "法律、行政法规规定的管理措施期限尚未届满",
                "a statutory measure is still in force",
            ),
            "false_materials": (
                "申请材料隐瞒真实情况、弄虚作假",
                "application concealed facts or was falsified",
            ),
            "barred_after_revocation": (
                "信用修复被撤销后三年内再次申请",
                "applied again within 3 years of a revoked repair",
            ),
            "not_repairable": ("依法不属于可修复的信息", "not repairable by law"),
        },
        # 撤销机制 (seeds/003); same source and assumption as the refusal reasons.
        "repair_revocation_reason": {
            "false_materials": (
                "申请信用修复时隐瞒真实情况、弄虚作假",
                "the repair was obtained by concealment or falsification",
            ),
            "commitment_broken": ("未履行信用修复承诺", "the credit-repair commitment was broken"),
            "unlawful_decision": (
                "修复决定违反法定程序或依法应予撤销的其他情形",
                "the decision was unlawful or must otherwise be revoked",
            ),
        },
        # 事前信用承诺 (seeds/003: 在企业登记注册、行政审批等环节开展市场主体事前信用承诺工作;
        # 推动食品生产企业等通过公示系统主动公示信用承诺; a repair application carries a
        # 信用修复承诺书 under the national measures).
        "commitment_kind": {
            "notification_approval": ("告知承诺制审批", "approval by notification and commitment"),
            "registration": ("登记注册信用承诺", "commitment at registration"),
            "credit_repair": ("信用修复承诺", "credit-repair commitment"),
            "voluntary": ("主动公示信用承诺", "voluntary public commitment"),
        },
    }
)

#: Vocabularies whose codes come from national standards, shipped as code lists
#: (see `contract/data/`), not enumerated here.
EXTERNAL_VOCABULARIES: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "division": ("GB/T 2260 县级行政区划代码(6位)", "GB/T 2260 county-level division code"),
        "industry": ("GB/T 4754-2017 国民经济行业分类(4位小类)", "GB/T 4754-2017 industry class"),
    }
)


def _uscc(zh: str = "统一社会信用代码", en: str = "unified social credit code") -> Column:
    return Column("uscc", "string", zh, en, is_uscc=True, references="enterprises")


def _received() -> Column:
    return Column(
        "received_date",
        "date",
        "归集日期(本部门收到该记录的日期)",
        "date the bureau received the record",
    )


def _amount(
    name: str, zh: str, en: str, nullable: bool = True, minimum: float | None = 0
) -> Column:
    return Column(name, "float", zh, en, nullable=nullable, minimum=minimum, unit="万元")


def _received_after(event: str) -> Check:
    return Check(
        f"{event}_not_after_received",
        f"{event} <= received_date",
        f"{event} 不得晚于归集日期",
        f"{event} must not be after received_date",
    )


def _ordered(first: str, second: str) -> Check:
    return Check(
        f"{first}_before_{second}",
        f"{second} IS NULL OR {first} <= {second}",
        f"{second} 不得早于 {first}",
        f"{second} must not be before {first}",
    )


_TABLES: tuple[Table, ...] = (
    Table(
        "enterprises",
        "市场主体登记信息",
        "enterprise registry",
        "base",
        required=True,
        natural_key=("uscc",),
        columns=(
            Column(
                "uscc", "string", "统一社会信用代码", "unified social credit code", is_uscc=True
            ),
            Column("name", "string", "企业名称", "enterprise name"),
            Column(
                "reg_no",
                "string",
                "注册号(15位，旧)",
                "old 15-digit registration number",
                nullable=True,
            ),
            Column("entity_type", "string", "主体类型", "entity type", vocabulary="entity_type"),
            Column("legal_form", "string", "企业类型", "legal form", vocabulary="legal_form"),
            Column(
                "industry_code",
                "string",
                "行业代码(GB/T 4754-2017)",
                "industry code (GB/T 4754-2017)",
                vocabulary="industry",
            ),
            Column(
                "division_code",
                "string",
                "登记机关所在行政区划代码(GB/T 2260)",
                "administrative division code (GB/T 2260)",
                vocabulary="division",
            ),
            Column("established_date", "date", "成立日期", "date of establishment"),
            Column(
                "deregistered_date", "date", "注销日期", "date of deregistration", nullable=True
            ),
            Column(
                "revoked_date", "date", "吊销日期", "date the licence was revoked", nullable=True
            ),
            Column("status", "string", "登记状态", "registration status", vocabulary="status"),
            _amount("registered_capital", "注册资本(资金数额)", "registered capital"),
            _amount("paid_in_capital", "实缴资本", "paid-in capital"),
            Column(
                "employees",
                "int",
                "从业人数",
                "employees",
                nullable=True,
                minimum=0,
                maximum=1_000_000,
            ),
            Column("address_id", "string", "住所(经营场所)标识", "address identifier"),
            Column(
                "sector_tags",
                "string",
                "重点领域标签",
                "key-sector tags",
                nullable=True,
                vocabulary="sector_tag",
                is_list=True,
            ),
        ),
        checks=(
            _ordered("established_date", "deregistered_date"),
            _ordered("established_date", "revoked_date"),
            Check(
                "status_matches_dates",
                "(status = 'deregistered') = (deregistered_date IS NOT NULL)",
                "登记状态为注销当且仅当有注销日期",
                "status is deregistered exactly when deregistered_date is set",
            ),
        ),
    ),
    Table(
        "annual_reports",
        "企业年度报告",
        "annual reports",
        "dynamic",
        required=True,
        natural_key=("uscc", "report_year"),
        event_date="submitted_date",
        received_date="received_date",
        columns=(
            _uscc(),
            Column("report_year", "int", "年报年度", "reporting year", minimum=1990, maximum=2100),
            Column("submitted_date", "date", "报送日期", "date submitted"),
            _received(),
            Column("employees", "int", "从业人数", "employees", nullable=True, minimum=0),
            _amount("revenue", "营业总收入", "revenue"),
            _amount("total_assets", "资产总额", "total assets"),
            _amount("tax_paid", "纳税总额", "taxes paid"),
            _amount("net_profit", "净利润", "net profit", minimum=None),
            Column(
                "social_insurance_count",
                "int",
                "参保人数",
                "employees with social insurance",
                nullable=True,
                minimum=0,
            ),
        ),
        checks=(_received_after("submitted_date"),),
    ),
    Table(
        "changes",
        "变更登记信息",
        "registration changes",
        "dynamic",
        required=True,
        natural_key=("uscc", "change_kind", "change_date", "after_value"),
        event_date="change_date",
        received_date="received_date",
        columns=(
            _uscc(),
            Column("change_kind", "string", "变更事项", "what changed", vocabulary="change_kind"),
            Column("change_date", "date", "变更日期", "date of change"),
            _received(),
            Column("before_value", "string", "变更前内容", "value before", nullable=True),
            Column("after_value", "string", "变更后内容", "value after", nullable=True),
        ),
        checks=(_received_after("change_date"),),
    ),
    Table(
        "licences",
        "行政许可信息",
        "licences",
        "dynamic",
        required=False,
        natural_key=("licence_no",),
        event_date="issued_date",
        received_date="received_date",
        columns=(
            _uscc(),
            Column("licence_no", "string", "许可证编号", "licence number"),
            Column("licence_kind", "string", "许可类别", "licence kind", vocabulary="licence_kind"),
            Column("issued_date", "date", "许可日期", "date issued"),
            Column("valid_until", "date", "有效期至", "valid until"),
            Column("revoked_date", "date", "吊销(撤销)日期", "date revoked", nullable=True),
            Column("cancelled_date", "date", "注销日期", "date cancelled", nullable=True),
            _received(),
        ),
        checks=(
            _received_after("issued_date"),
            _ordered("issued_date", "valid_until"),
            _ordered("issued_date", "revoked_date"),
        ),
    ),
    Table(
        "pledges",
        "股权出质、知识产权质押、动产抵押登记",
        "pledges and mortgages",
        "dynamic",
        required=False,
        natural_key=("uscc", "pledge_kind", "registered_date", "amount"),
        event_date="registered_date",
        received_date="received_date",
        columns=(
            _uscc(),
            Column(
                "pledge_kind", "string", "质押(抵押)类别", "pledge kind", vocabulary="pledge_kind"
            ),
            Column("registered_date", "date", "登记日期", "date registered"),
            _amount("amount", "出质(担保)金额", "secured amount", nullable=False),
            Column("released_date", "date", "注销(解除)日期", "date released", nullable=True),
            _received(),
        ),
        checks=(_received_after("registered_date"), _ordered("registered_date", "released_date")),
    ),
    Table(
        "penalties",
        "行政处罚信息",
        "administrative penalties",
        "supervision",
        required=True,
        natural_key=("decision_no",),
        event_date="decision_date",
        received_date="received_date",
        columns=(
            _uscc(),
            Column("decision_no", "string", "行政处罚决定书文号", "decision number"),
            Column(
                "penalty_kind", "string", "处罚种类", "kind of penalty", vocabulary="penalty_kind"
            ),
            Column(
                "cause", "string", "违法行为类型", "kind of violation", vocabulary="penalty_cause"
            ),
            Column("decision_date", "date", "处罚决定日期", "date of decision"),
            # a warning or an order to suspend business has no amount; a fine has one
            _amount("amount", "罚没款金额", "fine and confiscation"),
            Column("minor", "bool", "是否简易程序(轻微)", "minor (summary procedure)"),
            Column(
                "repaired_date",
                "date",
                "信用修复日期(随处罚信息报送时)",
                "date of credit repair, where exported on the penalty (a revocation in "
                "credit_repairs makes it count again)",
                nullable=True,
            ),
            _received(),
        ),
        checks=(
            _received_after("decision_date"),
            _ordered("decision_date", "repaired_date"),
            Check(
                "monetary_penalty_has_amount",
                "penalty_kind NOT IN ('fine', 'confiscation') OR amount IS NOT NULL",
                "罚款、没收须有罚没款金额",
                "a fine or confiscation carries its amount",
            ),
        ),
    ),
    Table(
        "abnormal_list",
        "经营异常名录",
        "list of abnormal operations",
        "supervision",
        required=True,
        natural_key=("uscc", "reason", "listed_date"),
        event_date="listed_date",
        received_date="received_date",
        columns=(
            _uscc(),
            Column("reason", "string", "列入原因", "reason listed", vocabulary="abnormal_reason"),
            Column("listed_date", "date", "列入日期", "date listed"),
            _received(),
            Column("removed_date", "date", "移出日期", "date removed", nullable=True),
            Column(
                "removal_reason",
                "string",
                "移出原因",
                "reason removed",
                nullable=True,
                vocabulary="abnormal_removal_reason",
            ),
            Column(
                "removal_received_date",
                "date",
                "移出记录归集日期",
                "date the removal was received",
                nullable=True,
            ),
        ),
        checks=(
            _received_after("listed_date"),
            _ordered("listed_date", "removed_date"),
            Check(
                "removal_complete",
                "(removed_date IS NULL) = (removal_reason IS NULL) "
                "AND (removed_date IS NULL) = (removal_received_date IS NULL)",
                "移出日期、移出原因、移出归集日期须同时填写或同时为空",
                "removed_date, removal_reason and removal_received_date are set together",
            ),
            _ordered("removed_date", "removal_received_date"),
        ),
    ),
    Table(
        "serious_dishonest_list",
        "严重违法失信名单",
        "list of seriously illegal and dishonest entities",
        "supervision",
        required=True,
        natural_key=("uscc", "reason", "listed_date"),
        event_date="listed_date",
        received_date="received_date",
        columns=(
            _uscc(),
            Column("reason", "string", "列入原因", "reason listed", vocabulary="serious_reason"),
            Column("listed_date", "date", "列入日期", "date listed"),
            _received(),
            Column("removed_date", "date", "移出日期", "date removed", nullable=True),
            Column(
                "removal_reason",
                "string",
                "移出原因",
                "reason removed",
                nullable=True,
                vocabulary="serious_removal_reason",
            ),
            Column(
                "removal_received_date",
                "date",
                "移出记录归集日期",
                "date the removal was received",
                nullable=True,
            ),
        ),
        checks=(
            _received_after("listed_date"),
            _ordered("listed_date", "removed_date"),
            _ordered("removed_date", "removal_received_date"),
        ),
    ),
    Table(
        "inspections",
        "抽查检查结果",
        "inspection results",
        "supervision",
        required=True,
        natural_key=("inspection_id",),
        event_date="inspection_date",
        received_date="received_date",
        columns=(
            Column("inspection_id", "string", "检查记录编号", "inspection record id"),
            _uscc(),
            Column(
                "draw_mode",
                "string",
                "检查方式",
                "how the target was drawn",
                vocabulary="draw_mode",
            ),
            Column(
                "plan_id", "string", "抽查计划(任务)编号", "double-random plan id", nullable=True
            ),
            Column(
                "stratum",
                "string",
                "抽取层(区划:风险类别)",
                "sampling stratum (division:class)",
                nullable=True,
            ),
            Column(
                "risk_class_at_draw",
                "string",
                "抽取时的信用风险类别",
                "risk class used for the draw",
                nullable=True,
            ),
            Column(
                "inclusion_probability",
                "float",
                "入样概率",
                "inclusion probability of the draw",
                nullable=True,
                minimum=1e-9,
                maximum=1.0,
            ),
            Column(
                "trigger",
                "string",
                "检查来源",
                "what triggered it",
                nullable=True,
                vocabulary="trigger",
            ),
            Column(
                "items",
                "string",
                "检查事项",
                "inspection items",
                vocabulary="inspection_item",
                is_list=True,
            ),
            Column("inspection_date", "date", "检查完成日期", "date inspected"),
            Column("result", "string", "检查结果", "result", vocabulary="inspection_result"),
            Column("problem_found", "bool", "是否发现问题", "problem found"),
            Column(
                "problem_category",
                "string",
                "问题类别",
                "category of the problem",
                nullable=True,
                vocabulary="problem_category",
            ),
            _received(),
        ),
        checks=(
            _received_after("inspection_date"),
            # A double-random result whose design is unknown is kept (noted design_unknown)
            # but never a weighted label; one with a design carries all of it.
            Check(
                "double_random_has_design",
                "draw_mode <> 'double_random' OR inclusion_probability IS NULL "
                "OR (plan_id IS NOT NULL AND stratum IS NOT NULL)",
                "有入样概率的双随机抽查须有计划编号和抽取层",
                "a double-random inspection with an inclusion probability carries plan_id and stratum",
            ),
            Check(
                "targeted_has_trigger",
                "draw_mode <> 'targeted' OR (trigger IS NOT NULL AND inclusion_probability IS NULL)",
                "重点检查须有检查来源，且无入样概率",
                "a targeted inspection carries a trigger and no inclusion probability",
            ),
            # exports often give no category for a problem found: allowed, so that the
            # labels are not biased towards "no problem"
            Check(
                "problem_has_category",
                "problem_category IS NULL OR problem_found",
                "未发现问题的记录不得有问题类别",
                "problem_category is set only when a problem was found",
            ),
            Check(
                "result_matches_problem",
                "result IS NULL OR problem_found IS NULL OR "
                "(result IN ('no_problem', 'no_relevant_activity')) = (NOT problem_found)",
                "检查结果与是否发现问题须一致(未发现问题、未发现相关经营活动即未发现问题)",
                "result and problem_found agree (no_problem and no_relevant_activity mean no problem)",
            ),
        ),
    ),
    Table(
        "product_sampling",
        "产品质量监督抽检",
        "product sampling tests",
        "supervision",
        required=False,
        natural_key=("sample_id",),
        event_date="sample_date",
        received_date="received_date",
        columns=(
            Column("sample_id", "string", "抽检编号", "sample id"),
            _uscc(),
            Column("sample_date", "date", "抽样日期", "date sampled"),
            Column(
                "product_tag",
                "string",
                "产品领域",
                "product sector",
                vocabulary="sector_tag",
            ),
            Column("result", "string", "抽检结论", "result", vocabulary="sampling_result"),
            _received(),
        ),
        checks=(_received_after("sample_date"),),
    ),
    Table(
        "complaints",
        "投诉举报信息",
        "complaints and reports",
        "supervision",
        required=False,
        natural_key=("complaint_id",),
        event_date="complaint_date",
        received_date="received_date",
        columns=(
            Column("complaint_id", "string", "投诉举报编号", "complaint id"),
            _uscc("被投诉举报主体统一社会信用代码", "uscc of the enterprise complained about"),
            Column("kind", "string", "类型", "kind", vocabulary="complaint_kind"),
            Column("category", "string", "问题分类", "category", vocabulary="complaint_category"),
            Column("complaint_date", "date", "登记日期", "date lodged"),
            Column("substantiated", "bool", "是否属实", "substantiated", nullable=True),
            _received(),
        ),
        checks=(_received_after("complaint_date"),),
    ),
    Table(
        "judicial",
        "司法协助信息",
        "judicial assistance and enforcement",
        "social",
        required=False,
        natural_key=("case_no", "kind"),
        event_date="filed_date",
        received_date="received_date",
        columns=(
            Column("case_no", "string", "案号", "case number"),
            _uscc(),
            Column("kind", "string", "类别", "kind", vocabulary="judicial_kind"),
            Column("filed_date", "date", "立案(发布)日期", "date filed or published"),
            _amount("amount", "执行标的(冻结数额)", "amount under enforcement or frozen"),
            Column("closed_date", "date", "结案(解除)日期", "date closed or lifted", nullable=True),
            _received(),
        ),
        checks=(_received_after("filed_date"), _ordered("filed_date", "closed_date")),
    ),
    Table(
        "persons",
        "主要人员及出资人信息",
        "key persons and shareholders",
        "relations",
        required=True,
        natural_key=("person_id", "uscc", "role", "from_date"),
        event_date="from_date",
        received_date="received_date",
        columns=(
            Column(
                "person_id",
                "string",
                "人员标识(证件号哈希)",
                "person id (hash of the ID number)",
            ),
            _uscc(),
            Column("role", "string", "职务(角色)", "role", vocabulary="person_role"),
            Column(
                "share_pct",
                "float",
                "出资比例(%)",
                "share held (%)",
                nullable=True,
                minimum=0,
                maximum=100,
            ),
            Column("from_date", "date", "任职(出资)起始日期", "from"),
            Column("to_date", "date", "任职(出资)终止日期", "to", nullable=True),
            _received(),
        ),
        checks=(_received_after("from_date"), _ordered("from_date", "to_date")),
    ),
    Table(
        "enterprise_links",
        "对外投资及分支机构信息",
        "investments and branches",
        "relations",
        required=False,
        natural_key=("uscc", "linked_uscc", "link_kind", "from_date"),
        event_date="from_date",
        received_date="received_date",
        columns=(
            _uscc("投资方(总公司)统一社会信用代码", "investor or head office"),
            Column(
                "linked_uscc",
                "string",
                "被投资企业(分支机构)统一社会信用代码",
                "investee or branch",
                is_uscc=True,
                references="enterprises",
            ),
            Column("link_kind", "string", "关联类型", "kind of link", vocabulary="link_kind"),
            Column(
                "share_pct",
                "float",
                "持股比例(%)",
                "share held (%)",
                nullable=True,
                minimum=0,
                maximum=100,
            ),
            Column("from_date", "date", "起始日期", "from"),
            Column("to_date", "date", "终止日期", "to", nullable=True),
            _received(),
        ),
        checks=(
            _received_after("from_date"),
            _ordered("from_date", "to_date"),
            Check(
                "not_self",
                "uscc <> linked_uscc",
                "企业不能与自身关联",
                "an enterprise is not linked to itself",
            ),
        ),
    ),
    Table(
        "social",
        "社会评价信息",
        "social evaluation",
        "social",
        required=False,
        natural_key=("uscc", "indicator", "eval_date"),
        event_date="eval_date",
        received_date="received_date",
        columns=(
            _uscc(),
            Column("indicator", "string", "评价指标", "indicator", vocabulary="social_indicator"),
            Column("value", "string", "评价结果", "value (rating or label)"),
            Column("score", "float", "评价分值", "numeric score", nullable=True),
            Column("eval_date", "date", "评价(发布)日期", "date evaluated or published"),
            _received(),
        ),
        checks=(_received_after("eval_date"),),
    ),
    Table(
        "credit_repairs",
        "信用修复信息",
        "credit repairs",
        "supervision",
        required=False,
        natural_key=("repair_id",),
        event_date="decided_date",
        received_date="received_date",
        columns=(
            Column("repair_id", "string", "信用修复申请编号", "credit-repair application id"),
            _uscc(),
            Column(
                "target_table",
                "string",
                "修复对象(信息类别)",
                "what is repaired (contract table)",
                vocabulary="repair_target",
            ),
            Column(
                "decision_no",
                "string",
                "被修复的行政处罚决定书文号",
                "decision number of the repaired penalty",
                nullable=True,
            ),
            Column(
                "listing_reason",
                "string",
                "被修复名录的列入原因",
                "reason of the repaired listing (its list's vocabulary)",
                nullable=True,
            ),
            Column(
                "listed_date",
                "date",
                "被修复名录的列入日期",
                "date of the repaired listing",
                nullable=True,
            ),
            Column("applied_date", "date", "申请日期", "date applied"),
            Column("decision", "string", "修复决定", "decision", vocabulary="repair_decision"),
            Column(
                "refusal_reason",
                "string",
                "不予修复情形",
                "reason the repair was refused",
                nullable=True,
                vocabulary="repair_refusal_reason",
            ),
            Column("decided_date", "date", "决定日期", "date decided"),
            _received(),
            Column(
                "revoked_date", "date", "撤销修复日期", "date the repair was revoked", nullable=True
            ),
            Column(
                "revocation_reason",
                "string",
                "撤销原因",
                "reason the repair was revoked",
                nullable=True,
                vocabulary="repair_revocation_reason",
            ),
            Column(
                "revocation_received_date",
                "date",
                "撤销记录归集日期",
                "date the revocation was received",
                nullable=True,
            ),
        ),
        checks=(
            _received_after("decided_date"),
            _ordered("applied_date", "decided_date"),
            _ordered("listed_date", "applied_date"),
            Check(
                "target_complete",
                "(target_table = 'penalties' AND decision_no IS NOT NULL "
                "AND listing_reason IS NULL AND listed_date IS NULL) "
                "OR (target_table <> 'penalties' AND decision_no IS NULL "
                "AND listing_reason IS NOT NULL AND listed_date IS NOT NULL)",
                "修复行政处罚须有决定书文号；修复名录须有列入原因和列入日期",
                "a penalty repair names its decision_no; a listing repair its listing_reason "
                "and listed_date",
            ),
            Check(
                "listing_reason_known",
                "target_table = 'penalties' "
                "OR (target_table = 'abnormal_list' AND listing_reason IN ("
                + ", ".join(f"'{c}'" for c in VOCABULARIES["abnormal_reason"])
                + ")) OR (target_table = 'serious_dishonest_list' AND listing_reason IN ("
                + ", ".join(f"'{c}'" for c in VOCABULARIES["serious_reason"])
                + "))",
                "列入原因须取自对应名录的代码表",
                "listing_reason comes from the vocabulary of the list repaired",
            ),
            Check(
                "refusal_has_reason",
                "(decision = 'refused') = (refusal_reason IS NOT NULL)",
                "不予修复当且仅当有不予修复情形",
                "refusal_reason is set exactly when the repair was refused",
            ),
            Check(
                "revocation_complete",
                "(revoked_date IS NULL) = (revocation_reason IS NULL) "
                "AND (revoked_date IS NULL) = (revocation_received_date IS NULL)",
                "撤销日期、撤销原因、撤销归集日期须同时填写或同时为空",
                "revoked_date, revocation_reason and revocation_received_date are set together",
            ),
            Check(
                "only_granted_revoked",
                "revoked_date IS NULL OR decision = 'granted'",
                "只有准予的信用修复可以撤销",
                "only a granted repair can be revoked",
            ),
            _ordered("decided_date", "revoked_date"),
            _ordered("revoked_date", "revocation_received_date"),
        ),
    ),
    Table(
        "commitments",
        "信用承诺信息",
        "credit commitments",
        "supervision",
        required=False,
        natural_key=("commitment_id",),
        event_date="made_date",
        received_date="received_date",
        columns=(
            Column("commitment_id", "string", "信用承诺编号", "commitment id"),
            _uscc(),
            Column(
                "kind", "string", "承诺类型", "kind of commitment", vocabulary="commitment_kind"
            ),
            Column("made_date", "date", "承诺日期", "date the commitment was made"),
            _received(),
            Column(
                "kept",
                "bool",
                "是否履行承诺(核查结论)",
                "commitment kept (assessment result)",
                nullable=True,
            ),
            Column("assessed_date", "date", "核查日期", "date assessed", nullable=True),
            Column(
                "assessment_received_date",
                "date",
                "核查结论归集日期",
                "date the assessment was received",
                nullable=True,
            ),
        ),
        checks=(
            _received_after("made_date"),
            _ordered("made_date", "assessed_date"),
            _ordered("assessed_date", "assessment_received_date"),
            Check(
                "assessment_complete",
                "(kept IS NULL) = (assessed_date IS NULL) "
                "AND (kept IS NULL) = (assessment_received_date IS NULL)",
                "是否履行、核查日期、核查结论归集日期须同时填写或同时为空",
                "kept, assessed_date and assessment_received_date are set together",
            ),
        ),
    ),
    # A home for signal the tables above do not name: tax paid by category, counts of court
    # judgments without case details, brands and patents, the annual report's other lines.
    # One row per enterprise, indicator, date and value; several per day are allowed.
    Table(
        "indicators",
        "其他指标(通用)",
        "other indicators (generic)",
        "social",
        required=False,
        natural_key=("uscc", "indicator", "indicator_date", "source", "value", "value_text"),
        event_date="indicator_date",
        received_date="received_date",
        supplementary=True,
        columns=(
            _uscc(),
            Column("indicator", "string", "指标代码", "indicator code (the bureau's own)"),
            Column(
                "group",
                "string",
                "所属信息组",
                "information group it belongs to",
                nullable=True,
                vocabulary="information_group",
            ),
            Column("value", "float", "数值", "numeric value", nullable=True),
            Column("value_text", "string", "文本值", "text value", nullable=True),
            Column("unit", "string", "单位", "unit of the value", nullable=True),
            Column("indicator_date", "date", "指标日期", "date the value refers to"),
            Column(
                "source", "string", "来源部门", "department or system it came from", nullable=True
            ),
            _received(),
        ),
        checks=(
            _received_after("indicator_date"),
            Check(
                "indicator_has_value",
                "value IS NOT NULL OR value_text IS NOT NULL",
                "指标须有数值或文本值",
                "an indicator carries a numeric or a text value",
            ),
        ),
    ),
)

#: All contract tables by name, in documentation order.
TABLES: Mapping[str, Table] = MappingProxyType({t.name: t for t in _TABLES})
#: The tables the simulator writes and the feature catalog reads (all but supplementary ones).
SIMULATED: Mapping[str, Table] = MappingProxyType(
    {n: t for n, t in TABLES.items() if not t.supplementary}
)


def table(name: str) -> Table:
    """The contract table ``name``; a clear error for a name the contract does not know."""
    try:
        return TABLES[name]
    except KeyError:
        known = ", ".join(TABLES)
        raise KeyError(f"{name!r} is not a contract table (known: {known})") from None


def vocabulary(name: str) -> _V:
    """Codes of the vocabulary ``name`` with their Chinese and English labels."""
    try:
        return VOCABULARIES[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a vocabulary of the contract") from None
