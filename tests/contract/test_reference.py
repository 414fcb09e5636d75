"""The shipped reference lists (`contract.reference`): the county-level divisions of all 31
provinces, the retired codes mapped to their successors, and Guangdong's rows kept byte for byte
(the simulator samples from them in file order)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

import pytest

from contract import reference

PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65",
}  # fmt: skip
ORIGINAL_COLUMNS = ["code", "name_zh", "name_en", "prefecture_code", "prefecture_zh"]
# sha256 of Guangdong's 124 rows (the five original columns, "," joined, "\n" after each) as
# they were in git HEAD before the list grew to the whole country.
GUANGDONG_SHA256 = "0ac9a8e2d17e40b90d2705bddc0f45cd92737a52d91dc59ed0ac6d74d7f3ae85"


def _divisions() -> list[dict[str, str]]:
    return reference.rows("divisions.csv")


def test_columns_keep_the_original_five_first() -> None:
    assert list(_divisions()[0]) == [*ORIGINAL_COLUMNS, "province_zh"]
    changes = reference.rows("division_changes.csv")
    assert list(changes[0]) == [
        "retired_code",
        "retired_name_zh",
        "successor_code",
        "successor_name_zh",
        "changed",
        "note",
    ]


def test_whole_country() -> None:
    rows = _divisions()
    assert len(rows) > 2800
    assert reference.provinces() == PROVINCES
    assert set(reference.province_names()) == PROVINCES
    assert reference.province_names()["44"] == "广东省"
    assert all(reference.province_names()[r["code"][:2]] == r["province_zh"] for r in rows)


def test_codes_unique_six_digits_and_named() -> None:
    rows = _divisions()
    codes = [r["code"] for r in rows]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert all(r["name_zh"] and r["prefecture_zh"] and r["province_zh"] for r in rows)
    assert all(r["prefecture_code"] == r["code"][:4] + "00" for r in rows)
    # no 市辖区 placeholders; the development-zone codes (xx71-xx79) of the NBS list are left out
    assert not any(r["name_zh"] == "市辖区" for r in rows)
    assert not any(c[4] == "7" for c in codes)
    assert reference.all_division_codes() == set(codes)


def test_special_divisions() -> None:
    codes = reference.all_division_codes()
    # prefecture-level cities without a county level: one row with the prefecture's own code
    assert {"441900", "442000", "460400", "620200"} <= codes
    assert "620201" not in codes
    # municipalities and 省直辖县级行政区划 with their real county codes
    assert {"110101", "120116", "310115", "500101", "500243"} <= codes
    assert {"419001", "429004", "429021", "469001", "659001", "659011"} <= codes
    assert reference.division_name("429021") == "神农架林区"
    assert reference.division_name("620200") == "嘉峪关市"


def test_guangdong_rows_unchanged() -> None:
    mine = [r for r in _divisions() if r["code"][:2] == "44"]
    assert len(mine) == 124
    text = "".join(",".join(r[c] for c in ORIGINAL_COLUMNS) + "\n" for r in mine)
    assert hashlib.sha256(text.encode("utf-8")).hexdigest() == GUANGDONG_SHA256
    assert [str(c) for c in reference.divisions("44").code] == [r["code"] for r in mine]
    assert all(r["province_zh"] == "广东省" for r in mine)


def test_divisions_of_one_province_in_file_order() -> None:
    rows = [r for r in _divisions() if r["code"][:2] == "65"]
    assert [str(c) for c in reference.divisions("65").code] == [r["code"] for r in rows]
    assert reference.division_codes("65") == {r["code"] for r in rows}
    with pytest.raises(reference.ReferenceError, match="'99'"):
        reference.divisions("99")


def test_successors_are_current_and_never_themselves() -> None:
    successors = reference.division_successors()
    current = reference.all_division_codes()
    assert len(successors) > 200
    assert all(re.fullmatch(r"\d{6}", c) for c in successors)
    assert not set(successors) & current
    assert set(successors.values()) <= current
    assert all(old != new for old, new in successors.items())
    changes = reference.rows("division_changes.csv")
    assert len({r["retired_code"] for r in changes}) == len(changes)
    assert all(re.fullmatch(r"(19|20)\d\d|", r["changed"]) for r in changes)
    assert all(
        reference.division_name(r["successor_code"]) == r["successor_name_zh"] for r in changes
    )


def test_guangzhou_examples() -> None:
    successors = reference.division_successors()
    assert successors["440116"] == "440112"  # 萝岗区 -> 黄埔区
    assert successors["440184"] == "440117"  # 从化市 -> 从化区
    assert successors["440183"] == "440118"  # 增城市 -> 增城区
    assert reference.division_name("440112") == "黄埔区"
    assert reference.division_name("440116") is None


def test_successors_returns_a_copy() -> None:
    reference.division_successors()["440116"] = "000000"
    assert reference.division_successors()["440116"] == "440112"


def test_division_codes_of() -> None:
    both = reference.division_codes_of(["44", "45"])
    assert both == reference.division_codes("44") | reference.division_codes("45")
    assert reference.division_codes_of(iter(["44"])) == reference.division_codes("44")
    assert reference.division_codes_of([]) == frozenset()
    with pytest.raises(reference.ReferenceError, match="'98'"):
        reference.division_codes_of(["44", "98"])
    with pytest.raises(TypeError):
        reference.division_codes_of("44")


@pytest.fixture
def fake_lists(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[dict[str, str]]]]:
    """Swap the shipped files for small ones; the caches are cleared before and after."""
    files: dict[str, list[dict[str, str]]] = {}
    monkeypatch.setattr(reference, "rows", lambda name: files[name])
    caches = (reference._names, reference._province_names, reference._successors)
    for f in caches:
        f.cache_clear()
    reference.all_division_codes.cache_clear()
    yield files
    for f in caches:
        f.cache_clear()
    reference.all_division_codes.cache_clear()


def _division(code: str) -> dict[str, str]:
    return {"code": code, "name_zh": code, "province_zh": "x"}


def _change(old: str, new: str) -> dict[str, str]:
    return {"retired_code": old, "successor_code": new}


def test_chains_are_followed(fake_lists: dict[str, list[dict[str, str]]]) -> None:
    fake_lists["divisions.csv"] = [_division("440112")]
    fake_lists["division_changes.csv"] = [_change("440116", "440199"), _change("440199", "440112")]
    assert reference.division_successors() == {"440116": "440112", "440199": "440112"}


@pytest.mark.parametrize(
    "changes",
    [
        [_change("440116", "440198")],  # ends at no current division
        [_change("440116", "440199"), _change("440199", "440116")],  # a cycle
        [_change("440112", "440116")],  # a current code listed as retired
    ],
)
def test_broken_changes_are_refused(
    fake_lists: dict[str, list[dict[str, str]]], changes: list[dict[str, str]]
) -> None:
    fake_lists["divisions.csv"] = [_division("440112")]
    fake_lists["division_changes.csv"] = changes
    with pytest.raises(reference.ReferenceError, match=r"division_changes\.csv"):
        reference.division_successors()
