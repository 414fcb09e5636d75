"""Month arithmetic on integer day numbers (days since 1970-01-01), vectorised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from contract.months import parse_month

NULL_DAY = np.iinfo(np.int32).min  # marks a missing date in int32 day arrays


def month_start(year: int, month: int) -> int:
    """The month's first day as a day number (days since 1970-01-01).

    >>> month_start(1970, 2)
    31
    """
    return int(
        np.datetime64(f"{year:04d}-{month:02d}", "M").astype("datetime64[D]").astype(np.int64)
    )


def month_label(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


@dataclass(frozen=True)
class Calendar:
    """The simulated months: ``warm_up`` months that are simulated but not delivered (the
    state reaches its steady state), ``burn_in`` delivered months of history before the
    window, then ``window`` months ending with ``end_month``. ``burn_in`` here is the index
    of the window's first month (warm-up included); ``delivered_from`` the index of the
    first delivered month.

    >>> cal = Calendar.ending("2026-10", window=3, burn_in=1, warm_up=2)
    >>> cal.label(0), cal.label(cal.delivered_from), cal.window_labels()
    ('2026-05', '2026-07', ['2026-08', '2026-09', '2026-10'])
    """

    year: npt.NDArray[np.int64]
    month: npt.NDArray[np.int64]  # 1..12
    start: npt.NDArray[np.int64]  # first day of each month
    ndays: npt.NDArray[np.int64]
    burn_in: int
    delivered_from: int = 0

    @classmethod
    def ending(cls, end_month: str, window: int, burn_in: int, warm_up: int = 0) -> Calendar:
        y, m = parse_month(end_month)
        total = window + burn_in + warm_up
        first = y * 12 + (m - 1) - (total - 1)
        idx = np.arange(first, first + total + 1)
        years, months = idx // 12, idx % 12 + 1
        starts = np.array([month_start(int(a), int(b)) for a, b in zip(years, months, strict=True)])
        return cls(
            year=years[:-1],
            month=months[:-1],
            start=starts[:-1],
            ndays=np.diff(starts),
            burn_in=burn_in + warm_up,
            delivered_from=warm_up,
        )

    @property
    def n_months(self) -> int:
        return len(self.start)

    @property
    def end_day(self) -> int:
        """Last day of the last simulated month."""
        return int(self.start[-1] + self.ndays[-1] - 1)

    @property
    def data_start(self) -> int:
        """First day of the first delivered month (records before it are not delivered)."""
        return int(self.start[self.delivered_from])

    def label(self, k: int) -> str:
        return month_label(int(self.year[k]), int(self.month[k]))

    def window_labels(self) -> list[str]:
        return [self.label(k) for k in range(self.burn_in, self.n_months)]

    def days_in(self, k: int, u: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """A day within month ``k`` for each uniform draw in ``u``."""
        days: npt.NDArray[np.int64] = self.start[k] + (u * self.ndays[k]).astype(np.int64)
        return days
