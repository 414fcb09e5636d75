"""Case states, transitions, disposals and overdue rules (models.cases)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from models.cases import (
    TRANSITIONS,
    CaseError,
    CasesConfig,
    Deadlines,
    next_state,
    overdue,
    parse_action,
    problems,
)
from pipelines.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg() -> CasesConfig:
    return load_config(ROOT / "configs" / "cases.yaml", CasesConfig)


def test_allowed_transitions() -> None:
    assert next_state("c", "open", "refer") == "referred"
    assert next_state("c", "open", "close") == "closed"
    assert next_state("c", "referred", "acknowledge") == "acknowledged"
    assert next_state("c", "acknowledged", "close") == "closed"
    assert len(TRANSITIONS) == 5


@pytest.mark.parametrize(
    ("state", "action", "rule"),
    [
        ("closed", "close", "a closed case is final"),
        ("closed", "refer", "a closed case is final"),
        ("open", "acknowledge", "only a referred case is acknowledged"),
        ("referred", "refer", "a case is referred once"),
        ("acknowledged", "refer", "a case is referred once"),
    ],
)
def test_invalid_transition_names_case_and_rule(state: str, action: str, rule: str) -> None:
    with pytest.raises(CaseError, match=rf"case JC9:licence: cannot {action} .*rule: {rule}"):
        next_state("JC9:licence", state, action)


def test_unknown_action_and_state() -> None:
    with pytest.raises(CaseError, match="unknown action"):
        next_state("c", "open", "reopen")
    with pytest.raises(CaseError, match="unknown state"):
        next_state("c", "lost", "close")
    assert parse_action(" 移交 ") == "refer"
    assert parse_action("办结") == "close"
    with pytest.raises(CaseError, match="unknown action"):
        parse_action("撤销")


def test_disposal_and_department_lookup(cfg: CasesConfig) -> None:
    assert cfg.disposal("c", "责令改正已整改", "open").code == "rectified"
    assert cfg.disposal("c", "referred_handled", "acknowledged").code == "referred_handled"
    with pytest.raises(CaseError, match="needs a referral first"):
        cfg.disposal("c", "移交后已处理", "open")
    with pytest.raises(CaseError, match="unknown disposal 'fined'"):
        cfg.disposal("c", "fined", "open")
    assert cfg.department("c", "卫生健康部门").code == "health"
    with pytest.raises(CaseError, match="unknown department"):
        cfg.department("c", "nowhere")


def test_config_rejects_unknown_keys_and_duplicates(tmp_path: Path) -> None:
    text = (ROOT / "configs" / "cases.yaml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text + "\nsurprise: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="surprise"):
        load_config(bad, CasesConfig)
    dup = tmp_path / "dup.yaml"
    dup.write_text(text.replace("code: penalty_case", "code: rectified"), encoding="utf-8")
    with pytest.raises(ConfigError, match="codes must be unique"):
        load_config(dup, CasesConfig)


def test_problems_one_case_per_problem() -> None:
    insp = pd.DataFrame(
        {
            "inspection_id": ["J1", "J2", "J3", "J3"],
            "uscc": ["u1", "u2", "u3", "u3"],
            "inspection_date": ["2026-01-05", "2026-01-06", "2026-01-07", "2026-01-07"],
            "problem_found": [True, False, True, True],
            "problem_category": ["licence", None, None, None],
        }
    )
    out = problems(insp)
    assert out["case_id"].tolist() == ["J1:licence", "J3:unspecified"]
    assert out["inspection_date"].tolist() == [date(2026, 1, 5), date(2026, 1, 7)]
    assert "problem_found" in insp.columns and len(insp) == 4  # the input is not touched


def test_overdue_counts_from_state_since() -> None:
    dl = Deadlines(open=30, referred=10, acknowledged=60)
    cases = pd.DataFrame(
        {
            "case_id": ["a", "b", "c", "d", "e"],
            "state": ["open", "open", "referred", "acknowledged", "closed"],
            "state_since": [
                date(2026, 1, 1),
                date(2026, 2, 15),
                date(2026, 3, 1),
                date(2026, 1, 20),
                date(2025, 1, 1),
            ],
        }
    )
    late = overdue(cases, dl, date(2026, 3, 20))
    assert late["case_id"].tolist() == ["a", "c", "b"]  # most overdue first; d due 03-21
    assert late["days_overdue"].tolist() == [48, 9, 3]
    assert late["due_date"].tolist() == [date(2026, 1, 31), date(2026, 3, 11), date(2026, 3, 17)]
    # exactly on the due date is not yet overdue
    assert overdue(cases.iloc[[0]], dl, date(2026, 1, 31)).empty
    assert len(overdue(cases.iloc[[0]], dl, date(2026, 2, 1))) == 1
