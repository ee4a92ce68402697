"""``hggis user …``: create users, issue and revoke tokens, set web passwords.

The first city administrator is created here, at the server's terminal:
``hggis user add admin --role city_admin``. Tokens are printed once and never again.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hggis.access.users import (
    DEFAULT_TOKEN_DAYS,
    create_user,
    issue_token,
    list_users,
    revoke_tokens,
    set_active,
    set_password,
    user_id,
)

user_app = typer.Typer(no_args_is_help=True, help="Users, roles, scopes, API tokens and web passwords.")


def _engine_and_operator():  # noqa: ANN202
    from hggis.access.policy import operator
    from hggis.terminal import ready_engine

    return ready_engine(), operator()



def _print_token(token, username: str) -> None:  # noqa: ANN001
    typer.echo(f"API token for {username} (shown once, expires {token.expires_at:%Y-%m-%d}):")
    typer.echo(token.token)


@user_app.command("add")
def add(
    username: str,
    role: Annotated[str, typer.Option(help="park_manager | county_officer | city_admin")],
    county: Annotated[list[str] | None, typer.Option("--county", help="county adcode (repeatable)")] = None,
    park: Annotated[list[int] | None, typer.Option("--park", help="park id (repeatable)")] = None,
    name: Annotated[str | None, typer.Option(help="display name, e.g. 王科长")] = None,
    unit: Annotated[str | None, typer.Option(help="单位, e.g. 黄州区自然资源和规划局")] = None,
    phone: Annotated[str | None, typer.Option(help="office phone")] = None,
    days: Annotated[int, typer.Option(help="token lifetime in days")] = DEFAULT_TOKEN_DAYS,
    password: Annotated[bool, typer.Option("--password", help="also set a web sign-in password (prompted)")] = False,
) -> None:
    """Create a user and print their first API token."""
    from hggis.db.session import transaction

    engine, op = _engine_and_operator()
    secret = typer.prompt("password", hide_input=True, confirmation_prompt=True) if password else None
    with transaction(engine, op.actor, f"create user {username}") as conn:
        uid = create_user(conn, op, username, role, county, park, name, unit, phone)
        if secret is not None:
            set_password(conn, uid, secret)
        token = issue_token(conn, uid, days, label="created with user")
    typer.echo(f"user {username} created (role {role})")
    _print_token(token, username)


@user_app.command("token")
def token(
    username: str,
    days: Annotated[int, typer.Option(help="token lifetime in days")] = DEFAULT_TOKEN_DAYS,
    label: Annotated[str | None, typer.Option(help="what the token is for")] = None,
) -> None:
    """Issue another API token for a user."""
    from hggis.db.session import transaction

    engine, op = _engine_and_operator()
    with transaction(engine, op.actor, f"issue token for {username}") as conn:
        issued = issue_token(conn, user_id(conn, username), days, label)
    _print_token(issued, username)


@user_app.command("revoke")
def revoke(
    username: str,
    token_prefix: Annotated[str | None, typer.Option("--token", help="revoke only this token (its prefix)")] = None,
    disable: Annotated[bool, typer.Option("--disable", help="also disable the user (no sign-in at all)")] = False,
) -> None:
    """Revoke a user's tokens (all, or one by prefix)."""
    from hggis.db.session import transaction

    engine, op = _engine_and_operator()
    with transaction(engine, op.actor, f"revoke tokens of {username}") as conn:
        uid = user_id(conn, username)
        n = revoke_tokens(conn, uid, token_prefix)
        if disable:
            set_active(conn, uid, False)
    typer.echo(f"revoked {n} token(s) of {username}" + ("; user disabled" if disable else ""))


@user_app.command("passwd")
def passwd(username: str) -> None:
    """Set a user's web sign-in password (prompted)."""
    from hggis.db.session import transaction

    engine, op = _engine_and_operator()
    secret = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    with transaction(engine, op.actor, f"set password of {username}") as conn:
        set_password(conn, user_id(conn, username), secret)
    typer.echo(f"password of {username} set")


@user_app.command("list")
def list_() -> None:
    """List users with role, scope and live tokens."""
    engine, op = _engine_and_operator()
    with engine.connect() as conn:
        for u in list_users(conn, op):
            scope = ",".join(u["counties"]) or ",".join(map(str, u["park_ids"])) or "all"
            state = "" if u["active"] else " (disabled)"
            typer.echo(f"{u['username']:<20} {u['role']:<15} scope={scope:<20} tokens={u['live_tokens']}{state}")


access_app = typer.Typer(no_args_is_help=True, help="The access policy.")


@access_app.command("matrix")
def matrix() -> None:
    """Print the role × resource matrix as Markdown (the README's table)."""
    from hggis.access.policy import matrix_markdown

    typer.echo(matrix_markdown())
