"""`riskclass simulate --difficulty {default,hard}`: a shortcut for --config (issue 19; the
difficulty benchmark calls `riskclass simulate --difficulty hard`)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.cli.data import DIFFICULTY_CONFIGS


def _simulate(tmp: Path, *extra: str) -> tuple[int, str]:
    args = [
        "simulate",
        "--enterprises",
        "1500",
        "--months",
        "3",
        "--seed",
        "5",
        "--workers",
        "1",
        "--out",
        str(tmp / "raw"),
        "--truth-out",
        str(tmp / "truth"),
        "--summary-out",
        str(tmp / "summary.json"),
        *extra,
    ]
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


def test_difficulty_selects_the_configuration(tmp_path: Path) -> None:
    assert DIFFICULTY_CONFIGS["hard"].name == "simulator_hard.yaml"
    assert DIFFICULTY_CONFIGS["hard"].is_file()
    code, out = _simulate(tmp_path / "hard", "--difficulty", "hard")
    assert code == 0, out
    hard = json.loads((tmp_path / "hard" / "summary.json").read_text())
    code, out = _simulate(tmp_path / "default", "--difficulty", "default")
    assert code == 0, out
    default = json.loads((tmp_path / "default" / "summary.json").read_text())
    assert hard != default  # same seed, another world


def test_difficulty_errors_name_the_problem(tmp_path: Path) -> None:
    code, out = _simulate(tmp_path, "--difficulty", "impossible")
    assert code != 0 and "--difficulty" in out
    code, out = _simulate(
        tmp_path, "--difficulty", "hard", "--config", str(DIFFICULTY_CONFIGS["default"])
    )
    assert code != 0 and "--config or --difficulty" in out
