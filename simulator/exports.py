"""Deliveries shaped like real departmental exports, written as test fixtures (issue 17).

A bureau's data does not arrive in the contract's shape (``shared/domain.md``, "What real
data looks like"): title rows above the header, headers of the department's own system
(当事人名称, 统一社会信用代码/注册号, 罚没金额(元) ...), code words and sentences instead of
codes, a workbook saved with a ``.csv`` name, a legacy ``.xls``, 27 columns of which the
contract knows three, fines in 元 in one file and 万元 in the next, identifiers that are not
USCCs, names that almost match the registry, double-random results without their design,
tables a bureau cannot deliver. Issue 17 asks that such exports go in with configuration only;
each case here writes one delivery folder that needs a source mapping (or a setting of the
ingest configuration) to be read right.

Every case writes a complete delivery: a small registry (30-60 enterprises with valid USCCs,
Chinese names, divisions and industries from `contract.reference`), every required contract
table (header-only where the case does not exercise it, except the table a case declares
unavailable) and the case's own export files. The source mappings that read them and the
expected outcome are hand-written YAML under ``tests/pipelines/intake/real_exports/<case>/``
(``case.yaml`` and ``sources/*.yaml``); `write_case` writes only the delivery.

The seed draws the registry's attributes (which trade name, division, industry, capital and
dates each enterprise gets) and which enterprises the events concern; the rows a case is
about are fixed, so the expected counts hold for every seed. The same case and seed give the
same bytes, workbooks included (their zip entries and document properties carry a fixed
time): nothing reads the clock.

>>> CASES[:3]
('other_province', 'opaque_ids', 'xlsx_named_csv')
>>> personal_id("440106", dt.date(1988, 4, 12), 53)
'440106198804120537'
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from contract import reference
from contract.tables import TABLES
from simulator import codes

#: The month the fixtures are ingested for, and the day the delivery arrived (case.yaml
#: repeats them): every event is dated on or before 2025-06-30.
AS_OF = "2025-07"
DELIVERY_DATE = dt.date(2025, 7, 3)
# the "导出时间" printed in title rows and stored in workbooks (local time, as Excel keeps it)
_EXPORTED = dt.datetime.combine(dt.date(2025, 7, 1), dt.time(8, 30))

Cell = str | int | float | dt.date | None

# ------------------------------------------------------------------------------- codes
_USCC_ALPHABET = codes.USCC_ALPHABET
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_RIC_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def personal_id(area: str, birth: dt.date, sequence: int) -> str:
    """A resident ID number (GB 11643-1999): area, birth date, sequence, ISO 7064 check."""
    body = f"{area}{birth:%Y%m%d}{sequence:03d}"
    total = sum(int(c) * w for c, w in zip(body, _RIC_WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def _org_check(body: str) -> str:
    """GB 11714 check character of an 8-character organisation-code body."""
    value = sum(
        (int(c) if c.isdigit() else ord(c) - ord("A") + 10) * w
        for c, w in zip(body, _ORG_WEIGHTS, strict=True)
    )
    c = 11 - value % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def uscc_is_valid(code: str) -> bool:
    """GB 32100 check character (as ``stdnum.cn.uscc`` checks it)."""
    if len(code) != 18 or any(c not in _USCC_ALPHABET for c in code):
        return False
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(code, _USCC_WEIGHTS, strict=False))
    return code[17] == _USCC_ALPHABET[(31 - total % 31) % 31]


def _uscc(prefix: str, org_body: str) -> str:
    """A USCC from its first 8 characters and an organisation-code body."""
    first = prefix + org_body + _org_check(org_body)
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first, _USCC_WEIGHTS, strict=True))
    return first + _USCC_ALPHABET[(31 - total % 31) % 31]


#: The personal ID numbers of the case ``non_uscc_identifiers``: an individual business's
#: operator typed into a USCC column, and the ID inside another one's 20-digit taxpayer
#: number. Fixed (not drawn) so that its case.yaml can name what must never be written.
OPERATOR_ID = personal_id("440106", dt.date(1988, 4, 12), 53)
TAXPAYER_OPERATOR_ID = personal_id("440104", dt.date(1983, 11, 27), 128)
PLACEHOLDER_ID = "00000000000000000X"
#: The bureau's own code, which an export with shifted columns puts in the USCC column.
BUREAU_USCC = _uscc("11440106", "MB2C9163")

# ------------------------------------------------------------------------- reference
# Divisions used for Guangdong firms (GB/T 2260, from the shipped list) with the short form
# of the bureau that issues their decisions (穗天市监处罚〔2025〕12号).
_GD_ABBR = {
    "440103": "穗荔",
    "440104": "穗越",
    "440105": "穗海",
    "440106": "穗天",
    "440111": "穗白",
    "440304": "深福",
    "440305": "深南",
    "440605": "佛南",
    "441900": "莞",
}
# Henan (41) firms: real GB/T 2260 county codes with their prefectures, fixed here so that
# the fixture does not depend on which provinces the shipped division list covers.
_HENAN = {
    "410102": ("郑州市", "郑中"),
    "410103": ("郑州市", "郑二"),
    "410105": ("郑州市", "郑金"),
    "410302": ("洛阳市", "洛老"),
    "410305": ("洛阳市", "洛涧"),
    "410202": ("开封市", "汴龙"),
    "410502": ("安阳市", "安文"),
    "410702": ("新乡市", "新红"),
}
_GZ = ("440103", "440104", "440105", "440106", "440111")

# Trade names (字号): unique, so that every registry name is too; no character that the
# name linkage reads as an administrative unit or a legal form (市 区 县 旗 省 店 厂).
_TRADES = (
    "华鑫",
    "恒泰",
    "德信",
    "宏达",
    "金盛",
    "永利",
    "嘉和",
    "瑞丰",
    "鸿运",
    "信达",
    "盛世",
    "天成",
    "安澜",
    "富源",
    "兴隆",
    "锦程",
    "正阳",
    "聚福",
    "康元",
    "新锐",
    "博雅",
    "海韵",
    "隆昌",
    "振邦",
    "众诚",
    "明远",
    "佳美",
    "润泽",
    "同创",
    "万通",
    "百川",
    "长青",
    "星辰",
    "凯越",
    "卓尔",
    "优品",
    "东升",
    "乐享",
    "汇智",
    "亿家",
    "云帆",
    "合众",
    "美达",
    "国韵",
    "荣晟",
    "鼎新",
    "华彩",
    "金桥",
    "银河",
    "蓝海",
    "绿源",
    "紫荆",
    "青禾",
    "雅居",
    "福临",
    "吉祥",
    "和美",
    "宝丰",
    "永安",
    "恒昌",
    "德润",
    "嘉禾",
    "瑞祥",
    "晨曦",
    "启明",
    "拓新",
    "远航",
    "丰泽",
    "立信",
    "广益",
)
# What the firm does (4 characters, so that the core of a name is 6) and its GB/T 4754 class.
_WORDS = (
    ("电子科技", "6513"),
    ("餐饮管理", "6210"),
    ("建材贸易", "5165"),
    ("服装贸易", "5132"),
    ("医药连锁", "5251"),
    ("食品贸易", "5129"),
    ("日用百货", "5211"),
    ("五金机电", "5281"),
    ("日化贸易", "5134"),
    ("信息技术", "6560"),
    ("家具制造", "2110"),
    ("食品科技", "1499"),
)
# One mistyped last character of each word (a homophone or a look-alike).
_TYPO = {
    "电子科技": "电子科枝",
    "餐饮管理": "餐饮管里",
    "建材贸易": "建材贸益",
    "服装贸易": "服装贸益",
    "医药连锁": "医药连销",
    "食品贸易": "食品贸益",
    "日用百货": "日用百伙",
    "五金机电": "五金机钿",
    "日化贸易": "日化贸益",
    "信息技术": "信息技述",
    "家具制造": "家具制遭",
    "食品科技": "食品科枝",
}
_LEGAL_FORMS = (
    ("llc_natural_persons", "有限责任公司（自然人投资或控股）", 0.55),
    ("llc_sole_natural_person", "有限责任公司（自然人独资）", 0.2),
    ("llc_legal_person", "有限责任公司（法人独资或控股）", 0.15),
    ("joint_stock", "股份有限公司", 0.1),
)
_SECTIONS = (
    (5, "A"), (12, "B"), (43, "C"), (46, "D"), (50, "E"), (52, "F"), (60, "G"), (62, "H"),
    (65, "I"), (69, "J"), (70, "K"), (72, "L"), (75, "M"), (79, "N"), (82, "O"), (83, "P"),
    (85, "Q"), (90, "R"), (96, "S"), (97, "T"),
)  # fmt: skip


def _section(industry: str) -> str:
    """The GB/T 4754 section letter registries put before the class (F5165)."""
    two = int(industry[:2])
    return next(letter for last, letter in _SECTIONS if two <= last)


def _tags() -> dict[str, str]:
    ind = reference.industries()
    return dict(zip(ind.code, ind.tags, strict=True))


def _divisions(codes_: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Guangdong division -> (prefecture, bureau abbreviation), from the shipped list."""
    d = reference.divisions("44")
    pref = {str(c): p for c, p in zip(d.code, d.prefecture_zh, strict=True)}
    return {c: (pref[c], _GD_ABBR[c]) for c in codes_}


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Firm:
    """One enterprise of a case's registry, with every identifier a department may use."""

    uscc: str
    name: str
    trade: str
    word: str
    prefecture: str
    abbr: str
    reg_no: str  # "" for firms registered after the 2015 reform
    org_code: str  # 9 characters (GB 11714)
    taxpayer_no: str
    entity_type: str
    legal_form: str
    industry_code: str
    division_code: str
    established: dt.date
    status: str
    deregistered: dt.date | None
    capital: float
    paid_in: float | None
    employees: int
    address_id: str
    sector_tags: str

    @property
    def operating(self) -> bool:
        return self.status == "operating"

    def contract_row(self) -> dict[str, Cell]:
        return {
            "uscc": self.uscc,
            "name": self.name,
            "reg_no": self.reg_no or None,
            "entity_type": self.entity_type,
            "legal_form": self.legal_form,
            "industry_code": self.industry_code,
            "division_code": self.division_code,
            "established_date": self.established,
            "deregistered_date": self.deregistered,
            "revoked_date": None,
            "status": self.status,
            "registered_capital": self.capital,
            "paid_in_capital": self.paid_in,
            "employees": self.employees,
            "address_id": self.address_id,
            "sector_tags": self.sector_tags or None,
        }


def _registry(
    rng: np.random.Generator,
    divisions: Sequence[str],
    places: dict[str, tuple[str, str]],
    seed: int,
    trades: Sequence[str] | None = None,
) -> list[Firm]:
    """One firm per entry of ``divisions`` (in that division), every name unique."""
    names = list(trades) if trades is not None else [str(t) for t in rng.permutation(_TRADES)]
    tags = _tags()
    kinds = [k for k, _, _ in _LEGAL_FORMS]
    weights = np.array([w for _, _, w in _LEGAL_FORMS])
    firms = []
    for i, division in enumerate(divisions):
        prefecture, abbr = places[division]
        word, industry = _WORDS[int(rng.integers(len(_WORDS)))]
        form = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        established = dt.date(2004, 1, 1) + dt.timedelta(days=int(rng.integers(0, 6400)))
        new_style = established >= dt.date(2015, 10, 1)
        index = np.array([seed * 1000 + i + 17], dtype=np.int64)
        uscc = str(
            codes.make_uscc(
                index,
                np.array([int(division)], dtype=np.int64),
                np.array([1], dtype=np.int64),
                np.array([new_style]),
            )[0]
        )
        reg_no = (
            ""
            if new_style
            else str(codes.make_reg_no(index, np.array([int(division)], dtype=np.int64))[0])
        )
        org = uscc[8:17]
        deregistered = None
        if i % 13 == 12:
            deregistered = established + dt.timedelta(days=int(rng.integers(400, 2000)))
            deregistered = min(deregistered, dt.date(2024, 12, 20))
        capital = float(rng.choice([10, 30, 50, 100, 200, 500, 1000, 3000]))
        suffix = "股份有限公司" if form == "joint_stock" else "有限公司"
        firms.append(
            Firm(
                uscc=uscc,
                name=f"{prefecture}{names[i]}{word}{suffix}",
                trade=names[i],
                word=word,
                prefecture=prefecture,
                abbr=abbr,
                reg_no=reg_no,
                org_code=org,
                taxpayer_no=uscc if new_style else division + org,
                entity_type="enterprise",
                legal_form=form,
                industry_code=industry,
                division_code=division,
                established=established,
                status="deregistered" if deregistered else "operating",
                deregistered=deregistered,
                capital=capital,
                paid_in=None if rng.random() < 0.4 else round(capital * 0.5, 2),
                employees=int(rng.integers(1, 300)),
                address_id=f"AD{division}{int(rng.integers(0, 10**6)):06d}",
                sector_tags=tags.get(industry, ""),
            )
        )
    return firms


def _pick(
    rng: np.random.Generator,
    firms: Sequence[Firm],
    k: int,
    ok: Callable[[Firm], bool] | None = None,
) -> list[Firm]:
    """``k`` distinct operating firms (that pass ``ok``), drawn by the seed."""
    pool = [f for f in firms if f.operating and (ok is None or ok(f))]
    if len(pool) < k:
        raise ValueError(f"the registry has {len(pool)} suitable firms, {k} wanted")
    return [pool[int(i)] for i in rng.permutation(len(pool))[:k]]


def _gd_registry(rng: np.random.Generator, seed: int, n: int = 40) -> list[Firm]:
    places = _divisions(list(_GD_ABBR))
    codes_ = list(_GD_ABBR)
    divisions = [codes_[int(i)] for i in rng.integers(0, len(codes_), size=n)]
    return _registry(rng, divisions, places, seed)


# ---------------------------------------------------------------------------- writing
def _text(v: Cell) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


def _csv(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    titles: Sequence[str] = (),
    encoding: str = "utf-8",
) -> None:
    """A CSV as exports are saved from Excel: CRLF, title rows padded to the width."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    for t in titles:
        w.writerow([t] + [""] * (len(header) - 1))
    w.writerow(header)
    for row in rows:
        w.writerow([_text(v) for v in row])
    path.write_bytes(buf.getvalue().encode(encoding))


def _stable_zip(data: bytes, path: Path) -> None:
    """Rewrite an OOXML package with a fixed time in its entries and document properties."""
    stamp = _EXPORTED.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w") as out:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, body
                )
            entry = zipfile.ZipInfo(info.filename, date_time=_EXPORTED.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            out.writestr(entry, body)


def _xlsx(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    titles: Sequence[str] = (),
    sheet: str = "Sheet1",
) -> None:
    """A workbook with merged title rows; dates as date cells, amounts as numbers."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    for t in titles:
        ws.append([t])
        ws.merge_cells(
            start_row=ws.max_row, start_column=1, end_row=ws.max_row, end_column=len(header)
        )
    ws.append(list(header))
    for row in rows:
        ws.append(list(row))
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, dt.date | dt.datetime):
                cell.number_format = "yyyy-mm-dd"
    wb.properties.creator = "市场监管综合业务系统"
    wb.properties.created = wb.properties.modified = _EXPORTED
    buf = io.BytesIO()
    wb.save(buf)
    _stable_zip(buf.getvalue(), path)


def _xls(
    path: Path, header: Sequence[str], rows: Sequence[Sequence[Cell]], titles: Sequence[str] = ()
) -> None:
    """A legacy BIFF8 workbook (Excel 97-2003), as older systems still export."""
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("Sheet1")
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    r = 0
    for t in titles:
        ws.write_merge(r, r, 0, len(header) - 1, t)
        r += 1
    for j, h in enumerate(header):
        ws.write(r, j, h)
    for row in rows:
        r += 1
        for j, v in enumerate(row):
            if v is None:
                continue
            if isinstance(v, dt.date):
                ws.write(r, j, dt.datetime.combine(v, dt.time()), date_style)
            else:
                ws.write(r, j, v)
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(buf.getvalue())


def _contract_csv(folder: Path, table: str, rows: Sequence[dict[str, Cell]] = ()) -> None:
    """A table in the contract's own shape (English names, codes); header-only if no rows."""
    cols = TABLES[table].column_names
    _csv(folder / f"{table}.csv", cols, [[r.get(c) for c in cols] for r in rows])


def _rest(folder: Path, fed: Sequence[str] = ()) -> None:
    """Header-only files for the required tables the case wrote nothing for: neither a file
    in the contract's shape nor an export (``fed``: the tables the case's exports feed, or
    the one it declares unavailable)."""
    for name, spec in TABLES.items():
        if spec.required and name not in fed and not any(folder.glob(f"{name}.*")):
            _contract_csv(folder, name)


def _titles(bureau: str, what: str) -> list[str]:
    return [f"{bureau}{what}", f"导出时间：{_EXPORTED:%Y-%m-%d %H:%M:%S}　导出人：系统管理员"]


def _decision_no(abbr: str, n: int, minor: bool = False, year: int = 2025) -> str:
    return f"{abbr}市监{'简罚' if minor else '处罚'}〔{year}〕{n}号"


def _day(rng: np.random.Generator, first: dt.date, last: dt.date) -> dt.date:
    return first + dt.timedelta(days=int(rng.integers(0, (last - first).days + 1)))


# ---------------------------------------------------------------------- the cases
def write_other_province(folder: Path, seed: int = 0) -> None:
    """a. A Henan bureau (``province: "41"``): its registry exported by the provincial system
    (GB18030, title rows, code words, section letters before industry classes), 36 firms
    registered in Henan and 4 in Guangdong (kept, noted as outside the province), and six
    penalties in the contract's own shape."""
    rng = np.random.default_rng(seed)
    henan = list(_HENAN)
    divisions = [henan[int(i)] for i in rng.integers(0, len(henan), size=36)]
    divisions += [str(c) for c in rng.choice(list(_GD_ABBR), size=4)]
    places = {**_HENAN, **_divisions(list(_GD_ABBR))}
    firms = _registry(rng, divisions, places, seed)
    forms = {k: zh for k, zh, _ in _LEGAL_FORMS}
    status = {"operating": "存续", "deregistered": "注销"}
    labels = {k: v[0] for k, v in _vocab("sector_tag").items()}
    header = [
        "序号", "统一社会信用代码", "企业名称", "注册号", "市场主体类型", "企业类型", "行业代码",
        "登记机关区划代码", "登记机关", "成立日期", "登记状态", "注销日期", "吊销日期",
        "注册资本(万元)", "实缴资本(万元)", "从业人数", "住所标识", "重点领域", "备注",
    ]  # fmt: skip
    rows = [
        [
            i + 1,
            f.uscc,
            f.name,
            f.reg_no,
            "企业",
            forms[f.legal_form],
            _section(f.industry_code) + f.industry_code,
            f.division_code,
            f"{f.prefecture}市场监督管理局",
            f"{f.established.year}年{f.established.month:02d}月{f.established.day:02d}日",
            status[f.status],
            f.deregistered,
            None,
            f.capital,
            f.paid_in,
            f.employees,
            f.address_id,
            "、".join(labels[t] for t in f.sector_tags.split(";") if t),
            "迁入" if f.division_code.startswith("44") else None,
        ]
        for i, f in enumerate(firms)
    ]
    _csv(
        folder / "河南省市场主体登记信息_20250701.csv",
        header,
        rows,
        _titles("河南省市场监督管理局", "市场主体登记信息"),
        encoding="gb18030",
    )
    henan_firms = _pick(rng, [f for f in firms if f.division_code.startswith("41")], 4)
    gd_firms = _pick(rng, [f for f in firms if f.division_code.startswith("44")], 2)
    penalties = []
    for n, f in enumerate([*henan_firms, *gd_firms], start=1):
        decided = _day(rng, dt.date(2024, 9, 1), dt.date(2025, 6, 10))
        penalties.append(
            {
                "uscc": f.uscc,
                "decision_no": _decision_no(f.abbr, 100 + n),
                "penalty_kind": "fine",
                "cause": ("food_safety", "pricing", "product_quality")[n % 3],
                "decision_date": decided,
                "amount": 0.5 * n,
                "minor": False,
                "repaired_date": None,
                "received_date": decided + dt.timedelta(days=7),
            }
        )
    _contract_csv(folder, "penalties", penalties)
    _rest(folder, fed=("enterprises",))


def _vocab(name: str) -> dict[str, tuple[str, str]]:
    from contract.tables import VOCABULARIES

    return dict(VOCABULARIES[name])


def write_opaque_ids(folder: Path, seed: int = 0) -> None:
    """b. An anonymised research data set (``id_scheme: opaque``): every table keyed by an id
    such as ``E0000123``, no USCC, names masked (广州市华**有限公司), numeric code words of
    the research extract; four files under their own names, the rest header-only."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed, 30)
    # the firm a test looks up is E0000123 (the 23rd id): an operating one
    target = _pick(rng, firms, 1)[0]
    order = [f for f in firms if f is not target]
    order.insert(22, target)
    ids = {f.uscc: f"E{101 + i:07d}" for i, f in enumerate(order)}
    form_code = {
        "llc_natural_persons": "1130",
        "llc_sole_natural_person": "1151",
        "llc_legal_person": "1120",
        "joint_stock": "1200",
    }
    state = {"operating": "1", "deregistered": "3"}
    _csv(
        folder / "ent_basic.csv",
        ["企业ID", "企业名称(脱敏)", "主体类型代码", "企业类型代码", "行业代码", "区划代码",
         "成立日期", "登记状态代码", "注销日期", "注册资本", "从业人数", "住所ID"],
        [
            [ids[f.uscc], f"{f.prefecture}{f.trade[0]}**有限公司", "1", form_code[f.legal_form],
             f.industry_code, f.division_code, f.established, state[f.status], f.deregistered,
             f.capital, f.employees, "A" + f.address_id[-6:]]
            for f in firms
        ],
    )  # fmt: skip
    chosen = [target, *_pick(rng, firms, 7, lambda f: f is not target)]
    kinds = ("罚款", "警告", "罚款", "没收违法所得、没收非法财物", "罚款", "罚款", "警告", "罚款")
    causes = (
        "食品安全",
        "价格违法",
        "产品质量",
        "无照无证经营",
        "食品安全",
        "其他",
        "登记管理违法",
        "侵害消费者权益",
    )
    pen: list[list[Cell]] = []
    for n, f in enumerate(chosen):
        decided = _day(rng, dt.date(2024, 7, 1), dt.date(2025, 6, 1))
        amount = 0 if kinds[n] == "警告" else 5000 * (n + 1)
        pen.append([ids[f.uscc], f"P2025-{101 + n:06d}", kinds[n], causes[n], decided, amount,
                    "否", decided + dt.timedelta(days=5)])  # fmt: skip
    _csv(folder / "ent_penalty.csv",
         ["企业ID", "决定书编号", "处罚种类", "违法行为类型", "决定日期", "罚没金额(元)", "简易程序", "归集日期"],
         pen)  # fmt: skip
    insp: list[list[Cell]] = []
    for n, f in enumerate(_pick(rng, firms, 5)):
        day = _day(rng, dt.date(2025, 1, 5), dt.date(2025, 6, 1))
        found = n in (1, 3)
        insp.append([f"JC-{n + 1:04d}", ids[f.uscc], "重点检查", ("投诉举报", "专项整治")[n % 2],
                     "food_safety;product_quality", day, "发现问题已责令改正" if found else "未发现问题",
                     "是" if found else "否", "食品安全问题" if found else None, day + dt.timedelta(days=3)])  # fmt: skip
    _csv(folder / "ent_inspection.csv",
         ["检查ID", "企业ID", "检查方式", "检查来源", "检查事项代码", "检查日期", "检查结果",
          "是否发现问题", "问题类别", "归集日期"], insp)  # fmt: skip
    ab: list[list[Cell]] = []
    for n, f in enumerate(_pick(rng, firms, 3)):
        listed = _day(rng, dt.date(2023, 7, 1), dt.date(2024, 12, 1))
        removed = listed + dt.timedelta(days=120) if n == 0 else None
        ab.append([ids[f.uscc], "未按规定期限公示年度报告", listed, listed + dt.timedelta(days=2),
                   removed, "补报年度报告并公示" if removed else None,
                   removed + dt.timedelta(days=1) if removed else None])  # fmt: skip
    _csv(folder / "ent_abnormal.csv",
         ["企业ID", "列入原因", "列入日期", "归集日期", "移出日期", "移出原因", "移出归集日期"], ab)  # fmt: skip
    _rest(folder, fed=("enterprises", "penalties", "inspections", "abnormal_list"))


def _bureau_penalties(
    rng: np.random.Generator, firms: Sequence[Firm], abbr: str, n: int, first: int = 1
) -> list[tuple[Firm, str, dt.date, dt.date]]:
    """``n`` decisions of one bureau: (firm, decision number, decision date, published)."""
    out = []
    for k, f in enumerate(_pick(rng, firms, n)):
        decided = _day(rng, dt.date(2025, 1, 6), dt.date(2025, 6, 10))
        out.append((f, _decision_no(abbr, first + k), decided, decided + dt.timedelta(days=7)))
    return out


def write_xlsx_named_csv(folder: Path, seed: int = 0) -> None:
    """c. A penalties export saved as a workbook but named ``.csv`` (the system offered
    "导出CSV" and wrote xlsx): two merged title rows, the department's headers, amounts in
    元 as numbers, dates as date cells, a trailing 备注 column."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed)
    _contract_csv(folder, "enterprises", [f.contract_row() for f in firms])
    causes = (
        "食品安全",
        "虚假宣传",
        "价格违法",
        "无照经营",
        "产品质量",
        "食品安全",
        "商标侵权",
        "其他",
    )
    kinds = ("罚款", "警告", "罚款", "没收违法所得、没收非法财物", "罚款", "罚款", "罚款", "警告")
    amounts = (5000, 0, 20000, 3600, 12000, 8000, 50000, 0)
    rows: list[list[Cell]] = []
    for k, (f, no, decided, published) in enumerate(_bureau_penalties(rng, firms, "穗", 8)):
        if k == 0:  # the row a test looks up
            no, decided, published = (
                "穗市监处罚〔2025〕1号",
                dt.date(2025, 1, 15),
                dt.date(2025, 1, 22),
            )
        rows.append([k + 1, f.name, f.uscc, no, causes[k], kinds[k], amounts[k], decided,
                     published, "广州市市场监督管理局", "已公示" if k % 3 == 0 else None])  # fmt: skip
    _xlsx(
        folder / "行政处罚信息_2025年上半年.csv",
        ["序号", "当事人名称", "统一社会信用代码", "处罚决定书文号", "违法行为类型", "处罚种类",
         "罚没金额(元)", "作出处罚决定日期", "公示日期", "数据来源单位", "备注"],
        rows,
        _titles("广州市市场监督管理局", "行政处罚信息公示"),
    )  # fmt: skip
    _rest(folder, fed=("penalties",))


_ABNORMAL_REASONS = (
    "未依照《企业信息公示暂行条例》第八条规定的期限公示年度报告的",
    "通过登记的住所或者经营场所无法联系的",
    "公示企业信息隐瞒真实情况、弄虚作假的",
    "未在市场监督管理部门依照《企业信息公示暂行条例》第十条规定责令的期限内公示有关企业信息的",
)
_ABNORMAL_REMOVALS = (
    "补报未报年份的年度报告并公示",
    "依法办理住所或者经营场所变更登记，或者提出通过登记的住所或者经营场所可以重新取得联系",
    "更正其公示的信息",
)


def write_legacy_xls(folder: Path, seed: int = 0) -> None:
    """d. The list of abnormal operations from an old system that still writes Excel 97-2003
    (``.xls``): a title row, the reasons as the regulation's sentences, four removals."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed)
    _contract_csv(folder, "enterprises", [f.contract_row() for f in firms])
    rows: list[list[Cell]] = []
    for k, f in enumerate(_pick(rng, firms, 10)):
        listed = _day(rng, dt.date(2023, 6, 1), dt.date(2025, 3, 1))
        removed = listed + dt.timedelta(days=int(rng.integers(30, 90))) if k < 4 else None
        reason = _ABNORMAL_REASONS[k % 4]
        removal = _ABNORMAL_REMOVALS[k % 3] if removed else None
        if k == 0:  # the row a test looks up
            listed, reason = dt.date(2024, 7, 1), _ABNORMAL_REASONS[0]
            removed, removal = dt.date(2024, 9, 2), _ABNORMAL_REMOVALS[0]
        rows.append([k + 1, f.name, f.uscc, f.reg_no or None, reason, listed,
                     f"{f.prefecture}市场监督管理局", removal, removed,
                     f"{f.prefecture}市场监督管理局" if removed else None, None])  # fmt: skip
    _xls(
        folder / "经营异常名录信息_2025.xls",
        ["序号", "企业名称", "统一社会信用代码", "注册号", "列入经营异常名录原因", "列入日期",
         "列入作出决定机关", "移出经营异常名录原因", "移出日期", "移出作出决定机关", "备注"],
        rows,
        ["经营异常名录列入、移出信息"],
    )  # fmt: skip
    _rest(folder, fed=("abnormal_list",))


def write_wide_export(folder: Path, seed: int = 0) -> None:
    """e. The 27-column "双公示" penalties export: three headers are the contract's
    (统一社会信用代码, 违法行为类型, 处罚决定日期), the mapping names the others it needs;
    two decisions against natural persons are left out by a filter."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed)
    _contract_csv(folder, "enterprises", [f.contract_row() for f in firms])
    header = [
        "行政相对人名称", "行政相对人类别", "统一社会信用代码", "工商注册号", "组织机构代码",
        "税务登记号", "事业单位证书号", "社会组织登记证号", "法定代表人", "法定代表人证件类型",
        "法定代表人证件号码", "行政处罚决定书文号", "违法行为类型", "违法事实", "处罚依据",
        "处罚类别", "处罚内容", "罚款金额（万元）", "没收违法所得、没收非法财物的金额（万元）",
        "暂扣或吊销证照名称及编号", "处罚决定日期", "处罚有效期", "公示截止期", "处罚机关",
        "处罚机关统一社会信用代码", "数据来源单位", "备注",
    ]  # fmt: skip
    assert len(header) == 27
    kinds = ("罚款", "警告", "警告;罚款", "罚款", "罚款", "罚款", "警告", "罚款", "罚款", "罚款")
    fines = ("0.5", "0", "0.2", "1.5", "0.3", "2", "0", "0.08", "10", "0.6")
    causes = ("食品安全", "价格违法", "产品质量", "食品安全", "其他", "虚假宣传、违法广告",
              "登记管理违法", "价格违法", "特种设备安全", "食品安全")  # fmt: skip
    rows: list[list[Cell]] = []
    for k, (f, no, decided, _) in enumerate(_bureau_penalties(rng, firms, "穗天", 10)):
        minor = k == 7
        if minor:
            no = _decision_no("穗天", 8, minor=True)
        if k == 0:
            no, decided = "穗天市监处罚〔2025〕1号", dt.date(2025, 2, 10)
        rows.append([
            f.name, "法人及非法人组织", f.uscc, f.reg_no or None, f.org_code, f.taxpayer_no, None,
            None, "李**", "身份证", "4401**********1234", no, causes[k],
            "经查，当事人存在违法行为。", "《中华人民共和国行政处罚法》", kinds[k],
            _content(kinds[k], fines[k]), fines[k], None, None,
            decided, decided + dt.timedelta(days=1095), decided + dt.timedelta(days=1095),
            "广州市天河区市场监督管理局", BUREAU_USCC, "广州市天河区市场监督管理局", None,
        ])  # fmt: skip
    for k in range(2):  # natural persons: not enterprises, left out by the mapping's filter
        decided = dt.date(2025, 3, 3 + k)
        rows.insert(3 + 4 * k, [
            ("张某某", "陈某")[k], "自然人", None, None, None, None, None, None, None, None, None,
            _decision_no("穗天", 50 + k), "其他", "流动摊贩占道经营", "《广州市市容环境卫生管理规定》",
            "罚款", "罚款0.02万元", "0.02", None, None, decided, decided, decided,
            "广州市天河区市场监督管理局", BUREAU_USCC, "广州市天河区市场监督管理局", "个人",
        ])  # fmt: skip
    _csv(
        folder / "行政处罚信息_双公示_天河区.csv",
        header,
        rows,
        ["行政处罚信息（双公示）"],
        "utf-8-sig",
    )
    _rest(folder, fed=("penalties",))


def _content(kind: str, fine: str) -> str:
    """处罚内容 as the 双公示 export writes it: the kinds, and the fine with its unit."""
    if fine == "0":
        return kind
    return f"罚款{fine}万元" if kind == "罚款" else f"警告，罚款{fine}万元"


def write_units_per_source(folder: Path, seed: int = 0) -> None:
    """f. Penalties of two departments for the same table: the district bureau states
    amounts in 元, the city's enforcement corps in 万元; one corps row carries a 元 amount in
    the 万元 column (35000 "万元"), which the plausibility bound must catch."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed)
    _contract_csv(folder, "enterprises", [f.contract_row() for f in firms])
    header = ["当事人名称", "统一社会信用代码", "处罚决定书文号", "处罚种类", "违法行为类型",
              "罚没金额(元)", "作出处罚决定日期", "公示日期", "备注"]  # fmt: skip
    yuan = (5000, 12000, 800, 30000, 2500, 60000)
    rows: list[list[Cell]] = []
    for k, (f, no, decided, published) in enumerate(_bureau_penalties(rng, firms, "穗天", 6)):
        rows.append([f.name, f.uscc, no, "罚款", "食品安全", yuan[k], decided, published, None])
    _csv(folder / "天河区局_行政处罚_2025H1.csv", header, rows,
         _titles("广州市天河区市场监督管理局", "行政处罚信息"), "utf-8-sig")  # fmt: skip
    wan = (1.2, 0.8, 35000, 3.5, 0.25, 12)
    rows = []
    for k, (f, no, decided, published) in enumerate(_bureau_penalties(rng, firms, "穗", 6)):
        # k == 2 (穗市监处罚〔2025〕3号): 35000 is a 元 amount typed into the 万元 column
        rows.append([f.name, f.uscc, no, "罚款", "价格违法", wan[k], decided, published,
                     "金额单位：万元" if k == 0 else None])  # fmt: skip
    _xlsx(folder / "市局执法支队_行政处罚_2025H1.xlsx",
          ["当事人名称", "统一社会信用代码", "处罚决定书文号", "处罚种类", "违法行为类型",
           "罚没款金额(万元)", "作出处罚决定日期", "公示日期", "备注"],
          rows, _titles("广州市市场监督管理局执法稽查支队", "行政处罚案件信息"))  # fmt: skip
    _rest(folder, fed=("penalties",))


def write_values_in_text(folder: Path, seed: int = 0) -> None:
    """g. The case-handling system's export: the amount and the kinds of penalty only inside
    the sentence 处罚内容 (``罚款34770.5元``, ``没收违法所得1200元，罚款5000元``), the cause as
    free text quoting a law; and an inspection log whose results are words (合格, 未发现问题,
    发现问题已责令改正)."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed)
    _contract_csv(folder, "enterprises", [f.contract_row() for f in firms])
    facts = (
        "当事人销售超过保质期的食品，违反了《中华人民共和国食品安全法》第三十四条第（十）项的规定",
        "当事人在销售商品时未按规定明码标价，违反了《中华人民共和国价格法》第十三条第一款的规定",
        "当事人发布的广告含有虚假内容，违反了《中华人民共和国广告法》第二十八条的规定",
        "当事人生产的产品经抽检不合格，违反了《中华人民共和国产品质量法》第二十六条的规定",
        "当事人实施混淆行为，违反了《中华人民共和国反不正当竞争法》第六条的规定",
        "当事人拒绝履行三包义务，违反了《中华人民共和国消费者权益保护法》第二十四条的规定",
        "当事人使用未经定期检验的电梯，违反了《中华人民共和国特种设备安全法》第四十条的规定",
        "当事人未按规定办理变更登记，违反了《中华人民共和国市场主体登记管理条例》第二十四条的规定",
    )
    contents = (
        "罚款34770.5元",
        "没收违法所得1200元，罚款5000元",
        "警告",
        "警告，罚款2000元",
        "罚款人民币1.5万元",
        "罚款3000元",
        "责令停产停业，罚款10000元",
        "罚款800元",
    )
    rows: list[list[Cell]] = []
    for k, (f, _, decided, _) in enumerate(_bureau_penalties(rng, firms, "穗海", 8)):
        no = _decision_no("穗海", k + 1, minor=k == 7)
        closed = decided + dt.timedelta(days=int(rng.integers(5, 20)))
        rows.append([f"AJ2025{k + 1:05d}", f.name, f.uscc, no, "见违法事实", facts[k], contents[k],
                     decided, min(closed, dt.date(2025, 6, 30)), None])  # fmt: skip
    _xlsx(folder / "行政处罚案件信息_执法办案系统.xlsx",
          ["案件编号", "当事人", "统一社会信用代码", "决定书文号", "案由", "违法事实及处罚依据",
           "处罚内容", "决定日期", "结案日期", "备注"],
          rows, _titles("广州市海珠区市场监督管理局", "行政处罚案件信息"))  # fmt: skip
    kinds = (
        "投诉举报核查",
        "专项整治检查",
        "投诉举报核查",
        "上级交办",
        "专项整治检查",
        "投诉举报核查",
    )
    items = (
        "食品安全、产品质量",
        "广告价格",
        "食品安全",
        "特种设备",
        "公示信息、食品安全",
        "产品质量",
    )
    results = (
        "合格",
        "未发现问题",
        "发现问题已责令改正",
        "合格",
        "发现问题已责令改正",
        "未发现问题",
    )
    problems = (None, None, "食品安全", None, "超范围经营", None)
    rows = []
    for k, f in enumerate(_pick(rng, firms, 6)):
        day = _day(rng, dt.date(2025, 2, 1), dt.date(2025, 6, 20))
        rows.append([f"HZJC2025{k + 1:04d}", f.name, f.uscc, kinds[k], items[k], day, results[k],
                     problems[k], f"{day + dt.timedelta(days=1)} 10:23:11"])  # fmt: skip
    _csv(folder / "日常监督检查记录_海珠区.csv",
         ["检查记录号", "被检查单位", "统一社会信用代码", "检查类型", "检查内容", "检查日期",
          "检查结论", "问题类别", "录入时间"], rows, _titles("广州市海珠区市场监督管理局", "日常监督检查记录"))  # fmt: skip
    _rest(folder, fed=("penalties", "inspections"))


def write_warnings_and_multiple_kinds(folder: Path, seed: int = 0) -> None:
    """h. Warnings exported with a blank amount, several kinds in one cell (``警告;罚款``,
    ``警告、罚款``, ``罚款；责令停产停业``), and one fine whose amount is blank (which the
    mapping's default turns into 0 and a plausibility bound then refuses)."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed)
    _contract_csv(folder, "enterprises", [f.contract_row() for f in firms])
    kinds = ("警告", "警告", "警告;罚款", "罚款", "没收违法所得;罚款", "警告、罚款",
             "罚款；责令停产停业", "吊销营业执照", "罚款", "警告;罚款")  # fmt: skip
    amounts: tuple[int | None, ...] = (None, None, 5000, 3000, 12000, 2000, 50000, None, None, 1000)
    rows: list[list[Cell]] = []
    for k, (f, _, decided, published) in enumerate(_bureau_penalties(rng, firms, "穗白", 10)):
        rows.append([f.name, f.uscc, _decision_no("穗白", k + 1), kinds[k], amounts[k], "产品质量",
                     decided, published, "金额待核" if k == 8 else None])  # fmt: skip
    _csv(folder / "行政处罚_白云区.csv",
         ["当事人名称", "统一社会信用代码", "处罚决定书文号", "处罚种类", "罚没金额(元)",
          "违法行为类型", "处罚决定日期", "公示日期", "备注"],
         rows, _titles("广州市白云区市场监督管理局", "行政处罚信息"), "gb18030")  # fmt: skip
    _rest(folder, fed=("penalties",))


def _individual(
    base: Firm, uscc_index: int, name: str, division: str, taxpayer_no: str, seed: int
) -> Firm:
    """An individual business (个体工商户) of the registry."""
    idx = np.array([seed * 1000 + 900 + uscc_index], dtype=np.int64)
    uscc = str(
        codes.make_uscc(
            idx,
            np.array([int(division)], dtype=np.int64),
            np.array([2], dtype=np.int64),
            np.array([True]),
        )[0]
    )
    return replace(
        base,
        uscc=uscc,
        name=name,
        trade=name,
        word="",
        reg_no="",
        org_code="",
        taxpayer_no=taxpayer_no,
        entity_type="individual_business",
        legal_form="individual_business",
        industry_code="6220",
        division_code=division,
        established=dt.date(2016, 5, 9) + dt.timedelta(days=uscc_index * 41),
        status="operating",
        deregistered=None,
        capital=5.0,
        paid_in=None,
        employees=3,
        sector_tags="catering",
    )


def write_non_uscc_identifiers(folder: Path, seed: int = 0) -> None:
    """i. A district's penalties whose column 统一社会信用代码/注册号 holds whatever the
    officer had: a USCC, an operator's ID card number, ``00000000000000000X``, a 15-digit
    registration number, a 20-digit taxpayer number, a 9-character organisation code, each
    with the name. The registry is the registration system's export with its organisation
    codes and taxpayer numbers."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed)
    li = _individual(firms[0], 1, "广州市天河区李记粥粉面店", "440106", "", seed)
    wang = _individual(
        firms[0], 2, "广州市越秀区王氏五金商行", "440104", TAXPAYER_OPERATOR_ID + "01", seed
    )
    li = replace(li, taxpayer_no=li.uscc)
    for code in (OPERATOR_ID, TAXPAYER_OPERATOR_ID):
        if uscc_is_valid(code):  # an ID that is also a valid USCC would be read as one
            raise AssertionError(f"{code} is also a valid USCC")
    registry = [*firms, li, wang]
    forms = {k: zh for k, zh, _ in _LEGAL_FORMS}
    forms["individual_business"] = "个体工商户"
    kinds = {"enterprise": "企业", "individual_business": "个体工商户"}
    rows: list[list[Cell]] = []
    for f in registry:
        org = f"{f.org_code[:8]}-{f.org_code[8]}" if f.org_code else None
        rows.append([f.uscc, f.name, f.reg_no or None, org, f.taxpayer_no, kinds[f.entity_type],
                     forms[f.legal_form], f.industry_code, f.division_code, f.established,
                     "存续" if f.operating else "注销", f.deregistered, f.capital, f.address_id])  # fmt: skip
    _xlsx(folder / "市场主体登记信息_含组织机构代码.xlsx",
          ["统一社会信用代码", "企业名称", "注册号", "组织机构代码", "纳税人识别号", "主体类型",
           "企业类型", "行业代码", "登记机关区划代码", "成立日期", "登记状态", "注销日期",
           "注册资本(万元)", "住所标识"], rows, _titles("广州市市场监督管理局", "市场主体登记信息"))  # fmt: skip
    old = _pick(rng, firms, 1, lambda f: bool(f.reg_no))[0]
    others = _pick(rng, firms, 4, lambda f: f is not old)
    pen: list[tuple[Firm, str]] = [
        (others[0], others[0].uscc),
        (others[1], others[1].uscc),
        (li, OPERATOR_ID),
        (others[2], PLACEHOLDER_ID),
        (old, old.reg_no),
        (wang, wang.taxpayer_no),
        (others[3], others[3].org_code),
    ]
    out: list[list[Cell]] = []
    for k, (f, code) in enumerate(pen):
        decided = _day(rng, dt.date(2025, 1, 6), dt.date(2025, 6, 10))
        out.append([k + 1, f.name, code, _decision_no("穗越", k + 1), "罚款", "食品安全",
                    1000 * (k + 1), decided, decided + dt.timedelta(days=7)])  # fmt: skip
    _csv(folder / "行政处罚_越秀区局.csv",
         ["序号", "当事人名称", "统一社会信用代码/注册号", "处罚决定书文号", "处罚种类", "违法行为类型",
          "罚没金额(元)", "处罚决定日期", "公示日期"],
         out, _titles("广州市越秀区市场监督管理局", "行政处罚信息"), "utf-8-sig")  # fmt: skip
    _rest(folder, fed=("enterprises", "penalties"))


def write_near_miss_names(folder: Path, seed: int = 0) -> None:
    """j. Penalties identified by name only, the names not quite the registry's: two exact,
    half-width brackets for the registry's full-width ones, a former name (曾用名, from a
    name change in ``changes``), the city prefix dropped, 有限责任公司 for 有限公司, one
    mistyped character, and a firm the registry does not hold."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed)
    plain = _pick(rng, firms, 7, lambda f: f.legal_form != "joint_stock")
    exact1, bracket, renamed, prefix, form, typo, exact2 = plain
    city = bracket.prefecture.removesuffix("市")
    bracketed = replace(bracket, name=f"{bracket.trade}{bracket.word}（{city}）有限公司")
    firms = [bracketed if f is bracket else f for f in firms]
    used = {f.trade for f in firms}
    former_trade = next(t for t in _TRADES if t not in used)
    former = f"{renamed.prefecture}{former_trade}{renamed.word}有限公司"
    _contract_csv(folder, "enterprises", [f.contract_row() for f in firms])
    changed = dt.date(2022, 4, 18)
    _contract_csv(folder, "changes", [
        {"uscc": renamed.uscc, "change_kind": "name", "change_date": changed,
         "received_date": changed + dt.timedelta(days=1), "before_value": former, "after_value": renamed.name},
        {"uscc": exact1.uscc, "change_kind": "address", "change_date": dt.date(2023, 8, 1),
         "received_date": dt.date(2023, 8, 2), "before_value": "天河路1号", "after_value": "体育西路2号"},
        {"uscc": exact2.uscc, "change_kind": "registered_capital", "change_date": dt.date(2024, 3, 5),
         "received_date": dt.date(2024, 3, 6), "before_value": "100", "after_value": "300"},
    ])  # fmt: skip
    names = [
        exact1.name,
        exact2.name,
        f"{bracket.trade}{bracket.word}({city})有限公司",
        former,
        f"{prefix.trade}{prefix.word}有限公司",
        form.name.replace("有限公司", "有限责任公司"),
        f"{typo.prefecture}{typo.trade}{_TYPO[typo.word]}有限公司",
        "佛山市南海区顺景五金制品厂",
    ]
    rows: list[list[Cell]] = []
    for k, name in enumerate(names):
        decided = _day(rng, dt.date(2025, 1, 6), dt.date(2025, 6, 10))
        rows.append([name, _decision_no("穗荔", k + 1), "罚款", "价格违法", 2000 + 500 * k, decided,
                     decided + dt.timedelta(days=7)])  # fmt: skip
    _csv(folder / "行政处罚_荔湾区局_旧系统.csv",
         ["当事人名称", "处罚决定书文号", "处罚种类", "违法行为类型", "罚没金额(元)", "处罚决定日期", "公示日期"],
         rows, _titles("广州市荔湾区市场监督管理局", "行政处罚信息"), "gb18030")  # fmt: skip
    _rest(folder, fed=("penalties",))


_DR_RESULTS = (
    ("未发现问题", None),
    ("发现问题已责令改正", "公示信息不实"),
    ("未发现开展本次抽查涉及的经营活动", None),
    ("通过登记的住所（经营场所）无法联系", "住所失联"),
)


def write_declared_design(folder: Path, seed: int = 0) -> None:
    """k. Double-random results exported by the platform without the design of the draw (no
    抽取层, no 入样概率): the city's first round of 2025, whose design the source mapping
    declares, and a district's round whose design nobody sent."""
    rng = np.random.default_rng(seed)
    places = _divisions(list(_GZ))
    divisions = ["440106"] * 4 + ["440104"] * 4 + [_GZ[int(i)] for i in rng.integers(0, 5, size=32)]
    firms = _registry(rng, divisions, places, seed)
    _contract_csv(folder, "enterprises", [f.contract_row() for f in firms])
    tianhe = _pick(rng, firms, 3, lambda f: f.division_code == "440106")
    yuexiu = _pick(rng, firms, 3, lambda f: f.division_code == "440104")
    rest = _pick(rng, firms, 2, lambda f: f.division_code not in ("440104", "440106"))
    items = "企业公示信息情况;住所（经营场所）登记事项"
    rows: list[list[Cell]] = []
    for k, f in enumerate([*tianhe, *yuexiu, *rest]):
        result, problem = _DR_RESULTS[k % 4]
        day = _day(rng, dt.date(2025, 3, 10), dt.date(2025, 6, 20))
        rows.append([f"SJ2025001-{k + 1:04d}", "4401002025SJ001",
                     "广州市市场监督管理局2025年第一批部门联合双随机抽查", f.uscc, f.name, items,
                     result, problem, day, day + dt.timedelta(days=2)])  # fmt: skip
    _xlsx(folder / "双随机抽查结果_2025年第一批.xlsx",
          ["检查记录编号", "抽查任务编号", "抽查任务名称", "统一社会信用代码", "企业名称", "抽查事项",
           "检查结果", "问题类别", "检查完成日期", "结果录入日期"],
          rows, _titles("广东省“双随机、一公开”监管工作平台", "抽查检查结果"))  # fmt: skip
    rows = []
    for k, f in enumerate(_pick(rng, firms, 4, lambda f: f.division_code == "440106")):
        result, problem = _DR_RESULTS[(k + 1) % 4]
        day = _day(rng, dt.date(2025, 4, 1), dt.date(2025, 6, 20))
        rows.append([f"TH2025007-{k + 1:04d}", "4401062025SJ007", "天河区2025年食品销售专项双随机抽查",
                     f.uscc, f.name, "企业公示信息情况", result, problem, day, day + dt.timedelta(days=2)])  # fmt: skip
    _csv(folder / "双随机抽查结果_天河区局补录.csv",
         ["检查记录编号", "抽查任务编号", "抽查任务名称", "统一社会信用代码", "企业名称", "抽查事项",
          "检查结果", "问题类别", "检查完成日期", "结果录入日期"], rows)  # fmt: skip
    _rest(folder, fed=("inspections",))


def write_declared_unavailable(folder: Path, seed: int = 0) -> None:
    """l. A bureau that cannot deliver annual reports (a required table), pledges (sent as a
    header-only file all the same) and product sampling; the configuration says so."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed, 30)
    _contract_csv(folder, "enterprises", [f.contract_row() for f in firms])
    rows: list[list[Cell]] = []
    for k, (f, no, decided, published) in enumerate(_bureau_penalties(rng, firms, "穗", 5)):
        rows.append(
            [k + 1, f.name, f.uscc, no, "罚款", "食品安全", 1000 * (k + 2), decided, published]
        )
    _csv(folder / "行政处罚信息_导出.csv",
         ["序号", "当事人名称", "统一社会信用代码", "处罚决定书文号", "处罚种类", "违法行为类型",
          "罚没金额(元)", "作出处罚决定日期", "公示日期"], rows,
         _titles("广州市市场监督管理局", "行政处罚信息"))  # fmt: skip
    _contract_csv(folder, "pledges")
    _rest(folder, fed=("penalties", "annual_reports"))


def write_accept_floor(folder: Path, seed: int = 0) -> None:
    """m. An export with shifted columns: the 统一社会信用代码 column holds the deciding
    bureau's own code in nine of ten rows and the export has no name column, so almost every
    row refers to no registry firm and the run must stop at the accept floor."""
    rng = np.random.default_rng(seed)
    firms = _gd_registry(rng, seed, 30)
    _contract_csv(folder, "enterprises", [f.contract_row() for f in firms])
    rows: list[list[Cell]] = []
    for k, (f, no, decided, published) in enumerate(_bureau_penalties(rng, firms, "穗天", 10)):
        code = f.uscc if k == 0 else BUREAU_USCC
        rows.append([k + 1, code, no, "罚款", "食品安全", 2000, decided, published])
    # no name column: nothing else on the row could identify the firm
    _csv(folder / "行政处罚信息_导出.csv",
         ["序号", "统一社会信用代码", "处罚决定书文号", "处罚种类", "违法行为类型",
          "罚没金额(元)", "作出处罚决定日期", "公示日期"], rows,
         _titles("广州市天河区市场监督管理局", "行政处罚信息"))  # fmt: skip
    _rest(folder, fed=("penalties",))


_WRITERS: dict[str, Callable[[Path, int], None]] = {
    "other_province": write_other_province,
    "opaque_ids": write_opaque_ids,
    "xlsx_named_csv": write_xlsx_named_csv,
    "legacy_xls": write_legacy_xls,
    "wide_export": write_wide_export,
    "units_per_source": write_units_per_source,
    "values_in_text": write_values_in_text,
    "warnings_and_multiple_kinds": write_warnings_and_multiple_kinds,
    "non_uscc_identifiers": write_non_uscc_identifiers,
    "near_miss_names": write_near_miss_names,
    "declared_design": write_declared_design,
    "declared_unavailable": write_declared_unavailable,
    "accept_floor": write_accept_floor,
}
#: The cases, in the order of issue 17's list (a ... m).
CASES: tuple[str, ...] = tuple(_WRITERS)


def write_case(name: str, folder: Path, seed: int = 0) -> None:
    """Write the delivery of case ``name`` into ``folder`` (created if needed; files of the
    same names are replaced, others left alone)."""
    try:
        writer = _WRITERS[name]
    except KeyError:
        raise ValueError(
            f"unknown export case {name!r}; the cases are {', '.join(CASES)}"
        ) from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    writer(folder, seed)
