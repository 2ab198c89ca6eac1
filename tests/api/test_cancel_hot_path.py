"""The cancel endpoint's fast path keeps every guarantee of the slow one.

- The write is applied only if the interview is still the version that was read: a change
  committed in between wins, and this cancel writes nothing at all.
- One Redis round trip checks the session and counts the request (per IP, per user); a
  forged token that names someone else's account never uses up their limit; tokens issued
  before the account id was part of them still work and are still limited.
"""
import json

import pytest
from sqlalchemy import create_engine, func, select, text

from app.core import crypto
from app.extensions import db, redis_store
from app.models import AuditEntry, Cancellation, Interview, OutboxMessage, WechatAccount
from app.services.cancellation import facts as cancellation_facts
from tests.factories import API, mp_token


def _counts(app):
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m))
                     for m in (Cancellation, OutboxMessage, AuditEntry))


CONCURRENT = {
    # Another writer commits right after our read (HR cancelling, the candidate confirming
    # on a second phone, a reschedule moving the slot).
    "cancel": "status = 'cancelled'",
    "confirm": "status = 'confirmed'",
    "reschedule": "scheduled_at = scheduled_at + interval '1 day'",
}


def _commit_between_read_and_write(app, monkeypatch, public_id, change):
    other = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    real = cancellation_facts.candidate_facts_from_row
    sql = CONCURRENT[change]
    if other.dialect.name == "sqlite" and change == "reschedule":
        sql = "scheduled_at = datetime(scheduled_at, '+1 day')"
    state = {"done": False}

    def facts_then_concurrent_change(row):
        facts = real(row)
        if not state["done"]:
            state["done"] = True
            with other.begin() as conn:
                conn.execute(text(f"UPDATE interviews SET {sql}, version = version + 1 "
                                  "WHERE public_id = :p"), {"p": public_id})
        return facts

    monkeypatch.setattr(cancellation_facts, "candidate_facts_from_row",
                        facts_then_concurrent_change)
    return other


def test_a_cancel_committed_between_read_and_write_wins(app, client, demo, monkeypatch):
    cand = next(c for c in demo["candidates"] if not c["position_review"])
    token = mp_token(client, cand["openid"])
    public_id = cand["interview_ids"][0]
    before = _counts(app)
    other = _commit_between_read_and_write(app, monkeypatch, public_id, "cancel")
    try:
        r = client.post(f"{API}/interviews/{public_id}/cancel",
                        headers={"Authorization": f"Bearer {token}"},
                        json={"reason_code": "time_conflict"})
    finally:
        other.dispose()
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["error"]["code"] == "already_cancelled"
    # Nothing of ours was written: no cancellation, no messages, no audit entry.
    assert _counts(app) == before
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(Interview.public_id == public_id)).one()
        assert iv.version == 2  # only the other writer's change


@pytest.mark.parametrize("change", ["confirm", "reschedule"])
def test_a_cancel_that_lost_to_a_confirm_or_reschedule_decides_again(
        app, client, demo, monkeypatch, change):
    """The state that won is still cancellable: the candidate gets their cancel."""
    cand = next(c for c in demo["candidates"] if not c["position_review"])
    token = mp_token(client, cand["openid"])
    public_id = cand["interview_ids"][0]
    cancellations, _, _ = _counts(app)
    other = _commit_between_read_and_write(app, monkeypatch, public_id, change)
    try:
        r = client.post(f"{API}/interviews/{public_id}/cancel",
                        headers={"Authorization": f"Bearer {token}"},
                        json={"reason_code": "time_conflict"})
    finally:
        other.dispose()
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "cancelled"
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(Interview.public_id == public_id)).one()
        assert iv.status.value == "cancelled"
        assert iv.version == 3  # the other writer's change, then ours
        assert db.session.scalar(select(func.count()).select_from(Cancellation)) \
            == cancellations + 1


def test_forged_token_never_uses_up_another_users_limit(app, client, demo):
    app.config["RATE_LIMITS"] = {"cancel": {"user": (2, 60)}}
    cand = demo["candidates"][0]
    token = mp_token(client, cand["openid"])
    account_id, _, _ = token.partition(".")
    assert account_id.isdigit()  # tokens name their account

    for i in range(5):
        r = client.post(f"{API}/interviews/nope/cancel",
                        headers={"Authorization": f"Bearer {account_id}.forged{i}"},
                        json={"reason_code": "time_conflict"})
        assert r.status_code == 401
        assert r.get_json()["error"]["code"] == "session_invalid"

    auth = {"Authorization": f"Bearer {token}"}
    codes = [client.post(f"{API}/interviews/nope/cancel", headers=auth,
                         json={"reason_code": "time_conflict"}).status_code for _ in range(3)]
    assert codes == [404, 404, 429]


def test_forged_tokens_count_against_the_ip(app, client, demo):
    app.config["RATE_LIMITS"] = {"cancel": {"ip": (3, 60)}}
    codes = [client.post(f"{API}/interviews/nope/cancel",
                         headers={"Authorization": f"Bearer 1.forged{i}"},
                         json={"reason_code": "time_conflict"}).status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]


def test_a_token_from_before_account_ids_still_works_and_is_limited(app, client, demo):
    """Sessions issued by the previous release hold only the account id."""
    app.config["RATE_LIMITS"] = {"cancel": {"user": (2, 60)}}
    cand = demo["candidates"][0]
    with app.app_context():
        account = db.session.scalars(select(WechatAccount).where(
            WechatAccount.openid == cand["openid"])).one()
        legacy = crypto.new_token(32)
        redis_store.client.set(redis_store.key("mp-session", crypto.token_hash(legacy)),
                               json.dumps({"account_id": account.id}), ex=600)
    auth = {"Authorization": f"Bearer {legacy}"}
    assert client.get(f"{API}/interviews", headers=auth).status_code == 200
    codes = [client.post(f"{API}/interviews/nope/cancel", headers=auth,
                         json={"reason_code": "time_conflict"}).status_code for _ in range(3)]
    assert codes == [404, 404, 429]
