"""`riskclass verify`: the same figures as training's test months, weighted, with a verdict."""

from __future__ import annotations

import json

import pytest

from models.classes import ClassScheme
from pipelines.config import load_config
from pipelines.verify import VerifyError, run_verify


def test_verify_on_the_held_out_months_agrees_with_training(
    small_model, small_history, small_interim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cfg, result = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    models = result.metrics["models"]
    deployed = models[result.metrics["deployed"]]
    # the test months are the last `test_months` label months: held out from training and tuning
    v = run_verify(cfg, scheme, small_history, small_interim[1], "2026-10", tmp_path)
    m = v.metrics
    assert m["window"] == ["2026-08", "2026-10"]  # from the first test month by default
    assert m["inspections"]["used"] == deployed_count(result)
    assert m["auc"] == pytest.approx(deployed["auc"], abs=1e-12)
    for c, r in deployed["hit_rates"].items():  # training evaluates the model's classes
        assert m["class_model"]["hit_rates"][c]["inspections"] == r["inspections"]
        if r["inspections"]:
            assert m["class_model"]["hit_rates"][c]["hit_rate"] == pytest.approx(r["hit_rate"])
    assert m["verdict"] in ("PASS", "FAIL") and v.passed == (m["verdict"] == "PASS")
    assert v.passed == all(c["passed"] for c in m["checks"].values())
    on_disk = json.loads(v.out.read_text(encoding="utf-8"))
    assert on_disk["verdict"] == m["verdict"] and "uscc" not in v.out.read_text(encoding="utf-8")
    for r in m["class_final"]["hit_rates"].values():
        if r["inspections"]:
            assert r["low"] <= r["hit_rate"] <= r["high"]
    html = v.out.with_name("verification.html").read_text(encoding="utf-8")
    assert "内部参考，不作为对企业的信用评价，不得对外公开" in html and m["verdict"] in html
    assert "<script" not in html and "<svg" in html and "各类别问题发现率" in html
    rp = m["main_risk_points"]
    assert (
        rp["problems"] > 0
        and 0 <= rp["baseline"] <= 1
        and rp["low"] <= rp["accuracy"] <= rp["high"]
    )
    stab = m["stability"]
    assert stab["reference_month"] < "2026-08" and stab["month"] == "2026-10"
    psis = [v for _f, v in stab["feature_psi"]]
    assert len(psis) == len(cfg_features(small_model)) and psis == sorted(psis, reverse=True)
    assert 0 <= stab["score_psi"] < 10
    # a strict threshold fails the verdict and says which check
    strict = cfg.model_copy(update={"verify": cfg.verify.model_copy(update={"min_auc": 0.999})})
    failed = run_verify(
        strict, scheme, small_history, small_interim[1], "2026-10", tmp_path, "2026-08"
    )
    assert not failed.passed and not failed.metrics["checks"]["auc"]["passed"]


def cfg_features(small_model) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    from pipelines.classify import load_bundle

    return load_bundle(small_model[0], "challenger").design.features


def deployed_count(result) -> int:  # type: ignore[no-untyped-def]
    """Double-random inspections of training's test months."""
    return int(result.metrics["labelled"]["test"])


def test_verify_without_inspections_after_training_says_what_to_do(
    small_model, small_history, small_interim, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    cfg, _ = small_model
    scheme = load_config(cfg.class_scheme, ClassScheme)
    with pytest.raises(VerifyError, match=r"window 2026-08\.\.2026-07 is empty.*--from"):
        run_verify(cfg, scheme, small_history, small_interim[1], "2026-07", tmp_path)
