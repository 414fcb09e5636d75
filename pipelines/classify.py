"""Stage `classify`: score every enterprise of a month with a registered model version and
put it into a class of the configured scheme.

The model is taken from the MLflow registry by alias (`champion` by default). Features are
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
contribution).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contract.tables import GROUPS
from features.definitions import BY_NAME
from models import calibration, explain, gbm
from models.classes import OUTPUT_COLUMNS, ClassScheme, assign, class_order
from models.config import ModelConfig
from pipelines.io import PARQUET_OPTIONS, write_json

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

CLASS_FIELDS = [
    ("uscc", pa.string()),
    ("data_month", pa.string()),
    ("score", pa.float64()),
    ("probability", pa.float64()),
    ("class_model", pa.string()),
    ("class_final", pa.string()),
    ("override_rule", pa.string()),
    ("model_name", pa.string()),
    ("model_version", pa.string()),
    ("scheme", pa.string()),
]


def output_schema(top_k: int) -> pa.Schema:
    """The classes file: the class, then its explanation (module doc); ``top_k`` 0: the
    class alone (`run_classify` with ``explain=False``)."""
    if top_k == 0:
        return pa.schema(CLASS_FIELDS)
    risk = [
        (f"risk_{k}_{part}", pa.float64() if part == "contribution" else pa.string())
        for k in range(1, top_k + 1)
        for part in ("feature", "group", "value", "contribution")
    ]
    shap = [(f"shap_{g}", pa.float64()) for g in GROUPS]
    return pa.schema([*CLASS_FIELDS, *risk, *shap, ("shap_expected", pa.float64()),
                      ("margin", pa.float64())])  # fmt: skip


class ClassifyError(ValueError):
    """The model, the features and the scheme do not fit together."""


@dataclass
class Bundle:
    """What a registered model version needs to score: boosters, calibrators, design."""

    name: str
    version: str
    run_id: str
    design: gbm.Design
    general: lgb.Booster
    calibrator: calibration.Calibrator
    scale: int
    sectors: list[tuple[str, str, lgb.Booster, calibration.Calibrator]]  # name, flag, in order
    sector_rule: str
    catalog: str | None

    def explainer(self, engine: str = "tables") -> explain.Explainer:
        """Exact TreeSHAP of this deployed model (general and sector boosters, its rule)."""
        return explain.Explainer.build(
            self.general, [(flag, b) for _n, flag, b, _c in self.sectors], self.sector_rule,
            engine,
        )  # fmt: skip

    def probability(self, x: np.ndarray, flags: dict[str, np.ndarray]) -> np.ndarray:
        """Calibrated probability; sector models replace (or average with) the general one
        for the enterprises whose sector flag is 1."""
        margin = gbm.predict_margin(self.general, x)
        general = self.calibrator(gbm.sigmoid(margin))
        p = general.copy()
        for _name, flag, booster, cal in self.sectors:  # training's order: the later one wins
            m = flags[flag] == 1
            if not m.any():
                continue
            if self.sector_rule == "boost":  # sector trees on top of the general margin
                ps = cal(gbm.sigmoid(margin[m] + gbm.predict_margin(booster, x[m])))
            else:
                ps = cal(gbm.predict_raw(booster, x[m]))
            p[m] = (ps + general[m]) / 2 if self.sector_rule == "average" else ps
        return p


def load_bundle(cfg: ModelConfig, alias: str | None = None, version: str | None = None) -> Bundle:
    """The model version behind ``alias`` (or the given ``version``) and the artifacts of the
    run that trained it."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if (alias is None) == (version is None):
        raise ValueError("load_bundle: give either an alias or a version")
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    client = MlflowClient()
    name = cfg.mlflow.registered_model
    try:
        if version is not None:
            mv = client.get_model_version(name, version)
        else:
            mv = client.get_model_version_by_alias(name, str(alias))
    except MlflowException:
        if version is not None:
            raise ClassifyError(
                f"registered model {name} has no version {version} in {cfg.mlflow.tracking_uri}"
            ) from None
        hint = "run `riskclass promote`" if alias == "champion" else "run `riskclass train`"
        raise ClassifyError(
            f"classify: registered model {name} has no version with alias @{alias}; {hint}"
        ) from None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(
            mlflow.artifacts.download_artifacts(
                run_id=mv.run_id, artifact_path="bundle", dst_path=tmp
            )
        )
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        general = lgb.Booster(model_file=str(folder / "general.txt"))
        sectors = [
            (v["name"], v["flag"], lgb.Booster(model_file=str(folder / f"sector_{v['name']}.txt")),
             calibration.Calibrator.from_dict(v["calibrator"]))
            for v in meta["sectors"]
        ]  # fmt: skip
    return Bundle(
        name, str(mv.version), str(mv.run_id), gbm.Design.from_dict(meta["design"]), general,
        calibration.Calibrator.from_dict(meta["calibrator"]), int(meta["score_scale"]), sectors,
        meta["sector_rule"], meta.get("catalog_fingerprint"),
    )  # fmt: skip


def check_feature_file(bundle: Bundle, path: Path, needed: set[str]) -> None:
    """Refuse a feature file the model was not trained for (other catalog, missing columns)."""
    if not path.is_file():
        raise ClassifyError(
            f"classify: no feature file {path}; run `riskclass features --as-of {path.stem}`"
        )
    schema = pq.read_schema(path)
    meta = schema.metadata or {}
    missing = sorted(needed - set(schema.names))
    if missing:
        raise ClassifyError(
            f"classify: model {bundle.name} version {bundle.version} needs features the file "
            f"{path} lacks: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
        )
    built_with = meta.get(b"riskclass.catalog", b"").decode() or None
    if bundle.catalog is not None and built_with != bundle.catalog:
        raise ClassifyError(
            f"classify: model {bundle.name} version {bundle.version} was trained on features of "
            f"catalog {bundle.catalog}, but {path} was built by catalog {built_with}: rebuild the "
            "features with the catalog the model knows, or retrain"
        )


def _text(values: np.ndarray) -> np.ndarray:
    """Feature values as the text stored beside a risk point: numbers to 15 significant
    digits (every value the features hold, without an exponent below 1e15), categories as
    they are, missing as null."""
    out = np.full(len(values), None, dtype=object)
    if values.dtype.kind == "f":
        ok = ~np.isnan(values)
        out[ok] = np.char.mod("%.15g", values[ok])
    else:
        ok = pd.notna(values)
        out[ok] = values[ok].astype(str)
    return out


def risk_point_columns(
    contrib: np.ndarray, batch: pa.RecordBatch, features: tuple[str, ...], top_k: int
) -> dict[str, np.ndarray]:
    """The explanation columns of `output_schema` for one batch of enterprises."""
    idx, val = explain.top_risk_points(contrib, top_k)
    groups = list(GROUPS)
    sums = explain.group_sums(contrib, features, {f: BY_NAME[f].group for f in features}, groups)
    names = np.array([*features, None], dtype=object)  # index -1: no risk point
    group_of = np.array([*(BY_NAME[f].group for f in features), None], dtype=object)
    out: dict[str, np.ndarray] = {}
    for k in range(idx.shape[1]):
        i = idx[:, k]
        value = np.full(len(i), None, dtype=object)
        for j in np.unique(i[i >= 0]):
            m = i == j
            value[m] = _text(batch.column(features[j]).to_numpy(zero_copy_only=False)[m])
        out[f"risk_{k + 1}_feature"] = names[i]
        out[f"risk_{k + 1}_group"] = group_of[i]
        out[f"risk_{k + 1}_value"] = value
        out[f"risk_{k + 1}_contribution"] = val[:, k]
    for g, column in zip(groups, sums.T, strict=True):
        out[f"shap_{g}"] = column
    out["shap_expected"] = contrib[:, -1]
    out["margin"] = contrib.sum(axis=1)
    return out


@dataclass
class ClassifyReport:
    month: str
    rows: int
    counts: dict[str, int]
    overridden: dict[str, int]
    model_version: str
    seconds: float
    out: str
    explanations: str  # the explanation engine (models.explain.Explainer.engine), or "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "enterprises": self.rows,
            "class_counts": self.counts,
            "class_shares": {k: v / max(self.rows, 1) for k, v in self.counts.items()},
            "overrides": self.overridden,
            "model_version": self.model_version,
            "explanations": self.explanations,
            "out": self.out,
        }


def run_classify(
    cfg: ModelConfig,
    scheme: ClassScheme,
    features_dir: Path,
    month: str,
    out_dir: Path,
    alias: str = "champion",
    batch_rows: int = 50_000,
    explain: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> ClassifyReport:
    """Score and class every enterprise of ``month``; with ``explain`` (the default) also its
    main risk points. Without, only the class columns are written (a quick rescoring; reports
    need the explanations). ``progress(rows done, rows)`` after each batch."""
    t0 = time.perf_counter()
    bundle = load_bundle(cfg, alias=alias)
    explainer = bundle.explainer(cfg.explain.engine) if explain else None
    top_k = cfg.explain.top_k if explain else 0
    schema = output_schema(top_k)
    path = Path(features_dir) / f"{month}.parquet"
    override_cols = {c.feature for r in scheme.overrides for c in r.when}
    sector_cols = {flag for _n, flag, _b, _c in bundle.sectors}
    needed = set(bundle.design.features) | override_cols | sector_cols
    check_feature_file(bundle, path, needed)  # the overrides' columns included
    columns = ["uscc", *sorted(needed)]
    out = Path(out_dir) / month / "classes.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    counts: Counter[str] = Counter()
    overridden: Counter[str] = Counter()
    rows = 0
    constant = {"data_month": month, "model_name": bundle.name, "model_version": bundle.version,
                "scheme": scheme.name}  # fmt: skip

    source = pq.ParquetFile(path)
    total = source.metadata.num_rows

    def batches() -> Iterator[pd.DataFrame]:
        for batch in source.iter_batches(batch_size=batch_rows, columns=columns):
            flags = {f: batch.column(f).to_numpy(zero_copy_only=False) for f in sector_cols}
            x = gbm.matrix_arrow(batch, bundle.design)
            p = bundle.probability(x, flags)
            reasons = (
                {} if explainer is None
                else risk_point_columns(explainer(x, flags), batch, bundle.design.features, top_k)
            )  # fmt: skip
            yield pd.DataFrame(
                {"uscc": batch.column("uscc").to_pandas(types_mapper=pd.ArrowDtype),  # no copy
                 "score": calibration.to_score(p, bundle.scale), "probability": p,
                 **{c: batch.column(c).to_pandas() for c in sorted(override_cols)}, **reasons}
            )  # fmt: skip

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
        overridden.update(classes["override_rule"].value_counts().to_dict())
        rows += n
        if progress is not None:
            progress(rows, total)

    with pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:
        if not scheme.chunkable:  # ranks need every score: score first, then assign
            whole = pd.concat(list(batches()), ignore_index=True)
            write(writer, whole, assign(whole, scheme))
        else:
            for frame in batches():
                write(writer, frame, assign(frame, scheme))
    os.replace(tmp, out)
    order = [*class_order(scheme), *[c for c in counts if c not in class_order(scheme)]]
    report = ClassifyReport(
        month, rows, {c: counts.get(c, 0) for c in order}, dict(sorted(overridden.items())),
        bundle.version, time.perf_counter() - t0, str(out),
        explainer.engine if explainer is not None else "none",
    )  # fmt: skip
    write_json(report.to_dict(), out.parent / "classes_summary.json")
    return report
