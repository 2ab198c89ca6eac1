"""flask audit verify / flask audit seal: the audit log's hash chain."""
from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("audit")
def audit_cmd():
    """The tamper-evident audit log (hash chain)."""


@audit_cmd.command("verify")
@click.option("--batch", default=1000, show_default=True, help="Entries read per query.")
@with_appcontext
def audit_verify_cmd(batch: int):
    """Check the chain; exit 0 when intact, 1 naming the first bad entry."""
    from app.services.audit.verify import verify_chain

    report = verify_chain(batch=max(1, batch))
    click.echo(report.summary())
    if not report.ok:
        raise SystemExit(1)


@audit_cmd.command("seal")
@with_appcontext
def audit_seal_cmd():
    """Seal the entries written since the sealer last ran (what the audit_seal job does)."""
    from app.services.audit.seal import seal_pending

    click.echo(f"sealed {seal_pending()} entries")


@audit_cmd.command("restore-head")
@with_appcontext
def audit_restore_head_cmd():
    """Record the chain's head again when its settings row was lost (the chain itself
    must verify); refuses otherwise."""
    from app.services.audit.seal import restore_head

    try:
        head = restore_head()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"audit chain head: seq {head.seq} hash {head.hash[:16]}")
