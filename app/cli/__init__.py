"""Flask CLI commands: seed-demo, create-user, worker, jobs, dev."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


def register(app) -> None:
    app.cli.add_command(seed_demo_cmd)
    app.cli.add_command(create_user_cmd)
    app.cli.add_command(worker_cmd)
    app.cli.add_command(jobs_cmd)
    app.cli.add_command(dev_cmd)
    from app.cli.api_keys import api_keys_cmd

    app.cli.add_command(api_keys_cmd)
    from app.cli.setup import setup_cmd

    app.cli.add_command(setup_cmd)
    from app.cli.audit import audit_cmd

    app.cli.add_command(audit_cmd)


@click.command("seed-demo")
@click.option("--candidates", default=50, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing when the database has data.")
@with_appcontext
def seed_demo_cmd(candidates: int, if_empty: bool):
    """Create demo positions, sessions, candidates, reasons and HR users."""
    from app.cli.demo import is_empty, seed_demo

    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("seed-demo refuses to run in production")
    if not is_empty():
        if if_empty:
            click.echo("database already has data; not seeding")
            return
        raise click.ClickException("database already has data; seed-demo needs an empty one")
    summary = seed_demo(candidates=candidates)
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


@click.command("worker")
@with_appcontext
def worker_cmd():
    """Run the outbox dispatcher until SIGINT/SIGTERM."""
    import signal

    from app.jobs.worker import Worker

    worker = Worker(current_app._get_current_object())
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    try:
        worker.run_forever()
    except KeyboardInterrupt:
        worker.stop()


@click.group("jobs")
def jobs_cmd():
    """The scheduled jobs the worker runs."""


@jobs_cmd.command("list")
@with_appcontext
def jobs_list_cmd():
    """Each job, how often it runs, what it does."""
    from app.jobs.schedule import JOBS

    for job in JOBS:
        click.echo(f"{job.name}\tevery {job.every_seconds}s\t{job.description}")


@jobs_cmd.command("run")
@click.argument("name")
@click.option("--now", "now_text", help="Run at this clock (ISO 8601 with offset).")
@with_appcontext
def jobs_run_cmd(name: str, now_text: str | None):
    """Run one job once, now or at the given clock."""
    from datetime import datetime

    from app.jobs.schedule import JOBS, get_job

    try:
        job = get_job(name)
    except KeyError:
        raise click.ClickException(
            f"unknown job {name!r}; jobs: {', '.join(j.name for j in JOBS)}") from None
    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.ClickException("--now must be ISO 8601, e.g. "
                                       "2026-12-01T09:00:00+08:00") from None
        if now.tzinfo is None:
            raise click.ClickException("--now needs an offset, e.g. +08:00")
    click.echo(f"{job.name}: {job.run(now)}")


@click.command("dev")
@click.option("--host", envvar="HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="PORT", default=5000, show_default=True, type=int)
@with_appcontext
def dev_cmd(host: str, port: int):
    """Embedded default: web server plus the outbox worker thread in one process."""
    from app.jobs.worker import start_embedded_worker

    app = current_app._get_current_object()
    base = f"http://{host}:{port}"
    app.config["PUBLIC_BASE_URL"] = base
    if app.config.get("SANDBOX_ENABLED"):
        app.config["WECHAT_API_BASE"] = base + "/_sandbox/wechat"
        from app.cli.demo import register_sandbox_identities

        register_sandbox_identities()
    worker = start_embedded_worker(app)
    click.echo(f"console   {base}/console/  (demo users: admin, manager, specialist, "
               "interviewer)")
    click.echo(f"API       {base}/api/mp/v1/")
    click.echo(f"simulator {base}/_sandbox/wechat/simulator")
    from werkzeug.serving import run_simple

    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        worker.stop()

