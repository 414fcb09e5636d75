"""A link in a delivery folder that leads outside it is refused, not followed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.intake.readers import StructuralError, discover


def test_a_link_out_of_the_delivery_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "secret.csv"
    outside.parent.mkdir()
    outside.write_text("uscc,name\n", encoding="utf-8")
    delivery = tmp_path / "delivery"
    delivery.mkdir()
    (delivery / "enterprises.csv").symlink_to(outside)
    with pytest.raises(StructuralError, match=r"enterprises.csv is a link .* \[rule: no links"):
        discover(delivery)


def test_a_link_inside_a_table_folder_is_refused_too(tmp_path: Path) -> None:
    outside = tmp_path / "part.parquet"
    outside.write_bytes(b"PAR1")
    folder = tmp_path / "delivery" / "penalties"
    folder.mkdir(parents=True)
    (folder / "part-0.parquet").symlink_to(outside)
    with pytest.raises(StructuralError, match=r"penalties/part-0.parquet is a link"):
        discover(tmp_path / "delivery")


def test_a_link_within_the_delivery_is_allowed(tmp_path: Path) -> None:
    delivery = tmp_path / "delivery"
    (delivery / "originals").mkdir(parents=True)
    (delivery / "originals" / "x.csv").write_text("uscc\n", encoding="utf-8")
    (delivery / "enterprises.csv").symlink_to(delivery / "originals" / "x.csv")
    found, _ = discover(delivery)
    assert found["enterprises"] == delivery / "enterprises.csv"
