"""Monitoring beside the verdict (reported, not gated): the population a model version
classes, month by month.

- `stability`: PSI of the score and of every model feature against the training population
  (`reference_month`);
- `population`: class shares of the whole population in ``as_of`` and the month before, and
  the migration between them;
- `hot_spot_table`: division x industry cells ranked by their share in the highest classes
  (区域性、行业性风险研判);
- `early_warning`: whether the enterprises `riskclass warn` would have warned before their
  inspection went on to show problems more often than the others.

Each month's population is read once (`score_months`, `read_month`), in record batches of
only the columns needed; no enterprise's class leaves the objects here. `score_frame` scores
a label frame as the window's inspections are scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contract.months import previous_month
from models import calibration, gbm, verification
from models.classes import ClassScheme, assign, class_order
from models.config import ModelConfig
from models.warning import WarningConfig, reason_texts, warnings
from pipelines.bundle import Bundle
from pipelines.frames import FrameError, load_training_frame
from pipelines.gates import split_of
from pipelines.paths import features_file
from pipelines.render.wording import SECTIONS, section_letter
from pipelines.results import Stability

if TYPE_CHECKING:
    from pipelines.render.names import Names

#: A hot spot is where enterprises crowd into the highest classes: the top two of the ladder
#: (C and D of A-D), so that a class reached only by overrides does not make the whole of it.
HIGH_CLASSES = 2


class VerifyError(ValueError):
    """No inspections to verify on, or inputs that do not fit."""


def reference_month(cfg: ModelConfig) -> str:
    """The feature month of the model's last training label month: the population the
    model was trained on, against which drift is measured."""
    return previous_month(max(m for m, part in split_of(cfg).items() if part == "train"))


def score_frame(
    bundle: Bundle, frame: pd.DataFrame
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """The design matrix, sector flags and calibrated probability of a label frame."""
    x = gbm.matrix(frame, bundle.design)
    flags = {f: frame[f].to_numpy() for _n, f, _b, _c in bundle.sectors}
    return x, flags, bundle.probability(x, flags)


@dataclass
class Classed:
    """A month's population classed: each enterprise's uscc and class (for the migration) and
    sums per division x industry cell (division, industry, enterprises, high, score_sum: for
    the hot spots). Internal: no enterprise's class leaves this object."""

    uscc: pa.ChunkedArray
    classes: pd.Categorical  # class_final; categories: every class of the scheme
    cells: pd.DataFrame

    def counts(self) -> dict[str, int]:
        return {str(c): int(n) for c, n in pd.Series(self.classes).value_counts().items()}


@dataclass(frozen=True)
class FeatureColumns:
    """The model's features of one month's file, read a few columns at a time (`stability`):
    a province's whole design matrix is gigabytes (6.3M rows x ~150 features x 8 bytes per
    month, two months at once), one column of it is tens of megabytes."""

    path: Path
    design: gbm.Design

    @property
    def names(self) -> list[str]:
        return list(self.design.features)

    def columns(self, names: list[str]) -> dict[str, np.ndarray]:
        """The design matrix's columns ``names`` over every row of the file."""
        table = pq.read_table(self.path, columns=names)
        return {n: gbm.design_column(table.column(n), n, self.design) for n in names}


@dataclass
class MonthScores:
    """One month's enterprises scored by one model version, from one pass over its feature
    file: the score, the model's features when asked (for PSI, read column by column when
    needed), the classes when asked."""

    month: str
    score: np.ndarray
    features: FeatureColumns | None = None
    classed: Classed | None = None

    def require_features(self) -> FeatureColumns:
        if self.features is None:
            raise ValueError(f"{self.month} was read without its features (psi=False)")
        return self.features

    def require_classed(self) -> Classed:
        if self.classed is None:
            raise ValueError(f"{self.month} was read without its classes (classed=False)")
        return self.classed


def score_months(
    bundle: Bundle,
    scheme: ClassScheme,
    features_dir: Path,
    wanted: dict[str, tuple[bool, bool]],
    batch_rows: int = 200_000,
) -> dict[str, MonthScores]:
    """Score each month of ``wanted`` (month -> (features for PSI, classes)) in one pass
    over its file; a month asked for twice (the reference month may be the month before
    ``as_of``) is read once. A month wanted only for its classes may lack its feature file
    (its figures are then left out); the others must have theirs."""
    merged: dict[str, tuple[bool, bool]] = {}
    for month, (psi, classed) in wanted.items():
        was = merged.get(month, (False, False))
        merged[month] = (was[0] or psi, was[1] or classed)
    out = {}
    for month, (psi, classed) in merged.items():
        path = features_file(features_dir, month)
        if psi or path.is_file():
            out[month] = read_month(bundle, scheme, path, psi, classed, batch_rows)
    return out


def read_month(
    bundle: Bundle,
    scheme: ClassScheme,
    path: Path,
    psi: bool,
    classed: bool,
    batch_rows: int = 200_000,
) -> MonthScores:
    """`MonthScores` of one feature file, read in record batches of only the columns needed
    (memory bounded by the batch and by what is kept: a score, a class code and a uscc a
    row, plus the model's features for PSI)."""
    if not path.is_file():
        raise VerifyError(f"verify: no feature file {path} for the population figures")
    sectors = sorted({f for _n, f, _b, _c in bundle.sectors})
    override = sorted({c.feature for r in scheme.overrides for c in r.when}) if classed else []
    place = ["city", "industry_division"] if classed else []
    cols = list(dict.fromkeys(["uscc", *bundle.design.features, *sectors, *override, *place]))
    missing = sorted(set(cols) - set(pq.read_schema(path).names))
    if missing:
        raise VerifyError(f"verify: {path} lacks the columns {', '.join(missing[:10])}")
    order = class_order(scheme, include_outside=True)
    high = class_order(scheme)[-HIGH_CLASSES:]
    scores, ids, codes, cells = [], [], [], []
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows, columns=cols):
        x = gbm.matrix_arrow(batch, bundle.design)
        flags = {f: batch.column(f).to_numpy(zero_copy_only=False) for f in sectors}
        p = bundle.probability(x, flags)
        score = calibration.to_score(p, bundle.scale)
        scores.append(score)
        if not classed:
            continue
        uscc = batch.column("uscc")
        frame = pd.DataFrame(
            {
                "uscc": uscc.to_pandas(types_mapper=pd.ArrowDtype),
                "score": score,
                "probability": p,
                **{c: batch.column(c).to_pandas() for c in override},
            }
        )
        final = assign(frame, scheme)["class_final"]
        ids.append(uscc)
        codes.append(pd.Categorical(final, categories=order).codes)
        part = pd.DataFrame(
            {
                "division": batch.column("city").to_pandas().fillna("").astype(str),
                "industry": industry_section(batch.column("industry_division").to_pandas()),
                "enterprises": 1,
                "high": final.isin(high).to_numpy(dtype=int),
                "score_sum": score,
            }
        )
        cells.append(part.groupby(["division", "industry"], as_index=False, sort=False).sum())
    if not scores:
        raise VerifyError(f"verify: the feature file {path} holds no enterprise")
    whole = (
        Classed(
            pa.chunked_array(ids, pa.string()),
            pd.Categorical.from_codes(np.concatenate(codes), categories=order),
            pd.concat(cells, ignore_index=True),
        )
        if classed
        else None
    )
    features = FeatureColumns(path, bundle.design) if psi else None
    return MonthScores(path.stem, np.concatenate(scores), features, whole)


def industry_section(division2: pd.Series) -> pd.Series:
    """The GB/T 4754-2017 section letter (A-S, in the order of `SECTIONS`) of 2-digit
    industry divisions: the coarsest level that still tells trades apart; "" when unknown."""
    letters = {v: section_letter(str(v)) or "" for v in division2.dropna().unique()}
    # object dtype: a column with no industry at all (a registry of ids only) maps to floats
    mapped = division2.map(letters).astype(object)
    return mapped.where(mapped.notna(), "").astype(str)


def stability(ref: MonthScores, cur: MonthScores, columns: int = 16) -> Stability:
    """PSI of the score and of every model feature, the month ``cur`` against the training
    population ``ref`` (`reference_month`); the features that moved most first. The features
    are read ``columns`` at a time from both months' files (memory: that many columns of two
    months, not two design matrices)."""
    a, b = ref.require_features(), cur.require_features()
    names = a.names
    psi: dict[str, float] = {}
    for start in range(0, len(names), columns):
        part = names[start : start + columns]
        ca, cb = a.columns(part), b.columns(part)
        psi.update({f: verification.psi(ca[f], cb[f]) for f in part})
    ranked = [
        [f, v] for f, v in sorted(psi.items(), key=lambda kv: -kv[1])
    ]  # a list: JSON keeps its order
    return Stability(ref.month, cur.month, verification.psi(ref.score, cur.score), ranked)


def population(cur: MonthScores, before: MonthScores | None, scheme: ClassScheme) -> dict[str, Any]:
    """Class shares of the whole population in ``cur`` and the month before (same model
    version, same scheme), and the migration between them (None without the month before)."""
    order = class_order(scheme, include_outside=True)
    months = [m for m in (before, cur) if m is not None]
    now = cur.require_classed()
    migration = None
    if before is not None:
        then = before.require_classed()
        migration = verification.migration(then.uscc, then.classes, now.uscc, now.classes, order)
    return {
        "month": cur.month,
        "previous_month": before.month if before else None,
        "enterprises": {m.month: len(m.score) for m in months},
        "shares": {
            m.month: verification.class_shares(m.require_classed().counts(), order) for m in months
        },
        "migration": migration,
    }


def hot_spot_table(
    cur: MonthScores,
    inspected: pd.DataFrame,
    scheme: ClassScheme,
    names: Names | None,
    min_enterprises: int,
    top: int,
) -> dict[str, Any]:
    """Division (city) x industry (section) cells of ``cur`` ranked by their share in the
    highest classes, with the window's double-random inspections of each cell (placed by the
    features of the month before the inspection: ``inspected`` is the label frame)."""
    cells = cur.require_classed().cells
    inspections = pd.DataFrame(
        {
            "division": inspected["city"].fillna("").astype(str),
            "industry": industry_section(inspected["industry_division"]),
            "y": inspected["y"],
            "weight": inspected["weight"],
        }
    )
    rows = verification.hot_spots(cells, inspections, min_enterprises, None)
    section_zh = {chr(ord("A") + i): zh for i, (_lo, _hi, zh, _en) in enumerate(SECTIONS)}
    prefectures = names.prefectures if names is not None else {}
    for r in rows:
        r["division_zh"] = prefectures.get(r["division"], (r["division"] or "未知",))[0]
        r["industry_zh"] = section_zh.get(r["industry"], "未知")
    all_cells = cells.groupby(["division", "industry"]).size()
    return {
        "month": cur.month,
        "high_classes": class_order(scheme)[-HIGH_CLASSES:],
        "levels": {
            "division": "prefecture-level city (first 4 digits of division_code)",
            "industry": "GB/T 4754-2017 section",
        },
        "min_enterprises": min_enterprises,
        "top": top,
        "cells": len(all_cells),
        "cells_kept": len(rows),
        "enterprises": int(cells["enterprises"].sum()),
        "enterprises_kept": sum(r["enterprises"] for r in rows),
        "rows": rows[:top],
    }


def early_warning(
    bundle: Bundle,
    scheme: ClassScheme,
    cfg: WarningConfig,
    features_dir: Path,
    random: pd.DataFrame,
    scored: pd.DataFrame,
    classes: pd.DataFrame,
) -> dict[str, Any]:
    """Was each inspected enterprise warned before its inspection (month m), as `riskclass
    warn` would have warned it on the features of m-1 (``scored``, classed as ``classes``)
    against those of m-2 scored by the same model: a class or score rise, or a monitoring
    rule? The hit rates of the warned and the others (1/p weighted). Inspections whose m-2
    feature file is missing cannot have a rise judged and are left out (counted)."""
    missing = sorted(cfg.features - set(scored.columns))
    if missing:
        raise VerifyError(f"verify: the warning rules name features the files lack: {missing}")
    feature_months = sorted(scored["feature_month"].unique())
    before = {m: previous_month(m) for m in feature_months}
    judged = [m for m in feature_months if features_file(features_dir, before[m]).is_file()]
    keep = scored["feature_month"].isin(judged).to_numpy()
    labels = random[random["feature_month"].isin(judged)]
    try:
        prev, _counts, _catalog = load_training_frame(
            features_dir, labels.assign(feature_month=labels["feature_month"].map(before))
        )
    except FrameError as exc:
        raise VerifyError(f"verify: early warning: {exc}") from None
    if len(prev):
        _x, _flags, p_prev = score_frame(bundle, prev)
        prev = prev.assign(score=calibration.to_score(p_prev, bundle.scale), probability=p_prev)
        prev = prev.assign(class_final=assign(prev, scheme)["class_final"])
    now = scored.assign(class_final=classes["class_final"])[keep]
    reasons = pd.Series("", index=now.index, dtype=object)
    order = class_order(scheme)
    for month, cur in now.groupby("month", sort=True):
        was = prev[prev["month"] == month] if len(prev) else prev
        was = was[["uscc", "class_final", "score"]].drop_duplicates("uscc") if len(was) else None
        cols = ["uscc", "class_final", "score", *sorted(cfg.features)]
        warned = warnings(cur[cols], was, order, cfg).drop_duplicates("uscc")
        reasons[cur.index] = (
            cur["uscc"]
            .map(dict(zip(warned["uscc"], warned["reasons"], strict=True)))
            .astype(object)
            .fillna("")
        )
    texts = reason_texts(cfg)
    out = verification.warning_precision(now["y"], now["weight"], reasons.tolist(), list(texts))
    return {
        "computed": True,
        **out,
        "not_judged": int((~keep).sum()),
        "labels_zh": texts,
        "rise_classes": cfg.rise_classes,
        "rise_score": cfg.rise_score,
    }
