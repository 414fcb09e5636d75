"""Configuration of feature building (`configs/features.yaml`).

The impact periods here decide which records still count against an enterprise; the YAML
file cites where each comes from.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class FeaturesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # impact periods (months a record keeps counting after its event date)
    penalty_publication_months: Annotated[int, Field(ge=1, le=120)]
    minor_penalty_publication_months: Annotated[int, Field(ge=0, le=120)]
    # annual reports: the report for year Y is due by this month/day of year Y+1
    annual_report_deadline_month: Annotated[int, Field(ge=1, le=12)]
    annual_report_deadline_day: Annotated[int, Field(ge=1, le=31)]
    annual_report_lookback_years: Annotated[int, Field(ge=1, le=10)]
    # red-flag thresholds
    big_capital_wan_yuan: Annotated[float, Field(gt=0)]
    address_cluster_size: Annotated[int, Field(ge=2)]
    dormancy_months: Annotated[int, Field(ge=1, le=120)]
    low_platform_rating: float
    # industry and division context (leave-one-out)
    context_window_months: Annotated[int, Field(ge=1, le=120)]
    context_prior_strength: Annotated[float, Field(ge=0)]
    # engine
    duckdb_memory_limit: str
    duckdb_threads: Annotated[int, Field(ge=1, le=64)]

    @model_validator(mode="after")
    def _deadline(self) -> Self:
        dt.date(2001, self.annual_report_deadline_month, self.annual_report_deadline_day)
        return self
