"""What an ingestion run accounted for: per table, rows read, accepted, quarantined by rule,
merged, and the Great Expectations results; `IngestReport.to_dict` is the layout of
``reconciliation.json`` (and of the CLI's ``--report-out``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TableReport:
    """One contract table of a run; filled in by the engine as the table goes through."""

    table: str
    status: str  # ingested | absent | kept (absent now, previous data kept)
    source: dict[str, object] = field(default_factory=dict)
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    merged_new: int = 0
    merged_updated: int = 0
    merged_unchanged: int = 0
    rows_total: int = 0
    expectations: dict[str, object] = field(default_factory=dict)
    #: accepted rows by how their enterprise was resolved, plus review and unresolved counts
    resolution: dict[str, int] = field(default_factory=dict)
    #: accepted rows by note (division outside the province, design unknown, ...)
    notes: dict[str, int] = field(default_factory=dict)

    @property
    def unaccounted(self) -> int:
        return self.rows_read - self.accepted - self.quarantined


@dataclass
class IngestReport:
    """A whole run: its name (from the delivery and month), every table, stray files."""

    run_name: str
    as_of: str | None
    tables: list[TableReport]
    unknown_files: list[str]
    data_docs: str
    unused_sources: list[str] = field(default_factory=list)
    #: collection quality per table and department (`pipelines.intake.quality.summarise`)
    quality: dict[str, object] = field(default_factory=dict)

    @property
    def unaccounted(self) -> int:
        return sum(t.unaccounted for t in self.tables)

    def to_dict(self) -> dict[str, object]:
        return {
            "run_name": self.run_name,
            "as_of": self.as_of,
            "unaccounted_rows": self.unaccounted,
            "unknown_files": self.unknown_files,
            "unused_sources": self.unused_sources,
            "data_docs": self.data_docs,
            "tables": {
                t.table: {
                    "status": t.status,
                    "source": t.source,
                    "rows_read": t.rows_read,
                    "accepted": t.accepted,
                    "quarantined": t.quarantined,
                    "unaccounted": t.unaccounted,
                    "quarantined_by_rule": t.by_rule,
                    "resolution": t.resolution,
                    "notes": t.notes,
                    "merge": {
                        "new": t.merged_new,
                        "updated": t.merged_updated,
                        "unchanged": t.merged_unchanged,
                    },
                    "rows_in_interim": t.rows_total,
                    "expectations": t.expectations,
                }
                for t in self.tables
            },
            **({"quality": self.quality} if self.quality else {}),
        }
