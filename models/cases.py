"""Follow-up of problems found (issue 20): a case per problem, its states and deadlines.

「属于其他部门职责的要及时移交，形成监管闭环，做到"后续处置无例外"」 (seeds/004). Each problem
found by an inspection opens one case, keyed by the inspection and the item (the problem
category; ``unspecified`` when the export gives none). A case is handled here, or referred to a
named department (which acknowledges it), and is closed with a disposal and its date::

    open ──refer──> referred ──acknowledge──> acknowledged
      │                │                           │
      └──close──┐      └──close──┐                 └──close──> closed (final)
                v                v
              closed           closed

Every change is one of the actions in `TRANSITIONS`; anything else is a `CaseError` that names
the case and the rule. A case is overdue when it has stayed in its state longer than the
deadline the configuration gives that state (`CasesConfig.deadlines`), counted in calendar
days from the date the state was entered up to an ``as_of`` date passed in (never the clock).

Pure: no file, no clock. The store is `pipelines.cases`.

>>> next_state("JC1:licence", "open", "refer")
'referred'
>>> next_state("JC1:licence", "closed", "refer")
Traceback (most recent call last):
...
models.cases.CaseError: case JC1:licence: cannot refer a case that is closed (rule: a closed case is final)
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

State = Literal["open", "referred", "acknowledged", "closed"]
Action = Literal["refer", "acknowledge", "close"]

STATES: tuple[State, ...] = ("open", "referred", "acknowledged", "closed")
ACTIONS: tuple[Action, ...] = ("refer", "acknowledge", "close")

#: (state, action) -> the state it leads to; nothing else is allowed.
TRANSITIONS: dict[tuple[State, Action], State] = {
    ("open", "refer"): "referred",
    ("open", "close"): "closed",
    ("referred", "acknowledge"): "acknowledged",
    ("referred", "close"): "closed",
    ("acknowledged", "close"): "closed",
}

#: Chinese words a bureau's case system may write for an action.
ACTION_WORDS: dict[str, Action] = {
    "refer": "refer",
    "移交": "refer",
    "acknowledge": "acknowledge",
    "签收": "acknowledge",
    "接收": "acknowledge",
    "close": "close",
    "办结": "close",
    "结案": "close",
}

#: The item of a case whose problem has no category in the export.
UNSPECIFIED = "unspecified"

STATE_ZH: dict[str, str] = {
    "open": "本部门处置中",
    "referred": "已移交待签收",
    "acknowledged": "移交部门处置中",
    "closed": "已办结",
}


class CaseError(ValueError):
    """An action a case does not allow, or a bad value in it; names the case and the rule."""


def _rule(state: str, action: str) -> str:
    if state == "closed":
        return "a closed case is final"
    if action == "acknowledge":
        return "only a referred case is acknowledged"
    if action == "refer":
        return "a case is referred once, while it is open"
    return "allowed: " + ", ".join(f"{s} -{a}-> {t}" for (s, a), t in TRANSITIONS.items())


def next_state(case_id: str, state: str, action: str) -> State:
    """The state ``action`` leads to from ``state``, or a `CaseError` naming the rule."""
    if state not in STATES:
        raise CaseError(f"case {case_id}: unknown state {state!r} (rule: one of {STATES})")
    if action not in ACTIONS:
        raise CaseError(f"case {case_id}: unknown action {action!r} (rule: one of {ACTIONS})")
    key = (state, action)
    if key not in TRANSITIONS:
        raise CaseError(
            f"case {case_id}: cannot {action} a case that is {state} (rule: {_rule(state, action)})"
        )
    return TRANSITIONS[key]


def parse_action(word: str) -> Action:
    """An action from its English or Chinese word (``移交``, ``签收``, ``办结``)."""
    key = str(word).strip().lower()
    if key not in ACTION_WORDS:
        raise CaseError(f"unknown action {word!r} (rule: one of {sorted(ACTION_WORDS)})")
    return ACTION_WORDS[key]


# ----------------------------------------------------------------------------- configuration
class Disposal(BaseModel):
    """How a case was closed (a code, with its Chinese and English labels)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    zh: str
    en: str
    #: only a referred case may be closed with it (移交后已处理)
    after_referral: bool = False


class Department(BaseModel):
    """A department a case may be referred to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    zh: str
    en: str


class Deadlines(BaseModel):
    """Calendar days a case may stay in a state before it is overdue."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    open: int = Field(gt=0)
    referred: int = Field(gt=0)
    acknowledged: int = Field(gt=0)


class CasesConfig(BaseModel):
    """``configs/cases.yaml``: disposals, departments, deadlines, import and verify knobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    disposals: tuple[Disposal, ...] = Field(min_length=1)
    departments: tuple[Department, ...] = Field(min_length=1)
    deadlines: Deadlines
    #: an import whose accepted (or already recorded) share is below this fails (exit non-zero)
    min_accepted_share: float = Field(ge=0.0, le=1.0)
    #: days after a warning's month end within which an inspection or a case counts as acting on it
    acted_window_days: int = Field(gt=0)

    @model_validator(mode="after")
    def _unique(self) -> CasesConfig:
        for kind, codes in (
            ("disposals", [d.code for d in self.disposals]),
            ("departments", [d.code for d in self.departments]),
        ):
            if len(set(codes)) != len(codes):
                raise ValueError(f"{kind}: codes must be unique, got {codes}")
        return self

    def disposal(self, case_id: str, word: str, state: str) -> Disposal:
        """The disposal named by its code or Chinese label, allowed from ``state``."""
        key = str(word).strip()
        for d in self.disposals:
            if key in (d.code, d.zh):
                if d.after_referral and state == "open":
                    raise CaseError(
                        f"case {case_id}: disposal {d.code} ({d.zh}) needs a referral first "
                        "(rule: after_referral disposals close referred cases only)"
                    )
                return d
        raise CaseError(
            f"case {case_id}: unknown disposal {word!r} "
            f"(rule: one of {[d.code for d in self.disposals]}, configs/cases.yaml)"
        )

    def department(self, case_id: str, word: str) -> Department:
        """The department named by its code or Chinese name."""
        key = str(word).strip()
        for d in self.departments:
            if key in (d.code, d.zh):
                return d
        raise CaseError(
            f"case {case_id}: unknown department {word!r} "
            f"(rule: one of {[d.code for d in self.departments]}, configs/cases.yaml)"
        )


# --------------------------------------------------------------------------------- case keys
def case_id(inspection_id: str, item: str | None) -> str:
    """The key of the case of one problem: ``<inspection_id>:<item>``."""
    return f"{inspection_id}:{item or UNSPECIFIED}"


def problems(inspections: pd.DataFrame) -> pd.DataFrame:
    """One row per problem found: case_id, inspection_id, item, uscc, inspection_date.

    The contract holds one problem category per inspection, so an inspection opens at most
    one case; its item is the category (``unspecified`` when the export gives none). Returns
    a new frame sorted by case_id.
    """
    found = inspections.loc[inspections["problem_found"].fillna(False).astype(bool)]
    item = (
        found["problem_category"]
        .astype(object)
        .where(found["problem_category"].notna(), UNSPECIFIED)
    )
    out = pd.DataFrame(
        {
            "inspection_id": found["inspection_id"].astype(str).to_numpy(),
            "item": item.astype(str).to_numpy(),
            "uscc": found["uscc"].astype(str).to_numpy(),
            "inspection_date": pd.to_datetime(found["inspection_date"]).dt.date.to_numpy(),
        }
    )
    out.insert(0, "case_id", out["inspection_id"] + ":" + out["item"])
    return out.drop_duplicates("case_id").sort_values("case_id", ignore_index=True)


# ------------------------------------------------------------------------------------ overdue
def due_dates(cases: pd.DataFrame, deadlines: Deadlines) -> pd.Series:
    """The date each case falls overdue (``state_since`` + the state's deadline); NaT for a
    closed case."""
    days = cases["state"].map(
        {
            "open": deadlines.open,
            "referred": deadlines.referred,
            "acknowledged": deadlines.acknowledged,
        }
    )
    since = pd.to_datetime(cases["state_since"])
    return since + pd.to_timedelta(days, unit="D")


def overdue(cases: pd.DataFrame, deadlines: Deadlines, as_of: date) -> pd.DataFrame:
    """The cases overdue on ``as_of`` (due date before it), with ``due_date`` and
    ``days_overdue``; the most overdue first. A new frame.

    >>> c = pd.DataFrame({"case_id": ["a", "b", "c"], "state": ["open", "referred", "closed"],
    ...                   "state_since": [date(2026, 1, 1), date(2026, 3, 1), date(2026, 1, 1)]})
    >>> overdue(c, Deadlines(open=30, referred=10, acknowledged=60), date(2026, 3, 20))
      case_id     state state_since    due_date  days_overdue
    0       a      open  2026-01-01  2026-01-31            48
    1       b  referred  2026-03-01  2026-03-11             9
    """
    due = due_dates(cases, deadlines)
    late = (due < pd.Timestamp(as_of)).fillna(False).to_numpy(dtype=bool)
    out = cases.loc[late].copy()
    out["due_date"] = due[late].dt.date
    out["days_overdue"] = (pd.Timestamp(as_of) - due[late]).dt.days.astype(np.int64)
    return out.sort_values(["days_overdue", "case_id"], ascending=[False, True], ignore_index=True)
