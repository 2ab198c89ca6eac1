"""The Official Account as HR and candidates use it from their phones: every action goes
through the sandbox's /oa/inbound, which builds the XML WeChat sends, encrypts and signs it
with wechatpy's WeChatCrypto and POSTs it to /wechat/oa/callback; the passive reply comes
back decrypted (what the phone shows)."""
from __future__ import annotations

import requests
from sqlalchemy import select

from app.extensions import db
from app.models import (
    AuditEntry,
    Cancellation,
    CancellationState,
    HrUser,
    Interview,
    InterviewStatus,
    WechatAccount,
    WechatApp,
)


class Phone:
    """One WeChat user of the Official Account."""

    def __init__(self, live_url: str, openid: str):
        self.url = live_url + "/_sandbox/wechat"
        self.openid = openid

    def _do(self, action: str, **fields) -> dict:
        r = requests.post(f"{self.url}/oa/inbound",
                          json={"openid": self.openid, "action": action, **fields}, timeout=15)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["callback_status"] == 200, answer
        return answer

    def follow(self) -> str | None:
        return self._do("subscribe")["reply"]

    def send(self, content: str) -> str | None:
        return self._do("text", content=content)["reply"]

    def click(self, key: str) -> str | None:
        return self._do("click", key=key)["reply"]

    def scan(self, qr_url: str) -> str | None:
        return self._do("scan", url=qr_url)["reply"]


def phone_of(live_url: str, openid: str, *, follow: bool = True) -> Phone:
    phone = Phone(live_url, openid)
    if follow:
        requests.post(f"{phone.url}/followers", json={"openid": openid}, timeout=5)
    return phone


def user_named(app, username: str) -> HrUser:
    with app.app_context():
        user = db.session.scalars(select(HrUser).where(HrUser.username == username)).one()
        db.session.expunge(user)
        return user


def oa_account(app, openid: str) -> WechatAccount | None:
    with app.app_context():
        account = db.session.scalars(select(WechatAccount).where(
            WechatAccount.app == WechatApp.OFFICIAL_ACCOUNT,
            WechatAccount.openid == openid)).one_or_none()
        if account is not None:
            db.session.expunge(account)
        return account


def entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        found = db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                   .order_by(AuditEntry.id)).all()
        for entry in found:
            db.session.expunge(entry)
        return list(found)


def issue_code(app, user_id: int, **kw):
    from app.services.users import wechat_binding

    with app.app_context():
        issued = wechat_binding.issue_code(user_id, **kw)
        db.session.remove()
        return issued


# --- demo data: demo HR users are bound to sandbox-hr-<username> -------------------

def hr_phone(live_url, username: str):
    """A demo HR user's phone (demo users are bound to sandbox-hr-<username>)."""
    return phone_of(live_url, f"sandbox-hr-{username}", follow=False)


def review_request(app, demo) -> tuple[int, str]:
    """A candidate on the senior position (two levels) asks to cancel: (id, number)."""
    from app.services.cancellation import cancel_by_candidate

    cand = next(c for c in demo["candidates"] if c["position_review"])
    with app.app_context():
        outcome = cancel_by_candidate(candidate_id=cand["id"],
                                      interview_public_id=cand["interview_ids"][0],
                                      reason_code="found_other_job")
        db.session.remove()
    assert outcome.state == CancellationState.REQUESTED
    return outcome.cancellation_id, outcome.interview.number


def plain(app, demo, department: str = "技术部") -> tuple[str, str]:
    """(public id, number) of a scheduled interview of a position without review."""
    cand = next(c for c in demo["candidates"] if c["department"] == department
                and not c["position_review"])
    public_id = cand["interview_ids"][0]
    with app.app_context():
        number = db.session.scalar(select(Interview.number).where(
            Interview.public_id == public_id))
    return public_id, number


def state_of(app, request_id: int) -> CancellationState:
    with app.app_context():
        state = db.session.get(Cancellation, request_id).state
        db.session.remove()
        return state


def status_of(app, public_id: str) -> InterviewStatus:
    with app.app_context():
        return db.session.scalar(select(Interview.status).where(
            Interview.public_id == public_id))
