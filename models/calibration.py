"""Calibration: the probability must mean "chance that an inspection finds a problem"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression


def logit(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    q = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(q / (1 - q))


@dataclass(frozen=True)
class Calibrator:
    """A monotone map from raw model probability to calibrated probability.

    Isotonic: a step function given by its knots (``x``, ``y``), applied by linear
    interpolation; sigmoid (Platt): ``1 / (1 + exp(-(a * logit(p) + b)))``.
    """

    method: Literal["isotonic", "sigmoid"]
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    a: float = 1.0
    b: float = 0.0

    def __call__(self, p: npt.ArrayLike) -> npt.NDArray[np.float64]:
        p = np.asarray(p, dtype=float)
        if self.method == "isotonic":
            out: npt.NDArray[np.float64] = np.interp(p, self.x, self.y)
            return out
        return 1.0 / (1.0 + np.exp(-(self.a * logit(p) + self.b)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "x": list(self.x),
            "y": list(self.y),
            "a": self.a,
            "b": self.b,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        return cls(d["method"], tuple(d["x"]), tuple(d["y"]), d["a"], d["b"])


def fit(
    method: Literal["isotonic", "sigmoid"], p: npt.ArrayLike, y: npt.ArrayLike, w: npt.ArrayLike
) -> Calibrator:
    p, y, w = np.asarray(p, float), np.asarray(y, float), np.asarray(w, float)
    if method == "isotonic":
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip", increasing=True)
        iso.fit(p, y, sample_weight=w)
        return Calibrator(
            "isotonic", tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_))
        )
    z = logit(p).reshape(-1, 1)
    lr = LogisticRegression(C=1e6).fit(z, y, sample_weight=w)
    return Calibrator("sigmoid", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))


def to_score(p: npt.ArrayLike, scale: int) -> npt.NDArray[np.float64]:
    """The 0-``scale`` risk score: the calibrated probability times the scale, rounded."""
    return np.round(np.asarray(p, dtype=float) * scale)
