"""Configuration of feature building (`configs/features.yaml`).

The impact periods here decide which records still count against an enterprise; the YAML
file cites where each comes from.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DerivedConfig(BaseModel):
    """Features from the bureau's own indicators and pass-through columns (`features.derived`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: windows (months back from the month end) of the counts, sums, means, shares ...
    windows: tuple[Annotated[int, Field(ge=1, le=240)], ...] = (12, 36)
    #: an indicator or column seen for fewer enterprises gives no features
    min_enterprises: Annotated[int, Field(ge=1)] = 20
    #: at most this many sources (indicator codes and columns), in discovery order
    max_sources: Annotated[int, Field(ge=0, le=2000)] = 300
    #: text with at most this many distinct values is a category; more is free text (skipped)
    max_distinct_for_category: Annotated[int, Field(ge=2)] = 50
    #: the frequent categories that get their own counts: at most this many ...
    max_categories: Annotated[int, Field(ge=0, le=50)] = 8
    #: ... each with at least this share of the records
    min_category_share: Annotated[float, Field(ge=0, le=1)] = 0.02
    #: risk direction of a source's values (``indicators:<code>`` or ``<table>.<x_column>``):
    #: +1 a higher value can only raise the risk, -1 only lower it; unnamed: left to the model
    directions: dict[str, Literal[-1, 0, 1]] = Field(default_factory=dict)
    #: sources never to use (same naming)
    exclude: tuple[str, ...] = ()


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
    # the bureau's own indicators and pass-through columns
    derived: DerivedConfig = Field(default_factory=DerivedConfig)

    @model_validator(mode="after")
    def _deadline(self) -> Self:
        dt.date(2001, self.annual_report_deadline_month, self.annual_report_deadline_day)
        return self
