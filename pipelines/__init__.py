"""The stages, their shared pieces and the command line: the only code that reads or writes files.

Three layers inside this package (``pyproject.toml``'s import contracts enforce them):

- shared pieces, which never import a stage: ``paths`` (every path under ``data/``,
  ``outputs/``, ``configs/``), ``io`` (atomic, formula-safe, reproducible writes), ``config``,
  ``chain``, ``environment``; and ``intake`` (ingestion machinery), ``render`` (wording, names,
  charts, templates), ``bundle`` (model bundle and registry), ``frames`` (training frames),
  ``gates`` (promotion checks), ``results`` (typed metrics);
- stages, one module or package per ``riskclass`` command and DVC stage, with the same name,
  independent of each other: ``simulate``, ``ingest``, ``feedback``, ``features``, ``train``,
  ``verify``, ``promote``, ``classify``, ``report``, ``warn``, ``plan``, ``simulate_loop``,
  ``summary``, ``contract_docs``, ``feature_docs``;
- ``cli``, at the top with the staff service (``service``), which it may import.
"""
