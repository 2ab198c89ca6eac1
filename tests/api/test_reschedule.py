"""Rescheduling through HTTP: slots within the window of Chinese working days, the move,
its audit and outbox rows, and capacity under concurrent requests.

The clock is fixed at Tuesday 2026-09-29 10:00 (Asia/Shanghai), just before the National
Day holiday (10-01..10-07, with Saturday 10-10 worked), so the tests do not depend on
today's date: with the default window of 3 working days, the window ends on 10-09.
"""
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.models import (
    AuditEntry,
    Interview,
    InterviewSession,
    InterviewStatus,
    OutboxMessage,
    Position,
)
from app.services.interviews import reschedule as rescheduling
from templates_msg import render
from tests.factories import API, mp_login

NOW = datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI)


def at(month, day, hour, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture
def fixed_now(monkeypatch):
    monkeypatch.setattr(rescheduling, "utcnow", lambda: NOW.astimezone(UTC))
    return NOW


@pytest.fixture
def world(app, demo, fixed_now):
    """A position of our own, its sessions around the holiday, and candidate 1's interview
    moved to the 09-30 15:00 session. Returns ids by name."""
    with app.app_context():
        hr = demo["hr_users"]
        other = db.session.get(Position, demo["positions"][0]["id"])
        pos = Position(title="数据分析师", department="数据部", level="P5",
                       recruiter_id=hr["recruiting_specialist"]["id"],
                       hiring_manager_id=hr["recruiting_manager"]["id"])
        db.session.add(pos)

        def session(start, *, capacity=4, booked=0, position=pos):
            s = InterviewSession(position=position, starts_at=start,
                                 ends_at=start + timedelta(hours=2), capacity=capacity,
                                 booked=booked)
            db.session.add(s)
            return s

        s = {
            "current": session(at(9, 30, 15), booked=1),
            "too_soon": session(at(9, 29, 11)),          # before now + 2 h
            "today": session(at(9, 29, 14)),
            "sep30": session(at(9, 30, 10), booked=3),
            "other_position": session(at(9, 30, 11), position=other),
            "holiday": session(at(10, 3, 10)),           # 国庆节
            "oct8": session(at(10, 8, 10)),
            "full": session(at(10, 8, 14), capacity=2, booked=2),
            "any_position": session(at(10, 9, 10), position=None),
            "last_evening": session(at(10, 9, 20)),       # last day of the window
            "adjusted_sat": session(at(10, 10, 10)),      # a workday, but past the window
        }
        db.session.flush()
        interview = _move_interview(demo["candidates"][0], pos, s["current"])
        # The interviewer is also the recruiter: one message each, not two.
        interview.interviewer_id = hr["recruiting_specialist"]["id"]
        db.session.commit()
        return {"position_id": pos.id, "interview_id": interview.public_id,
                "candidate_id": demo["candidates"][0]["id"],
                "openid": demo["candidates"][0]["openid"],
                "slots": {name: row.id for name, row in s.items()}}


def _move_interview(cand, position, session, status=InterviewStatus.SCHEDULED):
    iv = db.session.scalars(select(Interview).where(
        Interview.public_id == cand["interview_ids"][0])).one()
    iv.position = position
    iv.session = session
    iv.scheduled_at = session.starts_at
    iv.confirm_by = session.starts_at - timedelta(hours=24)
    iv.status = status
    return iv


def _booked(app, session_id):
    with app.app_context():
        return db.session.get(InterviewSession, session_id).booked


def test_slots_are_open_sessions_within_the_working_day_window(client, world):
    auth = mp_login(client, world["openid"])
    r = client.get(f"{API}/interviews/{world['interview_id']}/reschedule-slots", headers=auth)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["window_end"] == "2026-10-09"
    ids = {v: k for k, v in world["slots"].items()}
    assert [ids[int(item["slot_id"])] for item in body["items"]] == [
        "today", "sep30", "oct8", "any_position", "last_evening"]
    first = body["items"][0]
    assert first == {"slot_id": str(world["slots"]["today"]),
                     "starts_at": "2026-09-29T14:00:00+08:00",
                     "ends_at": "2026-09-29T16:00:00+08:00", "remaining": 4}
    assert body["items"][1]["remaining"] == 1


def test_reschedule_moves_the_interview_and_tells_everyone(app, client, world):
    auth = mp_login(client, world["openid"])
    slot = world["slots"]["oct8"]
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(
            Interview.public_id == world["interview_id"])).one()
        iv.confirm(NOW.astimezone(UTC))
        db.session.commit()

    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    r = client.post(f"{API}/interviews/{world['interview_id']}/reschedule", headers=headers,
                    json={"slot_id": str(slot)})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["previous_scheduled_at"] == "2026-09-30T15:00:00+08:00"
    assert body["interview"]["scheduled_at"] == "2026-10-08T10:00:00+08:00"
    assert body["interview"]["status"] == "scheduled"  # confirmed for the old time only

    again = client.post(f"{API}/interviews/{world['interview_id']}/reschedule",
                        headers=headers, json={"slot_id": str(slot)})
    assert again.status_code == 200 and again.get_json() == body
    assert again.headers["Idempotent-Replayed"] == "true"

    timeline = client.get(f"{API}/interviews/{world['interview_id']}",
                          headers=auth).get_json()["timeline"]
    assert {"type": "rescheduled", "label": "面试已改期",
            "detail": "2026年10月08日 10:00"}.items() <= timeline[-1].items()

    assert _booked(app, slot) == 1
    assert _booked(app, world["slots"]["current"]) == 0
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(
            Interview.public_id == world["interview_id"])).one()
        assert iv.session_id == slot and iv.confirmed_at is None
        assert iv.confirm_by == iv.scheduled_at - timedelta(hours=24)
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.object_id == iv.id, AuditEntry.action == "interview.rescheduled")).all()
        assert len(entries) == 1
        assert entries[0].data["from"] == {"session_id": world["slots"]["current"],
                                           "scheduled_at": "2026-09-30T15:00:00+08:00"}
        assert entries[0].data["to"] == {"session_id": slot,
                                         "scheduled_at": "2026-10-08T10:00:00+08:00"}

        rows = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.interview_id == iv.id).order_by(OutboxMessage.id)).all()
        assert [(r.kind, r.recipient_type) for r in rows] == [
            ("candidate_rescheduled", "candidate"),
            ("staff_interview_rescheduled", "hr_user"),
            ("staff_interview_rescheduled", "hr_user")]
        assert len({r.recipient_id for r in rows[1:]}) == 2
        assert len({r.event for r in rows}) == 1

        cand = render(rows[0].kind, rows[0].context, app="mp", config=app.config,
                      open_token=rows[0].open_token)
        assert cand.data["time2"]["value"] == "2026年09月30日 15:00"
        assert cand.data["time3"]["value"] == "2026年10月08日 10:00"
        staff = render(rows[1].kind, rows[1].context, app="oa", config=app.config,
                       open_token=rows[1].open_token)
        assert staff.data["time3"]["value"] == "2026年09月30日 15:00"
        assert staff.data["thing4"]["value"] == "改期至2026年10月08日 10:00"


def test_rescheduling_twice_writes_a_new_event_each_time(app, client, world):
    auth = mp_login(client, world["openid"])
    url = f"{API}/interviews/{world['interview_id']}/reschedule"
    for name in ("oct8", "sep30"):
        r = client.post(url, headers=auth, json={"slot_id": world["slots"][name]})
        assert r.status_code == 200, r.get_json()
    assert _booked(app, world["slots"]["oct8"]) == 0
    assert _booked(app, world["slots"]["sep30"]) == 4
    with app.app_context():
        events = db.session.scalars(select(OutboxMessage.event).where(
            OutboxMessage.kind == "candidate_rescheduled")).all()
        assert len(set(events)) == 2


def test_full_slot_is_refused(app, client, world):
    auth = mp_login(client, world["openid"])
    r = client.post(f"{API}/interviews/{world['interview_id']}/reschedule", headers=auth,
                    json={"slot_id": str(world["slots"]["full"])})
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "slot_full" and err["message"] == "该时段已约满，请选择其他时段"
    assert _booked(app, world["slots"]["full"]) == 2
    assert _booked(app, world["slots"]["current"]) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "interview.rescheduled")) == 0


@pytest.mark.parametrize("name", ["adjusted_sat", "holiday", "too_soon", "other_position",
                                  "current", "unknown", "not-a-number"])
def test_slot_outside_the_offer_is_invalid(app, client, world, name):
    auth = mp_login(client, world["openid"])
    slot_id = {"unknown": "999999", "not-a-number": "abc"}.get(name) or str(world["slots"][name])
    r = client.post(f"{API}/interviews/{world['interview_id']}/reschedule", headers=auth,
                    json={"slot_id": slot_id})
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["code"] == "slot_invalid" and err["details"] == {"field": "slot_id"}
    assert _booked(app, world["slots"]["current"]) == 1


def test_slot_id_is_required(client, world):
    auth = mp_login(client, world["openid"])
    r = client.post(f"{API}/interviews/{world['interview_id']}/reschedule", headers=auth,
                    json={})
    assert r.status_code == 422
    assert r.get_json()["error"]["details"]["field"] == "slot_id"


def test_another_candidates_interview_is_not_found(client, demo, world):
    auth = mp_login(client, demo["candidates"][1]["openid"])
    base = f"{API}/interviews/{world['interview_id']}"
    r = client.get(f"{base}/reschedule-slots", headers=auth)
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "interview_not_found"
    r = client.post(f"{base}/reschedule", headers=auth,
                    json={"slot_id": str(world["slots"]["oct8"])})
    assert r.status_code == 404
    assert client.get(f"{API}/interviews/iv_nope/reschedule-slots",
                      headers=auth).status_code == 404


def test_cancelled_interview_cannot_be_rescheduled(app, client, world):
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(
            Interview.public_id == world["interview_id"])).one()
        iv.cancel(NOW.astimezone(UTC))
        db.session.commit()
    auth = mp_login(client, world["openid"])
    base = f"{API}/interviews/{world['interview_id']}"
    for r in (client.get(f"{base}/reschedule-slots", headers=auth),
              client.post(f"{base}/reschedule", headers=auth,
                          json={"slot_id": str(world["slots"]["oct8"])})):
        assert r.status_code == 409
        err = r.get_json()["error"]
        assert err["code"] == "not_reschedulable" and err["message"] == "该面试当前状态不能改期"
    assert _booked(app, world["slots"]["oct8"]) == 0


def test_after_the_deadline_the_interview_cannot_be_rescheduled(app, client, world):
    with app.app_context():
        s = InterviewSession(position_id=world["position_id"], starts_at=at(9, 29, 11, 30),
                             ends_at=at(9, 29, 12, 30), capacity=4, booked=1)
        db.session.add(s)
        iv = db.session.scalars(select(Interview).where(
            Interview.public_id == world["interview_id"])).one()
        iv.session, iv.scheduled_at = s, s.starts_at
        db.session.commit()
    auth = mp_login(client, world["openid"])
    r = client.get(f"{API}/interviews/{world['interview_id']}/reschedule-slots", headers=auth)
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "reschedule_deadline_passed"
    assert err["details"]["reschedule_deadline"] == "2026-09-29T09:30:00+08:00"


@pytest.mark.parametrize("capacity", [1, 2])
def test_concurrent_reschedules_never_overbook(app, backend, demo, world, capacity):
    if backend.name == "sqlite":
        pytest.skip("SQLite serializes writers; row-level concurrency needs PostgreSQL")
    slot_id = world["slots"]["oct8"]
    with app.app_context():
        pos = db.session.get(Position, world["position_id"])
        current = db.session.get(InterviewSession, world["slots"]["current"])
        db.session.get(InterviewSession, slot_id).capacity = capacity
        people = [(c["id"], c["interview_ids"][0]) for c in demo["candidates"][:5]]
        for cand in demo["candidates"][1:5]:
            _move_interview(cand, pos, current)
        current.booked = 5
        db.session.commit()

    barrier = threading.Barrier(len(people))
    results: list[str] = []

    def attempt(candidate_id, public_id):
        with app.app_context():
            barrier.wait()
            try:
                rescheduling.reschedule_by_candidate(candidate_id, public_id, str(slot_id),
                                                     now=NOW.astimezone(UTC))
                results.append("ok")
            except rescheduling.SlotFull:
                results.append("slot_full")
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                results.append(repr(exc))

    threads = [threading.Thread(target=attempt, args=p) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["ok"] * capacity + ["slot_full"] * (5 - capacity)
    assert _booked(app, slot_id) == capacity
    assert _booked(app, world["slots"]["current"]) == 5 - capacity
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Interview).where(
            Interview.session_id == slot_id)) == capacity


def test_concurrent_swaps_do_not_deadlock(app, backend, demo, world):
    if backend.name == "sqlite":
        pytest.skip("SQLite serializes writers; row-level locking needs PostgreSQL")
    a, b = world["slots"]["current"], world["slots"]["sep30"]
    with app.app_context():
        pos = db.session.get(Position, world["position_id"])
        _move_interview(demo["candidates"][1], pos, db.session.get(InterviewSession, b))
        db.session.commit()
    people = [(demo["candidates"][0], [b, a]), (demo["candidates"][1], [a, b])]
    for rnd in range(4):
        barrier = threading.Barrier(2)
        results: list[str] = []

        def attempt(cand, target, barrier=barrier, results=results):
            with app.app_context():
                barrier.wait()
                try:
                    rescheduling.reschedule_by_candidate(
                        cand["id"], cand["interview_ids"][0], str(target),
                        now=NOW.astimezone(UTC))
                    results.append("ok")
                except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                    results.append(repr(exc))

        threads = [threading.Thread(target=attempt, args=(cand, targets[rnd % 2]))
                   for cand, targets in people]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert results == ["ok", "ok"]
    assert (_booked(app, a), _booked(app, b)) == (1, 3)
