"""`flask setup`: a fresh production database's first day (idempotent).

Gives the database the default cancel reasons and rules (app.services.rules.defaults) and,
with --admin, creates the first administrator. The password comes from the environment
variable SETUP_ADMIN_PASSWORD, or is asked for (twice) at the prompt; it is never an
argument, so it stays out of shell history and process lists.
"""
from __future__ import annotations

import os

import click
from flask.cli import with_appcontext

ADMIN_PASSWORD_ENV = "SETUP_ADMIN_PASSWORD"


@click.command("setup")
@click.option("--admin", "admin_username", default=None,
              help="Create this first administrator (when no user has that name).")
@click.option("--name", "display_name", default=None, help="The administrator's name.")
@click.option("--email", default=None)
@with_appcontext
def setup_cmd(admin_username: str | None, display_name: str | None, email: str | None):
    """Default cancel reasons and rules; optionally the first admin. Safe to run again."""
    from sqlalchemy import select

    from app.core.errors import AppError
    from app.extensions import db
    from app.models import HrUser
    from app.services.rules.defaults import install_defaults
    from app.services.users.accounts import create_user

    added = install_defaults()
    click.echo(f"cancel reasons: {len(added['reasons'])} added"
               + (f" ({', '.join(added['reasons'])})" if added["reasons"] else ""))
    click.echo("rules: " + ("defaults stored" if added["rules"] is not None
                            else "already stored, unchanged"))
    if not admin_username:
        return
    if db.session.scalars(select(HrUser).where(HrUser.username == admin_username)).first():
        click.echo(f"admin {admin_username}: exists already, unchanged")
        return
    if not display_name:
        raise click.UsageError("--name is required with --admin")
    password = os.environ.get(ADMIN_PASSWORD_ENV) or click.prompt(
        f"Password for {admin_username}", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(username=admin_username, display_name=display_name, role="admin",
                           email=email, password=password)
    except AppError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from None
    click.echo(f"admin {user.username}: created")
