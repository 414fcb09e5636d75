"""Commands of within-month updates (issue 20, item 5): ``update`` (a delivery received within
the month applies the class scheme's hard overrides at once, recorded and re-sealed) and
``update-demo-delivery`` (a small delivery for the synthetic province)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from contract.months import Month
from pipelines.cli import common
from pipelines.cli.common import (
    FeaturesOpt,
    IngestConfigOpt,
    InterimOpt,
    ModelConfigOpt,
    OutputsOpt,
    ServiceConfigOpt,
    console,
    fail,
    load_service_config,
    month_option,
    who,
)
from pipelines.paths import (
    DATA,
    FEATURES_CONFIG,
    INGEST_CONFIG,
    MODEL_CONFIG,
    OUTPUTS,
    SERVICE_CONFIG,
    features_file,
)


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        fail(f"{option} must be a date YYYY-MM-DD, got {text!r}")


def update(
    as_of: Annotated[Month, month_option("the classified (and sealed) month YYYY-MM")],
    delivery: Annotated[
        Path, typer.Option(help="folder of contract tables delivered within the following month")
    ],
    date: Annotated[
        str, typer.Option(help="the day the delivery was received (YYYY-MM-DD), in the next month")
    ],
    interim: InterimOpt = DATA.interim,
    outputs: OutputsOpt = OUTPUTS.root,
    features_dir: FeaturesOpt = DATA.features,
    config: IngestConfigOpt = INGEST_CONFIG,
    features_config: Annotated[
        Path, typer.Option(help="feature configuration (YAML)")
    ] = FEATURES_CONFIG,
    model_config: ModelConfigOpt = MODEL_CONFIG,
    scheme: Annotated[
        Path | None,
        typer.Option(help="class scheme of the month (default: the model configuration's)"),
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="who applies it (default: the login name)")
    ] = None,
    service_config: ServiceConfigOpt = SERVICE_CONFIG,
) -> None:
    """Apply a within-month delivery at once: ingest it (validation, quarantine, merge as
    `riskclass ingest`), recompute the override features of the enterprises it names at
    --date, apply the class scheme's hard overrides, record every change under
    outputs/<month>/updates/ and re-seal the month with the reason. The model score is not
    recomputed (month end only). Exit 2 when the delivery is refused or nothing was accepted.

    Example: [bold]riskclass update --as-of 2026-10 --delivery data/updates/2026-11-12 --date 2026-11-12[/]
    """
    from features.config import FeaturesConfig
    from models.classes import ClassScheme
    from models.config import ModelConfig
    from pipelines.cli.records import sign_heads
    from pipelines.config import ConfigError, load_config
    from pipelines.intake.config import IngestConfig
    from pipelines.update import UpdateError, run_update
    from service import audit
    from service.seal import SealError
    from service.seal import seal as do_seal

    day = _date(date, "--date")
    try:
        icfg = load_config(config, IngestConfig)
        fcfg = load_config(features_config, FeaturesConfig)
        scheme_path = scheme or load_config(model_config, ModelConfig).class_scheme
        klasses = load_config(Path(scheme_path), ClassScheme)
    except ConfigError as exc:
        fail(str(exc))
    person = who(user)
    try:
        report = run_update(icfg, fcfg, klasses, delivery, interim, outputs, as_of, day)
    except UpdateError as exc:
        fail(str(exc))
    summary = report.to_dict()
    t = Table("table", "rows read", "accepted", "quarantined", title=f"delivery {date}")
    for name, row in summary["tables"].items():
        t.add_row(name, f"{row['rows_read']:,}", f"{row['accepted']:,}", f"{row['quarantined']:,}")
    console.print(t)
    console.print(
        f"{report.named:,} enterprises named; overrides applied at once: "
        f"{summary['effects']['applied']:,}; overrides lifted (class kept until month end): "
        f"{summary['effects']['lift_pending']:,}; model score not recomputed (month end only)",
        soft_wrap=True,
    )
    reason = f"within-month update {report.date}-{report.n} ({report.ingest.run_name})"
    feats = features_file(features_dir, as_of)
    try:
        entry = do_seal(
            outputs,
            as_of,
            person,
            common.AUDIT_LOG,
            feats if feats.is_file() else None,
            reseal_reason=reason,
        )
    except SealError as exc:
        fail(f"update recorded in {report.out}, but the month could not be re-sealed: {exc}")
    audit.record(
        common.AUDIT_LOG,
        person,
        "update",
        as_of,
        date=report.date,
        n=report.n,
        changes=report.changes,
        seal_seq=entry["seq"],
        reseal_reason=reason,
    )
    console.print(
        f"{as_of} re-sealed ({reason}): {len(entry['files']):,} files; the seal chain's head "
        f"is now seq {entry['seq']}",
        soft_wrap=True,
    )
    sign_heads(load_service_config(service_config), outputs, f"update {as_of} {report.date}")


def update_demo_delivery(
    as_of: Annotated[Month, month_option("the classified month YYYY-MM")],
    date: Annotated[str, typer.Option(help="the delivery day (YYYY-MM-DD), in the next month")],
    out: Annotated[Path, typer.Option(help="folder to write the delivery's tables to")],
    raw: Annotated[Path, typer.Option(help="the simulated province (its registry)")] = DATA.raw,
    seed: Annotated[int, typer.Option(help="seed of the delivery")] = 20,
) -> None:
    """Write a small within-month delivery for the synthetic province: serious-list entries,
    heavy penalties and court records of real enterprises, received by --date.

    Example: [bold]riskclass update-demo-delivery --as-of 2026-10 --date 2026-11-12 --out data/updates/2026-11-12[/]
    """
    from pipelines.simulate import write_update_delivery

    day = _date(date, "--date")
    try:
        counts = write_update_delivery(raw, out, as_of, day, seed)
    except (ValueError, OSError) as exc:
        fail(f"update-demo-delivery: {exc}")
    console.print(
        f"delivery of {date} written to {out}: " + ", ".join(f"{t} {n}" for t, n in counts.items()),
        soft_wrap=True,
    )
