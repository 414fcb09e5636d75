"""Monthly deliveries cut from raw files (`simulator.deliveries`): the history holds what was
received by a month's end, the month's delivery what was received within it plus the whole
registry as it stands then, and together they hold every row exactly once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from simulator.deliveries import cut_history, cut_month


def _raw(tmp: Path) -> Path:
    raw = tmp / "raw"
    (raw / "enterprises").mkdir(parents=True)
    (raw / "penalties").mkdir()
    d = dt.date
    pq.write_table(
        pa.table(
            {
                "uscc": ["A", "B", "C"],
                "established_date": [d(2020, 1, 1), d(2026, 9, 3), d(2026, 10, 9)],
            }
        ),
        raw / "enterprises" / "part-0.parquet",
    )
    pq.write_table(
        pa.table(
            {
                "decision_no": ["P1", "P2", "P3", "P4"],
                "decision_date": [d(2026, 8, 1), d(2026, 9, 1), d(2026, 9, 28), d(2026, 10, 2)],
                "received_date": [d(2026, 8, 5), d(2026, 9, 30), d(2026, 10, 1), d(2026, 10, 31)],
            }
        ),
        raw / "penalties" / "part-0.parquet",
    )
    return raw


def _ids(path: Path, col: str) -> list[str]:
    return sorted(pq.read_table(path).column(col).to_pylist())


def test_history_and_month_split_by_receipt(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    hist = cut_history(raw, tmp_path / "hist", "2026-09")
    month = cut_month(raw, tmp_path / "month", "2026-10")
    assert _ids(tmp_path / "hist" / "penalties.parquet", "decision_no") == ["P1", "P2"]
    assert _ids(tmp_path / "month" / "penalties.parquet", "decision_no") == ["P3", "P4"]
    # the registry as it stands at each month's end, delivered whole
    assert _ids(tmp_path / "hist" / "enterprises.parquet", "uscc") == ["A", "B"]
    assert _ids(tmp_path / "month" / "enterprises.parquet", "uscc") == ["A", "B", "C"]
    assert hist == {"enterprises": 2, "penalties": 2} and month == {
        "enterprises": 3,
        "penalties": 2,
    }


def test_a_january_delivery_starts_after_december(tmp_path: Path) -> None:
    raw = _raw(tmp_path)
    got = cut_month(raw, tmp_path / "jan", "2027-01")
    assert got["penalties"] == 0 and got["enterprises"] == 3
