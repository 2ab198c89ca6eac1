"""Rows written directly, and the login helpers, for every test folder.

Why one module: the same few rows (an HR user, an interview with its candidate and
position, an outbox message, a cancellation, an audit entry) were built by a factory of
their own in each folder's conftest, each with slightly different defaults, and so were
the two logins. Here each exists once; the folder conftests only bind them to `app`
under the fixture names the tests already use (make_user, make_interview, ...).

Conventions:
- every factory takes the app first and writes its rows in an app context of its own,
  in one committed transaction, so it can be called from test code outside any context;
- it returns ids (or a SimpleNamespace of ids), never ORM objects: outside the session
  that loaded them those are detached, and a lazy load on them fails;
- defaults make a valid row with as few arguments as possible; keyword arguments set any
  other column.
Rows are written as the models define them, without the services' rules (no audit entry,
no outbox message): tests that need those go through the service or the HTTP API.
"""
from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from types import SimpleNamespace

import requests

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import (
    AuditEntry,
    Cancellation,
    CancellationState,
    CancelReason,
    Candidate,
    HrUser,
    Interview,
    InterviewSession,
    InterviewStatus,
    OutboxMessage,
    OutboxStatus,
    Position,
    ReasonActor,
    Role,
    Subscription,
    WechatAccount,
    WechatApp,
)

# The candidate API's prefix (miniprogram_api is registered under it).
API = "/api/mp/v1"
# The password the HR user factory gives by default (demo users have demo["password"]).
PASSWORD = "correct-horse-42"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@contextmanager
def committed(app) -> Iterator:
    """db.session in an app context of its own, committed at the end."""
    with app.app_context():
        yield db.session
        db.session.commit()


def _add(app, /, row):
    with committed(app) as session:
        session.add(row)
    return row.id


def detached(app, /, model, row_id):
    """A detached snapshot of one row (its columns readable after the context ends)."""
    with app.app_context():
        row = db.session.get(model, row_id)
        if row is not None:
            db.session.expunge(row)
        return row


# --- people -------------------------------------------------------------------------------

def hr_user(app, /, username: str = "zhaopin", role: Role = Role.RECRUITING_SPECIALIST,
            active: bool = True, display_name: str = "王招聘", password: str = PASSWORD,
            departments=("技术部",), **fields) -> int:
    """An HR user who can log in to the console with `password`, working on the
    interviews of `departments` (技术部: the department of the positions made here)."""
    with committed(app) as session:
        user = HrUser(username=username, display_name=display_name, role=role, active=active,
                      **fields)
        user.departments = departments
        user.set_password(password)  # the app's hashing method
        session.add(user)
    return user.id


def candidate(app, /, name: str = "张三", *, phone: str | None = "13800138000",
              **fields) -> int:
    """A candidate; the phone is stored encrypted (with the app's key), as the model does."""
    with committed(app) as session:
        row = Candidate(name=name, **fields)
        row.phone = phone
        session.add(row)
    return row.id


def wechat_account(app, /, openid: str, *, wechat_app: WechatApp = WechatApp.MINI_PROGRAM,
                   candidate_id: int | None = None, hr_user_id: int | None = None,
                   **fields) -> int:
    """A WeChat identity of one of our two apps, bound to a candidate or an HR user."""
    return _add(app, WechatAccount(app=wechat_app, openid=openid, candidate_id=candidate_id,
                                   hr_user_id=hr_user_id, **fields))


def subscription(app, /, openid: str, template_id: str, *, credits: int = 1,
                 last_result: str = "accept") -> int:
    """Our record of a subscribe-message authorisation (the credit the dispatcher uses)."""
    return _add(app, Subscription(openid=openid, template_id=template_id,
                                  last_result=last_result, credits=credits))


# --- positions, sessions, interviews ------------------------------------------------------

def position(app, /, title: str = "Java工程师", *, department: str = "技术部", level: str = "P6",
             **fields) -> int:
    return _add(app, Position(title=title, department=department, level=level, **fields))


def interview_session(app, /, *, position_id: int | None = None,
                      starts_at: datetime | None = None, hours: float = 2,
                      capacity: int = 4, booked: int = 0) -> int:
    """A slot of `hours` starting at `starts_at` (default: tomorrow, this time)."""
    starts_at = starts_at or utcnow() + timedelta(days=1)
    return _add(app, InterviewSession(position_id=position_id, starts_at=starts_at,
                                      ends_at=starts_at + timedelta(hours=hours),
                                      capacity=capacity, booked=booked))


def interview(app, /, number: str = "AI-2026-11-22-001", name: str = "张三",
              title: str = "Java工程师", status: InterviewStatus = InterviewStatus.SCHEDULED,
              scheduled_at: datetime | None = None, phone: str | None = "13800138000", *,
              candidate_id: int | None = None, position_id: int | None = None,
              **fields) -> SimpleNamespace:
    """An interview tomorrow; with a new candidate (`name`, `phone`) and a new position
    (`title`) unless their ids are given. Returns its id, public_id, number and those."""
    with committed(app) as session:
        if candidate_id is None:
            cand = Candidate(name=name)
            cand.phone = phone
            session.add(cand)
            session.flush()
            candidate_id = cand.id
        if position_id is None:
            pos = Position(title=title, department="技术部", level="P6")
            session.add(pos)
            session.flush()
            position_id = pos.id
        row = Interview(number=number, candidate_id=candidate_id, position_id=position_id,
                        status=status,
                        scheduled_at=scheduled_at or utcnow() + timedelta(days=1), **fields)
        session.add(row)
    return SimpleNamespace(id=row.id, public_id=row.public_id, number=number,
                           candidate_id=candidate_id, position_id=position_id)


def mp_candidate(app, /, openid: str = "sandbox-candidate-001", name: str = "张三", *,
                 phone: str | None = "13800138000",
                 scheduled_at: datetime | None = None) -> dict:
    """A candidate bound to a mini-program WeChat user (log in with mp_login(client,
    openid)), with one scheduled interview, three days ahead by default.

    Shaped like an entry of demo["candidates"], for tests that need one or two
    candidates rather than the whole demo data set (it has no cancel reasons and no HR
    users: cancelling needs cancel_reason(app, "time_conflict") at least).
    """
    with committed(app) as session:
        cand = Candidate(name=name)
        cand.phone = phone
        pos = Position(title="Java工程师", department="技术部", level="P6")
        iv = Interview(number=f"AI-T{uuid.uuid4().hex[:12]}", candidate=cand, position=pos,
                       scheduled_at=scheduled_at or utcnow() + timedelta(days=3))
        session.add_all([cand, pos, iv, WechatAccount(app=WechatApp.MINI_PROGRAM,
                                                      openid=openid, candidate=cand)])
    return {"id": cand.id, "name": name, "openid": openid, "interview_ids": [iv.public_id],
            "position_review": False}


# --- cancellations --------------------------------------------------------------------------

def cancel_reason(app, /, code: str | None = None, *, label: str = "时间冲突",
                  category: str = "candidate_initiated",
                  actor: ReasonActor = ReasonActor.CANDIDATE, **fields) -> int:
    """A reason (a unique code is made up unless given)."""
    return _add(app, CancelReason(code=code or f"r{uuid.uuid4().hex[:12]}", label=label,
                                  category=category, actor=actor, **fields))


def cancellation(app, /, interview_id: int, label: str = "时间冲突", note: str | None = None,
                 state: CancellationState = CancellationState.EFFECTIVE,
                 actor_type: str = "candidate", actor_id: int | None = None, *,
                 reason_id: int | None = None, **fields) -> int:
    """A cancellation of the interview, with a reason of its own (`label`) unless
    `reason_id` is given. The interview's status is left as it is."""
    with committed(app) as session:
        if reason_id is None:
            reason = CancelReason(code=f"r{uuid.uuid4().hex[:12]}", label=label,
                                  category="candidate_initiated", actor=ReasonActor.CANDIDATE)
            session.add(reason)
            session.flush()
            reason_id = reason.id
        row = Cancellation(interview_id=interview_id, reason_id=reason_id, note=note,
                           state=state, actor_type=actor_type, actor_id=actor_id, **fields)
        session.add(row)
    return row.id


# --- messages and audit ---------------------------------------------------------------------

def outbox_message(app, /, interview_id: int | None = None,
                   status: OutboxStatus = OutboxStatus.SENT,
                   recipient_type: str = "candidate", recipient_id: int = 1,
                   channel: str | None = "subscribe", **fields) -> int:
    """An outbox row as the dispatcher leaves it (sent, by default); a unique
    dedupe_key is made up unless given."""
    values = {"dedupe_key": f"test:{uuid.uuid4().hex}", "event": "interview.cancelled",
              "kind": "interview_cancelled", "next_attempt_at": utcnow()}
    values.update(fields)
    return _add(app, OutboxMessage(interview_id=interview_id, recipient_type=recipient_type,
                                   recipient_id=recipient_id, channel=channel, status=status,
                                   **values))


def audit_entry(app, /, object_id: int | None, action: str, at: datetime | None = None,
                actor_type: str = "system", actor_id: int | None = None,
                data: dict | None = None, *, object_type: str = "interview") -> int:
    return _add(app, AuditEntry(action=action, object_type=object_type, object_id=object_id,
                                actor_type=actor_type, actor_id=actor_id, data=data or {},
                                at=at or utcnow()))


# --- webhooks (through the service: it encrypts the secret and builds the payload) ---------

WEBHOOK_SECRET = "s3cret-for-tests-0123456789"
WEBHOOK_PAYLOAD = {"occurred_at": "2024-03-15T10:00:00+08:00",
                   "interview": {"id": "iv_x", "number": "AI-2024-03-15-001"},
                   "candidate": {"ref": "ATS-1", "name": "张三"}, "reason": None,
                   "actor": {"type": "candidate", "id": 1}}


def webhook_endpoint(app, /, url: str, events=("interview.cancelled",),
                     secret: str = WEBHOOK_SECRET, name: str = "ATS") -> int:
    """An endpoint created as an admin would create it, then given a known signing secret
    (the product generates one; tests check signatures against it)."""
    from app.extensions import db
    from app.services.users.actor import Actor
    from app.services.webhooks import endpoints

    with app.app_context():
        endpoint = endpoints.create_endpoint(Actor.system("test"), name=name, url=url,
                                             events=list(events)).endpoint
        endpoint.secret = secret
        db.session.commit()
        return endpoint.id


def webhook_event(app, /, event_type: str = "interview.cancelled",
                  event_id: str = "interview.cancelled:1", payload: dict | None = None) -> int:
    """An event queued in its own committed transaction; returns the deliveries queued."""
    from app.services import webhooks

    with committed(app):
        return webhooks.enqueue_event(event_type, event_id, payload or WEBHOOK_PAYLOAD)


# --- logging in -----------------------------------------------------------------------------

def csrf_token(client, path: str = "/console/login") -> str:
    """GET a console page and return the CSRF token of its form."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no csrf_token on {path}"
    return match.group(1)


def console_login(client, username: str, password: str = PASSWORD,
                  next_url: str | None = None):
    """Log in to the console through the real form (CSRF on); returns the POST response
    (302 on success)."""
    token = csrf_token(client)
    query = {"next": next_url} if next_url is not None else {}
    return client.post("/console/login", query_string=query,
                       data={"csrf_token": token, "username": username,
                             "password": password})


DEMO_PASSWORD = "demo-pass-2024"  # app.cli.demo's default (tests set no DEMO_PASSWORD)


def console_client(app, username: str, password: str = DEMO_PASSWORD):
    """A new test client logged in to the console as `username` (a demo HR user unless a
    password is given)."""
    client = app.test_client()
    response = console_login(client, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def mp_token(client, openid: str, *, bound: bool | None = None) -> str:
    """Log a WeChat user in to the candidate API (POST /auth/login with the sandbox's
    code for `openid`) and return the session token.

    `client`: a Flask test client, or the live server's base URL to go over real HTTP.
    `bound`: when given, assert whether the WeChat user is bound to a candidate.
    """
    body = {"code": f"sandbox:{openid}"}
    if isinstance(client, str):
        r = requests.post(f"{client}{API}/auth/login", json=body, timeout=10)
        status, answer = r.status_code, r.json()
    else:
        r = client.post(f"{API}/auth/login", json=body)
        status, answer = r.status_code, r.get_json()
    assert status == 200, answer
    if bound is not None:
        assert answer["bound"] is bound, answer
    return answer["token"]


def mp_login(client, openid: str, *, bound: bool | None = None) -> dict:
    """mp_token() as the Authorization header of the candidate API."""
    return bearer(mp_token(client, openid, bound=bound))


# --- mobile console (OA web OAuth) ------------------------------------------------------------

def bind_hr_wechat(app, /, username: str, openid: str | None = None) -> str:
    """Bind an HR user to an Official Account openid (hr_users.wechat_openid), as the
    binding code or QR scene does; returns the openid (default sandbox-hr-<username>)."""
    from sqlalchemy import update

    openid = openid or f"sandbox-hr-{username}"
    with committed(app) as session:
        session.execute(update(HrUser).where(HrUser.username == username)
                        .values(wechat_openid=openid, wechat_bound_at=utcnow()))
    return openid


def mobile_login(client, openid: str, next_url: str | None = None):
    """Open the mobile console as the sandbox's WeChat user `openid` through the real OAuth
    round trip (entry -> the sandbox's authorize page -> callback) with a Flask test
    client; returns the callback's response (302 to the page on success)."""
    from urllib.parse import urlsplit

    r = client.get("/console/m/", query_string={"next": next_url} if next_url else {})
    assert r.status_code == 302, r.get_data(as_text=True)
    authorize = urlsplit(r.headers["Location"])
    r = client.get(authorize.path, query_string=authorize.query + "&sandbox_openid=" + openid)
    assert r.status_code == 302, r.get_data(as_text=True)
    callback = urlsplit(r.headers["Location"])
    return client.get(callback.path, query_string=callback.query)


# --- rescheduling promises and backfill (issue 11 §4-5) ---------------------------------------

def company_cancel(app, /, interview_public_id: str, now: datetime, *, reschedule: bool = True,
                   reason_code: str = "position_filled") -> int:
    """The company cancels the interview at `now` (an admin, through the cancellation core),
    with 为候选人重新安排 unless told otherwise; a company reason `reason_code` is made when
    missing. Returns the cancellation's id."""
    from sqlalchemy import select

    from app.services.cancellation import commands
    from app.services.users.actor import Actor

    with app.app_context():
        if db.session.scalar(select(CancelReason.id).where(
                CancelReason.code == reason_code)) is None:
            db.session.add(CancelReason(code=reason_code, label="岗位已招满",
                                        category="position_change", actor=ReasonActor.COMPANY))
            db.session.commit()
        admin = db.session.scalar(select(HrUser).where(HrUser.role == Role.ADMIN))
        if admin is None:
            admin = HrUser(username=f"admin-{uuid.uuid4().hex[:6]}", display_name="管理员",
                           role=Role.ADMIN)
            admin.set_password(PASSWORD)
            db.session.add(admin)
            db.session.commit()
        outcome = commands.cancel_by_hr(Actor.hr(admin), interview_public_id,
                                        reason_code=reason_code, reschedule=reschedule, now=now)
        return outcome.cancellation_id


def waitlist_entry(app, /, position_id: int, candidate_id: int, rank: int) -> int:
    """A candidate waiting for a place of the position (HR's order: `rank`, smaller first)."""
    from app.models import WaitlistEntry, WaitlistState

    return _add(app, WaitlistEntry(position_id=position_id, candidate_id=candidate_id,
                                   rank=rank, state=WaitlistState.WAITING))


def freed_place(app, /, waiting: int, *, fanout: int = 1, title: str = "Java工程师",
                department: str = "技术部") -> SimpleNamespace:
    """A full session (capacity 2) two days ahead of a new position; the company cancels
    one of its interviews, `waiting` candidates bound to the mini program (候补1号, ...)
    wait for the position in that order, and the backfill job runs, offering the freed
    place to the first `fanout`. Returns position, session, people (id, openid) and how
    many offers the job made (offered)."""
    from app.jobs import backfill

    app.config["BACKFILL_OFFER_FANOUT"] = fanout
    app.config["RATE_LIMITS"] = {}
    position_id = position(app, title, department=department)
    starts = utcnow() + timedelta(days=2)
    session_id = interview_session(app, position_id=position_id, starts_at=starts,
                                   capacity=2, booked=2)
    booked = [interview(app, number=f"AI-T-OF-{k}", scheduled_at=starts,
                        position_id=position_id, session_id=session_id, name=f"已约{k}")
              for k in range(2)]
    company_cancel(app, booked[0].public_id, utcnow(), reschedule=False)
    people = []
    for rank in range(1, waiting + 1):
        cid = candidate(app, name=f"候补{rank}号")
        openid = f"sandbox-waiting-{rank:02d}"
        wechat_account(app, openid, candidate_id=cid)
        waitlist_entry(app, position_id, cid, rank)
        people.append(SimpleNamespace(id=cid, openid=openid))
    with app.app_context():
        offered = backfill.run(utcnow())
    return SimpleNamespace(position=position_id, session=session_id, people=people,
                           offered=offered)
