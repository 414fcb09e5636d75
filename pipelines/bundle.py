"""A registered model version and what it needs to score: the bundle, and the registry.

Shared by the stages that use a trained model (classify, verify, promote, the reports, the
benchmarks); no stage module is imported here.

- `Registry`: the MLflow model registry of the configuration (versions by number or alias,
  the parameters and metrics their training run logged, moving an alias);
- `Bundle` and `load_bundle`: the boosters, calibrators and design of one version, as
  `pipelines.train` stored them (artifact folder ``bundle``), scoring with the sector blend of
  `models.sectors` and explaining with `models.explain`; `Bundle.scheme` gives the class
  scheme with the score bands the version fitted at training, when it has them;
- `check_feature_file`: a feature file the version was not trained for is refused;
- the classes file's columns (`CLASS_FIELDS`, `output_schema`) and the explanation columns
  stored beside each class (`risk_point_columns`), which classify writes and the reports and
  benchmarks read or recompute.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contract.tables import GROUPS
from features.catalog import Feature
from features.definitions import lookup
from features.derived import DerivedSpec
from models import calibration, explain, gbm, sectors
from models.classes import ClassScheme, FittedBands, SchemeError
from models.config import ModelConfig
from models.plain import PlainModel

if TYPE_CHECKING:
    from mlflow import MlflowClient

F = npt.NDArray[np.float64]

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


class BundleError(ValueError):
    """The registered model version is missing, or the features do not fit it."""


# ------------------------------------------------------------------ the registry
@dataclass(frozen=True)
class ModelVersion:
    """One registered version of the configuration's model."""

    name: str
    version: str
    run_id: str


class Registry:
    """The MLflow model registry of ``cfg`` (``cfg.mlflow``): read versions, move aliases."""

    def __init__(self, cfg: ModelConfig) -> None:
        self.cfg = cfg
        self.name = cfg.mlflow.registered_model

    def client(self) -> MlflowClient:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.cfg.mlflow.tracking_uri)

    def find(self, alias: str | None = None, version: str | None = None) -> ModelVersion | None:
        """The version with this number, or the one behind ``alias``; None if there is none."""
        from mlflow.exceptions import MlflowException

        if (alias is None) == (version is None):
            raise ValueError("Registry.find: give either an alias or a version")
        client = self.client()
        try:
            if version is not None:
                mv = client.get_model_version(self.name, version)
            else:
                mv = client.get_model_version_by_alias(self.name, str(alias))
        except MlflowException:
            return None
        return ModelVersion(self.name, str(mv.version), str(mv.run_id))

    def run_params(self, run_id: str) -> dict[str, str]:
        """The parameters a version's training run logged."""
        return dict(self.client().get_run(run_id).data.params)

    def run_metrics(self, run_id: str) -> dict[str, float]:
        """The metrics a version's training run logged (test-month figures)."""
        return dict(self.client().get_run(run_id).data.metrics)

    def set_alias(self, alias: str, version: str) -> None:
        self.client().set_registered_model_alias(self.name, alias, version)


# ------------------------------------------------------------------ the bundle
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
    #: the features derived from the bureau's own columns the model was trained with
    derived: DerivedSpec = field(default_factory=DerivedSpec)
    #: score bands fitted at training on the population's scores (configs/model.yaml
    #: ``class_bands.fit``); None: the class scheme's own bands apply
    class_bands: FittedBands | None = None
    #: the plain baseline trained beside the model (``plain.txt``, ``plain_design.json``;
    #: `models.plain`); None: a version trained before it existed
    plain: PlainModel | None = None

    @cached_property
    def features(self) -> dict[str, Feature]:
        """Every catalog entry by name, the derived ones of this model included: what a
        feature means, its group, its report sentence."""
        return lookup(self.derived)

    def explainer(self, engine: str = "tables") -> explain.Explainer:
        """Exact TreeSHAP of this deployed model (general and sector boosters, its rule)."""
        return explain.Explainer.build(
            self.general,
            [(flag, b) for _n, flag, b, _c in self.sectors],
            self.sector_rule,
            engine,
        )

    def probability(self, x: F, flags: Mapping[str, npt.ArrayLike]) -> F:
        """Calibrated probability; sector models replace (or average with) the general one
        for the enterprises whose sector flag is 1 (`models.sectors`; in training's order:
        the later one wins)."""
        margin = gbm.predict_margin(self.general, x)
        general = self.calibrator(gbm.sigmoid(margin))
        deployed = [(flag, booster, cal) for _n, flag, booster, cal in self.sectors]
        return sectors.probability(self.sector_rule, x, flags, margin, general, deployed)

    def margin(self, x: F, flags: Mapping[str, npt.ArrayLike]) -> F:
        """The margin the explanations add up to: the general model's, with the sector
        models combined as `models.sectors.margin` combines them (``average``: the mean of
        the two margins, see `models.explain`)."""

        def of(booster: lgb.Booster) -> Callable[[F], F]:
            return lambda rows: gbm.predict_margin(booster, rows)

        deployed = [(flag, of(booster)) for _n, flag, booster, _c in self.sectors]
        general = gbm.predict_margin(self.general, x)
        return sectors.margin(self.sector_rule, x, flags, general, deployed)

    def flag_columns(self) -> list[str]:
        """The sector flag columns the bundle reads, sorted."""
        return sorted({flag for _n, flag, _b, _c in self.sectors})

    def scheme(self, scheme: ClassScheme) -> ClassScheme:
        """The scheme this version classes with: ``scheme`` with the score bands fitted at
        training, when the version has them and ``scheme`` is a score-band scheme; else
        ``scheme`` unchanged (a version without fitted bands; a ``shares`` scheme, which
        fits each month's population by its own ranks; ``probability_thresholds``, bounds
        the bureau set on the calibrated probability itself). Same name, classes and
        overrides: only the bands change. `BundleError` when the scheme's bands give other
        classes than the fitted ones (fitted for another scheme)."""
        if self.class_bands is None or scheme.method != "score_bands":
            return scheme
        if self.class_bands.scheme != scheme.name:
            raise BundleError(
                f"model {self.name} version {self.version} carries score bands fitted for "
                f"class scheme {self.class_bands.scheme}, not {scheme.name}; class with that "
                "scheme, or retrain with this one"
            )
        try:
            return self.class_bands.apply(scheme)
        except SchemeError as exc:
            raise BundleError(
                f"model {self.name} version {self.version} carries score bands fitted for "
                f"class scheme {self.class_bands.scheme}: {exc}; class with that scheme, or "
                "retrain with this one"
            ) from None


def load_bundle(cfg: ModelConfig, alias: str | None = None, version: str | None = None) -> Bundle:
    """The model version behind ``alias`` (or the given ``version``) and the artifacts of the
    run that trained it."""
    import mlflow

    if (alias is None) == (version is None):
        raise ValueError("load_bundle: give either an alias or a version")
    mlflow.set_tracking_uri(cfg.mlflow.tracking_uri)
    name = cfg.mlflow.registered_model
    mv = Registry(cfg).find(alias=alias, version=version)
    if mv is None:
        if version is not None:
            raise BundleError(
                f"registered model {name} has no version {version} in {cfg.mlflow.tracking_uri}"
            )
        hint = "run `riskclass promote`" if alias == "champion" else "run `riskclass train`"
        raise BundleError(
            f"classify: registered model {name} has no version with alias @{alias}; {hint}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(
            mlflow.artifacts.download_artifacts(
                run_id=mv.run_id, artifact_path="bundle", dst_path=tmp
            )
        )
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        general = lgb.Booster(model_file=str(folder / "general.txt"))
        deployed = [
            (
                v["name"],
                v["flag"],
                lgb.Booster(model_file=str(folder / f"sector_{v['name']}.txt")),
                calibration.Calibrator.from_dict(v["calibrator"]),
            )
            for v in meta["sectors"]
        ]
        plain = (
            PlainModel.from_files(
                (folder / "plain.txt").read_text(encoding="utf-8"),
                json.loads((folder / "plain_design.json").read_text(encoding="utf-8")),
            )
            if (folder / "plain.txt").is_file() and (folder / "plain_design.json").is_file()
            else None
        )
    return Bundle(
        name,
        mv.version,
        mv.run_id,
        gbm.Design.from_dict(meta["design"]),
        general,
        calibration.Calibrator.from_dict(meta["calibrator"]),
        int(meta["score_scale"]),
        deployed,
        meta["sector_rule"],
        meta.get("catalog_fingerprint"),
        DerivedSpec.from_json(meta.get("derived")),
        class_bands=(
            FittedBands.model_validate(meta["class_bands"]) if meta.get("class_bands") else None
        ),
        plain=plain,
    )


def check_feature_file(bundle: Bundle, path: Path, needed: set[str]) -> None:
    """Refuse a feature file the model was not trained for (other catalog, missing columns)."""
    if not path.is_file():
        raise BundleError(
            f"classify: no feature file {path}; run `riskclass features --as-of {path.stem}`"
        )
    schema = pq.read_schema(path)
    meta = schema.metadata or {}
    missing = sorted(needed - set(schema.names))
    if missing:
        raise BundleError(
            f"classify: model {bundle.name} version {bundle.version} needs features the file "
            f"{path} lacks: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
        )
    built_with = meta.get(b"riskclass.catalog", b"").decode() or None
    if bundle.catalog is not None and built_with != bundle.catalog:
        raise BundleError(
            f"classify: model {bundle.name} version {bundle.version} was trained on features of "
            f"catalog {bundle.catalog}, but {path} was built by catalog {built_with}: rebuild the "
            "features with the catalog the model knows, or retrain"
        )


# ------------------------------------------------------------------ the classes file
def output_schema(top_k: int) -> pa.Schema:
    """The classes file: the class, then its explanation (`pipelines.classify`); ``top_k``
    0: the class alone (`run_classify` with ``explain=False``)."""
    if top_k == 0:
        return pa.schema(CLASS_FIELDS)
    risk = [
        (f"risk_{k}_{part}", pa.float64() if part == "contribution" else pa.string())
        for k in range(1, top_k + 1)
        for part in ("feature", "group", "value", "contribution")
    ]
    shap = [(f"shap_{g}", pa.float64()) for g in GROUPS]
    return pa.schema(
        [*CLASS_FIELDS, *risk, *shap, ("shap_expected", pa.float64()), ("margin", pa.float64())]
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
    contrib: F,
    batch: pa.RecordBatch | pa.Table,
    features: tuple[str, ...],
    top_k: int,
    catalog: Mapping[str, Feature] | None = None,
) -> dict[str, np.ndarray]:
    """The explanation columns of `output_schema` for one batch of enterprises (``catalog``:
    the model's features by name, `Bundle.features`; the shipped catalog when not given)."""
    catalog = catalog if catalog is not None else lookup()
    idx, val = explain.top_risk_points(contrib, top_k)
    groups = list(GROUPS)
    sums = explain.group_sums(contrib, features, {f: catalog[f].group for f in features}, groups)
    names = np.array([*features, None], dtype=object)  # index -1: no risk point
    group_of = np.array([*(catalog[f].group for f in features), None], dtype=object)
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
