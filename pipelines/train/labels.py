"""Where a training run's labels come from: the ingested inspections (the label months of the
config, results received by the end of the last one), or an external labelled snapshot
(`riskclass train --labels FILE --as-of DATE`, `pipelines.snapshot`), whose rejected rows are
written beside the training metrics (``labels_rejected.csv``) before anything else can fail.
"""

from __future__ import annotations

from pathlib import Path

from models.config import ModelConfig
from pipelines.frames import (
    FrameError,
    Labelled,
    labelled_snapshot,
    labelled_split,
    read_inspections,
)
from pipelines.snapshot import (
    REJECTED_NAME,
    LabelsFile,
    SnapshotError,
    read_snapshot,
    write_rejected,
)
from pipelines.train.data import TrainError


def labelled_rows(
    cfg: ModelConfig,
    features_dir: Path,
    interim: Path,
    labels: LabelsFile | None = None,
    truth: Path | None = None,
    metrics_out: Path | None = None,
) -> tuple[ModelConfig, Labelled]:
    """The config the run trains with and its labelled rows (`pipelines.frames.Labelled`).
    With a snapshot the config's label months become the snapshot's one label month (the
    month after its feature month), so that the version's logged window, reference
    population and held-out months follow it; no inspections table is read."""
    try:
        if labels is None:
            return cfg, labelled_split(cfg, features_dir, read_inspections(interim))
        if truth is not None:
            raise TrainError(
                "train: --truth scores the simulator's own inspections; it cannot be used with "
                "--labels"
            )
        snap = read_snapshot(labels, features_dir)
        rejected = Path(metrics_out).parent / REJECTED_NAME if metrics_out is not None else None
        if rejected is not None:
            write_rejected(snap, rejected)
        snap.check_accepted(rejected)
        month = str(snap.labels["month"].iloc[0])
        cfg = cfg.model_copy(update={"first_label_month": month, "last_label_month": month})
        source = snap.source() | ({"rejected_file": str(rejected)} if rejected else {})
        return cfg, labelled_snapshot(cfg, features_dir, snap.labels, snap.counts, source)
    except (FrameError, SnapshotError) as exc:
        raise TrainError(str(exc)) from None
