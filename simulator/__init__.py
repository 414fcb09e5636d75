"""The synthetic province: enterprises (`population`), what happens to them month by month
(`engine` with `state`, `events`, `legacy` and `tables`), the corrupted copy departments
would deliver (`messy`) and the figures it is calibrated to (`summary`).

A client of the contract (`contract.tables`): only `pipelines.simulate`, the
benchmarks and tests import it (the loop reads the truth tables it wrote, not the package). The same configuration and seed
give byte-identical tables.
"""
