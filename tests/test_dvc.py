"""`dvc repro` works in a fresh clone with no remote, and a second run has nothing to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, f"{' '.join(cmd)}\n{out.stdout}\n{out.stderr}"
    return out.stdout


def test_dvc_repro_in_a_fresh_clone(tmp_path: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    clone = tmp_path / "clone"
    for rel in files:
        src = ROOT / rel
        if src.is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, clone / rel)
    (clone / "dvc.lock").unlink(missing_ok=True)
    params = yaml.safe_load((clone / "params.yaml").read_text(encoding="utf-8"))
    params["simulate"].update(enterprises=3000, months=12)
    params["train"].update(trials=2)
    params["loop"].update(months=3, retrain_every=2)
    (clone / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
    }
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "test"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "test@example.invalid"
    _run(["git", "init", "-q"], clone, env)
    _run(["git", "add", "-A"], clone, env)
    _run(["git", "commit", "-qm", "clone"], clone, env)
    dvc = str(Path(bin_dir) / "dvc")
    _run([dvc, "repro"], clone, env)
    assert len(list((clone / "data" / "raw" / "enterprises").glob("part-*.parquet"))) == 1
    assert (clone / "data" / "truth" / "enterprise_months").is_dir()
    assert (clone / "outputs" / "simulation_summary.json").is_file()
    feats = sorted(p.name for p in (clone / "data" / "processed" / "features").glob("*.parquet"))
    assert len(feats) == 25 and feats[-1] == "2026-10.parquet"
    assert (clone / "outputs" / "2026-10" / "classes.parquet").is_file()
    reports = clone / "outputs" / "2026-10" / "reports"
    assert len(list((reports / "sample").glob("9*.html"))) == 20  # the seeded sample
    assert (reports / "sample" / "index.html").is_file()
    assert any(reports.glob("9*.html"))  # every class-D enterprise
    assert (clone / "mlruns" / "mlflow.db").is_file()
    assert (clone / "outputs" / "2026-10" / "plans" / "routine" / "plan.csv").is_file()
    assert (clone / "outputs" / "2026-10" / "warnings.parquet").is_file()
    assert (clone / "outputs" / "loop" / "2026-10" / "policies_by_month.csv").is_file()
    again = _run([dvc, "repro"], clone, env)
    assert "didn't change" in again or "up to date" in again
    metrics = _run([dvc, "metrics", "show"], clone, env)
    assert "oracle_auc" in metrics and "lightgbm" in metrics
    assert "verification/metrics.json" in metrics and "verdict" in metrics
    assert "loop.json" in metrics
