"""What a report run is given (`configs/report.yaml`) and how it fails (`ReportError`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class ReportError(ValueError):
    """A report cannot be made: no classes for the month, unknown enterprise, stale model."""


class ReportConfig(BaseModel):
    """`configs/report.yaml`: reference names and the thresholds of what a report says."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: code,name_zh,name_en[,prefecture_code,prefecture_zh] (GB/T 2260); codes shown if absent
    divisions: str | None = None
    #: code,section,name_zh,name_en for the 2-digit GB/T 4754 divisions; sections if absent
    industries: str | None = None
    #: a risk point must raise the margin (log-odds) by at least this much to be named
    min_contribution: Annotated[float, Field(ge=0)] = 0.02
    favourable: Annotated[int, Field(ge=0, le=10)] = 3
    history_months: Annotated[int, Field(ge=1, le=36)] = 12
    min_peers: Annotated[int, Field(ge=2)] = 20
