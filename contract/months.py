"""Months as the project writes them (``YYYY-MM``) and their last days.

``as_of`` means one thing everywhere: the month a run is for, a :class:`Month`. Its last day is
``Month.end`` (a date); feature definitions read it as a SQL date literal, ``Window.end``
(`features.engine`).

>>> m = Month("2026-10")
>>> m, m.end, m.previous, m + 3
('2026-10', datetime.date(2026, 10, 31), '2026-09', '2027-01')
>>> Month("2026-13")
Traceback (most recent call last):
ValueError: a month is written YYYY-MM, got '2026-13'

>>> month_end(*parse_month("2024-02"))
datetime.date(2024, 2, 29)
>>> previous_month("2026-01")
'2025-12'
>>> months_between("2025-11", "2026-01")
['2025-11', '2025-12', '2026-01']
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any


class Month(str):
    """A calendar month, ``YYYY-MM``: a ``str`` (so it is written, compared and sorted as the
    project always wrote months) that is checked when made."""

    __slots__ = ()

    def __new__(cls, text: str) -> Month:
        parse_month(text)
        return super().__new__(cls, text)

    @property
    def year(self) -> int:
        return parse_month(self)[0]

    @property
    def number(self) -> int:
        """The month of the year, 1-12."""
        return parse_month(self)[1]

    @property
    def end(self) -> dt.date:
        """The month's last day (features are computed as of its end)."""
        return month_end(*parse_month(self))

    @property
    def previous(self) -> Month:
        return Month(previous_month(self))

    def __add__(self, k: object) -> Any:  # an int moves the month; a str concatenates as str does
        if isinstance(k, int):
            return Month(add_months(self, k))
        return str.__add__(self, k)  # type: ignore[operator]

    def __sub__(self, k: int) -> Month:
        return Month(add_months(self, -k))


def parse_month(text: str) -> tuple[int, int]:
    """``'2026-10'`` -> ``(2026, 10)``; a clear error otherwise."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", text or "")
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"a month is written YYYY-MM, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def month_end(year: int, month: int) -> dt.date:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def months_between(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` inclusive, as ``YYYY-MM``."""
    y, m = parse_month(first)
    y2, m2 = parse_month(last)
    if (y, m) > (y2, m2):
        raise ValueError(f"month range {first} .. {last} is empty")
    out = []
    while (y, m) <= (y2, m2):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def previous_month(month: str) -> str:
    """The month before ``month`` (labels of month M use the features of M's previous month end)."""
    y, m = parse_month(month)
    return f"{y - 1:04d}-12" if m == 1 else f"{y:04d}-{m - 1:02d}"


def add_months(month: str, k: int) -> str:
    """``month`` moved by ``k`` months (negative: back)."""
    y, m = parse_month(month)
    idx = y * 12 + (m - 1) + k
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"
