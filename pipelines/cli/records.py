"""Commands that keep the records tamper-evident: ``seal`` (a month's outputs) and the ``audit``
group (``verify``, ``anchor``, ``keygen``: the chains' heads signed into the anchor file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from contract.months import Month
from pipelines.cli.common import (
    AUDIT_LOG,
    FeaturesOpt,
    OutputsOpt,
    ServiceConfigOpt,
    console,
    fail,
    load_service_config,
    month_option,
    who,
)
from pipelines.paths import DATA, OUTPUTS, SERVICE_CONFIG, Outputs, features_file

if TYPE_CHECKING:
    from service.config import ServiceConfig

audit_app = typer.Typer(help="the audit trail and the monthly seals")


def seal(
    as_of: Annotated[Month, month_option("classified month YYYY-MM")],
    outputs: OutputsOpt = OUTPUTS.root,
    user: Annotated[str | None, typer.Option(help="who seals (default: the login name)")] = None,
    features_dir: FeaturesOpt = DATA.features,
    reseal_reason: Annotated[
        str | None, typer.Option(help="sealing a month again: why (recorded in the seal)")
    ] = None,
    service_config: ServiceConfigOpt = SERVICE_CONFIG,
) -> None:
    """Seal a month's outputs and its feature file: file hashes, chained to the previous seal;
    then sign the chains' heads into the anchor file (when this account holds the key).

    Example: [bold]riskclass seal --as-of 2026-10[/]
    """
    from service import audit
    from service.seal import SealError
    from service.seal import seal as do_seal

    person = who(user)
    try:
        entry = do_seal(
            outputs, as_of, person, AUDIT_LOG, features_file(features_dir, as_of), reseal_reason
        )
    except (SealError, ValueError) as exc:
        fail(str(exc))
    audit.record(
        AUDIT_LOG,
        person,
        "seal",
        as_of,
        files=len(entry["files"]),
        seal_seq=entry["seq"],
        reseal_reason=reseal_reason,
    )
    console.print(
        f"{as_of} sealed: {len(entry['files']):,} files and its features; the seal chain's head "
        f"is now seq {entry['seq']}, {entry['sha256']}",
        soft_wrap=True,
    )
    sign_heads(load_service_config(service_config), outputs, f"seal {as_of}")


def sign_heads(cfg: ServiceConfig, outputs: Path, reason: str, required: bool = False) -> None:
    """Sign the chains' heads into the anchor file (`service.anchor`), when this account holds
    the private key; else say what is not protected."""
    from service import anchor

    a = cfg.anchors
    if a is None or a.private_key is None or not a.private_key.is_file():
        message = (
            "no anchor made: configs/service.yaml names no readable anchors.private_key; "
            "the chains' heads are not signed (riskclass audit keygen)"
        )
        if required:
            fail(message)
        console.print(f"[yellow]{message}[/]", soft_wrap=True)
        return
    try:
        entry = anchor.make(a.file, a.private_key, outputs, AUDIT_LOG, reason)
    except anchor.AnchorError as exc:
        fail(str(exc))
    heads = ", ".join(f"{k} seq {v['seq']}" for k, v in entry["heads"].items())
    console.print(f"anchored ({reason}): {heads} -> {a.file}", soft_wrap=True)


@audit_app.command("verify")
def audit_verify(
    outputs: OutputsOpt = OUTPUTS.root,
    service_config: ServiceConfigOpt = SERVICE_CONFIG,
    anchors: Annotated[
        Path | None, typer.Option(help="the anchor file (default: configs/service.yaml)")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option(help="the anchors' public key (default: configs/service.yaml)")
    ] = None,
) -> None:
    """Check the audit log, the promotion log, the seal chain and every sealed month's files
    (every file hashed in full), against the signed anchors.

    Exit 1 when anything was edited, deleted, reordered, inserted, cut off, rewritten with
    recomputed hashes or changed after its seal, or when the newest anchor is too old.

    Example: [bold]riskclass audit verify --anchors /mnt/worm/anchors.jsonl[/]
    """
    import datetime as dt
    import re

    from service import anchor
    from service.audit import verify as do_verify

    cfg = load_service_config(service_config)
    anchors = anchors or (cfg.anchors.file if cfg.anchors else None)
    public_key = public_key or (cfg.anchors.public_key if cfg.anchors else None)
    anchored = None
    if anchors is None or public_key is None:
        console.print(
            "[yellow]no anchors configured: a log cut short or rewritten with "
            "recomputed hashes after the last seal cannot be detected[/]"
        )
    else:
        max_age = dt.timedelta(minutes=cfg.anchors.max_age_minutes if cfg.anchors else 180)
        try:  # an audit check: how old the newest anchor is, by the real clock
            anchored = anchor.read(
                anchors, anchor.load_public(public_key), dt.datetime.now(dt.UTC), max_age
            )
        except anchor.AnchorError as exc:
            fail(str(exc))
    found = do_verify(outputs, AUDIT_LOG, Outputs(outputs).promotions, anchored=anchored)
    bad = 0
    uscc = re.compile(r"\b[0-9A-Z]{18}\b")  # report file names would say who is class D
    for where, problems in found.items():
        console.print(
            f"{'[green]ok[/]' if not problems else '[red]FAIL[/]'} {where}", soft_wrap=True
        )
        for p in problems:
            console.print(f"    {uscc.sub('<USCC>', p)}", soft_wrap=True)
        bad += len(problems)
    if bad:
        raise typer.Exit(code=1)


@audit_app.command("anchor")
def audit_anchor(
    outputs: OutputsOpt = OUTPUTS.root,
    service_config: ServiceConfigOpt = SERVICE_CONFIG,
    reason: Annotated[str, typer.Option(help="recorded with the anchor")] = "scheduled",
) -> None:
    """Sign the current heads of the audit, promotion and seal chains into the anchor file.

    Run it from the account that holds the private key (not the service's), on a timer:
    e.g. hourly, [bold]riskclass audit anchor --reason hourly[/]
    """
    sign_heads(load_service_config(service_config), outputs, reason, required=True)


@audit_app.command("keygen")
def audit_keygen(
    service_config: ServiceConfigOpt = SERVICE_CONFIG,
) -> None:
    """Make the anchors' Ed25519 key pair at the paths configs/service.yaml names.

    Keep the private key with the operator's account only; the service needs the public key.
    """
    from service import anchor

    a = load_service_config(service_config).anchors
    if a is None or a.private_key is None:
        fail("audit keygen: configs/service.yaml names no anchors.private_key")
    try:
        kid = anchor.keygen(a.private_key, a.public_key)
    except anchor.AnchorError as exc:
        fail(f"audit keygen: {exc}")
    console.print(f"key {kid}: private {a.private_key} (owner only), public {a.public_key}")
