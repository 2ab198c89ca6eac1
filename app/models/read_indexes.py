"""Indexes for the read side (console list and search, reports), declared in one place
beside migration 0007 (models and migrations must describe the same schema).

- interviews (position_id, id): a department's interview ids by an index-only scan (the
  scope of a report or list of a recruiting manager, without reading the table);
- lower(number) text_pattern_ops: the number prefix search (istartswith);
- candidates name with pg_trgm (GIN): the candidate-name search (icontains, '%q%');
  SQLite has no trigram index and gets a plain one;
- cancellations coalesce(decided_at, requested_at): a report period of effective times;
- outbox_messages created_at: a report period of notifications;
- outbox_messages created_at where read_at is set (migration 0016): the opened messages
  of a period, for the time-to-open percentiles, without reading every message (a fifth
  of them are opened; the row is indexed once, when it is opened).
"""
from sqlalchemy import Index, func

from app.models.cancellation import Cancellation
from app.models.candidate import Candidate
from app.models.interview import Interview
from app.models.outbox import OutboxMessage

INDEXES = (
    Index("ix_interviews_position_id_id", Interview.position_id, Interview.id),
    Index("ix_interviews_number_lower", func.lower(Interview.number).label("number_lower"),
          postgresql_ops={"number_lower": "text_pattern_ops"}),
    Index("ix_candidates_name_trgm", Candidate.name, postgresql_using="gin",
          postgresql_ops={"name": "gin_trgm_ops"}),
    Index("ix_cancellations_effective_at",
          func.coalesce(Cancellation.decided_at, Cancellation.requested_at)),
    Index("ix_outbox_messages_created_at", OutboxMessage.created_at),
    Index("ix_outbox_messages_opened_created_at", OutboxMessage.created_at,
          postgresql_where=OutboxMessage.read_at.is_not(None),
          sqlite_where=OutboxMessage.read_at.is_not(None)),
)
