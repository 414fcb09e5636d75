"""Stage `classify`: score every enterprise of a month with a registered model version and
put it into a class of the configured scheme.

The model is taken from the MLflow registry by alias (`champion` by default); when the version
fitted score bands at training, they replace the scheme's (`pipelines.bundle.Bundle.scheme`).
The summary warns (``warnings``, aggregate shares only) about a class of the ladder left empty
and a share far from the expected one (`models.classes.share_warnings`). Features are
read in record batches, so memory stays bounded whatever the province size; a scheme that
assigns classes by target shares needs every score first and takes a second pass.

`outputs/<month>/classes.parquet` (internal to the bureau: never published, never logged):
uscc, data_month, score (0-1000), probability, class_model (before overrides),
class_final, override_rule, model_name, model_version, scheme; and beside the class, its
explanation (`models.explain`, exact TreeSHAP in the model's margin, log-odds):
risk_<k>_feature / _group / _value / _contribution for the k = 1..top_k features that raise
the risk most (empty when fewer raise it: never a reason the model did not give),
shap_<group> for each of the five information groups (how much the group pushes the risk),
shap_expected (the province's average margin) and margin (their sum with every
contribution). The model version, the file's columns and the explanation columns come from
`pipelines.bundle`; ``classes_summary.json`` beside it is `pipelines.results.ClassesSummary`.

Then, given the ingested tables and unless turned off (``riskclass classify --no-whatif``,
``whatif.enabled`` in configs/model.yaml), what would lower the risk of every enterprise of the
highest classes: each remedy of its actionable risk points alone and all together, re-scored
exactly from its changed records with the same model version and scheme
(`pipelines.whatif`; ``outputs/<month>/whatif.parquet``, internal like the classes). A run that
does not compute them removes the month's earlier what-ifs: they would not match the classes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models import calibration, gbm
from models.classes import (
    OUTPUT_COLUMNS,
    ClassScheme,
    ShareWarning,
    assign,
    class_order,
    share_warnings,
)
from models.config import ModelConfig, WhatIfConfig
from pipelines.bundle import (
    CLASS_FIELDS,
    Bundle,
    BundleError,
    check_feature_file,
    load_bundle,
    output_schema,
    risk_point_columns,
)
from pipelines.io import PARQUET_OPTIONS, atomic_write, write_json
from pipelines.paths import Outputs, features_file
from pipelines.results import ClassesSummary
from pipelines.updates import supersede
from pipelines.whatif import WhatIfReport, run_whatif

#: The errors classify raises are the bundle's: a missing model version, a feature file that
#: does not fit it (`pipelines.bundle.BundleError`).
ClassifyError = BundleError


@dataclass
class ClassifyReport:
    """What a classify run did: its summary (written beside the classes) and its time."""

    summary: ClassesSummary
    seconds: float
    #: what would lower the risk (`pipelines.whatif`); None when not computed
    whatif: WhatIfReport | None = None
    #: within-month updates of the month this classification superseded (`pipelines.updates`)
    superseded_updates: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The summary's dict (``classes_summary.json``)."""
        return self.summary.to_dict()


def run_classify(
    cfg: ModelConfig,
    scheme: ClassScheme,
    features_dir: Path,
    as_of: str,
    outputs: Path,
    alias: str = "champion",
    batch_rows: int = 50_000,
    explain: bool = True,
    progress: Callable[[int, int], None] | None = None,
    interim: Path | None = None,
    whatif: WhatIfConfig | None = None,
) -> ClassifyReport:
    """Score and class every enterprise of ``as_of``; with ``explain`` (the default) also its
    main risk points. Without, only the class columns are written (a quick rescoring; reports
    need the explanations). ``progress(rows done, rows)`` after each batch.

    With the ingested tables (``interim``) and ``whatif`` enabled, then also what would lower
    the risk of the month's high-class enterprises (`pipelines.whatif`, it needs the risk
    points: ``explain``; not with a ``shares`` scheme, which classes by rank in the whole
    population): ``outputs/<month>/whatif.parquet``."""
    t0 = time.perf_counter()
    bundle = load_bundle(cfg, alias=alias)
    scheme = bundle.scheme(scheme)  # the score bands the version fitted, when it has them
    explainer = bundle.explainer(cfg.explain.engine) if explain else None
    top_k = cfg.explain.top_k if explain else 0
    schema = output_schema(top_k)
    path = features_file(features_dir, as_of)
    override_cols = {c.feature for r in scheme.overrides for c in r.when}
    sector_cols = {flag for _n, flag, _b, _c in bundle.sectors}
    needed = set(bundle.design.features) | override_cols | sector_cols
    check_feature_file(bundle, path, needed)  # the overrides' columns included
    columns = ["uscc", *sorted(needed)]
    out = Outputs(Path(outputs)).classes(as_of)
    out.parent.mkdir(parents=True, exist_ok=True)
    counts: Counter[str] = Counter()
    model_counts: Counter[str] = Counter()  # before overrides: what the bands decided
    overridden: Counter[str] = Counter()
    rows = 0
    constant = {
        "data_month": as_of,
        "model_name": bundle.name,
        "model_version": bundle.version,
        "scheme": scheme.name,
    }

    source = pq.ParquetFile(path)
    total = source.metadata.num_rows

    def batches() -> Iterator[pd.DataFrame]:
        for batch in source.iter_batches(batch_size=batch_rows, columns=columns):
            flags = {f: batch.column(f).to_numpy(zero_copy_only=False) for f in sector_cols}
            x = gbm.matrix_arrow(batch, bundle.design)
            p = bundle.probability(x, flags)
            reasons = (
                {}
                if explainer is None
                else risk_point_columns(
                    explainer(x, flags), batch, bundle.design.features, top_k, bundle.features
                )
            )
            yield pd.DataFrame(
                {
                    "uscc": batch.column("uscc").to_pandas(types_mapper=pd.ArrowDtype),  # no copy
                    "score": calibration.to_score(p, bundle.scale),
                    "probability": p,
                    **{c: batch.column(c).to_pandas() for c in sorted(override_cols)},
                    **reasons,
                }
            )

    def write(writer: pq.ParquetWriter, frame: pd.DataFrame, classes: pd.DataFrame) -> None:
        nonlocal rows
        n = len(frame)
        arrays = {
            "uscc": pa.array(frame["uscc"], pa.string()),
            "score": pa.array(frame["score"].to_numpy(), pa.float64()),
            "probability": pa.array(frame["probability"].to_numpy(), pa.float64()),
            **{k: pa.array(classes[k], pa.string()) for k in OUTPUT_COLUMNS},
            **{k: pa.repeat(pa.scalar(v, pa.string()), n) for k, v in constant.items()},
        }
        for name in schema.names[len(CLASS_FIELDS) :]:
            arrays[name] = pa.array(
                frame[name].to_numpy(), schema.field(name).type, from_pandas=True
            )
        table = pa.table([arrays[c] for c in schema.names], schema=schema)
        writer.write_table(table)
        counts.update(classes["class_final"].value_counts().to_dict())
        model_counts.update(classes["class_model"].value_counts().to_dict())
        overridden.update(classes["override_rule"].value_counts().to_dict())
        rows += n
        if progress is not None:
            progress(rows, total)

    def write_classes(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:
            if not scheme.chunkable:  # ranks need every score: score first, then assign
                whole = pd.concat(list(batches()), ignore_index=True)
                write(writer, whole, assign(whole, scheme))
            else:
                for frame in batches():
                    write(writer, frame, assign(frame, scheme))

    atomic_write(out, write_classes)
    superseded = supersede(Path(outputs), as_of)  # made against the classes just replaced
    order = [*class_order(scheme), *[c for c in counts if c not in class_order(scheme)]]
    class_counts = {c: counts.get(c, 0) for c in order}
    summary = ClassesSummary(
        month=as_of,
        enterprises=rows,
        class_counts=class_counts,
        class_shares={k: v / max(rows, 1) for k, v in class_counts.items()},
        overrides=dict(sorted(overridden.items())),
        model_version=bundle.version,
        explanations=explainer.engine if explainer is not None else "none",
        out=str(out),
        warnings=[w.to_dict() for w in _share_warnings(cfg, scheme, bundle, counts, model_counts)],
    )
    write_json(summary.to_dict(), Outputs(Path(outputs)).classes_summary(as_of))
    what = None
    stale = Outputs(Path(outputs)).whatif(as_of)
    if (
        interim is not None
        and whatif is not None
        and whatif.enabled
        and explain
        and scheme.chunkable
    ):
        what = run_whatif(bundle, scheme, whatif, Path(interim), path, out, as_of, stale)
    else:
        stale.unlink(missing_ok=True)  # never a what-if of another run beside these classes
    return ClassifyReport(summary, time.perf_counter() - t0, what, superseded)


def _share_warnings(
    cfg: ModelConfig,
    scheme: ClassScheme,
    bundle: Bundle,
    final: Counter[str],
    model: Counter[str],
) -> list[ShareWarning]:
    """The month's class shares held against what was expected (aggregates only): the target
    shares of the bands the version fitted, when it classed with them; else the scheme's
    ``expected_shares``. An empty class of the ladder is always reported."""
    fitted = bundle.class_bands if scheme.method == "score_bands" else None
    return share_warnings(
        scheme,
        final,
        model,
        targets=fitted.targets if fitted is not None else None,
        max_drift=cfg.class_bands.max_share_drift,
    )
