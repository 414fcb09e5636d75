"""Values and sentences as a regulator reads them: a feature's value in words, and the
catalog's sentence filled with the enterprise's own values (never a made-up fact)."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import numpy as np

from contract.tables import VOCABULARIES
from features.catalog import Feature
from features.definitions import BY_NAME
from pipelines.render.names import Lang, Names, with_code
from pipelines.render.wording import TEXT

#: Category features shown with the label of their contract vocabulary.
VOCABULARY_OF = {
    "entity_type": "entity_type",
    "legal_form": "legal_form",
    "abn_reason": "abnormal_reason",
    "pen_last_cause": "penalty_cause",
    "insp_last_category": "problem_category",
}

#: Numbers that code a level, shown as the level (features/social.py: A=5 ... D=1).
LEVEL_OF = {"tax_rating_level": {5: "A", 4: "B", 3: "M", 2: "C", 1: "D"}}


def amount(v: Any) -> float | None:
    """A value as a number (None when missing or not a number)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return float(v) if isinstance(v, int | float | np.floating | np.integer) else None


def display(f: Feature, value: Any, names: Names, lang: Lang) -> str | None:
    """A feature value as a regulator reads it (None when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    t = TEXT[lang]
    if f.kind == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    if f.kind == "category":
        code = str(value)
        if f.name in VOCABULARY_OF:
            labels = VOCABULARIES[VOCABULARY_OF[f.name]].get(code)
            return (labels[0] if lang == "zh" else labels[1]) if labels else code
        if f.name == "industry_division":
            return names.industry(code, lang)
        if f.name == "city":
            p = names.prefectures.get(code)
            return with_code(p[0] if lang == "zh" else p[1], code, lang) if p else code
        return code
    if f.kind == "flag":
        return t["yes"] if float(value) == 1 else t["no"]
    v = float(value)
    if f.name in LEVEL_OF:  # a level coded as a number (its catalog description says how)
        return LEVEL_OF[f.name].get(round(v), number(v))
    if f.unit == "share":
        return f"{v:.0%}"
    return number(v)


def number(v: float) -> str:
    """A number as people write it: thousands separated, at most two decimals (three below
    one), never in scientific notation."""
    if v == round(v):
        return f"{v:,.0f}"
    text = f"{v:,.2f}" if abs(v) >= 1 else f"{v:.3f}"
    return text.rstrip("0").rstrip(".")


def is_fact(f: Feature, value: Any) -> bool:
    """Whether the value states something that happened or holds (a flag that is 1, a count
    above 0, any other recorded value): only then is the catalog's sentence told as a fact
    and its advice given."""
    v = amount(value)
    if f.kind in ("date", "category"):
        return value is not None and not (isinstance(value, float) and math.isnan(value))
    if v is None:
        return False
    if f.kind == "flag":
        return v == 1
    return not (f.unit == "count" and v == 0)


class _Value:
    """A template value: with a format spec the number, without it the readable text."""

    def __init__(self, number: float, text: str) -> None:
        self.number, self.text = number, text

    def __format__(self, spec: str) -> str:
        return format(self.number, spec) if spec else self.text


def sentence(f: Feature, row: dict[str, Any], names: Names, lang: Lang) -> str:
    """The catalog's sentence for ``f`` with the enterprise's own values, or a plain
    "indicator: value" when a value it refers to is missing (never a made-up fact) or the
    value is not a fact (`is_fact`: a flag of 0, a count of 0)."""
    template = f.template_zh if lang == "zh" else f.template_en
    value = row.get(f.name)
    label = f.zh if lang == "zh" else f.en
    shown = display(f, value, names, lang) or TEXT[lang]["missing"]
    plain = f"{label}：{shown}" if lang == "zh" else f"{label}: {shown}"
    if not template or not is_fact(f, value):
        return plain
    values: dict[str, Any] = {}
    for name in f.placeholders():
        other = f if name == f.name else BY_NAME[name]  # a derived feature names itself only
        v = row.get(name)
        text = display(other, v, names, lang)
        if text is None:
            return plain
        num = amount(v)
        filled: str | _Value = text if num is None else _Value(num, text)
        values[name] = filled
        if name == f.name:
            values["value"] = filled
    try:
        return template.format(**values)
    except (ValueError, KeyError, TypeError):  # a format spec that does not fit the value
        return plain
