"""Scanning files meant for enterprises and the public for anything internal (classes, scores,
the model, features), shared by test_remind, test_publish and the service's outreach test."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pandas as pd

from contract.tables import TABLES, VOCABULARIES
from features.definitions import full_catalog
from models.classes import ClassScheme

#: Words that only internal outputs use (case-insensitive for the ASCII ones).
INTERNAL_WORDS = ("风险分", "风险等级", "风险类别", "分类结果", "模型", "评分", "高风险", "低风险")
INTERNAL_ASCII = re.compile(
    r"score|model|probabilit|stratum|shap|risk[_ ]class|high[_ ]risk|low[_ ]risk", re.IGNORECASE
)
CLASS_IN_CONTEXT = re.compile(r"(?<![A-Za-z0-9])[A-Da-d]\s*(类|级|级别)")

#: The names of public records: a table, a column or a vocabulary label of the contract. A
#: feature whose Chinese name *is* such a record (列入经营异常名录, 失信被执行人, 成立日期) names
#: the public fact a reminder is about, not the feature, so it is not a leak by itself.
PUBLIC_TERMS = (
    {t.zh for t in TABLES.values()}
    | {c.zh for t in TABLES.values() for c in t.columns}
    | {zh for v in VOCABULARIES.values() for zh, _ in v.values()}
)


def file_text(path: Path) -> str:
    """The text a person could read in ``path``: XLSX cells and parts, PDF bytes as Latin-1."""
    raw = path.read_bytes()
    if path.suffix == ".xlsx":  # the cells and sheet names (the theme's XML speaks of "Shape")
        book = openpyxl.load_workbook(path, read_only=True)
        cells = [
            str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True)
            for v in row if v is not None
        ]  # fmt: skip
        return "\n".join([*book.sheetnames, *cells])
    if path.suffix == ".pdf":
        return raw.decode("latin-1")
    return raw.decode("utf-8-sig")


def forbidden_terms(scheme: ClassScheme) -> list[str]:
    """Class names of the scheme, internal words, every feature's name and Chinese name."""
    terms = list(INTERNAL_WORDS)
    for c in scheme.classes:
        terms += [c.zh, f"{c.code}类"]
    for f in full_catalog():
        if f.zh not in PUBLIC_TERMS and f.zh.removeprefix("列入") not in PUBLIC_TERMS:
            terms.append(f.zh)
    return terms


def leaks(path: Path, scheme: ClassScheme, classes: pd.DataFrame | None = None) -> list[str]:
    """Everything internal found in the file ``path`` (empty: clean).

    ``classes`` (uscc, score, probability): the exact values of the firms named in the file
    must not appear (a score as a whole number of points, a probability as written)."""
    text = file_text(path)
    found = [t for t in forbidden_terms(scheme) if t in text]
    found += [f"ascii:{m.group(0)}" for m in INTERNAL_ASCII.finditer(text)]
    if path.suffix != ".pdf":  # a PDF's bytes are compressed: letters there mean nothing
        found += [f"class:{m.group(0)}" for m in CLASS_IN_CONTEXT.finditer(text)]
        for f in full_catalog():
            if re.search(rf"(?<![A-Za-z0-9_]){re.escape(f.name)}(?![A-Za-z0-9_])", text):
                found.append(f"feature:{f.name}")
        for c in scheme.classes:
            if c.en.lower() in text.lower():
                found.append(f"class:{c.en}")
    if classes is not None and path.suffix != ".pdf":
        named = classes[classes["uscc"].map(lambda u: u in text)]
        for row in named.itertuples():
            p = float(row.probability)
            for shown in (repr(p), f"{p:.4f}", f"{p:.2%}", f"{p:.1%}"):
                if shown in text:
                    found.append(f"probability:{shown}")
            points = f"{float(row.score):.0f}"
            # a score as it is shown: a number of points, or a number that is no date, no
            # amount, no record number (those are the enterprise's own facts)
            pattern = rf"(?<![A-Za-z0-9.,〔\-]){points}(?:\s*分|(?![A-Za-z0-9.,年月日号〕\-]))"
            if float(row.score) >= 100 and re.search(pattern, text):
                found.append(f"score:{points}")
            if re.search(rf"{points}\s*分", text):
                found.append(f"score:{points}分")
    return found
