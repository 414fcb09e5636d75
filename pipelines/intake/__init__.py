"""Ingestion machinery shared by the `ingest` and `feedback` stages (never a stage itself).

- `pipelines.intake.config`: `IngestConfig`, the schema of ``configs/ingest.yaml``.
- `pipelines.intake.sources`: source mappings (``configs/sources/*.yaml``): which files feed
  which table, and how their headers and values map.
- `pipelines.intake.readers`: finding, sniffing, decoding and mapping a delivery's files.
- `pipelines.intake.linkage`: probabilistic name resolution (Splink on DuckDB).
- `pipelines.intake.rules`: the quarantine rules and the typing SQL, built from the contract.
- `pipelines.intake.expectations`: Great Expectations suites and Data Docs.
- `pipelines.intake.reconciliation`: what a run accounted for, per table and rule.
- `pipelines.intake.engine`: `run_ingest`, a delivery staged, checked and merged in DuckDB.
- `pipelines.intake.preview`: a source mapping tried on one file (`riskclass preview-source`).
- `pipelines.intake.findings`: inspection results linked to the plan that drew them.

Nothing is re-exported here: import from the module that owns the name.
"""
