"""The changes feed of /api/integration/v1, for systems that poll instead of taking
webhooks: what happened to interviews, in the order of the sealed audit log.

The cursor is an entry's `seq`: gap-free and assigned only by the sealer
(app.services.audit.seal), in one order that never changes, so a poller that asks for
"after N" never misses an entry nor sees one twice. Entries not sealed yet are not in the
feed (the sealer runs every few seconds). Entries of interviews outside the key's
departments are skipped, and the cursor still moves past them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Interview, InterviewStatus, Position
from app.services.cancellation.policy import PermissionDenied
from app.services.users.actor import Actor, interview_scope

MAX_LIMIT = 500
DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class Change:
    seq: int
    action: str
    at: datetime
    external_id: str | None
    number: str
    status: InterviewStatus


@dataclass(frozen=True)
class ChangesPage:
    items: list[Change]
    next_cursor: int    # pass it as `cursor` next time
    has_more: bool      # more entries are sealed past next_cursor


def changes_since(actor: Actor, cursor: int = 0, limit: int = DEFAULT_LIMIT) -> ChangesPage:
    """Interview changes sealed after `cursor`, oldest first, in the actor's scope."""
    if not actor.can("view"):
        raise PermissionDenied()
    limit = max(1, min(limit, MAX_LIMIT))
    # The head first: everything up to it is sealed, so a page that ends short of `limit`
    # has looked at every entry up to the head and the cursor may move there.
    head = db.session.scalar(select(func.max(AuditEntry.seq))) or 0
    rows = db.session.execute(
        select(AuditEntry.seq, AuditEntry.action, AuditEntry.at, Interview.external_id,
               Interview.number, Interview.status)
        .join(Interview, Interview.id == AuditEntry.object_id)
        .join(Position, Position.id == Interview.position_id)
        .where(AuditEntry.object_type == "interview", AuditEntry.seq > cursor,
               AuditEntry.seq <= head, interview_scope(actor))
        .order_by(AuditEntry.seq).limit(limit + 1)).all()
    has_more = len(rows) > limit
    items = [Change(*row) for row in rows[:limit]]
    if has_more:
        next_cursor = items[-1].seq
    else:
        next_cursor = max(cursor, head)
    return ChangesPage(items, next_cursor, has_more)
