"""``python -m pipelines.cli``: the same command line as ``riskclass`` (DVC's stages call it so)."""

from pipelines.cli import app

app()
