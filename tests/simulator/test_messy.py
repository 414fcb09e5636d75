"""The `--messy` copy is corrupted the way departmental exports are, and its manifest says
exactly where, so that ingestion can be tested against a known answer."""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from stdnum.cn import uscc as stdnum_uscc

from contract.tables import SIMULATED, TABLES
from pipelines.simulate.messy import read_table


def _normalise(code: str) -> str:
    return unicodedata.normalize("NFKC", code).replace(" ", "").upper()


def _load(folder: Path, info: dict) -> pd.DataFrame:  # type: ignore[type-arg]
    path = folder / info["file"]
    if info["format"] == "xlsx":
        return pd.read_excel(path, skiprows=info["title_rows"], dtype=str, engine="openpyxl")
    text = path.read_bytes().decode(info["encoding"])
    return pd.read_csv(
        io.StringIO(text), skiprows=info["title_rows"], dtype=str, keep_default_na=False
    ).replace("", None)


@pytest.fixture(scope="module")
def messy(small_province):  # type: ignore[no-untyped-def]
    return small_province["base"] / "messy", small_province["manifest"]


def test_every_table_exported_with_varied_shapes(messy) -> None:  # type: ignore[no-untyped-def]
    folder, manifest = messy
    tables = manifest["tables"]
    assert set(tables) == set(SIMULATED)
    assert {t["encoding"] for t in tables.values()} >= {"utf-8", "utf-8-sig", "gb18030"}
    assert any(t["format"] == "xlsx" for t in tables.values())
    assert any(t["chinese_headers"] for t in tables.values()) and any(
        not t["chinese_headers"] for t in tables.values()
    )
    assert any(t["title_rows"] for t in tables.values())
    assert {t["date_format"] for t in tables.values()} >= {"mixed", "excel_serial", "%Y%m%d"}
    assert (folder / "manifest.json").is_file()


@pytest.mark.parametrize("name", list(SIMULATED))
def test_faults_are_where_the_manifest_says(messy, small_province, name: str) -> None:  # type: ignore[no-untyped-def]
    folder, manifest = messy
    info = manifest["tables"][name]
    df = _load(folder, info)
    clean = read_table(small_province["raw"], name)
    registry = set(read_table(small_province["raw"], "enterprises")["uscc"])
    spec = TABLES[name]
    zh = {c.zh: c.name for c in spec.columns} | {"企业名称": "name", "注册号": "reg_no"}
    df = df.rename(columns=zh)
    assert list(df.columns[: len(spec.columns)]) == list(spec.column_names)
    # rows reconcile: clean rows plus the appended duplicates
    assert (
        len(df)
        == info["rows"]
        == len(clean) + info["faults"]["duplicate"] + info["faults"]["natural_key_duplicate"]
    )
    rows = info["fault_rows"]
    for i in rows["invalid_uscc"]:
        assert not stdnum_uscc.is_valid(_normalise(df.at[i, "uscc"]))
    for i in rows["fullwidth"]:
        assert df.at[i, "uscc"] != clean.at[i, "uscc"]
        assert _normalise(df.at[i, "uscc"]) == clean.at[i, "uscc"]
    for i in rows.get("unknown_enterprise", []):
        code = df.at[i, "uscc"]
        assert stdnum_uscc.is_valid(code) and code not in registry
    if "name_only" in rows:
        names = read_table(small_province["raw"], "enterprises").set_index("uscc")["name"]
        for i in rows["name_only"]:
            assert pd.isna(df.at[i, "uscc"])
            fixed = unicodedata.normalize("NFKC", df.at[i, "name"]).strip()
            assert fixed == names[clean.at[i, "uscc"]]
        for i in rows["reg_no_only"]:
            assert pd.isna(df.at[i, "uscc"]) and len(df.at[i, "reg_no"]) == 15
    # untouched rows keep their code
    touched = {i for k, v in rows.items() for i in v}
    untouched = [i for i in range(len(clean)) if i not in touched][:200]
    assert (df.loc[untouched, "uscc"].to_numpy() == clean.loc[untouched, "uscc"].to_numpy()).all()
    # appended exact duplicates repeat an earlier row
    for i in rows["duplicate"][:20]:
        assert (df.iloc[:i] == df.iloc[i]).all(axis=1).any() or df.iloc[i].isna().any()


def test_amounts_written_as_text(messy) -> None:  # type: ignore[no-untyped-def]
    folder, manifest = messy
    info = manifest["tables"]["penalties"]
    df = _load(folder, info).rename(columns={c.zh: c.name for c in TABLES["penalties"].columns})
    texts = df.loc[info["fault_rows"]["amount_text"], "amount"].dropna().astype(str)
    assert texts.str.contains("万元|元|,").any()
