"""An external labelled snapshot (`riskclass train --labels FILE --as-of DATE`): read in the
formats bureaus have, every row accepted or rejected with its reason, counts that reconcile,
rejected rows written formula-safe, and a file mostly rejected refused (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.snapshot import LabelsFile, SnapshotError, read_snapshot, write_rejected
from tests.conftest import model_config

IDS = ["91440101MA5A000001", "91440101MA5A000002", "91440101MA5A000003", "91440101MA5A000004"]


@pytest.fixture
def features(tmp_path: Path) -> Path:
    """A features folder whose 2026-09 file knows four enterprises (all a snapshot reads)."""
    folder = tmp_path / "features"
    folder.mkdir()
    pq.write_table(pa.table({"uscc": IDS}), folder / "2026-09.parquet")
    return folder


def _csv(path: Path, text: str, encoding: str = "utf-8-sig") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_every_row_is_used_or_rejected_with_its_reason(tmp_path: Path, features: Path) -> None:
    a, b, c, d = IDS
    text = (
        "专项检查结果（2026年9月）\n"  # a title row above the header
        "统一社会信用代码,是否发现问题,权重\n"
        f"{a},是,2\n"
        f"{b.lower()},0,1\n"  # lower case: the same enterprise
        f"{c},1,1\n"
        f"{c},否,1\n"  # conflicting labels: both rows rejected
        f"{d},true,1\n"
        f"{d},1,3\n"  # the same label again: the first row is used
        "91440101MA5A999999,1,1\n"  # not among the enterprises of 2026-09
        f"{a},maybe,1\n"
        ",1,1\n"
        f"{b},1,-2\n"
        "=HYPERLINK(1),1,1\n"
        "\n"  # a blank line is no row
    )
    spec = LabelsFile(_csv(tmp_path / "l.csv", text), "2026-10-15")
    snap = read_snapshot(spec, features)
    assert snap.feature_month == "2026-09" and snap.weighted
    assert snap.columns == {"id": "统一社会信用代码", "label": "是否发现问题", "weight": "权重"}
    lab = snap.labels.set_index("uscc")
    assert lab["y"].to_dict() == {a: 1, b: 0, d: 1}
    assert lab["weight"].to_dict() == {a: 2.0, b: 1.0, d: 1.0}
    assert set(lab["label_kind"]) == {"snapshot"} and set(lab["feature_month"]) == {"2026-09"}
    rules = snap.rejected.set_index("row")["rule"].to_dict()
    assert rules == {
        5: "conflicting_labels",  # the file's row numbers: title 1, header 2
        6: "conflicting_labels",
        8: "duplicate_id",
        9: "unknown_id",
        10: "bad_label",
        11: "missing_id",
        12: "bad_weight",
        13: "unknown_id",
    }
    n = snap.counts
    assert n["rows"] == 11 == n["accepted"] + n["rejected"] and n["accepted"] == 3
    assert (
        sum(n[r] for r in ("missing_id", "unknown_id", "bad_label", "bad_weight"))
        + n["conflicting_labels"]
        + n["duplicate_id"]
        == n["rejected"]
    )
    # the rejected rows as written, with the reason, formula-safe for a spreadsheet
    out = write_rejected(snap, tmp_path / "out" / "labels_rejected.csv")
    written = out.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK(1)" in written and "\n=HYPERLINK" not in written
    assert "同一企业出现多次且标签不一致" in written and "not among the enterprises" in written
    with pytest.raises(SnapshotError, match=r"only 3 of 11 rows accepted, less than 50%"):
        snap.check_accepted(out)


def test_formats_encodings_and_named_columns(tmp_path: Path, features: Path) -> None:
    a, b, *_ = IDS
    gb = _csv(tmp_path / "g.csv", f"企业,标签\n{a},是\n{b},否\n", "gb18030")
    plain = _csv(tmp_path / "u.csv", f"uscc,label\n{a},1\n{b},0\n", "utf-8")
    xlsx = tmp_path / "l.xlsx"
    pd.DataFrame({"enterprise": [a, b], "y": [1, 0]}).to_excel(xlsx, index=False)
    parquet = tmp_path / "l.parquet"
    pd.DataFrame({"编号": [a, b], "查处": [True, False], "w": [1.5, 2.0]}).to_parquet(parquet)
    for spec in (
        LabelsFile(gb, "2026-09-30"),
        LabelsFile(plain, "2026-09"),
        LabelsFile(xlsx.with_suffix(".xlsx"), "2026-10-03"),
        LabelsFile(parquet, "2026-09-30", id_column="编号", label_column="查处", weight_column="w"),
    ):
        snap = read_snapshot(spec, features)
        assert snap.labels.set_index("uscc")["y"].to_dict() == {a: 1, b: 0}, spec.path
        assert snap.counts["rejected"] == 0 and len(snap.sha256) == 64
    assert snap.labels["weight"].tolist() == [1.5, 2.0]
    assert read_snapshot(LabelsFile(gb, "2026-09-30"), features).labels["weight"].tolist() == [
        1.0,
        1.0,
    ]
    with pytest.raises(SnapshotError, match="no column 'nope'"):
        read_snapshot(LabelsFile(plain, "2026-09", id_column="nope"), features)
    nolabel = _csv(tmp_path / "n.csv", f"uscc,name\n{a},x\n", "utf-8")
    with pytest.raises(SnapshotError, match="--label-column"):
        read_snapshot(LabelsFile(nolabel, "2026-09"), features)
    with pytest.raises(SnapshotError, match="features of 2026-08"):
        read_snapshot(LabelsFile(plain, "2026-08-31"), features)


def test_training_refuses_a_file_mostly_rejected(tmp_path: Path, features: Path) -> None:
    """Before any model is fitted: a clear error, a non-zero exit, the rejected rows kept."""
    a, *_ = IDS
    labels = _csv(tmp_path / "l.csv", f"uscc,label\n{a},1\n{a}X,1\nZZ,0\n{a}Y,yes\n", "utf-8")
    cfg = model_config(tmp_path)
    config = tmp_path / "model.yaml"
    config.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    metrics = tmp_path / "out" / "train_metrics.json"
    result = CliRunner().invoke(
        app,
        [
            *("train", "--features", str(features), "--interim", str(tmp_path / "no-interim")),
            *("--config", str(config), "--metrics-out", str(metrics)),
            *("--labels", str(labels), "--as-of", "2026-09-30"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "only 1 of 4 rows accepted" in result.output and "labels_rejected.csv" in result.output
    rejected = pd.read_csv(metrics.parent / "labels_rejected.csv", encoding="utf-8-sig")
    assert rejected["rule"].tolist() == ["unknown_id"] * 3
    assert not metrics.exists() and not (tmp_path / "mlflow.db").exists()
    # --labels without --as-of is refused too
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--labels", str(labels)])
    assert result.exit_code == 2 and "--labels and --as-of go together" in result.output
    # a bad override is a clean error naming the setting
    result = CliRunner().invoke(app, ["train", "--config", str(config), "--valid-months", "0"])
    assert result.exit_code == 2 and "valid_months" in result.output
