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
from features.whatif import BY_KEY
from models.classes import ClassScheme
from pipelines.render.names import Lang, Names, with_code
from pipelines.render.wording import TEXT

#: Category features shown with the label of their contract vocabulary.
VOCABULARY_OF = {
    "entity_type": "entity_type",
    "legal_form": "legal_form",
    "abn_reason": "abnormal_reason",
    "pen_last_cause": "penalty_cause",
    "insp_last_category": "problem_category",
    "rep_last_refusal_reason": "repair_refusal_reason",
    "rep_last_revocation_reason": "repair_revocation_reason",
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


# ------------------------------------------------------------------ what would lower the risk
#: A report's what-if wording (`whatif_sentences`), Chinese and English.
WHATIF_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "intro": "按企业自身记录完成下列措施后重新测算（同一模型、同一分类规则）：",
        "note": "测算只改变企业自身的记录（其他企业的记录及行业、地区背景不变）；实际分类以措施完成、"
        "记录归集后的月度重新评估为准。",
        "advice": "其他建议（未测算）：",
        "all": "以上措施全部完成后",
        "down": "风险分预计由{before}降至{after}（{cls}）",
        "up": "风险分预计由{before}升至{after}（{cls}）",
        "same": "风险分预计仍为{after}（{cls}）",
        "moved": "风险分预计仍为{after}，分类由{before_cls}变为{cls}",
        "held": "，但因{rule}，仍为{cls}",
        "lift": "；{action}后，不再因此列为{cls}",
        "years": "补报{years}年度年报",
        "years_many": "补报{first}—{last}年度共{n}份年报",
        "and_remove": "并申请移出经营异常名录",
        "sep": "、",
        "cls": "{code}类",
    },
    "en": {
        "intro": "Recomputed with the enterprise's own records changed as each step would change "
        "them (same model, same class rules):",
        "note": "Only the enterprise's own records change (other enterprises' records and the "
        "industry and county context stay as they are); the class changes only at the monthly "
        "update after the step is done and its records arrive.",
        "advice": "Other advice (not computed):",
        "all": "With all of these done",
        "down": "the score would fall from {before} to {after} ({cls})",
        "up": "the score would rise from {before} to {after} ({cls})",
        "same": "the score would stay at {after} ({cls})",
        "moved": "the score would stay at {after} and its class would change from {before_cls} "
        "to {cls}",
        "held": ", but it stays in {cls} because it is {rule}",
        "lift": "; once it has {action}, that rule no longer puts it in {cls}",
        "years": "file the annual reports for {years}",
        "years_many": "file the {n} annual reports for {first}-{last}",
        "and_remove": " and apply to leave the abnormal list",
        "sep": ", ",
        "cls": "class {code}",
    },
}

#: What each remedy does, as a report says it (`features.whatif.REMEDIES` otherwise).
_DONE_EN = {
    "annual_report": "filed the missing annual reports",
    "abnormal_address": "left the abnormal list",
    "abnormal_disclosure": "left the abnormal list",
    "licence": "renewed the licence",
    "court": "settled the enforcement cases",
    "serious_repair": "obtained credit repair",
    "penalty_repair": "obtained credit repair of its penalties",
}


def _class_name(scheme: ClassScheme, code: str, lang: Lang) -> str:
    """``C类`` / ``class C`` for a letter; the class's name otherwise (``三级(失信)``)."""
    if len(code) == 1:
        return WHATIF_TEXT[lang]["cls"].format(code=code)
    d = {c.code: c for c in scheme.classes}.get(code)
    return (d.zh if lang == "zh" else d.en) if d else code


def _action(remedy: str, records: int, detail: str | None, lang: Lang) -> str:
    """What the enterprise does, in words (the years filed, when reports are owed)."""
    t = WHATIF_TEXT[lang]
    r = BY_KEY[remedy]
    if remedy != "annual_report":
        return r.zh if lang == "zh" else r.en
    years = [int(y) for y in (detail or "").split(",") if y]
    if not years:  # only a listing for unfiled reports to leave (the reports are in)
        return "申请移出经营异常名录" if lang == "zh" else "apply to leave the abnormal list"
    if len(years) > 4:
        text = t["years_many"].format(first=years[0], last=years[-1], n=len(years))
    else:
        text = t["years"].format(years=t["sep"].join(map(str, years)))
    return text + (t["and_remove"] if records > len(years) else "")


def whatif_sentences(rows: list[dict[str, Any]], scheme: ClassScheme, lang: Lang) -> list[str]:
    """One sentence per computed what-if of one enterprise (`pipelines.whatif` rows, in their
    order: each remedy alone, then all together); nothing for a row that was not computed
    exactly (``exact`` false): never a promise the model did not compute."""
    t = WHATIF_TEXT[lang]
    rules = {r.name: r for r in scheme.overrides}
    rows = [r for r in rows if r.get("exact") is True]
    alone = {str(r["scenario"]): r for r in rows if r["scenario"] != "all"}
    out = []
    for r in rows:
        before, after = round(float(r["score_before"])), round(float(r["score_after"]))
        cls = _class_name(scheme, str(r["class_final_after"]), lang)
        rule = rules.get(str(r.get("override_after")))
        held = r.get("override_held") is True and rule is not None
        # held by a rule: the score's own class in brackets, the rule's class after it
        own = _class_name(scheme, str(r["class_model_after"]), lang) if held else cls
        key = "down" if after < before else "up" if after > before else "same"
        if key == "same" and r["class_final_after"] != r["class_before"]:
            key = "moved"
        before_cls = _class_name(scheme, str(r["class_before"]), lang)
        effect = t[key].format(before=before, after=after, cls=own, before_cls=before_cls)
        if held and rule is not None:
            effect += t["held"].format(rule=rule.zh if lang == "zh" else rule.en, cls=cls)
            lifts = [k for k in str(r.get("lifted_by") or "").split(";") if k in alone]
            same_rule = r.get("override_after") == r.get("override_before")
            if lifts and same_rule and str(r["scenario"]) not in lifts:
                done = [
                    _action(k, int(alone[k]["records"]), alone[k].get("detail"), lang)
                    if lang == "zh"
                    else _DONE_EN[k]
                    for k in lifts
                ]
                effect += t["lift"].format(action=t["sep"].join(done), cls=cls)
        if r["scenario"] == "all":
            head = t["all"]
        else:
            head = _action(str(r["scenario"]), int(r["records"]), r.get("detail"), lang)
            if lang == "en":
                head = head[0].upper() + head[1:]
        out.append(f"{head}，{effect}。" if lang == "zh" else f"{head}: {effect}.")
    return out
