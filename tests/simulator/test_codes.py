"""Identifiers are valid by the standards' own check algorithms and never repeat."""

from __future__ import annotations

import numpy as np
from stdnum.cn import uscc

from simulator import codes


def test_uscc_valid_and_unique_for_both_styles() -> None:
    idx = np.arange(0, 50_000, dtype=np.int64) * 97
    out = codes.make_uscc(
        idx, np.full(len(idx), 440305), np.array([1, 2, 3])[idx % 3], idx % 2 == 0
    )
    assert len(set(out)) == len(out)
    assert all(uscc.is_valid(u) for u in out)
    assert {u[1] for u in out} == {"1", "2", "3"}
    assert all(u[2:8] == "440305" for u in out)
    assert any(u[8:10] == "MA" for u in out) and any(u[8:16].isdigit() for u in out)


def test_organisation_check_character_matches_gb11714_example() -> None:
    # The standard's worked example: D2143569 -> check character X.
    body = np.frombuffer(b"D2143569", dtype=np.uint8).reshape(1, 8)
    assert bytes(codes.organisation_check(body)) == b"X"


def test_registration_numbers_pass_iso7064() -> None:
    idx = np.arange(10_000, dtype=np.int64)
    out = codes.make_reg_no(idx, np.full(len(idx), 440106))
    assert len(set(out)) == len(out)
    assert all(codes.reg_no_is_valid(r) for r in out)
    bad = out[0][:-1] + str((int(out[0][-1]) + 1) % 10)
    assert not codes.reg_no_is_valid(bad)


def test_person_ids_are_hex_and_unique() -> None:
    ids = codes.make_person_ids(np.arange(100_000, dtype=np.int64), salt=7)
    assert len(set(ids)) == len(ids)
    assert all(len(p) == 16 and int(p, 16) >= 0 for p in ids[:100])
    assert not np.array_equal(
        ids, codes.make_person_ids(np.arange(100_000, dtype=np.int64), salt=8)
    )
