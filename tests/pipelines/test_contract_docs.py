"""`riskclass contract-docs`: docs/data-contract.md is generated from the contract and current."""

from __future__ import annotations

from contract.tables import TABLES
from pipelines.contract_docs import render_contract, write_contract_docs
from tests.conftest import ROOT


def test_generated_docs_are_up_to_date() -> None:
    """docs/data-contract.md is generated; regenerate with `make docs` after a contract change."""
    on_disk = (ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    assert on_disk == render_contract()


def test_docs_name_every_column_in_both_languages() -> None:
    text = render_contract()
    for t in TABLES.values():
        assert f"### {t.name}" in text
        for c in t.columns:
            assert f"| `{c.name}` |" in text and c.zh in text


def test_written_file_is_the_rendering(tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "docs" / "data-contract.md"
    write_contract_docs(out)
    assert out.read_text(encoding="utf-8") == render_contract()
    assert [p.name for p in out.parent.iterdir()] == ["data-contract.md"], "no temporary left"
