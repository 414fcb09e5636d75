"""Point in time: nothing dated or received after the month end changes any feature.

On the simulated province, features for 2025-06 are built twice: from the ingested data,
and from a copy to which the future has been added - every event record copied to dates
after the month end, every record copied again as if received late, roles ended, listings
removed, penalties repaired, cases closed, licences revoked, pledges released, enterprises
deregistered or revoked, and registrations changed, all after the month end; plus
enterprises established after it. Every value must be identical.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from contract.tables import TABLES
from pipelines import store
from tests.features.tiny import build

MONTH = "2025-06"
END = dt.date(2025, 6, 30)
EPOCH = dt.date(1970, 1, 1)
E = (END - EPOCH).days
LATER = (dt.date(2026, 12, 1) - EPOCH).days  # after everything the province holds


def _days(col: pa.ChunkedArray) -> np.ndarray:
    return pc.cast(col, pa.int32()).to_numpy(zero_copy_only=False).astype("float64")


def _dates(values: np.ndarray) -> pa.Array:
    mask = np.isnan(values)
    return pc.cast(pa.array(np.where(mask, 0, values).astype("int32"), mask=mask), pa.date32())


def _set(t: pa.Table, name: str, arr: pa.Array) -> pa.Table:
    return t.set_column(t.schema.get_field_index(name), name, arr)


def _date_cols(t: pa.Table) -> list[str]:
    return [f.name for f in t.schema if pa.types.is_date32(f.type)]


def _future_copy(name: str, t: pa.Table) -> pa.Table:
    """Every row again, shifted so that its event date falls after the month end."""
    event = TABLES[name].event_date
    ev = _days(t.column(event))
    delta = (E + 1 + np.arange(t.num_rows) % 400) - ev
    for col in _date_cols(t):
        t = _set(t, col, _dates(_days(t.column(col)) + delta))
    return t


def _late_copy(name: str, t: pa.Table) -> pa.Table:
    """Rows dated on or before the month end, received only after it."""
    ev = _days(t.column(TABLES[name].event_date))
    t = t.filter(pa.array(ev <= E))
    received = E + 1 + np.arange(t.num_rows) % 30
    return _set(t, "received_date", _dates(received.astype("float64")))


def _end_after(t: pa.Table, col: str, offset: int, every: int, start: str) -> pa.Table:
    """For every ``every``-th open row that began by the month end, end it just after."""
    cur = _days(t.column(col))
    began = _days(t.column(start)) <= E
    pick = np.isnan(cur) & began & (np.arange(t.num_rows) % every == 0)
    return _set(t, col, _dates(np.where(pick, E + offset, cur))), pick


def _with_future(src: Path, dst: Path) -> dict[str, int]:
    dst.mkdir()
    added = {}
    # the copy is written in the single-file layout (which the store still reads)
    for name, snap in store.open_tables(src).items():
        # in natural-key order, as the single file the copies were designed on had it (the
        # copies are made by row position)
        t = snap.arrow().sort_by([(k, "ascending") for k in TABLES[name].natural_key])
        spec = TABLES[name]
        parts = [t]
        if spec.event_date is not None:
            parts += [_future_copy(name, t), _late_copy(name, t)]
        if name == "persons" or name == "enterprise_links":
            parts[0], _ = _end_after(t, "to_date", 10, 3, "from_date")
        elif name in ("abnormal_list", "serious_dishonest_list"):
            t2, pick = _end_after(t, "removed_date", 5, 2, "listed_date")
            t2 = _set(
                t2,
                "removal_received_date",
                _dates(np.where(pick, E + 6, _days(t2.column("removal_received_date")))),
            )
            reason = "report_filed" if name == "abnormal_list" else "expired"
            old = t2.column("removal_reason").to_pylist()
            t2 = _set(
                t2,
                "removal_reason",
                pa.array([reason if p else o for p, o in zip(pick, old, strict=True)], pa.string()),
            )
            parts[0] = t2
        elif name == "penalties":
            parts[0], _ = _end_after(t, "repaired_date", 3, 2, "decision_date")
        elif name == "credit_repairs":
            # repairs revoked after the month end (the revocation received later still)
            granted = np.asarray(t.column("decision").to_pylist(), dtype=object) == "granted"
            t2, pick = _end_after(t, "revoked_date", 4, 2, "decided_date")
            pick &= granted
            old_rev = _days(t.column("revoked_date"))
            t2 = _set(t2, "revoked_date", _dates(np.where(pick, E + 4, old_rev)))
            t2 = _set(
                t2,
                "revocation_received_date",
                _dates(np.where(pick, E + 9, _days(t2.column("revocation_received_date")))),
            )
            reasons = t2.column("revocation_reason").to_pylist()
            t2 = _set(
                t2,
                "revocation_reason",
                pa.array(
                    ["false_materials" if p else r for p, r in zip(pick, reasons, strict=True)],
                    pa.string(),
                ),
            )
            parts[0] = t2
            added["repairs_revoked_later"] = int(pick.sum())
        elif name == "commitments":
            # the result of an assessment made after the month end turns the other way
            made, assessed = _days(t.column("made_date")), _days(t.column("assessed_date"))
            pick = (made <= E) & (assessed > E)
            kept = t.column("kept").to_pylist()
            flipped = [(not k) if p else k for p, k in zip(pick, kept, strict=True)]
            parts[0] = _set(t, "kept", pa.array(flipped, pa.bool_()))
            added["commitments_assessed_later"] = int(pick.sum())
        elif name == "judicial":
            parts[0], _ = _end_after(t, "closed_date", 7, 1, "filed_date")
        elif name == "licences":
            parts[0], _ = _end_after(t, "revoked_date", 2, 4, "issued_date")
        elif name == "pledges":
            parts[0], _ = _end_after(t, "released_date", 4, 1, "registered_date")
        elif name == "enterprises":
            t2, pick = _end_after(t, "deregistered_date", 20, 10, "established_date")
            status = [
                ("deregistered" if p else s)
                for p, s in zip(pick, t2.column("status").to_pylist(), strict=True)
            ]
            t2 = _set(t2, "status", pa.array(status, pa.string()))
            t2, _ = _end_after(t2, "revoked_date", 15, 15, "established_date")
            # new enterprises established after the month end
            new = _set(
                t,
                "uscc",
                pc.binary_join_element_wise("F", pc.utf8_slice_codeunits(t.column("uscc"), 1), ""),
            )
            new = _set(new, "established_date", _dates(E + 1 + np.arange(t.num_rows) % 300.0))
            new = _set(new, "deregistered_date", pa.nulls(t.num_rows, pa.date32()))
            new = _set(new, "revoked_date", pa.nulls(t.num_rows, pa.date32()))
            new = _set(new, "status", pa.array(["operating"] * t.num_rows, pa.string()))
            # every 7th enterprise moves after the province's last month: registry updated
            move = np.arange(t.num_rows) % 7 == 0
            old_addr = t2.column("address_id").to_pylist()
            new_addr = [f"{a}-moved" if m else a for a, m in zip(old_addr, move, strict=True)]
            t2 = _set(t2, "address_id", pa.array(new_addr, pa.string()))
            parts = [t2, new]
            moves = pa.table(
                {
                    "uscc": t.column("uscc").filter(pa.array(move)),
                    "change_kind": pa.array(["address"] * int(move.sum()), pa.string()),
                    "change_date": _dates(np.full(int(move.sum()), float(LATER))),
                    "received_date": _dates(np.full(int(move.sum()), float(LATER + 3))),
                    "before_value": pa.array(
                        [a for a, m in zip(old_addr, move, strict=True) if m], pa.string()
                    ),
                    "after_value": pa.array(
                        [a for a, m in zip(new_addr, move, strict=True) if m], pa.string()
                    ),
                }
            )
            added["address_moves"] = moves.num_rows
            pq.write_table(moves, dst / "_moves.parquet")
        out = pa.concat_tables([p.cast(t.schema) for p in parts])
        added[name] = out.num_rows - t.num_rows
        pq.write_table(out, dst / f"{name}.parquet")
    moves = pq.read_table(dst / "_moves.parquet")
    changes = pq.read_table(dst / "changes.parquet")
    # the ingested table also carries lineage columns: the moves leave them empty
    both = pa.concat_tables([changes, moves], promote_options="permissive")
    schema = pa.schema([f.with_nullable(True) for f in changes.schema])
    pq.write_table(both.select(changes.schema.names).cast(schema), dst / "changes.parquet")
    (dst / "_moves.parquet").unlink()
    return added


def _same(a: dict, b: dict) -> list[str]:
    diffs = []
    for uscc, row in a.items():
        for k, v in row.items():
            w = b[uscc][k]
            if v != w and not (
                isinstance(v, float)
                and isinstance(w, float)
                and math.isclose(v, w, rel_tol=1e-12, abs_tol=1e-12)
            ):
                diffs.append(f"{uscc}.{k}: {v!r} -> {w!r}")
    return diffs


def test_no_record_after_the_month_end_changes_any_feature(small_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = small_interim[1]
    future = tmp_path / "future"
    added = _with_future(src, future)
    assert added["penalties"] > 0 and added["persons"] > 0 and added["address_moves"] > 0
    assert added["repairs_revoked_later"] > 0 and added["commitments_assessed_later"] > 0
    before = build(src, MONTH)
    after = build(future, MONTH)
    assert set(before) == set(after), "the population changed"
    diffs = _same(before, after)
    assert not diffs, f"{len(diffs)} values changed, e.g. {diffs[:10]}"

    # the additions are real: a later month does see them
    later_before, later_after = build(src, "2026-06"), build(future, "2026-06")
    assert set(later_before) != set(later_after)  # established / deregistered since
    common = set(later_before) & set(later_after)
    assert _same({k: later_before[k] for k in common}, later_after)


def test_leakage_copy_is_a_real_copy(small_interim, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Guard for the test above: the source folder itself is never modified."""
    src = small_interim[1]
    before = {p.relative_to(src): p.stat().st_size for p in src.rglob("*.parquet")}
    assert before, "the source folder's data files are found"
    shutil.copytree(src, tmp_path / "copy")
    _with_future(tmp_path / "copy", tmp_path / "future")
    assert {p.relative_to(src): p.stat().st_size for p in src.rglob("*.parquet")} == before
