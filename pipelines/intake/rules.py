"""Validation rules of ingestion, derived from the contract, as DuckDB SQL.

One catalogue (`RULES`) names every reason a row can be quarantined, in the order that
decides which rule a row is filed under when it breaks several; each has a Chinese and an
English reason. The SQL that parses raw text into typed columns and the predicates that
flag failing rows are built here from `contract.tables`, never written per table.
Pure: strings in, strings out.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.tables import TABLES, VOCABULARIES, Column, Table

# Full-width forms departments type, and their half-width equivalents (NFKC for the
# characters that occur in codes, numbers, dates and names).
FULL_WIDTH = "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ（）．，－／：％　"
HALF_WIDTH = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz().,-/:% "
assert len(FULL_WIDTH) == len(HALF_WIDTH)
USCC_PATTERN = "^[0-9A-HJ-NPQRTUWXY]{18}$"


@dataclass(frozen=True)
class Rule:
    name: str
    zh: str
    en: str


# Priority order: a row that breaks several rules is filed under the first.
RULES: tuple[Rule, ...] = (
    Rule("blank_row", "空行(无任何内容)", "blank row (no content)"),
    Rule(
        "filtered",
        "按来源映射的筛选条件排除：{detail}",
        "left out by the source mapping's filter: {detail}",
    ),
    Rule("extra_cells", "行中有表头之外的多余单元格", "cells beyond the last column of the header"),
    Rule(
        "too_long",
        "{column} 文本过长(超过 {limit} 字)",
        "{column}: text longer than {limit} characters",
    ),
    Rule(
        "identity_missing",
        "缺少统一社会信用代码，且无企业名称或注册号可供识别",
        "no USCC, and no name or registration number to resolve it",
    ),
    Rule(
        "uscc_format",
        "{column} 格式错误(应为18位数字或大写字母)",
        "{column}: malformed USCC (18 digits or capital letters)",
    ),
    Rule(
        "uscc_checksum",
        "{column} 校验位错误，且行中没有可识别企业的其他标识(注册号、组织机构代码、名称)",
        "{column}: USCC check character is wrong, and no other identifier on the row resolved it",
    ),
    Rule(
        "personal_id",
        "{column} 是个人身份证号码(已以哈希替代，不保存明文)，且行中没有可识别企业的其他标识",
        "{column}: a personal ID number (replaced by its hash, never stored in clear), and no other identifier resolved the row",
    ),
    Rule(
        "reg_no_unmatched",
        "注册号在登记库中无对应企业",
        "registration number matches no enterprise in the registry",
    ),
    Rule(
        "org_code_unmatched",
        "组织机构代码(或纳税人识别号)在登记库中无对应企业",
        "organisation code (or taxpayer number) matches no enterprise in the registry",
    ),
    Rule(
        "name_ambiguous",
        "企业名称匹配到多家企业：{candidates}",
        "name matches several enterprises: {candidates}",
    ),
    Rule(
        "name_review",
        "企业名称与登记库近似匹配，待人工复核(见 review/ 复核文件)：{detail}",
        "name resembles a registry name; waiting for a person to confirm (see review/): {detail}",
    ),
    Rule(
        "name_unmatched", "企业名称在登记库中无匹配", "name matches no enterprise in the registry"
    ),
    Rule(
        "registry_rejected",
        "{column} 的企业登记记录本批被隔离(见 enterprises 隔离记录)，请先更正登记记录",
        "{column}: the enterprise's registry record was quarantined in this delivery; correct it there first",
    ),
    Rule(
        "unknown_enterprise",
        "{column} 不在企业登记库中",
        "{column}: enterprise not in the registry",
    ),
    Rule("required_missing", "必填字段 {column} 为空", "required column {column} is empty"),
    Rule("date_format", "{column} 日期无法识别", "{column}: unreadable date"),
    Rule("number_format", "{column} 数值无法识别", "{column}: unreadable number"),
    Rule("bool_format", "{column} 是/否值无法识别", "{column}: unreadable yes/no value"),
    Rule("vocabulary", "{column} 取值不在代码表中", "{column}: code not in its vocabulary"),
    Rule("out_of_range", "{column} 超出允许范围", "{column}: value out of the allowed range"),
    Rule(
        "implausible",
        "{column} 数值不合理：{check_zh}",
        "{column}: implausible value: {check_en}",
    ),
    Rule(
        "date_implausible",
        "{column} 日期不合理(早于1949-10-01或晚于2099年)",
        "{column}: implausible date",
    ),
    Rule("row_check", "违反行校验规则 {check}：{check_zh}", "breaks row rule {check}: {check_en}"),
    Rule("after_as_of", "日期晚于数据截止月末", "dated after the end of the as-of month"),
    Rule(
        "before_establishment",
        "事件日期早于企业成立日期",
        "event dated before the enterprise was established",
    ),
    Rule("duplicate", "与同批次另一行完全重复", "exact duplicate of another row"),
    Rule(
        "key_conflict",
        "同一业务主键存在内容不同且归集日期相同的记录",
        "same natural key with different content and the same received date",
    ),
    Rule(
        "superseded",
        "同一业务主键有更晚归集的记录，已以其为准",
        "superseded by a later-received record with the same natural key",
    ),
)
RULE_NAMES = tuple(r.name for r in RULES)
RULE_BY_NAME = {r.name: r for r in RULES}


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def raw(col: str) -> str:
    """Name of the staged column holding the raw text of contract column ``col``."""
    return quote(f"raw__{col}")


def text(col: str) -> str:
    """Name of the staged column holding the normalised text of contract column ``col``."""
    return quote(f"text__{col}")


def text_expr(expr: str) -> str:
    """Trimmed text, full-width characters made half-width; NULL when blank. (translate()
    is slow, so only values with non-ASCII characters go through it.)"""
    return (
        f"nullif(CASE WHEN regexp_matches({expr}, '[^\\x00-\\x7F]') "
        f"THEN trim(translate({expr}, {literal(FULL_WIDTH)}, {literal(HALF_WIDTH)})) ELSE trim({expr}) END, '')"
    )


def code_expr(t: str) -> str:
    """A code (USCC, registration number ...) from normalised text: no spaces or hyphens, upper case."""
    return f"CASE WHEN regexp_matches({t}, '[\\s\\-a-z]') THEN nullif(upper(regexp_replace({t}, '[\\s\\-]', '', 'g')), '') ELSE {t} END"


def name_key(expr: str) -> str:
    """How names are compared: half-width brackets and letters, no spaces, upper case."""
    return f"nullif(upper(regexp_replace({text_expr(expr)}, '\\s', '', 'g')), '')"


def date_expr(t: str) -> str:
    """Dates as departments write them: 2021-03-05, 2021/3/5, 2021.3.5, 20210305,
    2021年3月5日 (optionally followed by a time), and Excel serial day numbers.
    ISO dates take DuckDB's fast cast; only the others reach the patterns."""
    ymd = f"regexp_extract({t}, '^(\\d{{4}})[-/.年](\\d{{1,2}})[-/.月](\\d{{1,2}})日?([ T].*)?$', ['y', 'm', 'd'])"
    return (
        f"CASE WHEN {t} IS NULL THEN NULL "
        f"WHEN try_cast({t} AS DATE) IS NOT NULL AND regexp_matches({t}, '^\\d{{4}}-') THEN try_cast({t} AS DATE) "
        f"WHEN regexp_matches({t}, '^\\d{{4}}[-/.年]\\d{{1,2}}[-/.月]\\d{{1,2}}日?([ T].*)?$') "
        f"THEN try(make_date(CAST({ymd}.y AS INTEGER), CAST({ymd}.m AS INTEGER), CAST({ymd}.d AS INTEGER))) "
        f"WHEN regexp_matches({t}, '^\\d{{8}}$') "
        f"THEN try(make_date(CAST(substr({t}, 1, 4) AS INTEGER), CAST(substr({t}, 5, 2) AS INTEGER), CAST(substr({t}, 7, 2) AS INTEGER))) "
        # Excel stores dates as days since 1899-12-30; 5 digits cover 1927-2173
        f"WHEN regexp_matches({t}, '^\\d{{5}}(\\.0+)?$') "
        f"THEN CAST(DATE '1899-12-30' + CAST(CAST({t} AS DOUBLE) AS INTEGER) AS DATE) "
        "END"
    )


def amount_expr(t: str) -> str:
    """Amounts in 万元: '1,234.5', '12.5万元', '125000元', '1.2亿元' all read correctly."""
    s = f"replace({t}, ',', '')"
    return (
        f"CASE WHEN try_cast({t} AS DOUBLE) IS NOT NULL THEN try_cast({t} AS DOUBLE) "
        f"WHEN regexp_matches({s}, '^[-+]?\\d*\\.?\\d+万元?$') "
        f"THEN try_cast(regexp_replace({s}, '万元?$', '') AS DOUBLE) "
        f"WHEN regexp_matches({s}, '^[-+]?\\d*\\.?\\d+亿元?$') "
        f"THEN try_cast(regexp_replace({s}, '亿元?$', '') AS DOUBLE) * 10000 "
        f"WHEN regexp_matches({s}, '^[-+]?\\d*\\.?\\d+元$') "
        f"THEN try_cast(regexp_replace({s}, '元$', '') AS DOUBLE) / 10000 "
        f"ELSE try_cast({s} AS DOUBLE) END"
    )


def float_expr(t: str) -> str:
    return (
        f"CASE WHEN try_cast({t} AS DOUBLE) IS NOT NULL THEN try_cast({t} AS DOUBLE) "
        f"ELSE try_cast(regexp_replace(replace({t}, ',', ''), '%$', '') AS DOUBLE) END"
    )


def int_expr(t: str) -> str:
    f = float_expr(t)
    return f"CASE WHEN {f} = floor({f}) AND abs({f}) < 9e15 THEN CAST({f} AS BIGINT) END"


def bool_expr(t: str) -> str:
    s = f"lower({t})"
    return (
        f"CASE WHEN {s} IN ('true', 't', '1', 'yes', 'y', '是', '√') THEN TRUE "
        f"WHEN {s} IN ('false', 'f', '0', 'no', 'n', '否', '×') THEN FALSE END"
    )


def vocab_expr(expr: str, vocabulary: str) -> str:
    """A code from its code or its Chinese label (departments export labels)."""
    codes = VOCABULARIES[vocabulary]
    whens = " ".join(f"WHEN {literal(zh)} THEN {literal(code)}" for code, (zh, _) in codes.items())
    lowered = f"lower({expr})"
    in_codes = ", ".join(literal(c) for c in codes)
    return f"CASE WHEN {expr} IN ({in_codes}) THEN {expr} WHEN {lowered} IN ({in_codes}) THEN {lowered} ELSE (CASE {expr} {whens} ELSE {expr} END) END"


def typed_expr(col: Column) -> str:
    """SQL turning the normalised text of ``col`` into its contract type."""
    t = text(col.name)
    if col.is_uscc or col.name == "reg_no" or col.vocabulary == "division":
        return code_expr(t)
    if col.dtype == "date":
        return date_expr(t)
    if col.dtype == "float":
        return amount_expr(t) if col.unit == "万元" else float_expr(t)
    if col.dtype == "int":
        return int_expr(t)
    if col.dtype == "bool":
        return bool_expr(t)
    if col.vocabulary == "industry":
        # some registries prefix the section letter: F5211 -> 5211
        return f"regexp_replace({code_expr(t)}, '^[A-Z](\\d)', '\\1')"
    if col.vocabulary is not None and col.vocabulary in VOCABULARIES and col.is_list:
        parts = f"string_split_regex({t}, '[;；,，、/]')"
        item = vocab_expr("trim(e)", col.vocabulary)
        return f"nullif(array_to_string(list_filter(list_transform({parts}, lambda e: {item}), lambda e: e <> ''), ';'), '')"
    if col.vocabulary is not None and col.vocabulary in VOCABULARIES:
        return vocab_expr(t, col.vocabulary)
    return f"nullif(trim({raw(col.name)}), '')"


def in_vocabulary(col: Column, expr: str, external: dict[str, str]) -> str:
    """Predicate: the typed value is in its vocabulary. ``external`` maps the name of an
    external vocabulary to the staged table holding its codes."""
    if col.vocabulary in external:
        return f"{expr} IN (SELECT code FROM {external[col.vocabulary]})"
    codes = ", ".join(literal(c) for c in VOCABULARIES[col.vocabulary or ""])
    if col.is_list:
        return f"list_bool_and(list_transform(string_split({expr}, ';'), lambda e: e IN ({codes})))"
    return f"{expr} IN ({codes})"


@dataclass(frozen=True)
class Flag:
    """One way a row can fail: a rule, the column it concerns, and the SQL predicate."""

    rule: str
    column: str
    sql: str
    check: str = ""  # contract row-check name, for rule row_check

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.column}" if self.column else self.rule


def column_flags(
    spec: Table,
    present: set[str],
    native: set[str],
    external: dict[str, str],
    max_text: int,
    earliest: str,
    latest: str,
    id_pattern: str = USCC_PATTERN,
) -> list[Flag]:
    """Per-column flags from the contract: length, parse, required, vocabulary, range.
    ``native`` columns arrived typed (Parquet), so they cannot be too long or unparsable."""
    flags: list[Flag] = []
    for col in spec.columns:
        c, r = quote(col.name), raw(col.name)
        if col.name not in present:
            if not col.nullable and not col.is_uscc:
                flags.append(Flag("required_missing", col.name, "TRUE"))
            continue
        if col.name in native:
            if not col.nullable:
                flags.append(Flag("required_missing", col.name, f"{c} IS NULL"))
        else:
            flags.append(Flag("too_long", col.name, f"length({r}) > {max_text}"))
        if col.is_uscc:
            flags.append(
                Flag(
                    "uscc_format",
                    col.name,
                    f"{c} IS NOT NULL AND NOT regexp_matches({c}, {literal(id_pattern)})",
                )
            )
            continue
        if col.name not in native:
            blank = f"{text(col.name)} IS NULL"
            parse_rule = {
                "date": "date_format",
                "float": "number_format",
                "int": "number_format",
                "bool": "bool_format",
            }.get(col.dtype)
            if parse_rule:
                flags.append(Flag(parse_rule, col.name, f"NOT {blank} AND {c} IS NULL"))
            if not col.nullable:
                flags.append(Flag("required_missing", col.name, blank))
        if col.vocabulary:
            flags.append(
                Flag(
                    "vocabulary",
                    col.name,
                    f"{c} IS NOT NULL AND NOT ({in_vocabulary(col, c, external)})",
                )
            )
        if col.minimum is not None:
            flags.append(Flag("out_of_range", col.name, f"{c} < {col.minimum!r}"))
        if col.maximum is not None:
            flags.append(Flag("out_of_range", col.name, f"{c} > {col.maximum!r}"))
        if col.dtype == "date":
            flags.append(
                Flag(
                    "date_implausible",
                    col.name,
                    f"{c} < DATE {literal(earliest)} OR {c} > DATE {literal(latest)}",
                )
            )
    for chk in spec.checks:
        flags.append(Flag("row_check", "", f"NOT coalesce(({chk.sql}), TRUE)", check=chk.name))
    return flags


def reason(
    rule: str,
    column: str = "",
    check: str = "",
    candidates: str = "",
    limit: int = 0,
    detail: str = "",
) -> tuple[str, str]:
    """The Chinese and English reason for a rule."""
    r = RULE_BY_NAME[rule]
    chk_zh = chk_en = ""
    if check:
        for t in TABLES.values():
            for c in t.checks:
                if c.name == check:
                    chk_zh, chk_en = c.zh, c.en
    fields = {
        "column": column,
        "check": check,
        "check_zh": chk_zh,
        "check_en": chk_en,
        "candidates": candidates,
        "limit": limit,
        "detail": detail,
    }
    return r.zh.format(**fields), r.en.format(**fields)
