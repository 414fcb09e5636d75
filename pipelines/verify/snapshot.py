"""Verification on a labelled snapshot (`riskclass verify --labels FILE --as-of DATE`).

A version trained on a snapshot (grouped cross-validation by enterprise) is evaluated on the
held-out test fold of that very file: the fold rule and the file's SHA-256 come from the
version's training run, so a file that changed since is refused unless
``--allow-new-labels`` says to evaluate every row of the new file. The rows are read and
rejected exactly as training reads them (`pipelines.snapshot`); weighted figures use the
file's weights, 1 when it has none, and the report says what such figures are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from models.config import ModelConfig
from models.data import FOLD_RULE, TEST_FOLD, folds_of
from pipelines.frames import FrameError, load_training_frame
from pipelines.snapshot import LabelsFile, SnapshotError, read_snapshot, write_rejected
from pipelines.verify.monitoring import VerifyError

#: The evaluation note of each kind (the metrics JSON and the report print it).
NOTES = {
    "double_random": "double-random inspections weighted 1/p: hit rates estimate the population",
    "snapshot_unweighted": (
        "labelled snapshot, not a random sample: hit rates are not population estimates"
    ),
    "snapshot_weighted": (
        "labelled snapshot weighted by the file's weights: hit rates estimate the population "
        "only as far as those weights are inverse inclusion probabilities"
    ),
}
NOTES_ZH = {
    "double_random": "双随机抽查按入样概率倒数(1/p)加权：发现率是总体估计",
    "snapshot_unweighted": "外部标注名单，不是随机样本：发现率不是总体估计",
    "snapshot_weighted": "外部标注名单，按文件中的权重加权：仅当权重为入样概率倒数时发现率才是总体估计",
}


def snapshot_labels(
    trained: ModelConfig,
    params: dict[str, str],
    features_dir: Path,
    labels: LabelsFile,
    as_of: str,
    allow_new: bool,
    rejected_out: Path,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int], dict[str, Any]]:
    """(frame with features, the label rows evaluated, counts, evaluation) of a labels file
    for the version trained with ``params``; ``as_of``: the feature month the command line
    derived from the file's as-of date. The rejected rows go to ``rejected_out``."""
    try:
        snap = read_snapshot(labels, features_dir)
    except SnapshotError as exc:
        raise VerifyError(f"verify: {exc}") from None
    if snap.feature_month != as_of:
        raise VerifyError(
            f"verify: the labels' as-of {snap.as_of} gives feature month {snap.feature_month}, "
            f"not {as_of}"
        )
    write_rejected(snap, rejected_out)
    try:
        snap.check_accepted(rejected_out)
    except SnapshotError as exc:
        raise VerifyError(f"verify: {exc}") from None
    trained_sha = params.get("labels_sha256")
    same = trained_sha == snap.sha256
    if not same and not allow_new:
        was = (
            f"it was trained on a labels file with SHA-256 {trained_sha}"
            if trained_sha
            else "it was trained on inspections, not on a labels file"
        )
        raise VerifyError(
            f"verify: {snap.path} (SHA-256 {snap.sha256}) is not the labels file the version "
            f"was trained on ({was}): its test fold cannot be told apart; pass "
            "--allow-new-labels to evaluate every row of this file"
        )
    if same and params.get("labels_feature_month", snap.feature_month) != snap.feature_month:
        raise VerifyError(
            f"verify: the version was trained on this file as of feature month "
            f"{params.get('labels_feature_month')}; give that --as-of"
        )
    rows = snap.labels
    folds, seed = (
        int(params.get("cv_folds", trained.cv_folds)),
        int(params.get("seed", trained.seed)),
    )
    # a version trained on a labels file saw every enterprise outside its test fold: whatever
    # file is given now (the same one saved again, one row more), only that fold is held out
    held_out = same or bool(trained_sha)
    if held_out:
        rows = rows[folds_of(rows["uscc"], folds, seed) == TEST_FOLD].reset_index(drop=True)
    if rows.empty:
        raise VerifyError(f"verify: no row of {snap.path} to evaluate (its test fold is empty)")
    try:
        frame, joined, _catalog = load_training_frame(features_dir, rows)
    except FrameError as exc:
        raise VerifyError(f"verify: {exc}") from None
    counts = {
        "rows": snap.counts["rows"],
        "accepted": snap.counts["accepted"],
        "rejected": snap.counts["rejected"],
        "evaluated": len(rows),
        "not_in_test_fold": snap.counts["accepted"] - len(rows),
        **joined,
        "targeted_not_used": 0,
        "received_after_as_of": 0,
    }
    kind = "snapshot_weighted" if snap.weighted else "snapshot_unweighted"
    evaluation = {
        "kind": "labelled_snapshot",
        "file": str(snap.path),
        "sha256": snap.sha256,
        "as_of": snap.as_of.isoformat(),
        "feature_month": snap.feature_month,
        "rows": "test_fold" if held_out else "all",
        "fold_rule": f"{FOLD_RULE}; k = {folds}, seed = {seed}; test fold {TEST_FOLD}"
        if held_out
        else "every row of a labels file the version was not trained on (--allow-new-labels)",
        "weights": "file" if snap.weighted else "none (1)",
        "rejected_file": str(rejected_out),
        "note": NOTES[kind],
        "note_zh": NOTES_ZH[kind],
    }
    return frame, rows, counts, evaluation


def inspections_evaluation() -> dict[str, Any]:
    """The evaluation of the inspections' double-random results."""
    return {
        "kind": "double_random",
        "note": NOTES["double_random"],
        "note_zh": NOTES_ZH["double_random"],
    }
