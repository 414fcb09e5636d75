"""The figures the model stages write and read back, as typed objects.

- `ClassesSummary`: ``outputs/<month>/classes_summary.json`` (classify; read by summary);
- `TrainMetrics`: every figure of a training run (the model card, the CLI's table), and
  `TrainFigures`, the flat numbers of ``outputs/train_metrics.json`` (`dvc metrics show`);
- `VerificationMetrics`: ``outputs/<month>/verification/metrics.json`` (verify; read by
  promote and summary), with its `Check`s.

Each ``to_dict()`` gives exactly the dict the file holds (same keys, order and values) and
each ``read(path)`` loads the file back; stages pass these objects, not dicts read by string
keys. `finite` makes a figure strict JSON (NaN and infinities become null) where a file
promises it. Shared by the stages: nothing here imports a stage.

>>> finite({"auc": float("nan"), "rates": [1.0, float("inf")], "n": 3})
{'auc': None, 'rates': [1.0, None], 'n': 3}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from models.plain import PlainComparison, PlainModel
from models.verification import Calibration, Rate

_T = TypeVar("_T")


def finite(value: Any) -> Any:
    """``value`` with every non-finite number as None, in dicts, lists and tuples (lists
    out): JSON has no NaN, and a strict reader rejects it."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


class ResultsError(ValueError):
    """A results file that cannot be read back (not JSON, or a field missing)."""


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ResultsError(f"{path}: cannot be read as a results file ({err})") from None
    if not isinstance(data, dict):
        raise ResultsError(f"{path}: a results file holds a JSON object")
    return data


def _parse(path: Path, kind: str, parse: Callable[[dict[str, Any]], _T]) -> _T:
    """``parse`` the file at ``path``; a missing or mistyped field is a ResultsError naming it."""
    try:
        return parse(_load(path))
    except (KeyError, TypeError, AttributeError, ValueError) as err:
        if isinstance(err, ResultsError):
            raise
        raise ResultsError(f"{path}: not a complete {kind} (field {err})") from None


# ------------------------------------------------------------------ classify
@dataclass(frozen=True)
class ClassesSummary:
    """A month's classes in numbers (``classes_summary.json``): no enterprise in it."""

    month: str
    enterprises: int
    class_counts: dict[str, int]
    class_shares: dict[str, float]
    overrides: dict[str, int]  # rule -> enterprises it moved
    model_version: str
    explanations: str  # the explanation engine (models.explain.Explainer.engine), or "none"
    out: str  # the classes file
    #: classes empty or with a share far from the expected one (`models.classes.ShareWarning`
    #: dicts: class, kind, share, expected, basis, message; aggregate shares only)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "enterprises": self.enterprises,
            "class_counts": self.class_counts,
            "class_shares": self.class_shares,
            "overrides": self.overrides,
            "model_version": self.model_version,
            "explanations": self.explanations,
            "out": self.out,
            "warnings": self.warnings,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassesSummary:
        return cls(
            d["month"],
            d["enterprises"],
            d["class_counts"],
            d["class_shares"],
            d["overrides"],
            d["model_version"],
            d["explanations"],
            d["out"],
            list(d.get("warnings", [])),  # written before issue 18: none recorded
        )

    @classmethod
    def read(cls, path: Path) -> ClassesSummary:
        return _parse(path, "classes summary", cls.from_dict)


# ------------------------------------------------------------------ train
@dataclass(frozen=True)
class ClassHitRate:
    """Inspections of a class in the test months and their weighted hit rate."""

    inspections: int
    hit_rate: float

    def to_dict(self) -> dict[str, Any]:
        return {"inspections": self.inspections, "hit_rate": self.hit_rate}


@dataclass(frozen=True)
class ModelEvaluation:
    """Test-month metrics of one model (`pipelines.train`): weighted AUC, log-loss, Brier,
    hit rate by class; the share of the oracle's AUC when the truth was given."""

    model: str
    auc: float
    logloss: float
    brier: float
    hit_rates: dict[str, ClassHitRate]
    hit_rates_increasing: bool
    auc_fraction_of_oracle: float | None = None  # None: no --truth (the key is left out)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "auc": self.auc,
            "logloss": self.logloss,
            "brier": self.brier,
            "hit_rates": {c: r.to_dict() for c, r in self.hit_rates.items()},
            "hit_rates_increasing": self.hit_rates_increasing,
        }
        if self.auc_fraction_of_oracle is not None:
            out["auc_fraction_of_oracle"] = self.auc_fraction_of_oracle
        return out


@dataclass(frozen=True)
class SectorFigures:
    """A sector model against the general model on the sector's inspections: validation
    months (where the choice is made) and test months (reported only)."""

    valid_general_auc: float
    valid_sector_auc: float
    valid_general_logloss: float
    valid_sector_logloss: float
    general_logloss: float
    sector_logloss: float
    general_auc: float
    sector_auc: float

    def to_dict(self) -> dict[str, float]:
        return {
            "valid_general_auc": self.valid_general_auc,
            "valid_sector_auc": self.valid_sector_auc,
            "valid_general_logloss": self.valid_general_logloss,
            "valid_sector_logloss": self.valid_sector_logloss,
            "general_logloss": self.general_logloss,
            "sector_logloss": self.sector_logloss,
            "general_auc": self.general_auc,
            "sector_auc": self.sector_auc,
        }


@dataclass(frozen=True)
class SectorOutcome:
    """Whether training kept a sector model, and why."""

    flag: str
    train_inspections: int
    test_inspections: int
    used: bool
    reason: str
    figures: SectorFigures | None = None  # None: too few inspections to train one
    calibrator: dict[str, Any] | None = None  # the kept model's (models.calibration)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "flag": self.flag,
            "train_inspections": self.train_inspections,
            "test_inspections": self.test_inspections,
            "used": self.used,
            **(self.figures.to_dict() if self.figures is not None else {}),
            "reason": self.reason,
        }
        if self.calibrator is not None:
            out["calibrator"] = self.calibrator
        return out


@dataclass(frozen=True)
class ModelFigures:
    """One model's numbers in ``train_metrics.json``."""

    auc: float | None
    logloss: float | None
    auc_fraction_of_oracle: float | None
    hit_rates: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "auc": self.auc,
            "logloss": self.logloss,
            "auc_fraction_of_oracle": self.auc_fraction_of_oracle,
            "hit_rates": self.hit_rates,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelFigures:
        return cls(d["auc"], d["logloss"], d["auc_fraction_of_oracle"], d["hit_rates"])


@dataclass(frozen=True)
class TrainFigures:
    """``outputs/train_metrics.json``: the flat numbers `dvc metrics show` lists, one entry
    per model beside the trials, the oracle AUC and the label counts; strict JSON."""

    trials: int
    oracle_auc: float | None
    labelled: dict[str, int]
    models: dict[str, ModelFigures]
    split: dict[str, Any] | None = None  # how the rows were split (grouped CV: its AUCs)
    #: the deployed model judged against the plain GBM (`models.plain.PlainComparison`)
    plain_baseline: dict[str, Any] | None = None
    #: every test AUC with its paired-bootstrap interval (`pipelines.train.intervals`)
    auc_intervals: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        flat: dict[str, Any] = {"trials": self.trials, "oracle_auc": self.oracle_auc}
        flat["labelled"] = self.labelled
        if self.split:
            flat["split"] = self.split
        for model, r in self.models.items():
            flat[model] = r.to_dict()
        if self.plain_baseline is not None:
            flat["plain_baseline"] = self.plain_baseline
        if self.auc_intervals is not None:
            flat["auc_intervals"] = self.auc_intervals
        out: dict[str, Any] = finite(flat)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainFigures:
        models = {
            k: ModelFigures.from_dict(v)
            for k, v in d.items()
            if k
            not in ("trials", "oracle_auc", "labelled", "split", "plain_baseline", "auc_intervals")
        }
        return cls(
            d["trials"],
            d["oracle_auc"],
            d["labelled"],
            models,
            d.get("split"),
            d.get("plain_baseline"),
            d.get("auc_intervals"),
        )

    @classmethod
    def read(cls, path: Path) -> TrainFigures:
        return _parse(path, "training metrics file", cls.from_dict)


@dataclass
class TrainMetrics:
    """Every figure of a training run: label counts, trials, the models compared on the test
    months, the sector models' outcomes, which model is deployed, the registered version."""

    labelled: dict[str, int]
    trials: int
    oracle_auc: float | None
    models: dict[str, ModelEvaluation]
    sectors: dict[str, SectorOutcome]
    class_scheme: str
    deployed: str  # the key in `models` of what classify runs
    model_version: str | None = None  # set once registered
    #: How the rows were split (`pipelines.frames.SplitInfo.to_dict`, with the out-of-fold AUCs
    #: of grouped cross-validation); empty for runs before it was recorded.
    split: dict[str, Any] = field(default_factory=dict)
    #: the deployed model against the plain baseline (`pipelines.train.plain`); None: not fitted
    plain: PlainComparison | None = None
    #: the plain GBM itself, which the bundle stores (never in the figures)
    plain_model: PlainModel | None = field(default=None, repr=False, compare=False)
    #: every test AUC with its interval (`pipelines.train.intervals`); None: not computed
    intervals: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "labelled": self.labelled,
            "trials": self.trials,
            "oracle_auc": self.oracle_auc,
            "models": {k: v.to_dict() for k, v in self.models.items()},
            "sectors": {k: v.to_dict() for k, v in self.sectors.items()},
            "class_scheme": self.class_scheme,
            "deployed": self.deployed,
        }
        if self.model_version is not None:
            out["model_version"] = self.model_version
        if self.split:
            out["split"] = self.split
        if self.plain is not None:
            out["plain_baseline"] = self.plain.to_dict()
        return out

    def figures(self) -> TrainFigures:
        """The numbers of ``train_metrics.json``."""
        return TrainFigures(
            self.trials,
            self.oracle_auc,
            self.labelled,
            {
                model: ModelFigures(
                    r.auc,
                    r.logloss,
                    r.auc_fraction_of_oracle,
                    {c: v.hit_rate for c, v in r.hit_rates.items()},
                )
                for model, r in self.models.items()
            },
            # the split's mode and figures (grouped CV's AUCs); its texts stay in the card
            {k: v for k, v in self.split.items() if k in ("mode", "folds", "cv")} or None,
            self.plain.to_dict() if self.plain is not None else None,
            self.intervals,
        )


# ------------------------------------------------------------------ verify
@dataclass(frozen=True)
class Check:
    """One check of a verdict or a promotion: the figure, the threshold (as text), passed,
    and (verify's checks, issue 19) what it found in plain words, Chinese first and English
    beside it: for a failed check, what failed and by how much."""

    value: Any
    threshold: str
    passed: bool
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"value": self.value, "threshold": self.threshold, "passed": self.passed}
        if self.message:
            out["message"] = self.message
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Check:
        return cls(d["value"], d["threshold"], d["passed"], d.get("message", ""))


@dataclass(frozen=True)
class ModelRef:
    """The registered model version a report is about."""

    name: str
    version: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version}


@dataclass(frozen=True)
class ClassFigures:
    """The figures of one class column (``class_final``, or ``class_model`` before the
    overrides) on the window's double-random inspections."""

    hit_rates: dict[str, Rate]
    increasing: bool
    lift: dict[str, float]
    top_to_bottom: float
    calibration: dict[str, Calibration]
    shares_of_inspections: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "hit_rates": {c: r.to_dict() for c, r in self.hit_rates.items()},
            "increasing": self.increasing,
            "lift": self.lift,
            "top_to_bottom": self.top_to_bottom,
            "calibration": {c: r.to_dict() for c, r in self.calibration.items()},
            "shares_of_inspections": self.shares_of_inspections,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClassFigures:
        return cls(
            {c: Rate.from_dict(r) for c, r in d["hit_rates"].items()},
            d["increasing"],
            d["lift"],
            d["top_to_bottom"],
            {c: Calibration.from_dict(r) for c, r in d["calibration"].items()},
            d["shares_of_inspections"],
        )


@dataclass(frozen=True)
class Stability:
    """PSI of the score and of every model feature, a month against the training population
    (features that moved most first, as [feature, psi] pairs)."""

    reference_month: str
    month: str
    score_psi: float
    feature_psi: list[list[Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference_month": self.reference_month,
            "month": self.month,
            "score_psi": self.score_psi,
            "feature_psi": self.feature_psi,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stability:
        return cls(d["reference_month"], d["month"], d["score_psi"], d["feature_psi"])


@dataclass
class VerificationMetrics:
    """``outputs/<as_of>/verification/metrics.json``: the verification of one model version
    on a window of double-random inspections (`pipelines.verify`). The sections reported
    but not gated (``main_risk_points``, ``population``, ``hot_spots``, ``early_warning``)
    are kept as the dicts `models.verification` makes of them."""

    model: ModelRef
    scheme: str
    window: list[str]  # first and last month
    inspections: dict[str, int]
    auc: float
    ks: float
    overall: Rate
    class_final: ClassFigures
    class_model: ClassFigures
    main_risk_points: dict[str, Any]
    stability: Stability
    population: dict[str, Any]
    hot_spots: dict[str, Any]
    early_warning: dict[str, Any]
    checks: dict[str, Check] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    verdict: str = ""
    #: What was evaluated: ``kind`` double_random (1/p weighted inspections) or
    #: labelled_snapshot (its file, SHA-256, rows: test_fold or all, weights) and a ``note``.
    evaluation: dict[str, Any] = field(default_factory=dict)
    #: The model against the version's plain baseline on the same rows (paired bootstrap,
    #: `models.plain.compare`); None: the version has none (trained before issue 18).
    plain_baseline: PlainComparison | None = None
    #: Collection quality per department and table, from the last ingestion
    #: (`pipelines.verify.collection`); reported, not gated. Empty: not computed.
    collection: dict[str, Any] = field(default_factory=dict)
    #: Follow-up of warnings and cases to their disposal (`pipelines.verify.followup`,
    #: 「预警处置准确性」); reported, not gated. Empty: not computed.
    followup: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.verdict == "PASS"

    @property
    def failed_checks(self) -> dict[str, Check]:
        """The checks that failed the verdict, each with its plain-words `Check.message`."""
        return {k: c for k, c in self.checks.items() if not c.passed}

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(),
            "scheme": self.scheme,
            "window": self.window,
            "inspections": self.inspections,
            "auc": self.auc,
            "ks": self.ks,
            "overall": self.overall.to_dict(),
            "class_final": self.class_final.to_dict(),
            "class_model": self.class_model.to_dict(),
            "main_risk_points": self.main_risk_points,
            "stability": self.stability.to_dict(),
            "population": self.population,
            "hot_spots": self.hot_spots,
            "early_warning": self.early_warning,
            "checks": {k: c.to_dict() for k, c in self.checks.items()},
            "thresholds": self.thresholds,
            "verdict": self.verdict,
            "evaluation": self.evaluation,
            **(
                {"plain_baseline": self.plain_baseline.to_dict()}
                if self.plain_baseline is not None
                else {}
            ),
            **({"collection": self.collection} if self.collection else {}),
            **({"followup": self.followup} if self.followup else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VerificationMetrics:
        return cls(
            ModelRef(d["model"]["name"], d["model"]["version"]),
            d["scheme"],
            d["window"],
            d["inspections"],
            d["auc"],
            d["ks"],
            Rate.from_dict(d["overall"]),
            ClassFigures.from_dict(d["class_final"]),
            ClassFigures.from_dict(d["class_model"]),
            d["main_risk_points"],
            Stability.from_dict(d["stability"]),
            d["population"],
            d["hot_spots"],
            d["early_warning"],
            {k: Check.from_dict(c) for k, c in d["checks"].items()},
            d["thresholds"],
            d["verdict"],
            d.get("evaluation", {}),  # reports before it was recorded
            PlainComparison.from_dict(d["plain_baseline"]) if d.get("plain_baseline") else None,
            collection=d.get("collection", {}),  # reports before issue 20 have none
            followup=d.get("followup", {}),  # reports before issue 20 have none
        )

    @classmethod
    def read(cls, path: Path) -> VerificationMetrics:
        return _parse(path, "verification report", cls.from_dict)
