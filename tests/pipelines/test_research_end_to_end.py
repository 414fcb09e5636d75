"""Issue 18, "done when": an anonymised data set - opaque ids, a registry of nothing but ids,
side tables whose signal sits in pass-through columns and generic indicators, and a labelled
snapshot - goes from files to a verified model and classes with no invented history and no
code change: only the commands and the configuration a user would write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from pipelines.cli import app
from simulator.research import AS_OF, write_research_dataset
from tests.conftest import ROOT, model_config
from tests.interim import has_table

MONTH = AS_OF.strftime("%Y-%m")
SHARES = {"A": 0.60, "B": 0.30, "C": 0.07, "D": 0.03}


def _ok(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


@pytest.mark.slow
def test_files_to_verified_model_and_classes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(ROOT / "configs", tmp_path / "configs")  # as a bureau's checkout has them
    write_research_dataset(tmp_path / "extract", enterprises=3000, seed=3)
    _ok(
        ["ingest", "--source", "extract", "--out", "interim", "--as-of", MONTH,
         "--config", "configs/sources/examples/research/ingest.yaml"]
    )  # fmt: skip
    # no invented history: the labels are no inspection round
    assert not has_table(tmp_path / "interim", "inspections")
    out = _ok(["features", "--source", "interim", "--out", "features", "--as-of", MONTH])
    assert "derived from the bureau's own columns" in out
    cfg = model_config(tmp_path)
    cfg = cfg.model_copy(
        update={
            "class_bands": cfg.class_bands.model_copy(
                update={"fit": True, "target_shares": SHARES}
            ),
        }
    )
    config = tmp_path / "model.yaml"
    config.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    labels = ["--labels", "extract/标签.csv", "--as-of", AS_OF.isoformat()]
    out = _ok(
        ["train", "--features", "features", "--interim", "interim", "--config", str(config),
         "--trials", "3", "--metrics-out", "train_metrics.json", *labels]
    )  # fmt: skip
    assert "grouped cross-validation by enterprise" in out
    metrics = json.loads((tmp_path / "train_metrics.json").read_text(encoding="utf-8"))
    assert metrics["split"]["mode"] == "grouped_cv"
    plain = metrics["plain_baseline"]
    # the deployed model is not below the plain baseline's interval, and did not lose
    assert plain["model_auc"] >= plain["plain_low"] and not plain["lost"]
    assert plain["model_auc"] > 0.7
    out = _ok(
        ["verify", "--config", str(config), "--features", "features", "--interim", "interim",
         "--alias", "challenger", *labels]
    )  # fmt: skip
    assert "labelled snapshot, not a random sample" in out
    verification = tmp_path / "outputs" / MONTH / "verification" / "metrics.json"
    figures = json.loads(verification.read_text(encoding="utf-8"))
    assert figures["verdict"] == "PASS", figures["checks"]
    _ok(["promote", "--config", str(config), "--user", "t", "--verification", str(verification)])
    _ok(["classify", "--config", str(config), "--as-of", MONTH, "--features", "features"])
    summary = json.loads(
        (tmp_path / "outputs" / MONTH / "classes_summary.json").read_text(encoding="utf-8")
    )
    for code, share in SHARES.items():  # bands from this data's own score distribution
        assert summary["class_shares"][code] == pytest.approx(share, abs=0.01)
    assert summary["warnings"] == []
    classes = pd.read_parquet(tmp_path / "outputs" / MONTH / "classes.parquet")
    risky = classes.loc[classes["class_final"] == "D", "uscc"].iloc[0]
    # the main risk points speak of the bureau's own indicators, by their own names
    points = {p for col in classes.filter(like="_feature") for p in classes[col].dropna()}
    assert any(str(p).startswith(("ind_", "x_")) for p in points)
    _ok(
        ["report", risky, "--config", str(config), "--as-of", MONTH, "--features", "features",
         "--interim", "interim"]
    )  # fmt: skip
    assert (tmp_path / "outputs" / MONTH / "reports" / f"{risky}.html").is_file()
