"""`flask jobs list` and `flask jobs run NAME [--now ISO-8601]`."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("jobs")
def jobs_cmd():
    """The scheduled jobs the worker runs."""


@jobs_cmd.command("list")
@with_appcontext
def jobs_list_cmd():
    """Each job, how often it runs, what it does, and its last run."""
    from sqlalchemy import select

    from app.core.timeutil import iso
    from app.extensions import db
    from app.jobs.schedule import JOBS
    from app.models import JobRun

    runs = {r.name: r for r in db.session.scalars(select(JobRun))}
    for job in JOBS:
        when = f"daily from {job.daily_at} (checked every {job.every_seconds}s)" \
            if job.daily_at else f"every {job.every_seconds}s"
        run = runs.get(job.name)
        last = (f"last {iso(run.clock_at)} -> {run.result if run.error is None else run.error}"
                if run is not None and run.clock_at else "never run")
        click.echo(f"{job.name}\t{when}\t{job.description}\t{last}")


def _parse_now(now_text: str | None):
    from datetime import datetime

    if not now_text:
        return None
    try:
        now = datetime.fromisoformat(now_text)
    except ValueError:
        raise click.ClickException("--now must be ISO 8601, e.g. "
                                   "2026-12-01T09:00:00+08:00") from None
    if now.tzinfo is None:
        raise click.ClickException("--now needs an offset, e.g. +08:00")
    return now


@jobs_cmd.command("run")
@click.argument("name")
@click.option("--now", "now_text", help="Run at this clock (ISO 8601 with offset).")
@with_appcontext
def jobs_run_cmd(name: str, now_text: str | None):
    """Run one job once, now or at the given clock (under the job's lock, like a worker)."""
    import os

    from app.core import clock
    from app.jobs import turns
    from app.jobs.schedule import JOBS, get_job

    try:
        job = get_job(name)
    except KeyError:
        raise click.ClickException(
            f"unknown job {name!r}; jobs: {', '.join(j.name for j in JOBS)}") from None
    now = _parse_now(now_text)
    with clock.frozen(now):
        try:
            outcome = turns.run_turn(job, f"cli-{os.getpid()}", now=clock.now(), force=True)
        except turns.JobBusy:
            raise click.ClickException(f"{name} is running in a worker now; "
                                       "try again when it has finished") from None
    click.echo(f"{job.name}: {outcome.result if outcome.result is not None else 0}")
