"""The command line: discoverable, with examples, and clear errors (exit code 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from tests.conftest import ROOT

runner = CliRunner()


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("simulate", "contract-docs"):
        assert command in result.output


def test_every_command_has_an_example() -> None:
    for command in ("simulate", "contract-docs"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0
        assert "Example" in result.output and f"riskclass {command}" in result.output


def test_simulate_writes_tables_and_summary(tmp_path: Path) -> None:
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(
        (ROOT / "configs" / "simulator.yaml")
        .read_text(encoding="utf-8")
        .replace("chunk_size: 50000", "chunk_size: 1000"),
        encoding="utf-8",
    )
    result = runner.invoke(
        app,
        [
            *("simulate", "--config", str(cfg), "--enterprises", "1500", "--months", "12"),
            *(
                "--seed",
                "3",
                "--out",
                str(tmp_path / "raw"),
                "--truth-out",
                str(tmp_path / "truth"),
            ),
            *("--summary-out", str(tmp_path / "s.json"), "--workers", "1"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "oracle AUC" in result.output and "enterprises" in result.output
    summary = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert summary["enterprises"] == 1500 and summary["rows"]["enterprises"] == 1500
    assert len(list((tmp_path / "raw" / "penalties").glob("part-*.parquet"))) == 2


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(
        (ROOT / "configs" / "simulator.yaml").read_text(encoding="utf-8") + "\nextra_knob: 1\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["simulate", "--config", str(cfg), "--out", str(tmp_path / "raw")])
    assert result.exit_code == 2
    assert "extra_knob" in result.output and "sim.yaml" in result.output
    assert not (tmp_path / "raw").exists()


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "--enterprises",
            "0",
            "--out",
            str(tmp_path / "raw"),
            "--truth-out",
            str(tmp_path / "t"),
        ],
    )
    assert result.exit_code == 2 and "--enterprises must be at least 1" in result.output
    result = runner.invoke(
        app, ["simulate", "--out", str(tmp_path / "same"), "--truth-out", str(tmp_path / "same")]
    )
    assert result.exit_code == 2 and "apart from the raw data" in result.output


def test_contract_docs_command(tmp_path: Path) -> None:
    out = tmp_path / "contract.md"
    result = runner.invoke(app, ["contract-docs", "--out", str(out)])
    assert result.exit_code == 0
    assert "统一社会信用代码" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["ingest", "features", "classify", "report", "plan", "seal"])
def test_a_bad_month_is_a_clear_error(command: str) -> None:
    result = runner.invoke(app, [command, "--as-of", "2026-13"])
    assert result.exit_code == 2
    assert "Invalid value for '--as-of'" in result.output
    assert "a month is written YYYY-MM, got '2026-13'" in result.output


def test_the_callback_turns_telemetry_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DO_NOT_TRACK", raising=False)
    result = runner.invoke(app, ["contract-docs", "--out", str(tmp_path / "c.md")])
    assert result.exit_code == 0
    assert os.environ["DO_NOT_TRACK"] == "1"


def test_python_dash_m_runs_the_same_app() -> None:  # DVC's stages call `python -m pipelines.cli`
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "simulate-loop" in done.stdout
