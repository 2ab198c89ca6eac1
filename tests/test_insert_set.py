"""Many rows in one INSERT (app.core.sqlwrite.insert_set, under every side-effect writer):
the rows written are the rows given, in their order, whatever they share; on PostgreSQL a
value every row shares, and a JSON value several rows share (a decision's one context for
its three messages), travel once instead of once per row."""
from __future__ import annotations

import secrets
import threading

import pytest
from sqlalchemy import event, select

from app.core import crypto
from app.core.timeutil import utcnow
from app.extensions import db
from app.models import OutboxMessage
from app.services.notifications import outbox


def _messages(now, tokens=None):
    """Three events, each with its own context told to three people (as a chunk of
    auto-cancels queues them), and a last message with a context of its own."""
    contexts = [{"interview_number": f"AI-CTX-{i}", "note": "", "nested": {"a": [i, "乙"]}}
                for i in range(3)]
    rows = [outbox.message_row(event=f"test.event:{i}", kind=kind, recipient_type=rtype,
                               recipient_id=rid, interview_id=None, context=contexts[i],
                               now=now, open_token=next(tokens) if tokens else None)
            for i in range(3)
            for kind, rtype, rid in (("candidate_kind", "candidate", 10 + i),
                                     ("staff_kind", "hr_user", 1), ("staff_kind", "hr_user", 2))]
    rows.append(outbox.message_row(event="test.event:other", kind="staff_kind",
                                   recipient_type="hr_user", recipient_id=3, interview_id=None,
                                   context={"interview_number": "AI-CTX-own"},
                                   now=now, request_id="req-1"))
    return rows


COLUMNS = ("dedupe_key", "event", "kind", "recipient_type", "recipient_id", "interview_id",
           "context", "status", "next_attempt_at", "open_token", "attempts", "open_count",
           "created_at", "updated_at", "request_id")


def test_rows_are_written_as_given_in_their_order(app):
    now = utcnow().replace(microsecond=0)
    rows = _messages(now, iter(outbox.open_tokens(9)))
    with app.app_context():
        ids = outbox.write(db.session.connection(), rows)
        db.session.commit()
        assert ids == sorted(ids) and len(ids) == len(rows)
        written = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert [{c: getattr(m, c) for c in COLUMNS} for m in written] == \
            [{c: row[c] for c in COLUMNS} for row in rows]
        # written again: every dedupe key exists, nothing is added
        assert outbox.write(db.session.connection(), _messages(now)) == []
        db.session.commit()


def test_shared_values_travel_once(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite runs an executemany in process")
        now = utcnow().replace(microsecond=0)
        sent = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            sent.append("".join(getattr(p, "obj", p).decode() for p in parameters))

        connection = db.session.connection()
        event.listen(connection, "before_cursor_execute", capture)
        try:
            outbox.write(connection, _messages(now), ids=False)
        finally:
            event.remove(connection, "before_cursor_execute", capture)
        db.session.commit()
        [payload] = sent
        assert payload.count("AI-CTX-0") == 1       # one context, three messages
        assert payload.count("AI-CTX-own") == 1
        assert payload.count('"queued"') == 1       # the status all share
        assert payload.count(now.isoformat()) == 3  # the time all share: once per column
        assert db.session.scalar(select(OutboxMessage.request_id).where(
            OutboxMessage.event == "test.event:other")) == "req-1"
        assert [m.context["interview_number"] for m in db.session.scalars(
            select(OutboxMessage).order_by(OutboxMessage.id))] == \
            [f"AI-CTX-{i}" for i in range(3) for _ in range(3)] + ["AI-CTX-own"]


def test_tokens_drawn_at_once_are_like_tokens_drawn_one_by_one(monkeypatch):
    tokens = crypto.new_tokens(3000, 18)
    assert len(set(tokens)) == 3000
    assert {len(t) for t in tokens} == {len(crypto.new_token(18))} == {24}
    assert not any(t.startswith("-") for t in tokens)
    # a token whose first character would be "-" (0xf8: 111110xx) is drawn again
    real = secrets.token_bytes
    calls = []
    here = threading.get_ident()  # (the app's server threads draw tokens too)

    def first_starts_with_a_dash(n):
        if threading.get_ident() != here:
            return real(n)
        calls.append(n)
        return b"\xf8" + real(n - 1) if len(calls) == 1 else real(n)

    monkeypatch.setattr(secrets, "token_bytes", first_starts_with_a_dash)
    again = crypto.new_tokens(4, 18)
    assert calls[0] == 72 and len(calls) == 2 and not any(t.startswith("-") for t in again)
    assert len(crypto.new_tokens(5, 16)) == 5  # not a multiple of 3 bytes: one by one
