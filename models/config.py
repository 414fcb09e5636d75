"""Configuration of model training (`configs/model.yaml`)."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class VerifyThresholds(_Strict):
    """`riskclass verify`'s PASS/FAIL verdict (system verification, 系统验证)."""

    min_auc: Annotated[float, Field(ge=0.5, le=1)] = 0.70
    require_increasing: bool = True  # hit rates rise strictly along the classes
    min_top_lift: Annotated[float, Field(gt=0)] = 2.0  # highest class vs random inspection
    max_score_psi: Annotated[float, Field(gt=0)] = 0.25  # the score's drift from training
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


class PromoteThresholds(_Strict):
    """Checked by `riskclass promote` until the verification report (issue 8) exists."""

    min_test_auc: Annotated[float, Field(ge=0.5, le=1)]
    max_test_logloss: Annotated[float, Field(gt=0)]
    require_increasing_hit_rates: bool


class ModelConfig(_Strict):
    seed: int
    first_label_month: str
    last_label_month: str
    valid_months: Annotated[int, Field(ge=1, le=24)]
    test_months: Annotated[int, Field(ge=1, le=24)]
    use_targeted: bool
    lightgbm: LightGBMParams
    tuning: TuningConfig
    calibration: Literal["isotonic", "sigmoid"]
    score_scale: Annotated[int, Field(ge=10)]
    class_scheme: str
    indicator_weights: str
    sectors: tuple[SectorModel, ...]
    sector_rule: Literal["boost", "replace", "average"]
    sector_rounds: Annotated[int, Field(ge=1, le=2000)]
    mlflow: MlflowConfig
    promote: PromoteThresholds
    explain: ExplainConfig = ExplainConfig()
    verify: VerifyThresholds = VerifyThresholds()

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
