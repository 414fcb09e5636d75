"""Stage `ingest` (`riskclass ingest`, DVC stage ``ingest``): a delivery validated, typed and
accounted for, table by table, into the interim folder.

The work is done by the shared machinery in `pipelines.intake` (the `feedback` stage ingests
through it too): `run_ingest` is `pipelines.intake.engine.run_ingest`, which documents the
output folder (accepted tables, quarantine with reasons, ``reconciliation.json``, Great
Expectations Data Docs). This module is the stage's entry point: what the CLI and DVC call.

    >>> from pipelines.intake import engine
    >>> run_ingest is engine.run_ingest and IngestError is engine.IngestError
    True
"""

from __future__ import annotations

from pipelines.intake.engine import IngestError, run_ingest
from pipelines.intake.reconciliation import IngestReport, TableReport

__all__ = ["IngestError", "IngestReport", "TableReport", "run_ingest"]
