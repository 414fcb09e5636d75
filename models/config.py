"""Configuration of model training (`configs/model.yaml`)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.months import months_between

#: Deepest tree the fast explanation engine takes (`models.treeshap.MAX_PATH_FEATURES` is
#: this: a path of depth d has at most d distinct features).
EXPLAIN_MAX_DEPTH = 10


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LightGBMParams(_Strict):
    """Starting point and fixed settings; Optuna searches around these (`TuningConfig`)."""

    num_leaves: Annotated[int, Field(ge=2, le=1024)]
    max_depth: Annotated[int, Field(ge=-1, le=32)]
    learning_rate: Annotated[float, Field(gt=0, le=1)]
    n_estimators: Annotated[int, Field(ge=1, le=10000)]
    min_child_samples: Annotated[int, Field(ge=1)]
    subsample: Annotated[float, Field(gt=0, le=1)]
    colsample_bytree: Annotated[float, Field(gt=0, le=1)]
    reg_lambda: Annotated[float, Field(ge=0)]
    threads: Annotated[int, Field(ge=1, le=64)]


class TuningConfig(_Strict):
    trials: Annotated[int, Field(ge=0, le=1000)]
    timeout_seconds: Annotated[float, Field(gt=0)] | None
    num_leaves: tuple[int, int]
    max_depth: tuple[int, int]
    learning_rate: tuple[float, float]
    n_estimators: tuple[int, int]
    min_child_samples: tuple[int, int]
    reg_lambda: tuple[float, float]


class SectorModel(_Strict):
    name: str
    zh: str
    flag: str  # the catalog feature that marks the sector (e.g. sector_food)
    min_inspections: Annotated[int, Field(ge=10)]  # in the training months
    min_holdout_inspections: Annotated[int, Field(ge=1)] = 20  # in each of valid and test


class ExplainConfig(_Strict):
    """Bulk explanations written by `riskclass classify` beside each class."""

    top_k: Annotated[int, Field(ge=1, le=20)] = 5  # main risk points kept per enterprise
    engine: Literal["tables", "lightgbm"] = "tables"  # models.explain: same values, tables faster


class WhatIfConfig(_Strict):
    """What would lower the risk (`riskclass classify`, `pipelines.whatif`): every remedy of
    every enterprise of the highest classes, re-scored exactly (`features.whatif`)."""

    enabled: bool = True
    #: the enterprises of this many highest classes of the ladder (2: C and D of A-D)
    top_classes: Annotated[int, Field(ge=1, le=5)] = 2
    #: a serious-list entry may be credit-repaired after this many months listed, for these
    #: reasons (contract vocabulary ``serious_reason``)
    serious_repair_months: Annotated[int, Field(ge=0, le=120)] = 12
    serious_repair_reasons: tuple[str, ...] = ("abnormal_3y", "major_violation")
    #: a published penalty may be credit-repaired this many months after its decision
    penalty_repair_months: Annotated[int, Field(ge=0, le=120)] = 12
    #: a renewed licence's validity, in years
    licence_valid_years: Annotated[int, Field(ge=1, le=20)] = 5


class VerifyThresholds(_Strict):
    """`riskclass verify`'s PASS/FAIL verdict (system verification, 系统验证)."""

    min_auc: Annotated[float, Field(ge=0.5, le=1)] = 0.70
    require_increasing: bool = True  # hit rates rise strictly along the classes
    min_top_lift: Annotated[float, Field(gt=0)] = 2.0  # highest class vs random inspection
    max_score_psi: Annotated[float, Field(gt=0)] = 0.25  # the score's drift from training
    #: The model must not lose to the plain baseline on the verified rows (`PlainBaselineConfig`);
    #: a version trained without one reports the check as not available (not a failure).
    require_beats_plain: bool = True
    #: Calibration per class is a check (issue 19): the class's weighted mean predicted
    #: probability against its weighted hit rate, Jeffreys test on the effective sample size
    #: (`pipelines.gates.calibration_check`). False: reported, never failing.
    require_calibrated: bool = True
    #: The family-wise error rate of the calibration tests: the chance that a well-calibrated
    #: model fails the verdict on calibration by chance alone, over all classes together.
    calibration_alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
    #: How the per-class p-values are combined: ``holm`` (Holm 1979: family-wise error rate
    #: ``calibration_alpha`` under any dependence, never less powerful than Bonferroni),
    #: ``bonferroni``, or ``none`` (each class at ``calibration_alpha``: more false failures).
    calibration_multiplicity: Literal["holm", "bonferroni", "none"] = "holm"
    #: A class fails only when the test rejects AND predicted and observed differ by more than
    #: this many percentage points (as a share, 0.02 = 2 points): on a very large sample the
    #: test rejects gaps too small to change a plan (the minimum sampling rates are set in
    #: whole points, 1/3/10/20%); with a few hundred inspections per class, whose 95% interval
    #: is ±4–5 points wide, it never bites.
    calibration_tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.02
    #: Main-risk-point accuracy at the level of reasons: shuffles of the problem categories
    #: found among the inspected enterprises with a problem (seeded by ``seed``) that make the
    #: permutation baseline (reported, not gated).
    risk_point_permutations: Annotated[int, Field(ge=100, le=100_000)] = 2000
    #: Which information groups' records would reveal each problem category inspectors
    #: record (contract vocabulary problem_category): the main-risk-point check counts a
    #: problem as found by the reasons when the enterprise's top risk point is in one of them.
    problem_groups: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "address_unreachable": ("base", "supervision"),
            "false_disclosure": ("dynamic", "supervision"),
            "licence": ("dynamic",),
            "product_quality": ("supervision",),
            "food_safety": ("supervision",),
            "drug_device_safety": ("supervision",),
            "special_equipment": ("supervision",),
            "advertising_pricing": ("supervision", "social"),
        }
    )


class MlflowConfig(_Strict):
    tracking_uri: str
    artifact_root: str
    experiment: str
    registered_model: str


class PlainBaselineConfig(_Strict):
    """Issue 18: every training also fits a plain LightGBM (fixed parameters,
    `models.plain.PARAMS`) on simple per-enterprise aggregates of the delivered tables
    (`pipelines.aggregates`) and judges the deployed model against it on the same test rows:
    a paired bootstrap of the rows (``bootstrap`` resamples, seeded by ``seed``), and the model
    *loses* when the whole ``confidence`` interval of AUC(model) - AUC(plain) lies below 0."""

    enabled: bool = True
    bootstrap: Annotated[int, Field(ge=100, le=100_000)] = 1000
    confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.95


class PromoteThresholds(_Strict):
    """Checked by `riskclass promote` until the verification report (issue 8) exists."""

    min_test_auc: Annotated[float, Field(ge=0.5, le=1)]
    max_test_logloss: Annotated[float, Field(gt=0)]
    require_increasing_hit_rates: bool
    #: Refuse a version whose deployed model lost to the plain baseline on its test months.
    require_beats_plain: bool = True


class ClassBandsConfig(_Strict):
    """Score bands that fit the bureau's data (``class_bands``): with ``fit``, training puts
    the class scheme's score bands where the scores of the whole population (the latest
    feature month it used) give ``target_shares`` (`models.classes.fit_score_bands`), and the
    version carries them; without, the scheme's own bands are used. Which classes the shares
    name is checked against the scheme when training starts (`models.classes.check_targets`):
    one share for each class the scheme's bands give, any order."""

    fit: bool = False
    #: Share of the population per class (code -> share in (0, 1)), summing to 1.
    target_shares: dict[str, Annotated[float, Field(gt=0, lt=1)]] | None = None
    #: The highest class holds exactly this many enterprises (those the bureau can visit in
    #: full each round); the other classes share the rest in ``target_shares``' proportions.
    capacity: Annotated[int, Field(ge=1)] | None = None
    #: classify warns when a class's share is off its target by more than this x the target.
    max_share_drift: Annotated[float, Field(gt=0, le=1)] = 0.5

    @model_validator(mode="after")
    def _shares(self) -> Self:
        if self.target_shares is None:
            if self.fit:
                raise ValueError("fit is true, so target_shares must be given (class -> share)")
            return self
        if len(self.target_shares) < 2:
            raise ValueError("target_shares must name at least two classes")
        total = math.fsum(self.target_shares.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"target_shares must sum to 1, got {total:.12g}")
        return self


LabelKind = Literal["double_random", "design_unknown", "targeted"]


class ModelConfig(_Strict):
    seed: int
    first_label_month: str
    last_label_month: str
    valid_months: Annotated[int, Field(ge=1, le=24)]
    test_months: Annotated[int, Field(ge=1, le=24)]
    #: The label kinds training learns from (`models.data.LABEL_KINDS`): ``double_random``
    #: (weight 1/p) always; ``design_unknown`` (double-random without an inclusion
    #: probability) and ``targeted`` (weight 1) only when named. Evaluation uses only the first.
    train_on: tuple[LabelKind, ...] = ("double_random",)
    #: ``out_of_time`` (train, valid, test months), ``grouped_cv`` (folds of enterprises), or
    #: ``auto``: out of time when the label months allow it, else grouped cross-validation.
    split: Literal["auto", "out_of_time", "grouped_cv"] = "auto"
    cv_folds: Annotated[int, Field(ge=3, le=20)] = 5  # grouped cross-validation's k
    lightgbm: LightGBMParams
    tuning: TuningConfig
    calibration: Literal["isotonic", "sigmoid"]
    score_scale: Annotated[int, Field(ge=10)]
    class_scheme: str
    indicator_weights: str
    sectors: tuple[SectorModel, ...]
    sector_rule: Literal["boost", "replace", "average"]
    sector_rounds: Annotated[int, Field(ge=1, le=2000)]
    #: a sector model is kept only when its validation AUC beats the general model's in at
    #: least this share of paired bootstrap resamples (a sector's validation rows are few:
    #: a gain smaller than their noise is no gain)
    sector_confidence: Annotated[float, Field(ge=0.5, lt=1)] = 0.8
    mlflow: MlflowConfig
    promote: PromoteThresholds
    explain: ExplainConfig = ExplainConfig()
    verify: VerifyThresholds = VerifyThresholds()
    plain_baseline: PlainBaselineConfig = PlainBaselineConfig()
    class_bands: ClassBandsConfig = ClassBandsConfig()
    whatif: WhatIfConfig = WhatIfConfig()

    @model_validator(mode="before")
    @classmethod
    def _use_targeted_is_train_on(cls, data: Any) -> Any:
        """Old configs' ``use_targeted: true`` is ``train_on: [double_random, targeted]``."""
        if not isinstance(data, dict) or "use_targeted" not in data:
            return data
        data = dict(data)
        old = data.pop("use_targeted")
        if not isinstance(old, bool):
            raise ValueError(f"use_targeted is true or false, got {old!r}")
        if "train_on" in data:
            raise ValueError("give train_on or the older use_targeted, not both")
        data["train_on"] = ("double_random", "targeted") if old else ("double_random",)
        return data

    @model_validator(mode="after")
    def _double_random_is_always_a_label(self) -> Self:
        if "double_random" not in self.train_on:
            raise ValueError(
                "train_on must include double_random: the weighted labels every model learns "
                "from and is evaluated on"
            )
        if len(set(self.train_on)) != len(self.train_on):
            raise ValueError(f"train_on names a kind twice: {list(self.train_on)}")
        return self

    @model_validator(mode="after")
    def _label_months_are_a_window(self) -> Self:
        months_between(self.first_label_month, self.last_label_month)  # YYYY-MM, first <= last
        return self

    @property
    def use_targeted(self) -> bool:
        """Whether targeted inspections also train the model (the older setting)."""
        return "targeted" in self.train_on

    def overridden(self, update: dict[str, Any]) -> ModelConfig:
        """This config with ``update`` (top-level keys; the command line's overrides), validated
        again as the YAML is: a bad value is the same clear error."""
        return type(self).model_validate({**self.model_dump(), **update})

    @model_validator(mode="after")
    def _depth_within_the_explanation_budget(self) -> Self:
        if self.explain.engine != "tables":
            return self
        budget = EXPLAIN_MAX_DEPTH
        depths = {
            "lightgbm.max_depth": self.lightgbm.max_depth,
            "tuning.max_depth (upper bound)": self.tuning.max_depth[1],
        }
        for where, depth in depths.items():
            if depth < 1 or depth > budget:
                raise ValueError(
                    f"{where} is {depth}: the explanation budget needs a depth of 1..{budget} "
                    "(every enterprise is explained every month; deeper trees cost time, not "
                    "accuracy: benchmarks/bench_explain.py), or set explain.engine: lightgbm"
                )
        return self
