"""flask api-keys create / list / revoke: keys of /api/integration/v1 from the shell
(the first key of a new install, or automation); the same service as 系统设置 → 接口密钥."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from app.core.errors import AppError


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@click.group("api-keys")
def api_keys_cmd():
    """Integration API keys."""


@api_keys_cmd.command("create")
@click.option("--name", required=True, help="Who uses the key, e.g. the ATS.")
@click.option("--scopes", required=True,
              help="Comma-separated: interviews:read, interviews:write, reports:read.")
@click.option("--departments", default="",
              help="Comma-separated department names (default: every department).")
@with_appcontext
def create_cmd(name: str, scopes: str, departments: str):
    """Create a key; the key is printed once, on the last line."""
    from app.services.integration import keys

    try:
        created = keys.create_key(name=name, scopes=_split(scopes),
                                  departments=_split(departments))
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    key = created.key
    click.echo(f"created key {key.id} ({key.name}) prefix {key.prefix} scopes "
               f"{','.join(key.scopes)} departments {','.join(key.departments) or 'all'}")
    click.echo("store it now: it is shown only this once")
    click.echo(created.secret)


@api_keys_cmd.command("list")
@with_appcontext
def list_cmd():
    """Every key: id, prefix, name, scopes, departments, last used, revoked."""
    from app.core.timeutil import iso
    from app.services.integration import keys

    for key in keys.list_keys():
        state = f"revoked {iso(key.revoked_at)}" if key.revoked_at else "active"
        click.echo(f"{key.id}\t{key.prefix}\t{key.name}\t{','.join(key.scopes)}\t"
                   f"{','.join(key.departments) or 'all'}\t"
                   f"last used {iso(key.last_used_at) or 'never'}\t{state}")


@api_keys_cmd.command("revoke")
@click.argument("key_id", type=int)
@with_appcontext
def revoke_cmd(key_id: int):
    """Revoke a key by id: it answers 401 from now on."""
    from app.services.integration import keys

    try:
        key = keys.revoke_key(key_id)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"revoked key {key.id} ({key.name}, {key.prefix})")
