"""Flask CLI commands: seed-demo, create-user, worker, jobs, dev."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


def register(app) -> None:
    app.cli.add_command(seed_demo_cmd)
    app.cli.add_command(create_user_cmd)
    from app.cli.jobs import jobs_cmd
    from app.cli.worker import dev_cmd, worker_cmd

    app.cli.add_command(worker_cmd)
    app.cli.add_command(jobs_cmd)
    app.cli.add_command(dev_cmd)
    from app.cli.api_keys import api_keys_cmd

    app.cli.add_command(api_keys_cmd)
    from app.cli.setup import setup_cmd

    app.cli.add_command(setup_cmd)
    from app.cli.audit import audit_cmd

    app.cli.add_command(audit_cmd)
    from app.cli.wechat import wechat_cmd  # flask wechat sync-menu (issue 10 §4)

    app.cli.add_command(wechat_cmd)


@click.command("seed-demo")
@click.option("--candidates", default=50, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has data.")
@click.option("--history/--no-history", default=True, show_default=True,
              help="Also a month of past interviews, cancellations and messages (reports).")
@with_appcontext
def seed_demo_cmd(candidates: int, if_empty: bool, history: bool):
    """Create demo positions, sessions, candidates, reasons and HR users."""
    from app.cli.demo import is_empty, seed_demo

    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("seed-demo refuses to run in production")
    if not is_empty():
        if if_empty:
            click.echo("database already has data; not seeding")
            return
        raise click.ClickException("database already has data; seed-demo needs an empty one")
    summary = seed_demo(candidates=candidates, history=history)
    if summary["history"]:
        click.echo(f"history: {summary['history']['interviews']} past interviews, "
                   f"{summary['history']['messages']} messages")
    click.echo(f"seeded {len(summary['candidates'])} candidates; HR users "
               f"{', '.join(u['username'] for u in summary['hr_users'].values())} "
               f"(password from DEMO_PASSWORD or the README)")


@click.command("create-user")
@click.argument("username")
@click.option("--name", "display_name", required=True)
@click.option("--role", type=click.Choice(["admin", "recruiting_manager",
                                           "recruiting_specialist", "interviewer"]),
              required=True)
@click.option("--email", default=None)
@click.option("--department", "departments", multiple=True,
              help="A department the user works on (repeatable).")
@click.option("--password", default=None,
              help="The password (non-interactive; visible in the process list).")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@with_appcontext
def create_user_cmd(username, display_name, role, email, departments, password,
                    password_stdin):
    """Create an HR console user (the same rules as the console's 新建用户)."""
    import sys

    from app.core.errors import AppError
    from app.services.users.accounts import create_user

    if password is not None and password_stdin:
        raise click.UsageError("use --password or --password-stdin, not both")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(username=username, display_name=display_name, role=role,
                           email=email, departments=departments, password=password)
    except AppError as exc:
        raise click.ClickException(f"{exc.message} ({exc.code})") from None
    click.echo(f"created {user.username} ({user.role.value})")
