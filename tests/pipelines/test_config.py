"""Configuration files are strict: unknown keys and bad values are errors that name the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.config import ConfigError, load_config
from simulator.config import SimulatorConfig
from tests.conftest import ROOT


def _write(tmp_path: Path, data: object) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def _base() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (ROOT / "configs" / "simulator.yaml").read_text(encoding="utf-8")
    )
    return data


def test_shipped_config_loads() -> None:
    cfg = load_config(ROOT / "configs" / "simulator.yaml", SimulatorConfig)
    assert cfg.inspections.class_rates == {"A": 0.01, "B": 0.03, "C": 0.10, "D": 0.20}


def test_config_is_frozen() -> None:
    cfg = load_config(ROOT / "configs" / "simulator.yaml", SimulatorConfig)
    with pytest.raises(Exception, match="frozen"):
        cfg.chunk_size = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(chunk_sise=10), "chunk_sise: Extra inputs are not permitted"),
        (
            lambda d: d["risk"].update(problem_slop=1.0),
            "risk.problem_slop: Extra inputs are not permitted",
        ),
        (lambda d: d["inspections"]["class_rates"].pop("D"), "inspections.class_rates"),
        (
            lambda d: d["inspections"]["class_rates"].update(A=0.0),
            "every class rate must be positive",
        ),
        (lambda d: d["inspections"].update(rounds_per_year=5), "rounds_per_year must divide 12"),
        (lambda d: d.update(end_month="2026-13"), "end_month must be YYYY-MM"),
        (
            lambda d: d["population"]["entity_type_shares"].update(enterprise=0.5),
            "shares must sum to 1",
        ),
        (lambda d: d["legacy_scheme"].update(thresholds={"B": 50, "C": 40, "D": 70}), "B < C < D"),
        (
            lambda d: d["population"].update(cluster_address_share=1.5),
            "population.cluster_address_share",
        ),
        (lambda d: d.pop("risk"), "risk: Field required"),
    ],
)
def test_invalid_config_names_the_key(
    tmp_path: Path, edit: Callable[[dict[str, Any]], object], message: str
) -> None:
    data = _base()
    edit(data)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        load_config(_write(tmp_path, data), SimulatorConfig)
    assert "c.yaml" in str(info.value)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml", SimulatorConfig)
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad, SimulatorConfig)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(listy, SimulatorConfig)
