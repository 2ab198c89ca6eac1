"""Demo data for `flask seed-demo` (development and tests only)."""
from __future__ import annotations

import os
import random
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from app.core.timeutil import SHANGHAI, utcnow
from app.extensions import db
from app.models import (
    Candidate,
    HrUser,
    Interview,
    InterviewSession,
    Position,
    Role,
    WechatAccount,
    WechatApp,
)
from app.services.rules.defaults import add_default_reasons

DEMO_PASSWORD_ENV = "DEMO_PASSWORD"
DEFAULT_DEMO_PASSWORD = "demo-pass-2024"

HR_USERS = [
    ("admin", "王管理", Role.ADMIN),
    ("manager", "李经理", Role.RECRUITING_MANAGER),
    ("specialist", "张专员", Role.RECRUITING_SPECIALIST),
    ("interviewer", "赵面试官", Role.INTERVIEWER),
]

# Departments each HR user works in (admins see every department).
HR_DEPARTMENTS = {
    "manager": ("技术部", "AI实验室"),
    "specialist": ("技术部", "AI实验室"),
    "interviewer": ("技术部",),
}
# A second team, for the other department: data scope is per department.
SALES_USERS = [
    ("sales_manager", "陈经理", Role.RECRUITING_MANAGER, ("销售部",)),
    ("sales_specialist", "周专员", Role.RECRUITING_SPECIALIST, ("销售部",)),
]

POSITIONS = [
    # title, department, level, senior, review
    ("Java后端开发工程师", "技术部", "P5", False, False),
    ("AI算法工程师", "AI实验室", "P6", False, False),
    ("高级技术经理", "技术部", "P8", True, True),
    ("销售代表", "销售部", "S3", False, False),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
         "涛", "明", "超", "秀英", "霞", "平", "刚", "桂英", "子涵", "浩然", "欣怡", "宇轩"]


def demo_password() -> str:
    return os.environ.get(DEMO_PASSWORD_ENV) or DEFAULT_DEMO_PASSWORD


def is_empty() -> bool:
    return db.session.scalar(select(func.count()).select_from(Candidate)) == 0


def seed_demo(candidates: int = 50, seed: int = 20240315, history: bool = False) -> dict:
    """Create reasons, HR users, positions, sessions and candidates with interviews;
    bind candidate i to mini-program openid sandbox-candidate-00i. One transaction.
    `history`: then a month of past interviews, cancellations and messages for the
    reports (app.cli.demo_history; `flask seed-demo` asks for it, the tests do not)."""
    rng = random.Random(seed)
    add_default_reasons()

    password = demo_password()
    users = {}
    for username, display, role in HR_USERS:
        user = HrUser(username=username, display_name=display, role=role,
                      email=f"{username}@example.com", active=True)
        user.set_password(password)
        user.departments = HR_DEPARTMENTS.get(username, ())
        db.session.add(user)
        users[role] = user
    sales = {}
    for username, display, role, departments in SALES_USERS:
        user = HrUser(username=username, display_name=display, role=role,
                      email=f"{username}@example.com", active=True)
        user.set_password(password)
        user.departments = departments
        db.session.add(user)
        sales[role] = user
    db.session.flush()
    for user in [*users.values(), *sales.values()]:
        db.session.add(WechatAccount(app=WechatApp.OFFICIAL_ACCOUNT,
                                     openid=f"sandbox-hr-{user.username}",
                                     hr_user_id=user.id, followed=True))

    positions = []
    for title, dept, level, senior, review in POSITIONS:
        team = sales if dept == "销售部" else users
        p = Position(title=title, department=dept, level=level, is_senior=senior,
                     cancel_requires_review=review,
                     recruiter_id=team[Role.RECRUITING_SPECIALIST].id,
                     hiring_manager_id=team[Role.RECRUITING_MANAGER].id)
        db.session.add(p)
        positions.append(p)

    sessions = _sessions(positions)
    db.session.flush()

    counters: dict[date, int] = {}
    created = []
    now = utcnow()
    for i in range(1, candidates + 1):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        cand = Candidate(name=name, email=f"candidate{i:03d}@example.com")
        cand.phone = f"138{rng.randrange(10**8):08d}"
        db.session.add(cand)
        openid = f"sandbox-candidate-{i:03d}"
        db.session.add(WechatAccount(app=WechatApp.MINI_PROGRAM, openid=openid,
                                     unionid=f"sandbox-union-{openid}", candidate=cand))
        session = sessions[(i - 1) % len(sessions)]
        while not session.has_room:
            session = sessions[rng.randrange(len(sessions))]
        day = session.starts_at.astimezone(SHANGHAI).date()
        counters[day] = counters.get(day, _existing_count(day)) + 1
        offset = timedelta(minutes=30 * ((session.booked) % 4))
        iv = Interview(number=f"AI-{day:%Y-%m-%d}-{counters[day]:03d}", candidate=cand,
                       position=session.position, session=session,
                       interviewer_id=users[Role.INTERVIEWER].id,
                       scheduled_at=session.starts_at + offset, duration_minutes=30,
                       join_url=f"https://interview.example.com/room/{i:03d}",
                       confirm_by=_confirm_by(session.starts_at, now))
        session.booked += 1
        db.session.add(iv)
        created.append((cand, openid, iv))
    db.session.commit()
    past = None
    if history:
        from app.cli.demo_history import seed_history

        past = seed_history(rng, SURNAMES, GIVEN, now=now)
    return {
        "history": past,
        "password": password,
        "hr_users": {role.value: {"id": u.id, "username": u.username} for role, u in users.items()},
        "sales_users": {role.value: {"id": u.id, "username": u.username}
                        for role, u in sales.items()},
        "positions": [{"id": p.id, "title": p.title, "senior": p.is_senior,
                       "department": p.department,
                       "review": p.cancel_requires_review} for p in positions],
        "candidates": [{"id": c.id, "name": c.name, "openid": o, "interview_ids": [iv.public_id],
                        "position_review": iv.position.cancel_requires_review,
                        "department": iv.position.department,
                        "session_id": iv.session_id}
                       for c, o, iv in created],
    }


def _confirm_by(starts_at: datetime, now: datetime) -> datetime:
    """A day before the start, but never already past when the demo is seeded (the worker
    cancels interviews left unconfirmed past this time)."""
    return max(starts_at - timedelta(hours=24),
               min(now + timedelta(hours=6), starts_at - timedelta(hours=2)))


def _sessions(positions: list[Position]) -> list[InterviewSession]:
    """Two slots a day (10:00-12:00, 14:00-16:00 Asia/Shanghai) over the next 5 days."""
    start_day = utcnow().astimezone(SHANGHAI).date() + timedelta(days=1)
    sessions = []
    for d in range(5):
        day = start_day + timedelta(days=d)
        for k, (h1, h2) in enumerate(((10, 12), (14, 16))):
            starts = datetime.combine(day, time(h1), SHANGHAI)
            ends = datetime.combine(day, time(h2), SHANGHAI)
            position = positions[(d * 2 + k) % len(positions)]
            s = InterviewSession(position=position, starts_at=starts, ends_at=ends,
                                 capacity=8, booked=0)
            db.session.add(s)
            sessions.append(s)
    return sessions


def _existing_count(day: date) -> int:
    return db.session.scalar(select(func.count()).select_from(Interview)
                             .where(Interview.number.like(f"AI-{day:%Y-%m-%d}-%"))) or 0


def register_sandbox_identities() -> None:
    """The sandbox starts empty: tell it who follows the Official Account and who uses the
    mini program, as WeChat itself would know (development and tests only)."""
    from app.wechat.sandbox import state

    for account in db.session.scalars(select(WechatAccount)):
        if account.app == WechatApp.OFFICIAL_ACCOUNT and account.followed:
            state.register_user("oa", account.openid, account.unionid)
        elif account.app == WechatApp.MINI_PROGRAM:
            state.register_user("mp", account.openid, account.unionid)
