"""Model cards and enterprise reports say which information groups the data lacked (contract
tables a bureau could not deliver), and reports say nothing when every table was there."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from contract.tables import GROUPS, TABLES
from features.config import FeaturesConfig
from models import gbm
from models.classes import ClassScheme
from pipelines import paths
from pipelines.config import load_config
from pipelines.features import run_features
from pipelines.render.lacking import KEY, absent_tables, report_line, union
from pipelines.render.names import Lang
from pipelines.report import write_reports
from pipelines.results import TrainMetrics
from pipelines.train.card import model_card
from pipelines.train.data import absent_in
from tests.conftest import ROOT, model_config
from tests.features import tiny

pytestmark = pytest.mark.xdist_group("report")

REASON = "市场监管行政处罚系统尚未对接"
LACKED = {"penalties": REASON, "complaints": "not delivered"}


def _card(tmp_path: Path, absent: dict[str, str] | None) -> str:
    cfg = model_config(tmp_path)
    scheme = load_config(cfg.class_scheme, ClassScheme)
    metrics = TrainMetrics(
        labelled={},
        trials=0,
        oracle_auc=None,
        models={},
        sectors={},
        class_scheme=scheme.name,
        deployed="lightgbm",
    )
    return model_card(cfg, scheme, {}, metrics, gbm.Design(("x",), {}), absent)


def _with_key(src: Path, dst: Path, absent: dict[str, str]) -> Path:
    """A copy of a feature file whose metadata says ``absent`` tables were lacking."""
    t = pq.read_table(src)
    meta = {**(t.schema.metadata or {}), KEY.encode(): json.dumps(absent).encode()}
    dst.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(t.replace_schema_metadata(meta), dst)
    return dst


def test_feature_files_of_a_bureau_lacking_tables_give_the_card_its_section(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tiny.write(tmp_path / "interim", {"enterprises": tiny.firms("91440101MA00000001")})
    (source / "penalties.parquet").unlink()  # declared unavailable by the bureau
    (source / "availability.json").write_text(
        json.dumps({"unavailable": {"penalties": REASON}}, ensure_ascii=False), encoding="utf-8"
    )
    cfg = load_config(ROOT / "configs" / "features.yaml", FeaturesConfig)
    out = tmp_path / "features"
    run_features(cfg, source, out, ["2026-09", "2026-10"])
    absent = absent_in(out, ["2026-09", "2026-10"])
    optional = {t for t, s in TABLES.items() if not s.required and not s.supplementary}
    assert absent == {"penalties": REASON} | {t: "not delivered" for t in optional}

    card = _card(tmp_path, absent)
    assert "## 数据缺失的信息组 / Information groups the data lacked" in card
    section = card.split("## 数据缺失的信息组")[1].split("\n## ")[0]
    for g in {TABLES[t].group for t in absent}:
        assert f"{GROUPS[g][0]} / {GROUPS[g][1]}" in section
    assert f"`penalties` {TABLES['penalties'].zh}" in section and REASON in section
    assert f"{TABLES['complaints'].zh}" in section and "not delivered" in section
    assert "NaN" in section and "not zero" in section and "never learned" in section
    assert GROUPS["base"][0] not in section  # the registry was there
    assert "All five information groups were delivered" not in card
    assert _card(tmp_path, absent) == card  # reproducible: no clock


def test_months_that_lacked_different_tables_are_united(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "features"
    src = tiny.write(tmp_path / "src", {"enterprises": tiny.firms("91440101MA00000001")})
    pq.write_table(pq.read_table(src / "enterprises.parquet"), tmp_path / "plain.parquet")
    _with_key(tmp_path / "plain.parquet", paths.features_file(folder, "2026-09"), LACKED)
    _with_key(
        tmp_path / "plain.parquet",
        paths.features_file(folder, "2026-10"),
        {"penalties": "另一原因", "social": "not delivered"},
    )
    assert absent_in(folder, ["2026-10", "2026-09", "2026-10"]) == {
        "complaints": "not delivered",
        "penalties": f"{REASON}; 另一原因",
        "social": "not delivered",
    }
    assert union([]) == {} and absent_tables({b"other": b"x"}) == {}


def test_a_card_with_nothing_absent_says_all_groups_were_delivered(tmp_path) -> None:  # type: ignore[no-untyped-def]
    nothing: tuple[dict[str, str] | None, ...] = (None, {})
    for absent in nothing:
        card = _card(tmp_path, absent)
        assert "## 数据缺失的信息组 / Information groups the data lacked" in card
        assert "All five information groups were delivered" in card
        assert "NaN" not in card


def test_the_report_line_names_groups_tables_and_reasons() -> None:
    zh = report_line(LACKED, "zh")
    assert zh is not None and zh.startswith("本次评价所用数据缺少以下信息组：")
    assert f"{GROUPS['supervision'][0]}（{TABLES['penalties'].zh}：{REASON}" in zh
    assert f"{TABLES['complaints'].zh}：未报送" in zh and "不按零计" in zh
    en = report_line(LACKED, "en")
    assert en is not None and GROUPS["supervision"][1] in en and REASON in en
    assert "not delivered" in en and "not as zero" in en
    assert report_line({}, "zh") is None and report_line({}, "en") is None


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_reports_say_what_the_data_lacked_and_nothing_when_all_was_there(  # type: ignore[no-untyped-def]
    report_month, tmp_path
) -> None:
    ctx = report_month
    assert ctx.absent_tables() == {}  # the small province delivers every table
    u = ctx.select(klass="D", limit=1)
    lacking = dataclasses.replace(
        ctx,
        features_path=_with_key(ctx.features_path, tmp_path / "f" / "2026-10.parquet", LACKED),
        _absent=None,
    )
    langs: tuple[tuple[Lang, str, str], ...] = (
        ("zh", "", "本次评价所用数据缺少以下信息组"),
        ("en", ".en", "The data used for this assessment lacked"),
    )
    for lang, suffix, intro in langs:
        plain = write_reports(ctx, u, lang=lang, out_dir=tmp_path / "plain").paths[0]
        told = write_reports(lacking, u, lang=lang, out_dir=tmp_path / "told").paths[0]
        assert plain.name == told.name == f"{u[0]}{suffix}.html"
        before, after = plain.read_text("utf-8"), told.read_text("utf-8")
        assert intro not in before and "lacking" not in before
        text = _text(after)
        g = 0 if lang == "zh" else 1
        assert intro in text and GROUPS["supervision"][g] in text and REASON in text
        assert after.index(intro) < after.index("</header>")  # near the top
        # the line is the only difference: without the key the page is as it always was
        line = re.search(r"  <p class=\"override lacking\" role=\"note\">[^<]*</p>\n", after)
        assert line is not None and after.replace(line.group(0), "") == before


def test_the_trained_models_card_says_all_groups_were_delivered(small_model, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import mlflow

    cfg, result = small_model
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    card = Path(
        mlflow.artifacts.download_artifacts(
            run_id=result.run_id, artifact_path="bundle/model_card.md", dst_path=str(tmp_path)
        )
    ).read_text(encoding="utf-8")
    assert "All five information groups were delivered" in card
