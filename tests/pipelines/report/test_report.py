"""Enterprise reports: what they say comes from the model and the enterprise's own records."""

from __future__ import annotations

import re
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from features.definitions import BY_NAME
from pipelines.render.names import Names
from pipelines.render.wording import BANNER_EN, BANNER_ZH
from pipelines.report import ReportError, ReportMonth, display, sentence, write_reports
from tests.conftest import ROOT

pytestmark = pytest.mark.xdist_group("report")


@pytest.fixture(scope="module")
def month(report_month):  # type: ignore[no-untyped-def]
    return report_month


def _text(page: str) -> str:
    """The visible text of a page (tags removed)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_a_class_d_report_says_why_and_what_to_do(month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = month
    d = ctx.select(klass="D", limit=30)
    assert d and (ctx.classes.loc[d, "class_final"] == "D").all()
    run = write_reports(ctx, d, out_dir=tmp_path)
    assert run.index is not None and len(run.paths) == len(d)
    stored = ctx.classes
    checked_points = 0
    for path in run.paths:
        u = path.stem
        page = path.read_text(encoding="utf-8")
        text = _text(page)
        assert BANNER_ZH in text  # the internal-use banner
        assert str(ctx.registry.at[u, "name"]) in text and u in text
        assert "D类（信用风险高）" in text
        assert "列为重点监管对象" in text  # what class D means for supervision
        row = pq.read_table(ctx.features_path, filters=[("uscc", "==", u)]).to_pylist()[0]
        # every named risk point is one the model gave (stored by classify), in its order,
        # told with the catalog's sentence and the enterprise's own values
        named = [
            stored.at[u, f"risk_{k}_feature"]
            for k in range(1, ctx.top_k + 1)
            if stored.at[u, f"risk_{k}_contribution"] >= ctx.rcfg.min_contribution
        ]
        sentences = [sentence(BY_NAME[f], row, ctx.names, "zh") for f in named]
        found = [text.find(s) for s in sentences]
        assert all(i >= 0 for i in found) and found == sorted(found)
        checked_points += len(named)
        if not named:
            assert "模型未发现" in text
        # advice only for actionable points among them
        advice = {
            BY_NAME[f].advice_zh for f in named if BY_NAME[f].actionable and BY_NAME[f].advice_zh
        }
        for tip in advice:
            assert tip in text
        for f in BY_NAME.values():
            if f.advice_zh and f.name not in named and f.advice_zh not in advice:
                assert f.advice_zh not in text
    assert checked_points > 0
    index = run.index.read_text(encoding="utf-8")
    assert all(p.name in index for p in run.paths) and BANNER_ZH in index


def test_the_waterfall_ends_at_the_enterprises_score(month) -> None:  # type: ignore[no-untyped-def]
    from pipelines.report import build

    ctx = month
    chosen = ctx.select(sample=40, seed=3)
    for r in build(ctx, chosen, "zh"):
        start, steps, end = r["score_path"]
        assert abs(start + sum(steps) - end) < 1e-6
        assert round(end) == float(ctx.classes.at[r["uscc"], "score"])  # the score, unrounded
        svg = str(r["waterfall"])
        assert svg.startswith("<svg") and "本企业风险分" in svg


def test_history_shows_the_months_classified(month) -> None:  # type: ignore[no-untyped-def]
    from pipelines.report import build

    ctx = month
    u = ctx.select(limit=1)[0]
    r = build(ctx, [u], "zh")[0]
    svg = str(r["history"])
    before = (
        pq.read_table(ctx.outputs / "2026-09" / "classes.parquet", filters=[("uscc", "==", u)])
        .column("class_final")[0]
        .as_py()
    )
    cells = re.findall(r'font-weight="bold" fill="[^"]+">([^<]+)</text>', svg)
    assert len(cells) == 12
    assert cells[-2:] == [before, str(ctx.classes.at[u, "class_final"])]
    assert cells[:-2] == ["—"] * 10  # never classified: said so, not guessed


def _fresh_caches() -> dict[str, object]:
    """A copied month context must not share the peer caches of the one it was copied from."""
    return {
        "_peer_done": set(),
        "_peer_groups": {},
        "_peer_medians": {},
        "_peer_rows": None,
        "_peer_codes": None,
        "_peer_labels": [],
        "_history": {},
        "_batch_history": {},
        "_table": None,
        "_row_of": {},
    }


def test_when_nothing_stands_out_the_report_says_so(month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = month
    strict = ReportMonth(
        **{
            **ctx.__dict__,
            "rcfg": ctx.rcfg.model_copy(update={"min_contribution": 50.0}),
            **_fresh_caches(),
        }
    )
    u = ctx.select(klass="A", limit=1)
    run = write_reports(strict, u, out_dir=tmp_path)
    text = _text(run.paths[0].read_text(encoding="utf-8"))
    from pipelines.report import build

    start, _steps, end = build(strict, u, "zh")[0]["score_path"]
    low, spread = "本企业的风险分不高于模型的基准水平", "是许多影响都较小的因素共同造成的"
    assert (low if end <= start + 0.5 else spread) in text  # which one is said is checked
    assert (spread if end <= start + 0.5 else low) not in text
    assert "以下情况提高了本企业的风险分" not in text and "企业可以怎样降低风险" not in text


def test_english_reports(month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = month
    u = ctx.select(klass="D", limit=1)
    run = write_reports(ctx, u, lang="en", out_dir=tmp_path)
    assert run.paths[0].name.endswith(".en.html")
    text = _text(run.paths[0].read_text(encoding="utf-8"))
    assert BANNER_EN in text and "class D (high risk)" in text
    assert "Main risk points" in text


def test_reports_are_self_contained(month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = month
    run = write_reports(ctx, ctx.select(sample=5, seed=1), out_dir=tmp_path)
    for path in [*run.paths, run.index]:
        page = path.read_text(encoding="utf-8")
        assert "<script" not in page and "<link" not in page and "<img" not in page
        assert "@import" not in page and "url(" not in page
        urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
        assert urls <= {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
        assert "@page" in page and "size: A4" in page
        assert f'@top-center {{ content: "{BANNER_ZH}"' in page  # the banner on every printed page


def test_selection_by_class_division_industry_and_sample(month) -> None:  # type: ignore[no-untyped-def]
    ctx = month
    division = str(ctx.registry["division_code"].iloc[0])
    chosen = ctx.select(klass="D", division=division[:4])
    assert chosen == sorted(chosen)
    assert (ctx.classes.loc[chosen, "class_final"] == "D").all()
    assert ctx.registry.loc[chosen, "division_code"].str.startswith(division[:4]).all()
    industry = ctx.select(industry="51")
    assert ctx.registry.loc[industry, "industry_code"].str.startswith("51").all()
    assert ctx.select(sample=25, seed=9) == ctx.select(sample=25, seed=9)  # redrawable
    assert ctx.select(sample=25, seed=9) != ctx.select(sample=25, seed=10)


def test_bad_requests_name_the_problem_and_reveal_no_class(
    month, small_model, small_interim
) -> None:  # type: ignore[no-untyped-def]
    ctx = month
    with pytest.raises(ReportError, match="no classification for 2026-10: 91440000NOTAFIRM0X"):
        ctx.select(["91440000NOTAFIRM0X"])
    with pytest.raises(ReportError, match="class 'E' is not in scheme henan"):
        ctx.select(klass="E")
    args = (small_model[0], ctx.rcfg, ctx.scheme, ctx.features_path.parent, small_interim[1])
    with pytest.raises(
        ReportError, match=r"no classes for 2026-08 .*`riskclass classify --as-of 2026-08`"
    ):
        ReportMonth.load("2026-08", *args, ctx.outputs)
    with pytest.raises(ReportError, match="table enterprises not found"):
        ReportMonth.load("2026-10", *args[:4], ROOT / "nowhere", ctx.outputs)


def test_a_stale_explanation_is_refused(month, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ctx = month
    t = pq.read_table(ctx.outputs / "2026-10" / "classes.parquet")
    margin = t.column("margin").to_numpy() + 0.5  # as if another model had classified
    tampered = t.set_column(t.schema.get_field_index("margin"), "margin", pa.array(margin))
    stale = ReportMonth(
        **{**ctx.__dict__, "classes": tampered.to_pandas().set_index("uscc"), **_fresh_caches()}
    )
    with pytest.raises(ReportError, match="differs from the one classify stored"):
        write_reports(stale, ctx.select(limit=1), out_dir=tmp_path)


def test_sentences_never_state_what_the_record_does_not_say() -> None:
    names = Names()
    listed = BY_NAME["abn_listed"]
    row = {"abn_listed": 1.0, "abn_listed_since": date(2025, 3, 4), "abn_reason": "annual_report"}
    # the code is told by its contract label, the date as recorded
    assert sentence(listed, row, names, "zh") == (
        "自2025-03-04起被列入经营异常名录（原因：未按规定期限公示年度报告）"
    )
    # a flag that is 0 is not told with the sentence of the fact
    assert sentence(listed, {**row, "abn_listed": 0.0}, names, "zh") == "列入经营异常名录：否"
    # a value the sentence needs is missing: the plain indicator, never a made-up date
    penal = BY_NAME["pen_count_12m"]
    plain = sentence(penal, {"pen_count_12m": 2.0, "pen_last_date": None}, names, "zh")
    assert plain == "近12个月行政处罚次数：2"
    full = sentence(penal, {"pen_count_12m": 2.0, "pen_last_date": date(2026, 5, 1)}, names, "zh")
    assert full == "近12个月受到行政处罚2次，最近一次在2026-05-01"
    assert (
        sentence(penal, {"pen_count_12m": float("nan")}, names, "zh")
        == "近12个月行政处罚次数：无数据"
    )
    assert display(penal, float("nan"), names, "zh") is None


def test_numbers_read_as_people_write_them() -> None:
    from pipelines.report import number

    assert [number(v) for v in (1523.7, 5e6, 0.5, 0.125, 12.0, 1234.5678, -0.25)] == [
        "1,523.7",
        "5,000,000",
        "0.5",
        "0.125",
        "12",
        "1,234.57",
        "-0.25",
    ]
    names = Names()
    capital = BY_NAME["registered_capital_log"]
    row = {"registered_capital_log": 7.1, "registered_capital": 1234.5678}
    assert sentence(capital, row, names, "zh") == "注册资本1,234.57万元"
    assert display(BY_NAME["tax_rating_level"], 1.0, names, "zh") == "D"  # the level, not its code


def test_advice_only_for_what_the_record_says() -> None:
    """A count of 0 licences expiring is no fact to act on: no sentence of it, no advice."""
    from pipelines.report import is_fact

    expiring = BY_NAME["lic_expiring_3m"]
    assert expiring.actionable and expiring.advice_zh
    assert not is_fact(expiring, 0.0) and is_fact(expiring, 2.0)
    names = Names()
    assert sentence(expiring, {"lic_expiring_3m": 0.0}, names, "zh") == f"{expiring.zh}：0"
    assert sentence(expiring, {"lic_expiring_3m": 2.0}, names, "zh") == "2类许可证将在3个月内到期"


def test_a_month_classified_with_another_scheme_is_named(month, small_model, small_interim) -> None:  # type: ignore[no-untyped-def]
    from models.classes import ClassScheme
    from pipelines.config import load_config

    ctx = month
    guangxi = load_config(ROOT / "configs" / "classes" / "guangxi.yaml", ClassScheme)
    with pytest.raises(ReportError, match=r"classified with scheme henan, not guangxi: .*--scheme"):
        ReportMonth.load(
            "2026-10",
            small_model[0],
            ctx.rcfg,
            guangxi,
            ctx.features_path.parent,
            small_interim[1],
            ctx.outputs,
        )


def test_cli_report(month, small_model, small_interim, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from pipelines.cli import app

    ctx = month
    cfg, _ = small_model
    config = tmp_path / "model.yaml"
    import yaml

    config.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    u = ctx.select(klass="D", limit=1)[0]
    args = [
        "report",
        u,
        "--as-of",
        "2026-10",
        "--config",
        str(config),
        "--outputs",
        str(ctx.outputs),
        "--features",
        str(ctx.features_path.parent),
        "--interim",
        str(small_interim[1]),
        "--report-config",
        str(ROOT / "configs" / "report.yaml"),
        "--out",
        str(tmp_path / "r"),
    ]
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"{u}.html" in result.output
    assert "class D" not in result.output and "D类" not in result.output  # nothing printed about it
    bad = CliRunner().invoke(app, [*args[:4], "--lang", "fr"])
    assert bad.exit_code == 2 and "--lang must be zh or en" in bad.output


def test_a_batch_written_by_forked_workers_is_the_pages_written_one_by_one(  # type: ignore[no-untyped-def]
    month, small_model, small_interim, tmp_path
) -> None:
    """`riskclass report --class D --workers 2` in a fresh process (numba's threads not yet
    started, so it forks) writes, chunk by chunk, the same bytes as one report at a time, and
    an index in USCC order; a process that already ran numba's kernels writes the batch itself,
    the same again."""
    import os
    import subprocess
    import sys

    import yaml

    ctx = month
    cfg, _ = small_model
    config = tmp_path / "model.yaml"
    config.write_text(yaml.safe_dump(cfg.model_dump(mode="json")), encoding="utf-8")
    d = ctx.select(klass="D")
    assert len(d) > 10
    one = tmp_path / "one"
    for u in d:
        write_reports(ctx, [u], out_dir=one)
    forked = tmp_path / "forked"
    cmd = [
        sys.executable, "-m", "pipelines.cli", "report", "--as-of", "2026-10", "--class", "D",
        "--config", str(config), "--outputs", str(ctx.outputs),
        "--features", str(ctx.features_path.parent), "--interim", str(small_interim[1]),
        "--report-config", str(ROOT / "configs" / "report.yaml"), "--out", str(forked),
        "--workers", "2", "--chunk", "4",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    here = write_reports(ctx, d, out_dir=tmp_path / "here", chunk=4, workers=2)
    for u in d:
        page = (one / f"{u}.html").read_bytes()
        assert (forked / f"{u}.html").read_bytes() == page
        assert (tmp_path / "here" / f"{u}.html").read_bytes() == page
    index = (forked / "index.html").read_text(encoding="utf-8")
    at = [index.index(f"{u}.html") for u in d]
    assert at == sorted(at)
    assert (forked / "index.html").read_bytes() == here.index.read_bytes()  # type: ignore[union-attr]
    # the workers explain with LightGBM's own TreeSHAP, and OpenMP and numba are told to use 4
    # threads: the parent's OpenMP pool (started when it loaded the model) does not survive the
    # fork, so a worker that ran a parallel region of more than one thread would wait forever;
    # they run one thread each and finish
    lgb_config = tmp_path / "model_lgb.yaml"
    explain = cfg.explain.model_copy(update={"engine": "lightgbm"})
    lgb_config.write_text(
        yaml.safe_dump(cfg.model_copy(update={"explain": explain}).model_dump(mode="json")),
        encoding="utf-8",
    )
    threads = {**os.environ, "OMP_NUM_THREADS": "4", "NUMBA_NUM_THREADS": "4"}
    lgb_cmd = list(cmd)
    lgb_cmd[lgb_cmd.index(str(config))] = str(lgb_config)
    lgb_cmd[lgb_cmd.index(str(forked))] = str(tmp_path / "forked_lgb")
    done = subprocess.run(
        lgb_cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env=threads
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in (tmp_path / "forked_lgb").glob("9*.html")) == sorted(
        f"{u}.html" for u in d
    )
