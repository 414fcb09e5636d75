"""The staff service from the command line: the ``users`` group (accounts, the four-eyes
requests, throttles) and ``serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli.common import (
    AUDIT_LOG,
    AccountsOpt,
    ByOpt,
    DeciderOpt,
    FeaturesOpt,
    InterimOpt,
    OutputsOpt,
    ServiceConfigOpt,
    console,
    fail,
    load_service_config,
    who,
)
from pipelines.paths import DATA, OUTPUTS, SERVICE_CONFIG

users_app = typer.Typer(help="accounts of the staff service (no default account exists)")

RequestOpt = Annotated[int, typer.Option(help="request number (riskclass users pending)")]


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Option(help="lower-case name, e.g. zhang.san")],
    role: Annotated[str, typer.Option(help="county, city, province, data_scientist or admin")],
    divisions: Annotated[
        str, typer.Option(help="jurisdiction: division code prefixes, comma-separated")
    ] = "",
    named_lists: Annotated[
        bool, typer.Option("--named-lists", help="data scientist: may see named lists")
    ] = False,
    password_file: Annotated[
        Path | None, typer.Option(help="read the password from this file (else prompted)")
    ] = None,
    accounts: AccountsOpt = OUTPUTS.accounts,
    by: Annotated[
        str | None, typer.Option(help="who adds the account (default: login name)")
    ] = None,
) -> None:
    """Add an account; the first admin is made this way (there is no default password).

    An account that sees named data, or another admin, waits for a second administrator
    (riskclass users approve).

    Example: [bold]riskclass users add --username admin --role admin[/]
    """
    from service import audit
    from service.accounts import AccountError, Accounts

    if password_file is not None:
        password = password_file.read_text(encoding="utf-8").strip()
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    person = who(by)
    try:
        grant = Accounts(accounts).add(
            username, password, role, tuple(divisions.split(",")), named_lists, by=person
        )
    except AccountError as exc:
        fail(f"users add: {exc}")
    waits = grant.request_id is not None
    audit.record(
        AUDIT_LOG,
        person,
        "add_user",
        username,
        outcome="pending" if waits else "ok",
        role=role,
        divisions=divisions,
        named_lists=named_lists,
        request=grant.request_id,
    )
    if waits:
        console.print(
            f"account {username} ({role}) pending approval by a second administrator "
            f"(request {grant.request_id})"
        )
    else:
        console.print(f"account {username} ({role}) added to {accounts}")


@users_app.command("change")
def users_change(
    username: Annotated[str, typer.Option(help="the account to change")],
    by: DeciderOpt,
    role: Annotated[str | None, typer.Option(help="new role (default: unchanged)")] = None,
    divisions: Annotated[
        str | None, typer.Option(help="new division code prefixes, comma-separated")
    ] = None,
    named_lists: Annotated[
        bool | None,
        typer.Option("--named-lists/--no-named-lists", help="data scientist: named lists"),
    ] = None,
    accounts: AccountsOpt = OUTPUTS.accounts,
) -> None:
    """Change an account's role, division codes or named lists.

    Narrowing applies at once; widening waits for a second administrator (riskclass users
    approve).

    Example: [bold]riskclass users change --username li.si --divisions 4401 --by admin[/]
    """
    from service import audit
    from service.accounts import AccountError, Accounts

    codes = None if divisions is None else tuple(divisions.split(","))
    try:
        grant = Accounts(accounts).change(
            username, role=role, divisions=codes, named_lists=named_lists, by=by
        )
    except AccountError as exc:
        fail(f"users change: {exc}")
    waits = grant.request_id is not None
    u = grant.user
    audit.record(
        AUDIT_LOG,
        by,
        "change_user",
        username,
        outcome="pending" if waits else "ok",
        role=u.role,
        divisions=",".join(u.divisions),
        named_lists=u.named_lists,
        request=grant.request_id,
    )
    if waits:
        console.print(
            f"change of {username} pending approval by a second administrator "
            f"(request {grant.request_id})"
        )
    else:
        console.print(f"account {username} now {u.role} {','.join(u.divisions)}".rstrip())


@users_app.command("pending")
def users_pending(accounts: AccountsOpt = OUTPUTS.accounts) -> None:
    """List the requests waiting for a second administrator."""
    from service.accounts import Accounts

    t = Table(
        "request",
        "kind",
        "user",
        "role",
        "divisions",
        "named lists",
        "requested by",
        "requested at",
    )
    for r in Accounts(accounts).pending():
        t.add_row(
            str(r.id),
            r.kind,
            r.username,
            r.role,
            ",".join(r.divisions),
            str(r.named_lists),
            r.requested_by,
            r.requested_at.isoformat(timespec="seconds"),
        )
    console.print(t)


def _decide(request: int, by: str, accounts: Path, approve: bool) -> None:
    from service import audit
    from service.accounts import AccountError, Accounts

    action = "approve_request" if approve else "reject_request"
    acc = Accounts(accounts)
    concerned = next((r.username for r in acc.pending() if r.id == request), "")
    try:
        if approve:
            acc.approve(request, by=by)
        else:
            acc.reject(request, by=by)
    except AccountError as exc:
        audit.record(AUDIT_LOG, by, action, concerned, outcome="refused", request=request)
        fail(f"users {'approve' if approve else 'reject'}: {exc}")
    audit.record(AUDIT_LOG, by, action, concerned, request=request)
    console.print(f"request {request} ({concerned}) {'approved' if approve else 'rejected'}")


@users_app.command("approve")
def users_approve(
    request: RequestOpt,
    by: DeciderOpt,
    accounts: AccountsOpt = OUTPUTS.accounts,
) -> None:
    """Approve a request: an administrator other than the one who asked, not its account.

    Example: [bold]riskclass users approve --request 3 --by wang.admin[/]
    """
    _decide(request, by, accounts, approve=True)


@users_app.command("reject")
def users_reject(
    request: RequestOpt,
    by: DeciderOpt,
    accounts: AccountsOpt = OUTPUTS.accounts,
) -> None:
    """Reject a request (a rejected new account is removed).

    Example: [bold]riskclass users reject --request 3 --by wang.admin[/]
    """
    _decide(request, by, accounts, approve=False)


@users_app.command("unlock")
def users_unlock(
    username: Annotated[str, typer.Option(help="the user name whose failed logins to forget")],
    client: Annotated[
        str | None, typer.Option(help="only from this address (default: every address)")
    ] = None,
    accounts: AccountsOpt = OUTPUTS.accounts,
    by: ByOpt = None,
) -> None:
    """Forget a user name's failed logins, so a blocked address may try again at once.

    Example: [bold]riskclass users unlock --username zhang.san --client 10.0.0.7[/]
    """
    from service import audit
    from service.accounts import Accounts

    cleared = Accounts(accounts).unlock(username, client)
    audit.record(AUDIT_LOG, who(by), "unlock_user", username, client=client, cleared=cleared)
    console.print(f"{username}: {cleared} throttle record(s) cleared")


@users_app.command("list")
def users_list(accounts: AccountsOpt = OUTPUTS.accounts) -> None:
    """List the accounts (no passwords) with their status: active, inactive or pending."""
    from service.accounts import Accounts

    t = Table("user", "role", "divisions", "named lists", "status")
    for u, status in Accounts(accounts).users():
        t.add_row(u.username, u.role, ",".join(u.divisions), str(u.named_lists), status)
    console.print(t)


@users_app.command("deactivate")
def users_deactivate(
    username: Annotated[str, typer.Option()],
    accounts: AccountsOpt = OUTPUTS.accounts,
    by: ByOpt = None,
) -> None:
    """Deactivate an account, end its sessions and close its open requests."""
    from service import audit
    from service.accounts import AccountError, Accounts

    try:
        Accounts(accounts).deactivate(username)
    except AccountError as exc:
        fail(f"users deactivate: {exc}")
    audit.record(AUDIT_LOG, who(by), "deactivate_user", username)
    console.print(f"account {username} deactivated")


@users_app.command("add-service")
def users_add_service(
    name: Annotated[str, typer.Option(help="service account, e.g. platform-4401")],
    divisions: Annotated[
        str, typer.Option(help="jurisdiction: division code prefixes (2, 4 or 6 digits)")
    ],
    scopes: Annotated[
        str, typer.Option(help="comma-separated: classes:read, results:write, export:read")
    ],
    expires_days: Annotated[int, typer.Option(help="the token expires after these days")] = 90,
    accounts: AccountsOpt = OUTPUTS.accounts,
    by: ByOpt = None,
) -> None:
    """A bearer token for a machine (the double-random platform), printed ONCE.

    Only its SHA-256 is kept: keep the token in the platform's secret store. A token that
    reads classes waits for a second administrator (riskclass users approve).

    Example: [bold]riskclass users add-service --name platform-4401 --divisions 4401
    --scopes classes:read,results:write --expires-days 90[/]
    """
    from service import audit
    from service.accounts import AccountError, Accounts

    person = who(by)
    try:
        token, info = Accounts(accounts).add_service(
            name, tuple(divisions.split(",")), tuple(scopes.split(",")), expires_days, by=person
        )
    except AccountError as exc:
        fail(f"users add-service: {exc}")
    audit.record(
        AUDIT_LOG,
        person,
        "add_token",
        name,
        outcome="pending" if info.pending else "ok",
        token_id=info.id,
        divisions=",".join(info.divisions),
        scopes=",".join(info.scopes),
        expires=info.expires.date().isoformat(),
        request=info.request_id,
    )
    console.print(
        f"token {info.id} for {name} ({','.join(info.scopes)}; {','.join(info.divisions)}), "
        f"expires {info.expires.date().isoformat()}"
        + (
            f"; pending approval by a second administrator (request {info.request_id})"
            if info.pending
            else ""
        ),
        soft_wrap=True,
    )
    console.print("shown once, only its hash is kept:", soft_wrap=True)
    print(token)  # plain, so that it can be piped into a secret store


@users_app.command("tokens")
def users_tokens(
    name: Annotated[str | None, typer.Option(help="only this service account's")] = None,
    accounts: AccountsOpt = OUTPUTS.accounts,
) -> None:
    """List the service accounts' tokens (never the tokens themselves) with their status."""
    import datetime as dt

    from service.accounts import Accounts

    now = dt.datetime.now(dt.UTC)
    t = Table("token", "service", "divisions", "scopes", "created", "by", "expires", "status")
    for k in Accounts(accounts).tokens(name):
        t.add_row(
            k.id,
            k.name,
            ",".join(k.divisions),
            ",".join(k.scopes),
            k.created.date().isoformat(),
            k.created_by,
            k.expires.date().isoformat(),
            k.status(now),
        )
    console.print(t)


@users_app.command("revoke-token")
def users_revoke_token(
    token_id: Annotated[str, typer.Option(help="the token's id (riskclass users tokens)")],
    accounts: AccountsOpt = OUTPUTS.accounts,
    by: ByOpt = None,
) -> None:
    """Revoke a service account's token at once.

    Example: [bold]riskclass users revoke-token --token-id 3fa2c1d0[/]
    """
    from service import audit
    from service.accounts import AccountError, Accounts

    try:
        info = Accounts(accounts).revoke_token(token_id)
    except AccountError as exc:
        fail(f"users revoke-token: {exc}")
    audit.record(AUDIT_LOG, who(by), "revoke_token", info.name, token_id=token_id)
    console.print(f"token {token_id} of {info.name} revoked")


def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port")] = 8000,
    outputs: OutputsOpt = OUTPUTS.root,
    interim: InterimOpt = DATA.interim,
    features_dir: FeaturesOpt = DATA.features,
    accounts: AccountsOpt = OUTPUTS.accounts,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="behind HTTPS: cookies only over TLS")
    ] = False,
    service_config: ServiceConfigOpt = SERVICE_CONFIG,
) -> None:
    """Start the staff service (log in with an account made by `riskclass users add`).

    Example: [bold]riskclass serve --port 8000[/]
    """
    from service.accounts import Accounts
    from service.app import Settings, run

    if Accounts(accounts).count() == 0:
        fail(
            f"no account in {accounts}; create the first admin: riskclass users add --username admin --role admin"
        )
    cfg = load_service_config(service_config)
    settings = Settings(
        config=cfg,
        outputs=outputs,
        interim=interim,
        features=features_dir,
        accounts=accounts,
        audit_log=AUDIT_LOG,
        secure_cookies=secure_cookies,
    )
    console.print(
        f"serving on http://{host}:{port} with {cfg.workers} process(es) "
        "(internal: bureau staff only)"
    )
    run(settings, host, port)
