"""Who may do what, on which interviews, through HTTP: role x action x own/other department.

Admin: everything. Recruiting manager: everything in their departments, batch cancel,
level-2 approvals. Recruiting specialist: view, single cancel, level-1 approvals in their
departments. Interviewer: read-only, their own interviews. Out of scope answers 404 (no
hint that it exists); in scope without the permission answers 403.
The demo set: manager and specialist work in 技术部 and AI实验室; "other" is 销售部.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import (
    Cancellation,
    CancellationState,
    HrUser,
    Interview,
    InterviewStatus,
    Position,
)
from app.services import cancellation
from app.services.users.actor import Actor
from tests.factories import console_client, csrf_token

# (role's demo username, action, department) -> expected outcome:
#   "ok": done (the state changed / the preview shows), 403, 404.
EXPECTED = {
    ("admin", "view"): ("ok", "ok"),
    ("admin", "cancel"): ("ok", "ok"),
    ("admin", "batch"): ("ok", "ok"),
    ("admin", "approve_l1"): ("ok", "ok"),
    ("admin", "approve_l2"): ("ok", "ok"),
    ("admin", "reject"): ("ok", "ok"),
    ("admin", "ask_detail"): ("ok", "ok"),
    ("manager", "view"): ("ok", 404),
    ("manager", "cancel"): ("ok", 404),
    ("manager", "batch"): ("ok", "empty"),     # the other department's rows are not selected
    ("manager", "approve_l1"): ("ok", 404),
    ("manager", "approve_l2"): ("ok", 404),
    ("manager", "reject"): ("ok", 404),
    ("manager", "ask_detail"): ("ok", 404),
    ("specialist", "view"): ("ok", 404),
    ("specialist", "cancel"): ("ok", 404),
    ("specialist", "batch"): (403, 403),
    ("specialist", "approve_l1"): ("ok", 404),
    ("specialist", "approve_l2"): (403, 404),
    ("specialist", "reject"): ("ok", 404),
    ("specialist", "ask_detail"): ("ok", 404),
    ("interviewer", "view"): ("ok", 404),      # own = an interview they conduct
    ("interviewer", "cancel"): (403, 404),
    ("interviewer", "batch"): (403, 403),
    ("interviewer", "approve_l1"): (403, 404),
    ("interviewer", "approve_l2"): (403, 404),
    ("interviewer", "reject"): (403, 404),
    ("interviewer", "ask_detail"): (403, 404),
}
CASES = [(role, action, dept, outcome)
         for (role, action), outcomes in EXPECTED.items()
         for dept, outcome in zip(("own", "other"), outcomes, strict=True)]


def _csrf(client, path="/console/interviews"):
    return csrf_token(client, path)


def _setup(app, demo):
    """A senior, reviewed position in each department; the other department's interviews
    have no interviewer (the demo interviewer conducts only 技术部/AI实验室 ones here)."""
    with app.app_context():
        db.session.execute(update(Position).where(Position.department == "销售部")
                           .values(is_senior=True, cancel_requires_review=True))
        sales = select(Position.id).where(Position.department == "销售部").scalar_subquery()
        db.session.execute(update(Interview).where(Interview.position_id.in_(sales))
                           .values(interviewer_id=None))
        db.session.commit()
        by_dept: dict[str, list[Interview]] = {"own": [], "other": []}
        reviewed: dict[str, list[Interview]] = {"own": [], "other": []}
        for iv in db.session.scalars(select(Interview).join(Interview.position)
                                     .order_by(Interview.id)):
            dept = "other" if iv.position.department == "销售部" else "own"
            if iv.position.cancel_requires_review:
                reviewed[dept].append(iv)
            elif dept == "own" and iv.position.department == "技术部":
                by_dept[dept].append(iv)
        # an unreviewed interview of the other department: take one and lift review on it
        other = reviewed["other"].pop()
        by_dept["other"].append(other)
        db.session.execute(update(Position).where(Position.id == other.position_id)
                           .values(cancel_requires_review=True))
        db.session.commit()
        return ({d: [(iv.public_id, iv.session_id, iv.position_id) for iv in ivs]
                 for d, ivs in by_dept.items()},
                {d: [(iv.public_id, iv.candidate_id) for iv in ivs]
                 for d, ivs in reviewed.items()})


def _request(app, public_id, candidate_id, *, level1_by=None):
    """A candidate's cancellation request (senior position: two levels); optionally
    level 1 already approved by another user."""
    with app.app_context():
        outcome = cancellation.cancel_by_candidate(
            candidate_id=candidate_id, interview_public_id=public_id, reason_code="personal")
        assert outcome.state == CancellationState.REQUESTED
        if level1_by:
            user = db.session.scalars(select(HrUser).where(HrUser.username == level1_by)).one()
            cancellation.approve(Actor.hr(user), outcome.cancellation_id)
        return outcome.cancellation_id


def _status(app, public_id):
    with app.app_context():
        return db.session.scalars(select(Interview.status).where(
            Interview.public_id == public_id)).one()


def _request_state(app, cancellation_id):
    with app.app_context():
        return db.session.get(Cancellation, cancellation_id).state


@pytest.mark.parametrize(("role", "action", "dept", "expected"), CASES,
                         ids=[f"{r}-{a}-{d}" for r, a, d, _ in CASES])
def test_role_action_department(app, demo, role, action, dept, expected):
    plain, reviewed = _setup(app, demo)
    client = console_client(app, role)
    public_id, session_id, position_id = plain[dept][0]

    if action == "view":
        r = client.get(f"/console/interviews/{public_id}")
        got = "ok" if r.status_code == 200 else r.status_code
    elif action == "cancel":
        r = client.post(f"/console/interviews/{public_id}/cancel", data={
            "csrf_token": _csrf(client), "reason_code": "position_paused",
            "notify": ["candidate", "recruiter"]})
        got = r.status_code if r.status_code in (403, 404) else (
            "ok" if _status(app, public_id) == InterviewStatus.CANCELLED else r.status_code)
        if got == "ok":
            assert r.status_code == 302
    elif action == "batch":
        r = client.post("/console/batch", data={
            "csrf_token": _csrf(client), "step": "preview", "position_id": position_id,
            "reason_code": "system_failure"})
        html = r.get_data(as_text=True)
        got = r.status_code if r.status_code != 200 else (
            "ok" if "确认批量取消" in html else "empty" if "没有符合条件" in html else html)
    else:
        iv_public_id, candidate_id = reviewed[dept][0]
        cid = _request(app, iv_public_id, candidate_id,
                       level1_by="sales_specialist" if dept == "other" and action == "approve_l2"
                       else "specialist" if action == "approve_l2" else None)
        path = {"approve_l1": "approve", "approve_l2": "approve", "reject": "reject",
                "ask_detail": "ask-detail"}[action]
        before = _request_state(app, cid)
        r = client.post(f"/console/approvals/{cid}/{path}", data={
            "csrf_token": _csrf(client, "/console/approvals"), "comment": "请说明"})
        if r.status_code in (403, 404):
            got = r.status_code
        else:
            assert r.status_code == 302
            after = _request_state(app, cid)
            changed = {
                "approve_l1": after == CancellationState.REQUESTED and before == after
                and _levels_done(app, cid) == 1,
                "approve_l2": after == CancellationState.EFFECTIVE,
                "reject": after == CancellationState.REJECTED,
                "ask_detail": after == CancellationState.DETAIL_REQUESTED,
            }[action]
            got = "ok" if changed else f"unchanged:{after}"
    assert got == expected


def _levels_done(app, cancellation_id):
    with app.app_context():
        c = db.session.get(Cancellation, cancellation_id)
        return sum(1 for a in c.approvals if a.decision.value == "approved")
