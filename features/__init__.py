"""Point-in-time features: the catalog (`catalog`), the SQL definitions of the five
information groups (`base`, `dynamic`, `supervision`, `relations`, `social`, gathered by
`definitions`), and the engine that runs them in DuckDB (`engine`).

A pure library: it reads no files and loads no configuration; the `features` stage
(`pipelines.features`) gives it a connection and the settings.
"""
