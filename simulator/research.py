"""A labelled, anonymised research data set, shaped as a university or partner extract (issue 18).

Users try the project on data sets such as: some 15,000 enterprises known only by an opaque
id, a handful of side tables (annual reports, tax records by tax category, news sentiment,
yearly counts of court judgments, trademarks and patents) and one label per enterprise
("problem found / risky", 0/1) as of a snapshot date. `write_research_dataset` writes such a
set as CSV files with Chinese headers (UTF-8 with a BOM, or GB18030, as Excel saves them):

=======================  ==========================================================================
``企业名单.csv``           the ids only (``企业ID``: E0000001 ...): no name, no dates, no industry
``年报.csv``               annual reports 2019-2024, not every firm every year; amounts in 万元,
                         "企业选择不公示" where a firm chose not to disclose (GB18030)
``纳税记录.csv``           long table: id, 税种, 所属期 (YYYY-MM), 实缴金额(元), 是否欠税 (是/否)
``舆情.csv``               news items: id, 日期, 情感得分 (-1..1), 来源
``司法_品牌_专利.csv``       wide yearly counts: id, 年份, 裁判文书数, 被告次数, 商标数, 专利数 (GB18030)
``标签.csv``               id, 标签 (1 = problem found), as of the snapshot date
``truth/latent_risk.csv`` the hidden truth (never read by the pipeline): latent risk and its parts,
                         the label probability and the label
=======================  ==========================================================================

Every signal is driven by hidden factors with realistic noise: a size factor, a financial-
distress factor and a compliance factor; the latent risk is a mix of the two last and of an
unobserved part, and the label is drawn from it. So a plain gradient-boosted model on simple
per-enterprise aggregates reaches an AUC of about 0.8 and no single column is nearly the
answer. Missing data are realistic: firms that never filed an annual report, years skipped,
firms without any news, blank cells, a few rows about enterprises not on the list, a few
exact duplicate tax rows (as exports repeat them).

The mappings that ingest the set with configuration only are in
``configs/sources/examples/research/``. The same ``seed`` gives the same bytes; nothing
reads the clock or global random state.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     summary = write_research_dataset(Path(d), enterprises=200, seed=1)
>>> summary["files"]["企业名单.csv"], 0.1 < summary["label_prevalence"] < 0.3
(200, True)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: The snapshot date the labels refer to (and the end of every side table).
AS_OF = dt.date(2025, 6, 30)
#: Annual report years of the extract.
REPORT_YEARS = tuple(range(2019, 2025))
#: Tax categories as the tax bureau's export names them (the last three are rare).
TAX_CATEGORIES = (
    "增值税",
    "企业所得税",
    "个人所得税",
    "印花税",
    "城建税",
    "房产税",
    "土地使用税",
    "消费税",
    "环境保护税",
    "车船税",
)
NEWS_SOURCES = ("新闻网站", "微信公众号", "微博", "地方媒体", "论坛")
#: Label model: P(label = 1) = sigmoid(LABEL_INTERCEPT + LABEL_SLOPE * latent risk).
LABEL_INTERCEPT = -2.45
LABEL_SLOPE = 2.3
#: The latent risk: financial distress, compliance and an unobserved part (weights).
RISK_WEIGHTS = (0.6, 0.55, 0.5)
NOT_DISCLOSED = "企业选择不公示"
FILES = ("企业名单.csv", "年报.csv", "纳税记录.csv", "舆情.csv", "司法_品牌_专利.csv", "标签.csv")

Cell = str | int | float | None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=float)


def _text(v: Cell) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def _write_csv(
    path: Path, header: Sequence[str], rows: Sequence[Sequence[Cell]], encoding: str
) -> int:
    """A CSV as Excel saves it (CRLF); ``utf-8-sig`` writes the BOM. Returns the rows."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    for row in rows:
        w.writerow([_text(v) for v in row])
    path.write_bytes(buf.getvalue().encode(encoding))
    return len(rows)


def _months_before(as_of: dt.date, n: int) -> list[tuple[int, int]]:
    """The ``n`` calendar months before the month of ``as_of`` (oldest first)."""
    k = as_of.year * 12 + as_of.month - 1
    return [((k - i) // 12, (k - i) % 12 + 1) for i in range(n, 0, -1)]


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve by ranks (ties averaged)."""
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    sorted_scores = score[order]
    ranks[order] = np.arange(1, len(score) + 1)
    # average the ranks of ties
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for s, c in zip(start, counts, strict=True):
        if c > 1:
            ranks[order[s : s + c]] = ranks[order[s : s + c]].mean()
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def write_research_dataset(
    folder: Path, enterprises: int = 15000, seed: int = 0, as_of: dt.date = AS_OF
) -> dict[str, object]:
    """Write the research extract into ``folder`` (created if needed) and its hidden truth
    into ``folder/truth/``; return a summary: rows per file, label prevalence, the oracle
    AUC of the true label probability, where the truth is."""
    if enterprises < 10:
        raise ValueError("write_research_dataset: give at least 10 enterprises")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "truth").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    n = enterprises
    ids = np.array([f"E{i + 1:07d}" for i in range(n)])

    # ------------------------------------------------------------------ hidden factors
    size = rng.normal(0.0, 1.0, n)
    fin = rng.normal(0.0, 1.0, n)  # financial distress
    comp = rng.normal(0.0, 1.0, n)  # compliance problems
    hidden = rng.normal(0.0, 1.0, n)  # what no table shows
    wf, wc, wh = RISK_WEIGHTS
    risk = (wf * fin + wc * comp + wh * hidden) / np.sqrt(wf**2 + wc**2 + wh**2)
    p_label = _sigmoid(LABEL_INTERCEPT + LABEL_SLOPE * risk)
    label = (rng.random(n) < p_label).astype(int)
    # age at the snapshot (years): risky firms are a little younger
    age = np.clip(np.exp(rng.normal(1.9 - 0.2 * fin - 0.15 * comp, 0.7)), 0.2, 30.0)
    founded_ord = np.array([as_of.toordinal()] * n) - np.round(age * 365.25).astype(int)
    founded_year = np.array([dt.date.fromordinal(int(o)).year for o in founded_ord])

    files: dict[str, int] = {}
    files["企业名单.csv"] = _write_csv(
        folder / "企业名单.csv", ["企业ID"], [[i] for i in ids], "utf-8-sig"
    )

    # ------------------------------------------------------------------ annual reports
    years = np.array(REPORT_YEARS)
    exists = founded_year[:, None] <= years[None, :]
    files_ever = rng.random(n) < _sigmoid(2.0 - 0.7 * comp - 0.4 * fin)
    filed = (
        exists
        & files_ever[:, None]
        & (rng.random((n, len(years))) < _sigmoid(2.3 - 0.6 * comp - 0.4 * fin)[:, None])
    )
    t_year = (years - years[0])[None, :]
    emp_log = 1.6 + 0.9 * size[:, None] - 0.06 * fin[:, None] * t_year
    employees = np.maximum(0, np.round(np.exp(emp_log + rng.normal(0, 0.3, (n, len(years))))))
    rev_log = 4.0 + 1.1 * size[:, None] - 0.09 * fin[:, None] * t_year
    revenue = np.exp(rev_log + rng.normal(0, 0.35, (n, len(years))))
    assets = revenue * np.exp(rng.normal(0.2, 0.5, (n, len(years))))
    margin = rng.normal(0.06 - 0.06 * fin[:, None], 0.08, (n, len(years)))
    profit = revenue * margin
    debt_ratio = _sigmoid(rng.normal(-0.2 + 0.5 * fin[:, None], 0.7, (n, len(years))))
    liabilities = assets * debt_ratio
    tax_rate = np.maximum(0.0, rng.normal(0.04 - 0.012 * fin[:, None], 0.015, (n, len(years))))
    tax_total = revenue * tax_rate
    insured = np.round(
        employees * _sigmoid(1.0 - 0.5 * comp[:, None] + rng.normal(0, 0.7, (n, len(years))))
    )
    website = rng.random((n, len(years))) < _sigmoid(-0.8 + 0.6 * size - 0.25 * comp)[:, None]
    invests = rng.random((n, len(years))) < _sigmoid(-2.0 + 0.7 * size)[:, None]
    guarantees = rng.random((n, len(years))) < _sigmoid(-2.6 + 0.4 * fin)[:, None]
    hide = rng.random((n, len(years))) < _sigmoid(-2.7 + 0.5 * comp)[:, None]
    blank_emp = rng.random((n, len(years))) < 0.03
    yes_no = np.array(["否", "是"])
    ar_rows: list[list[Cell]] = []
    for i, j in zip(*np.nonzero(filed), strict=True):

        def amount(x: float, i: int = i, j: int = j) -> Cell:
            return NOT_DISCLOSED if hide[i, j] else round(float(x), 2)

        ar_rows.append(
            [
                ids[i],
                int(years[j]),
                None if blank_emp[i, j] else int(employees[i, j]),
                amount(revenue[i, j]),
                amount(assets[i, j]),
                amount(liabilities[i, j]),
                amount(profit[i, j]),
                amount(tax_total[i, j]),
                None if blank_emp[i, j] else int(insured[i, j]),
                yes_no[int(website[i, j])],
                yes_no[int(invests[i, j])],
                yes_no[int(guarantees[i, j])],
            ]
        )
    files["年报.csv"] = _write_csv(
        folder / "年报.csv",
        ["企业ID", "年度", "从业人数", "营业收入(万元)", "资产总额(万元)", "负债总额(万元)",
         "利润总额(万元)", "纳税总额(万元)", "社保缴纳人数", "是否有网站", "是否有对外投资",
         "是否提供对外担保"],
        ar_rows,
        "gb18030",
    )  # fmt: skip

    # ------------------------------------------------------------------ tax records
    months = _months_before(as_of, 24)
    m_ends = np.array(
        [
            (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).toordinal()
            for y, m in months
        ]
    )
    t = np.arange(len(months))[None, :]
    month_no = np.array([m for _, m in months])[None, :]
    active = (founded_ord[:, None] <= m_ends[None, :]) & (
        rng.random(n) < _sigmoid(2.2 + 0.4 * size - 0.3 * comp)
    )[:, None]
    monthly_rev = np.exp(4.0 + 1.1 * size)[:, None] * 10000 / 12  # 元
    trend = np.exp(-0.035 * fin[:, None] * t + rng.normal(0, 0.3, (n, len(months))))
    silent = rng.random((n, len(months))) < _sigmoid(-3.0 + 0.8 * fin + 0.4 * comp)[:, None]
    base = monthly_rev * trend * ~silent
    general = size > 0.3  # general VAT taxpayers file monthly, small-scale ones quarterly
    quarter_end = np.isin(month_no, (3, 6, 9, 12))
    half_end = np.isin(month_no, (6, 12))
    year_end = month_no == 12

    def lognorm(sigma: float) -> np.ndarray:
        return np.exp(rng.normal(0, sigma, (n, len(months))))

    vat_due = active & (general[:, None] | quarter_end)
    vat = np.where(general[:, None], base * 0.025 * lognorm(0.35), base * 3 * 0.01 * lognorm(0.35))
    # small-scale taxpayers with sales under 30万元 a quarter pay no VAT
    vat = np.where(~general[:, None] & (base * 3 < 300000), 0.0, vat)
    cit_due = active & quarter_end
    cit = np.maximum(0.0, base * 3 * rng.normal(0.06 - 0.06 * fin[:, None], 0.08, vat.shape)) * 0.05
    emp_now = np.exp(1.6 + 0.9 * size)
    iit_due = active & ((emp_now >= 10)[:, None] | quarter_end)
    iit = np.maximum(0.0, emp_now[:, None] * 150 * lognorm(0.6) - 400)
    stamp_due = active & quarter_end
    stamp = base * 3 * 0.0003 * lognorm(0.5)
    property_owner = (size + rng.normal(0, 0.5, n)) > 0.8
    prop_due = active & property_owner[:, None] & half_end
    prop = np.exp(8.0 + 0.8 * size)[:, None] * lognorm(0.4)
    land = np.exp(7.0 + 0.7 * size)[:, None] * lognorm(0.4)
    rare = rng.random((n, 3)) < np.array([0.005, 0.01, 0.03])
    amounts: dict[str, tuple[np.ndarray, np.ndarray]] = {
        "增值税": (vat_due, vat),
        "企业所得税": (cit_due, cit),
        "个人所得税": (iit_due, iit),
        "印花税": (stamp_due, stamp),
        "城建税": (vat_due & (vat > 0), vat * 0.07),
        "房产税": (prop_due, prop),
        "土地使用税": (prop_due, land),
        "消费税": (active & rare[:, [0]] & quarter_end, base * 3 * 0.05 * lognorm(0.3)),
        "环境保护税": (active & rare[:, [1]] & quarter_end, 800 * lognorm(0.8)),
        "车船税": (active & rare[:, [2]] & year_end, 600 * lognorm(0.5)),
    }
    arrears_level = -5.2 + 1.0 * fin + 0.7 * comp + rng.normal(0, 0.7, n)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for c, (due, amt) in enumerate(amounts.values()):
        fi, ti = np.nonzero(due)
        owed = rng.random(len(fi)) < _sigmoid(arrears_level[fi])
        paid = amt[fi, ti] * np.where(owed, rng.uniform(0, 0.5, len(fi)), 1.0)
        parts.append((fi, np.full(len(fi), c), ti, paid, owed))
    fi = np.concatenate([p[0] for p in parts])
    ci = np.concatenate([p[1] for p in parts])
    ti = np.concatenate([p[2] for p in parts])
    paid = np.concatenate([p[3] for p in parts])
    owed = np.concatenate([p[4] for p in parts])
    order = np.lexsort((ti, ci, fi))
    period = [f"{y}-{m:02d}" for y, m in months]
    tax_rows: list[list[Cell]] = [
        [ids[fi[k]], TAX_CATEGORIES[ci[k]], period[ti[k]], round(float(paid[k]), 2),
         "是" if owed[k] else "否"]
        for k in order
    ]  # fmt: skip
    # an export repeats a few rows exactly (quarantined as duplicates)
    repeat = sorted(rng.choice(len(tax_rows), size=max(1, len(tax_rows) // 2000), replace=False))
    for k in reversed(repeat):
        tax_rows.insert(int(k) + 1, list(tax_rows[int(k)]))
    files["纳税记录.csv"] = _write_csv(
        folder / "纳税记录.csv",
        ["企业ID", "税种", "所属期", "实缴金额(元)", "是否欠税"],
        tax_rows,
        "utf-8-sig",
    )

    # ------------------------------------------------------------------ news sentiment
    first_day = dt.date(as_of.year - 3, as_of.month, 1).toordinal()
    n_news = rng.poisson(np.exp(-0.4 + 0.7 * size + 0.35 * comp))
    news_rows: list[list[Cell]] = []
    for i in range(n):
        k = int(n_news[i])
        if k == 0:
            continue
        lo = max(first_day, int(founded_ord[i]))
        days = np.sort(rng.integers(lo, as_of.toordinal() + 1, k))
        secs = rng.integers(0, 86400, k)
        score = np.tanh(0.25 - 0.45 * comp[i] - 0.2 * fin[i] + rng.normal(0, 0.6, k))
        src = rng.choice(len(NEWS_SOURCES), k, p=[0.35, 0.25, 0.2, 0.12, 0.08])
        for d, s, sc, so in zip(days, secs, score, src, strict=True):
            stamp_text = (
                f"{dt.date.fromordinal(int(d)).isoformat()} "
                f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
            )
            news_rows.append([ids[i], stamp_text, f"{sc:.4f}", NEWS_SOURCES[so]])
    # a few items about enterprises that are not on the list (dropped from the extract)
    for k in range(max(1, len(news_rows) // 400)):
        d = dt.date.fromordinal(int(rng.integers(first_day, as_of.toordinal() + 1)))
        news_rows.append([f"E9{k + 1:06d}", f"{d.isoformat()} 09:00:00", "-0.5000", "论坛"])
    files["舆情.csv"] = _write_csv(
        folder / "舆情.csv", ["企业ID", "日期", "情感得分", "来源"], news_rows, "utf-8-sig"
    )

    # ------------------------------------------------------------------ yearly counts
    present = exists & (rng.random((n, len(years))) < 0.9)
    judgments = rng.poisson(
        np.exp(-1.3 + 0.5 * size + 0.55 * comp + 0.25 * fin)[:, None], filed.shape
    )
    defendant = rng.binomial(judgments, _sigmoid(-0.3 + 0.7 * comp + 0.4 * fin)[:, None])
    trademarks = rng.poisson(np.exp(-1.2 + 0.8 * size - 0.25 * comp)[:, None], filed.shape)
    patents = rng.poisson(np.exp(-1.8 + 0.9 * size - 0.3 * fin)[:, None], filed.shape)
    blank = rng.random((n, len(years), 4)) < 0.03
    wide_rows: list[list[Cell]] = []
    for i, j in zip(*np.nonzero(present), strict=True):
        counts = (judgments[i, j], defendant[i, j], trademarks[i, j], patents[i, j])
        wide_rows.append(
            [ids[i], int(years[j])]
            + [None if blank[i, j, c] else int(v) for c, v in enumerate(counts)]
        )
    files["司法_品牌_专利.csv"] = _write_csv(
        folder / "司法_品牌_专利.csv",
        ["企业ID", "年份", "裁判文书数", "被告次数", "商标数", "专利数"],
        wide_rows,
        "gb18030",
    )

    # ------------------------------------------------------------------ labels and truth
    files["标签.csv"] = _write_csv(
        folder / "标签.csv",
        ["企业ID", "标签"],
        [[ids[i], int(label[i])] for i in range(n)],
        "utf-8-sig",
    )
    truth = [
        [ids[i], f"{risk[i]:.6f}", f"{p_label[i]:.6f}", int(label[i]), f"{size[i]:.6f}",
         f"{fin[i]:.6f}", f"{comp[i]:.6f}", dt.date.fromordinal(int(founded_ord[i])).isoformat()]
        for i in range(n)
    ]  # fmt: skip
    _write_csv(
        folder / "truth" / "latent_risk.csv",
        ["id", "latent_risk", "p_label", "label", "size", "financial_distress", "compliance",
         "founded"],
        truth,
        "utf-8",
    )  # fmt: skip
    return {
        "enterprises": n,
        "seed": seed,
        "as_of": as_of.isoformat(),
        "files": files,
        "label_prevalence": round(float(label.mean()), 4),
        "oracle_auc": round(_auc(p_label, label), 4),
        "truth": str(folder / "truth" / "latent_risk.csv"),
    }
