"""Configuration of ingestion: the schema of `configs/ingest.yaml`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator


class IngestConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The province the bureau covers (two-digit GB/T 2260 code); divisions outside it are
    #: rejected. The reference lists shipped in contract/data cover 44 (Guangdong).
    province: Annotated[str, Field(pattern=r"^\d{2}$")] = "44"
    ge_batch_rows: Annotated[int, Field(ge=1_000)]
    duckdb_memory_limit: str
    duckdb_threads: Annotated[int, Field(ge=1, le=64)]
    header_scan_rows: Annotated[int, Field(ge=1, le=1000)]
    header_match_share: Annotated[float, Field(gt=0, le=1)]
    max_text_length: Annotated[int, Field(ge=10)]
    earliest_date: str
    latest_date: str
    column_aliases: dict[str, str]

    @field_validator("earliest_date", "latest_date")
    @classmethod
    def _date(cls, v: str) -> str:
        dt.date.fromisoformat(v)
        return v
