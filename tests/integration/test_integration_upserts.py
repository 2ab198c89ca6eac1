"""PUT by external id: positions, sessions, candidates (with an invitation) and interviews
get in through the API; the same object again changes nothing; the key's departments
bound what it may write; every write is audited with the key as the actor."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Candidate, Interview, InterviewSession, Position
from tests.integration.conftest import BASE

POSITION = {"title": "Java工程师", "department": "技术部", "level": "P6"}
SESSION = {"position_external_id": "pos-1", "starts_at": "2030-03-15T09:00:00+08:00",
           "ends_at": "2030-03-15T12:00:00+08:00", "capacity": 10}
CANDIDATE = {"name": "王伟", "phone": "13800138000"}
INTERVIEW = {"candidate_external_id": "cand-1", "position_external_id": "pos-1",
             "session_external_id": "sess-1", "scheduled_at": "2030-03-15T10:00:00+08:00"}


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _put_all(client, headers):
    return [client.put(f"{BASE}/{path}", headers=headers, json=body) for path, body in (
        ("positions/pos-1", POSITION), ("sessions/sess-1", SESSION),
        ("candidates/cand-1", CANDIDATE), ("interviews/iv-1", INTERVIEW))]


def test_put_creates_then_the_same_object_changes_nothing(app, client, make_key):
    key = make_key()
    created = _put_all(client, key.headers)
    assert [r.status_code for r in created] == [201] * 4, [r.get_json() for r in created]
    position, session, candidate, interview = (r.get_json() for r in created)
    assert position["position"]["external_id"] == "pos-1" and position["created"]
    assert session["session"]["booked"] == 0
    invite = candidate["invite"]
    assert invite["token"] and invite["qr_scene"] == invite["token"]
    assert invite["token"] in invite["link"]
    assert "phone" not in candidate["candidate"]
    body = interview["interview"]
    assert body["external_id"] == "iv-1" and body["status"] == "scheduled"
    assert body["number"].startswith("AI-2030-03-15-")
    assert body["candidate"] == {"external_id": "cand-1", "name": "王伟"}

    again = _put_all(client, key.headers)
    assert [r.status_code for r in again] == [200] * 4
    assert [r.get_json()["changed"] for r in again] == [False] * 4
    assert again[2].get_json()["invite"] is None  # invited once
    assert again[1].get_json()["session"]["booked"] == 1  # the interview took a place
    assert [_count(app, m) for m in (Position, InterviewSession, Candidate, Interview)] == \
        [1, 1, 1, 1]

    moved = client.put(f"{BASE}/interviews/iv-1", headers=key.headers,
                       json={**INTERVIEW, "scheduled_at": "2030-03-15T11:00:00+08:00"})
    assert moved.status_code == 200 and moved.get_json()["fields"] == ["scheduled_at"]
    with app.app_context():
        entries = db.session.execute(select(AuditEntry.action, AuditEntry.actor_type,
                                            AuditEntry.actor_id)
                                     .where(AuditEntry.action.like("%.created")
                                            | AuditEntry.action.like("%.updated"))
                                     .where(AuditEntry.action != "api_key.created")
                                     .order_by(AuditEntry.id)).all()
    assert [e.action for e in entries] == ["position.created", "session.created",
                                          "candidate.created", "interview.created",
                                          "interview.updated"]
    assert {(e.actor_type, e.actor_id) for e in entries} == {("integration", key.id)}
    # the API reads what it wrote, by external id
    read = client.get(f"{BASE}/interviews/iv-1", headers=key.headers).get_json()
    assert read["scheduled_at"] == "2030-03-15T11:00:00+08:00"


def test_bad_fields_are_listed_in_chinese_and_nothing_is_written(app, client, make_key):
    key = make_key()
    r = client.put(f"{BASE}/candidates/cand-1", headers=key.headers,
                   json={"name": "", "phone": "123"})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert {e["field"] for e in error["details"]["errors"]} == {"name", "phone"}
    assert all(e["message"] for e in error["details"]["errors"])
    mismatch = client.put(f"{BASE}/positions/pos-1", headers=key.headers,
                          json={**POSITION, "external_id": "pos-2"})
    assert mismatch.get_json()["error"]["code"] == "external_id_mismatch"
    not_json = client.put(f"{BASE}/positions/pos-1", headers=key.headers, data="x")
    assert not_json.status_code == 422
    assert not_json.get_json()["error"]["code"] == "invalid_json"
    assert _count(app, Candidate) == _count(app, Position) == 0


def test_a_key_writes_only_in_its_departments_and_needs_the_write_scope(app, client, make_key):
    sales = make_key(departments=("销售部",), name="sales")
    r = client.put(f"{BASE}/positions/pos-1", headers=sales.headers, json=POSITION)
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "department_out_of_scope"
    reader = make_key(scopes=("interviews:read",), name="reader")
    r = client.put(f"{BASE}/positions/pos-1", headers=reader.headers, json=POSITION)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "scope_missing"
    assert _count(app, Position) == 0


def test_idempotent_replay_of_a_create(app, client, make_key):
    key = make_key()
    headers = {**key.headers, "Idempotency-Key": "pos-1-v1"}
    first = client.put(f"{BASE}/positions/pos-1", headers=headers, json=POSITION)
    replay = client.put(f"{BASE}/positions/pos-1", headers=headers, json=POSITION)
    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    assert _count(app, Position) == 1
