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
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from models.explain import Explainer
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

if TYPE_CHECKING:
    from pipelines.spark.config import SparkConfig

#: Where the batches are scored: here, or in Spark tasks (`pipelines.spark.classify`).
ENGINES = ("local", "spark")

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
    engine: str = "local",
    spark_config: SparkConfig | None = None,
    spark_master: str | None = None,
    spark: Any = None,
) -> ClassifyReport:
    """Score and class every enterprise of ``as_of``; with ``explain`` (the default) also its
    main risk points. Without, only the class columns are written (a quick rescoring; reports
    need the explanations). ``progress(rows done, rows)`` after each batch.

    With the ingested tables (``interim``) and ``whatif`` enabled, then also what would lower
    the risk of the month's high-class enterprises (`pipelines.whatif`, it needs the risk
    points: ``explain``; not with a ``shares`` scheme, which classes by rank in the whole
    population): ``outputs/<month>/whatif.parquet``.

    ``engine="spark"``: the batches are scored, classed and explained in Spark tasks
    (`pipelines.spark.classify`; the session from ``spark_config``, ``configs/spark.yaml``,
    on ``spark_master`` when given, or the running session ``spark``): the same file, rows
    and summary. Not for a ``shares`` scheme (refused: its ranks need every score in one
    place). The what-if, when asked for, still runs here, on the local path."""
    t0 = time.perf_counter()
    if engine not in ENGINES:
        raise ClassifyError(f"classify: engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    bundle = load_bundle(cfg, alias=alias)
    scheme = bundle.scheme(scheme)  # the score bands the version fitted, when it has them
    if engine == "spark" and not scheme.chunkable:
        raise ClassifyError(
            f"classify --engine spark: class scheme {scheme.name!r} assigns classes by shares "
            "of the whole month (method: shares), which ranks every score of the month in one "
            "place; the Spark tasks class batch by batch. Use --engine local for this scheme"
        )
    explainer = bundle.explainer(cfg.explain.engine) if explain else None
    top_k = cfg.explain.top_k if explain else 0
    schema = output_schema(top_k)
    path = features_file(features_dir, as_of)
    columns = input_columns(bundle, scheme)
    check_feature_file(bundle, path, set(columns[1:]))  # the overrides' columns included
    out = Outputs(Path(outputs)).classes(as_of)
    out.parent.mkdir(parents=True, exist_ok=True)
    tally = ClassTally()

    source = pq.ParquetFile(path)
    total = source.metadata.num_rows

    def write(writer: pq.ParquetWriter, table: pa.Table) -> None:
        writer.write_table(table)
        tally.add(table)
        if progress is not None:
            progress(tally.rows, total)

    def write_classes(tmp: Path) -> None:
        batches = source.iter_batches(batch_size=batch_rows, columns=columns)
        with pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:
            if not scheme.chunkable:  # ranks need every score: score first, then assign
                frames = [score_frame(bundle, scheme, explainer, top_k, b) for b in batches]
                whole = pd.concat(frames, ignore_index=True)
                write(writer, class_table(bundle, scheme, top_k, as_of, whole))
            else:
                for batch in batches:
                    write(writer, score_batch(bundle, scheme, explainer, top_k, batch, as_of=as_of))

    if engine == "spark":
        from pipelines.spark.classify import map_file

        map_file(
            path,
            columns,
            partial(score_batch, bundle, scheme, explainer, top_k, as_of=as_of),
            schema,
            out,
            config=spark_config,
            master=spark_master,
            spark=spark,
            batch_rows=batch_rows,
            on_table=tally.add,
        )
    else:
        atomic_write(out, write_classes)
    summary = finish_classes(cfg, scheme, bundle, explainer, tally, as_of, out, Path(outputs))
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
    return ClassifyReport(summary.summary, time.perf_counter() - t0, what, summary.superseded)


# ------------------------------------------------------------------ one batch, either engine
def input_columns(bundle: Bundle, scheme: ClassScheme) -> list[str]:
    """The feature file's columns classify reads: uscc, then (sorted) the model's features,
    the sector flags and the columns the scheme's overrides test."""
    override_cols = {c.feature for r in scheme.overrides for c in r.when}
    return [
        "uscc",
        *sorted(set(bundle.design.features) | override_cols | set(bundle.flag_columns())),
    ]


def score_frame(
    bundle: Bundle,
    scheme: ClassScheme,
    explainer: Explainer | None,
    top_k: int,
    batch: pa.RecordBatch | pa.Table,
) -> pd.DataFrame:
    """One batch of enterprises scored (probability, 0-1000 score) and, with an ``explainer``,
    explained (`pipelines.bundle.risk_point_columns`), beside the columns the overrides read:
    everything `assign` and `class_table` need, before the classes (a ``shares`` scheme ranks
    the whole month's frames together)."""
    override_cols = sorted({c.feature for r in scheme.overrides for c in r.when})
    flags = {f: batch.column(f).to_numpy(zero_copy_only=False) for f in bundle.flag_columns()}
    x = gbm.matrix_arrow(batch, bundle.design)
    p = bundle.probability(x, flags)
    reasons = (
        {}
        if explainer is None
        else risk_point_columns(
            explainer(x, flags), batch, bundle.design.features, top_k, bundle.features
        )
    )
    return pd.DataFrame(
        {
            "uscc": batch.column("uscc").to_pandas(types_mapper=pd.ArrowDtype),  # no copy
            "score": calibration.to_score(p, bundle.scale),
            "probability": p,
            **{c: batch.column(c).to_pandas() for c in override_cols},
            **reasons,
        }
    )


def class_table(
    bundle: Bundle,
    scheme: ClassScheme,
    top_k: int,
    as_of: str,
    frame: pd.DataFrame,
    classes: pd.DataFrame | None = None,
) -> pa.Table:
    """Rows of the classes file (`pipelines.bundle.output_schema`) from a `score_frame`: its
    classes by `assign` (``classes`` when already assigned)."""
    schema = output_schema(top_k)
    classes = assign(frame, scheme) if classes is None else classes
    n = len(frame)
    constant = {
        "data_month": as_of,
        "model_name": bundle.name,
        "model_version": bundle.version,
        "scheme": scheme.name,
    }
    arrays = {
        "uscc": pa.array(frame["uscc"], pa.string()),
        "score": pa.array(frame["score"].to_numpy(), pa.float64()),
        "probability": pa.array(frame["probability"].to_numpy(), pa.float64()),
        **{k: pa.array(classes[k], pa.string()) for k in OUTPUT_COLUMNS},
        **{k: pa.repeat(pa.scalar(v, pa.string()), n) for k, v in constant.items()},
    }
    for name in schema.names[len(CLASS_FIELDS) :]:
        arrays[name] = pa.array(frame[name].to_numpy(), schema.field(name).type, from_pandas=True)
    return pa.table([arrays[c] for c in schema.names], schema=schema)


def score_batch(
    bundle: Bundle,
    scheme: ClassScheme,
    explainer: Explainer | None,
    top_k: int,
    batch: pa.RecordBatch | pa.Table,
    *,
    as_of: str,
) -> pa.Table:
    """One batch of ``as_of``'s enterprises as rows of the classes file, in
    `pipelines.bundle.output_schema` order: what the local path writes per batch and what each
    Spark task computes (`pipelines.spark.classify`), so the two engines cannot drift apart.
    Only for a chunkable scheme: a ``shares`` scheme classes by rank in the whole month."""
    if not scheme.chunkable:
        raise ClassifyError(
            f"class scheme {scheme.name!r} assigns classes by shares of the whole month "
            "(method: shares): it cannot be applied batch by batch"
        )
    return class_table(
        bundle, scheme, top_k, as_of, score_frame(bundle, scheme, explainer, top_k, batch)
    )


@dataclass
class ClassTally:
    """Class counts of the rows written so far: the summary's aggregates (never the rows)."""

    final: Counter[str] = field(default_factory=Counter)
    model: Counter[str] = field(default_factory=Counter)  # before overrides: what the bands decided
    overridden: Counter[str] = field(default_factory=Counter)
    rows: int = 0

    def add(self, table: pa.Table) -> None:
        """Count one written piece of the classes file."""
        for counter, column in (
            (self.final, "class_final"),
            (self.model, "class_model"),
            (self.overridden, "override_rule"),
        ):
            counter.update(table.column(column).to_pandas().value_counts().to_dict())
        self.rows += table.num_rows


@dataclass
class Finished:
    """The summary written beside the classes, and the updates the new classes superseded."""

    summary: ClassesSummary
    superseded: int


def finish_classes(
    cfg: ModelConfig,
    scheme: ClassScheme,
    bundle: Bundle,
    explainer: Explainer | None,
    tally: ClassTally,
    as_of: str,
    out: Path,
    outputs: Path,
) -> Finished:
    """After the classes file is in place (either engine): supersede the month's within-month
    updates made against the classes it replaced, and write ``classes_summary.json``."""
    superseded = supersede(outputs, as_of)  # made against the classes just replaced
    counts = tally.final
    order = [*class_order(scheme), *[c for c in counts if c not in class_order(scheme)]]
    class_counts = {c: counts.get(c, 0) for c in order}
    rows = tally.rows
    summary = ClassesSummary(
        month=as_of,
        enterprises=rows,
        class_counts=class_counts,
        class_shares={k: v / max(rows, 1) for k, v in class_counts.items()},
        overrides=dict(sorted(tally.overridden.items())),
        model_version=bundle.version,
        explanations=explainer.engine if explainer is not None else "none",
        out=str(out),
        warnings=[w.to_dict() for w in _share_warnings(cfg, scheme, bundle, counts, tally.model)],
    )
    write_json(summary.to_dict(), Outputs(outputs).classes_summary(as_of))
    return Finished(summary, superseded)


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
