"""Labelled frames: double-random inspection outcomes joined to the features of the month
end before each inspection, as training learns from them and verification and the
simulated loop score them.

Shared by the stages train, verify and simulate-loop (no stage is imported here). Every
label is used or counted as having no feature row (an enterprise established in the label
month, say), so the counts reconcile; feature files built by different catalogs are refused.

Training's rows (`labelled_split`, `labelled_snapshot`): the evaluated rows (double-random
inspections with a design, or a labelled snapshot's rows) tagged ``split`` train / valid /
test, out of time when the label months allow it, else by grouped cross-validation over
enterprises (`choose_split`, `SplitInfo`); the other label kinds the config trains on
(``train_on``) join the training part only. A result not yet received by the end of the last
label month is not a label (counted as ``received_after_cutoff``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from contract.months import months_between
from features.derived import DerivedSpec
from models.config import ModelConfig
from models.data import (
    FOLD_RULE,
    LABEL_KINDS,
    fold_parts,
    folds_of,
    label_kinds,
    received_by,
    split_by_month,
)
from pipelines import paths, store

log = logging.getLogger(__name__)


class FrameError(ValueError):
    """Labels that cannot be joined to features: a feature month missing, files built by
    different catalogs, no double-random inspection in the label months."""


def read_inspections(interim: Path) -> pd.DataFrame:
    """The validated inspections table (``riskclass ingest``): the labels' source."""
    snap = store.open_table(interim, "inspections")
    if snap is None:
        raise FrameError(
            f"no inspections table in {interim}: run `riskclass ingest` with the inspection results, "
            "or train on a labelled snapshot (`riskclass train --labels FILE --as-of DATE`)"
        )
    return snap.pandas()


def load_training_frame(
    features_dir: Path, labels: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, int], str | None]:
    """Labels joined to the features of their month; counts reconcile (every label is used or
    counted as having no feature row, e.g. an enterprise established in the label month).
    Also returns the catalog fingerprint the feature files were built with."""
    parts = []
    catalogs = set()
    for month, group in labels.groupby("feature_month", sort=True):
        path = paths.features_file(features_dir, str(month))
        if not path.is_file():
            raise FrameError(
                f"train: features for {month} are missing ({path}); build them with "
                f"`riskclass features --from {labels['feature_month'].min()} --to {labels['feature_month'].max()}`"
            )
        meta = pq.read_schema(path).metadata or {}
        catalogs.add(meta.get(b"riskclass.catalog", b"").decode() or None)
        wanted = pc.is_in(
            ds.field("uscc"), value_set=pc.unique(pc.cast(group["uscc"].to_numpy(), "string"))
        )
        feats = ds.dataset(path).to_table(filter=wanted).to_pandas()
        parts.append(group.merge(feats, on="uscc", how="inner"))
    # no label to join (none had a feature month): the labels' own columns, no row
    frame = pd.concat(parts, ignore_index=True) if parts else labels.iloc[0:0].copy()
    counts = {
        "labels": len(labels),
        "used": len(frame),
        "without_features": len(labels) - len(frame),
    }
    if len(catalogs) > 1:
        raise FrameError(
            f"train: the feature files in {features_dir} were built by different catalogs "
            f"({sorted(map(str, catalogs))}); rebuild them with one `riskclass features` run"
        )
    frame = frame.sort_values(["month", "inspection_id"]).reset_index(drop=True)
    return frame, counts, next(iter(catalogs), None)


@dataclass(frozen=True)
class SplitInfo:
    """How a training run split its labelled rows: ``out_of_time`` or ``grouped_cv`` (with
    ``why`` out of time was not used, the folds and their rule), and where the labels came
    from (``source``: the inspections, or a snapshot file with its SHA-256 and counts). The
    MLflow run's parameters, the bundle's meta and the model card say the same."""

    mode: str
    why: str = ""
    folds: int | None = None
    seed: int | None = None
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def rule(self) -> str:
        if self.mode != "grouped_cv":
            return "out of time: training months, then valid_months, then test_months"
        return f"{FOLD_RULE}; k = {self.folds}, seed = {self.seed}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "why": self.why,
            "folds": self.folds,
            "seed": self.seed,
            "rule": self.rule,
            "source": self.source,
        }

    def params(self) -> dict[str, str]:
        """The run's parameters (text, as MLflow keeps them)."""
        out = {"split_mode": self.mode, "fold_rule": self.rule}
        if self.mode == "grouped_cv":
            out |= {"cv_folds": str(self.folds), "split_why": self.why[:500]}
        out |= {f"labels_{k}": str(v) for k, v in self.source.items()}
        return out


@dataclass
class Labelled:
    """The rows of one training run. ``frame``: the evaluated rows (double-random with a
    design, or a snapshot's rows) with features and ``split``; ``train_frame``: what the model
    learns from (``frame``'s train part and the other kinds asked for in training's part);
    ``extra``: those other kinds in every part (grouped cross-validation refits with the ones
    outside the held-out fold); counts that reconcile; the feature files' catalog."""

    frame: pd.DataFrame
    train_frame: pd.DataFrame
    extra: pd.DataFrame
    counts: dict[str, int]
    catalog: str | None
    split: SplitInfo


def choose_split(cfg: ModelConfig, frame: pd.DataFrame) -> tuple[SplitInfo, np.ndarray]:
    """The split of the evaluated rows and each row's part: out of time when ``cfg.split``
    allows it and the label months give training, valid and test months that each hold both
    outcomes; else (or with ``split: grouped_cv``) grouped cross-validation by enterprise,
    saying why. ``split: out_of_time`` refuses when it is impossible."""
    why = "the config asks for it (split: grouped_cv)"
    if cfg.split != "grouped_cv":
        months = months_between(cfg.first_label_month, cfg.last_label_month)
        if len(months) <= cfg.valid_months + cfg.test_months:
            why = (
                f"out of time impossible: {len(months)} label month(s) "
                f"({cfg.first_label_month}..{cfg.last_label_month}) cannot be split into "
                f"training, {cfg.valid_months} validation and {cfg.test_months} test months"
            )
        else:
            by_month = split_by_month(months, cfg.valid_months, cfg.test_months)
            parts = frame["month"].map(by_month).to_numpy()
            short = [
                part
                for part in ("train", "valid", "test")
                if frame.loc[parts == part, "y"].nunique() < 2
            ]
            if not short:
                return SplitInfo("out_of_time"), parts
            why = (
                f"out of time impossible: the {', '.join(short)} months do not hold labels of "
                "both outcomes"
            )
        if cfg.split == "out_of_time":
            raise FrameError(f"train: {why} (split: out_of_time)")
    return _grouped(cfg, frame, why)


def _grouped(cfg: ModelConfig, frame: pd.DataFrame, why: str) -> tuple[SplitInfo, np.ndarray]:
    info = SplitInfo("grouped_cv", why, cfg.cv_folds, cfg.seed)
    return info, fold_parts(folds_of(frame["uscc"], cfg.cv_folds, cfg.seed))


def _parts_of(info: SplitInfo, cfg: ModelConfig, rows: pd.DataFrame) -> np.ndarray:
    """The part of other rows (the extra label kinds) under the split ``info``."""
    if info.mode == "grouped_cv":
        return fold_parts(folds_of(rows["uscc"], cfg.cv_folds, cfg.seed))
    months = months_between(cfg.first_label_month, cfg.last_label_month)
    by_month = split_by_month(months, cfg.valid_months, cfg.test_months)
    parts: np.ndarray = rows["month"].map(by_month).to_numpy()
    return parts


def _finish(
    cfg: ModelConfig,
    frame: pd.DataFrame,
    extra: pd.DataFrame,
    counts: dict[str, int],
    catalog: str | None,
    source: dict[str, Any],
    why: str | None = None,
) -> Labelled:
    """Split the rows (`choose_split`, or grouped for ``why``) and put the extra kinds in."""
    info, parts = choose_split(cfg, frame) if why is None else _grouped(cfg, frame, why)
    info = SplitInfo(info.mode, info.why, info.folds, info.seed, source)
    if info.mode == "grouped_cv":
        log.warning(
            "train: grouped cross-validation by enterprise (%d folds): %s", info.folds, info.why
        )
    frame = frame.assign(split=parts)
    if info.mode == "grouped_cv":
        frame["fold"] = folds_of(frame["uscc"], cfg.cv_folds, cfg.seed)
    extra = extra.assign(split=_parts_of(info, cfg, extra))
    if info.mode == "grouped_cv":
        extra["fold"] = folds_of(extra["uscc"], cfg.cv_folds, cfg.seed)
    learned = extra[extra["split"] == "train"]
    for kind in LABEL_KINDS[1:]:
        counts[f"{kind}_used"] = int((learned["label_kind"] == kind).sum())
    train_frame = pd.concat([frame[frame["split"] == "train"], learned], ignore_index=True)
    return Labelled(frame, train_frame, extra.reset_index(drop=True), counts, catalog, info)


def labelled_split(cfg: ModelConfig, features_dir: Path, inspections: pd.DataFrame) -> Labelled:
    """Training's rows from the inspections (see the module doc). Counts: ``inspections`` of
    the label months = ``received_after_cutoff`` + ``labels`` (double-random with a design:
    ``used`` + ``without_features``) + ``design_unknown_available`` +
    ``targeted_available``; ``*_used``: the other kinds training learned from."""
    first, last = cfg.first_label_month, cfg.last_label_month
    received, late = received_by(inspections, last)
    labels = label_kinds(received, first, last)
    not_yet = len(label_kinds(late, first, last))
    kind = labels["label_kind"]
    random = labels[kind == "double_random"]
    if random.empty:
        raise FrameError(f"train: no double-random inspection between {first} and {last}")
    frame, counts, catalog = load_training_frame(features_dir, random)
    counts = {"inspections": len(labels) + not_yet, "received_after_cutoff": not_yet, **counts}
    extras = []
    for other in LABEL_KINDS[1:]:
        rows = labels[kind == other]
        counts[f"{other}_available"] = len(rows)
        if other in cfg.train_on and len(rows):
            eframe, _counts, ecatalog = load_training_frame(features_dir, rows)
            if ecatalog != catalog:
                raise FrameError(
                    f"train: the feature files in {features_dir} were built by different "
                    "catalogs; rebuild them with one `riskclass features` run"
                )
            extras.append(eframe)
    extra = pd.concat(extras, ignore_index=True) if extras else frame.iloc[:0]
    source = {"source": "inspections", "received_by": f"end of {last}"}
    return _finish(cfg, frame, extra, counts, catalog, source)


def labelled_snapshot(
    cfg: ModelConfig,
    features_dir: Path,
    labels: pd.DataFrame,
    counts: dict[str, int],
    source: dict[str, Any],
) -> Labelled:
    """Training's rows from a labelled snapshot's accepted rows (`pipelines.snapshot`; label
    frame columns, one feature month): always grouped cross-validation (one month allows no
    out-of-time split). ``counts``: the file's (rows = accepted + rejected); ``source``: its
    path, SHA-256, as-of."""
    why = "out of time impossible: a labelled snapshot is one month of labels"
    if cfg.split == "out_of_time":
        raise FrameError(f"train: {why} (split: out_of_time)")
    frame, joined, catalog = load_training_frame(features_dir, labels)
    return _finish(cfg, frame, frame.iloc[:0], {**counts, **joined}, catalog, source, why)


def labelled_frames(
    cfg: ModelConfig, features_dir: Path, inspections: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int], str | None]:
    """`labelled_split`'s evaluated rows, training rows, counts and catalog."""
    out = labelled_split(cfg, features_dir, inspections)
    return out.frame, out.train_frame, out.counts, out.catalog


def file_derived(path: Path) -> DerivedSpec:
    """The spec of the features derived from the bureau's own columns that a feature file
    was built with (`features.derived`; empty: the shipped catalog alone)."""
    meta = pq.read_schema(path).metadata or {}
    return DerivedSpec.from_json(meta.get(b"riskclass.derived"))
