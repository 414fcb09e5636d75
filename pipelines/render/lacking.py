"""The information groups the data lacked: what model cards and enterprise reports say when a
bureau could not deliver some contract tables.

The features stage writes into every monthly feature file's schema metadata the key
``riskclass.absent_tables``: a JSON object ``{table: reason}`` (the bureau's reason from
``unavailable:`` of ``configs/ingest.yaml``, or ``"not delivered"`` for an optional table
simply absent); the key is absent when nothing was missing. Those tables' features are then
missing (NaN), never zero. Here: reading the key (`absent_tables`, `union`), the groups of
`contract.tables.GROUPS` it leaves short (`lacking_groups`), and the wording of the model card
(`card_section`) and of a report (`report_line`).

>>> absent_tables(None)
{}
>>> report_line({}, "zh") is None
True
>>> [g.group for g in lacking_groups({"social": "not delivered", "complaints": "系统未对接"})]
['supervision', 'social']
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from contract.tables import GROUPS, TABLES

#: The schema-metadata key of a feature file (written by `pipelines.features`).
KEY = "riskclass.absent_tables"
#: The reason of an optional table that was simply not delivered.
NOT_DELIVERED = "not delivered"
_NOT_DELIVERED_ZH = "未报送"


def absent_tables(metadata: Mapping[bytes, bytes] | None) -> dict[str, str]:
    """table -> reason from a feature file's schema metadata; empty when the key is absent."""
    raw = (metadata or {}).get(KEY.encode())
    if not raw:
        return {}
    data = json.loads(raw.decode("utf-8"))
    return {str(k): str(v) for k, v in dict(data).items()}


def union(many: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """The tables absent in any of several feature files (months); a table given different
    reasons in different months keeps each of them, in order, joined by "; "."""
    reasons: dict[str, list[str]] = {}
    for absent in many:
        for table, reason in absent.items():
            seen = reasons.setdefault(table, [])
            if reason not in seen:
                seen.append(reason)
    return {t: "; ".join(r) for t, r in sorted(reasons.items())}


@dataclass(frozen=True)
class LackingTable:
    name: str
    zh: str
    en: str
    reason: str

    def reason_in(self, lang: str) -> str:
        """The reason as a reader of ``lang`` reads it (the bureau's own text as given)."""
        if lang == "zh" and self.reason == NOT_DELIVERED:
            return _NOT_DELIVERED_ZH
        return self.reason


@dataclass(frozen=True)
class LackingGroup:
    group: str
    zh: str
    en: str
    tables: tuple[LackingTable, ...]


def lacking_groups(absent: Mapping[str, str]) -> list[LackingGroup]:
    """The information groups that ``absent`` tables leave short, in `GROUPS` order, each with
    its tables in contract order. A name that is not a contract table is shown as given,
    in no group of its own ("other")."""
    out = []
    for g, (zh, en) in GROUPS.items():
        tables = tuple(
            LackingTable(t, spec.zh, spec.en, absent[t])
            for t, spec in TABLES.items()
            if t in absent and spec.group == g
        )
        if tables:
            out.append(LackingGroup(g, zh, en, tables))
    unknown = tuple(LackingTable(t, t, t, absent[t]) for t in sorted(set(absent) - set(TABLES)))
    if unknown:
        out.append(LackingGroup("other", "其他", "Other", unknown))
    return out


def report_line(absent: Mapping[str, str], lang: str) -> str | None:
    """The line of an enterprise report (None when nothing was absent: the report then says
    nothing about it)."""
    groups = lacking_groups(absent)
    if not groups:
        return None
    if lang == "zh":
        parts = "；".join(
            f"{g.zh}（" + "；".join(f"{t.zh}：{t.reason_in('zh')}" for t in g.tables) + "）"
            for g in groups
        )
        return f"本次评价所用数据缺少以下信息组：{parts}。相关指标按缺失处理，不按零计。"
    parts = "; ".join(
        f"{g.en} (" + "; ".join(f"{t.en}: {t.reason_in('en')}" for t in g.tables) + ")"
        for g in groups
    )
    return (
        f"The data used for this assessment lacked these information groups: {parts}. "
        "Their indicators are treated as missing, not as zero."
    )


def card_section(absent: Mapping[str, str]) -> list[str]:
    """The model card's section (Markdown lines, a blank line last)."""
    lines = ["## 数据缺失的信息组 / Information groups the data lacked", ""]
    groups = lacking_groups(absent)
    if not groups:
        return [
            *lines,
            "- 五类信息组的数据均已提供 / All five information groups were delivered.",
            "",
        ]
    for g in groups:
        lines.append(f"- {g.zh} / {g.en}:")
        for t in g.tables:
            reason = t.reason_in("zh")
            shown = reason if reason == t.reason else f"{reason} / {t.reason}"
            lines.append(f"  - `{t.name}` {t.zh} / {t.en}: {shown}")
    lines += [
        "",
        "这些表的指标在所用特征文件中均为缺失值（NaN），不是零：模型没有从这些信息中学习。 / "
        "The features of these tables are missing (NaN), not zero, in the feature files "
        "used: the model never learned from them.",
        "",
    ]
    return lines
