"""Labelled frames: double-random inspection outcomes joined to the features of the month
end before each inspection, as training learns from them and verification and the
simulated loop score them.

Shared by the stages train, verify and simulate-loop (no stage is imported here). Every
label is used or counted as having no feature row (an enterprise established in the label
month, say), so the counts reconcile; feature files built by different catalogs are refused.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from contract.months import months_between
from models.config import ModelConfig
from models.data import label_frames, split_by_month
from pipelines import paths


class FrameError(ValueError):
    """Labels that cannot be joined to features: a feature month missing, files built by
    different catalogs, no double-random inspection in the label months."""


def read_inspections(interim: Path) -> pd.DataFrame:
    """The validated inspections table (``riskclass ingest``): the labels' source."""
    return pq.read_table(paths.table(interim, "inspections")).to_pandas()


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
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
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


def labelled_frames(
    cfg: ModelConfig, features_dir: Path, inspections: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int], str | None]:
    """The double-random inspections of the label months with the features of the month
    before, each row tagged ``split`` (train / valid / test, out of time); the training rows
    (targeted inspections added when the config says so); counts that reconcile; and the
    catalog fingerprint of the feature files."""
    random, targeted = label_frames(inspections, cfg.first_label_month, cfg.last_label_month)
    if random.empty:
        raise FrameError(
            f"train: no double-random inspection between {cfg.first_label_month} and {cfg.last_label_month}"
        )
    frame, counts, catalog = load_training_frame(features_dir, random)
    split = split_by_month(
        months_between(cfg.first_label_month, cfg.last_label_month),
        cfg.valid_months,
        cfg.test_months,
    )
    frame["split"] = frame["month"].map(split)
    train_frame = frame[frame["split"] == "train"]
    if cfg.use_targeted:
        tframe, _, _ = load_training_frame(features_dir, targeted)
        tframe = tframe[tframe["month"].map(split) == "train"]
        train_frame = pd.concat([train_frame, tframe], ignore_index=True)
        counts["targeted_used"] = len(tframe)
    counts["targeted_available"] = len(targeted)
    return frame, train_frame, counts, catalog
