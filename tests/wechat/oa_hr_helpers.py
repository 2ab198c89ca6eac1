"""The Official Account as HR and candidates use it from their phones: every action goes
through the sandbox's /oa/inbound, which builds the XML WeChat sends, encrypts and signs it
with wechatpy's WeChatCrypto and POSTs it to /wechat/oa/callback; the passive reply comes
back decrypted (what the phone shows)."""
from __future__ import annotations

import requests
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, HrUser, WechatAccount, WechatApp


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
