"""`flask worker` (dispatcher + scheduler until SIGTERM/SIGINT) and `flask dev` (the
embedded default: web server with the worker as a thread)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@with_appcontext
def worker_cmd():
    """Run the outbox dispatcher and the job scheduler until SIGINT/SIGTERM; on the signal
    finish what is in flight, release what this worker claimed, then exit."""
    import signal

    from app.jobs.worker import Worker

    worker = Worker(current_app._get_current_object())
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    worker.run_forever()


@click.command("dev")
@click.option("--host", envvar="HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="PORT", default=5000, show_default=True, type=int)
@with_appcontext
def dev_cmd(host: str, port: int):
    """Embedded default: web server plus the worker (dispatcher and scheduler) as a thread
    in one process."""
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
