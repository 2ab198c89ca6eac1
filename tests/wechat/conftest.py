"""Helpers for the WeChat sandbox and callback tests: HTTP access to the live sandbox."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests


class Sandbox:
    """The sandbox as outside callers see it: WeChat's API plus the test interface."""

    def __init__(self, app, base: str):
        self.app = app
        self.base = base.rstrip("/")
        self.http = requests.Session()
        cfg = app.config
        self.mp_appid, self.mp_secret = cfg["WECHAT_MP_APPID"], cfg["WECHAT_MP_SECRET"]
        self.oa_appid, self.oa_secret = cfg["WECHAT_OA_APPID"], cfg["WECHAT_OA_SECRET"]
        self.tpl_cancelled = cfg["WECHAT_TPL_INTERVIEW_CANCELLED"]
        self.tpl_request = cfg["WECHAT_TPL_CANCEL_REQUEST"]
        self.tpl_changed = cfg["WECHAT_TPL_INTERVIEW_CHANGED"]
        self.tpl_hr_alert = cfg["WECHAT_OA_TPL_HR_ALERT"]

    # raw HTTP --------------------------------------------------------------------------
    def get(self, path: str, **params) -> dict:
        res = self.http.get(self.base + path, params=params, timeout=10)
        return res.json()

    def post(self, path: str, body=None, *, raw: bytes | None = None, **params) -> dict:
        # like wechatpy: JSON bytes without a Content-Type header
        data = raw if raw is not None else (
            None if body is None else json.dumps(body, ensure_ascii=False).encode())
        res = self.http.post(self.base + path, params=params, data=data, timeout=10)
        return res.json()

    def post_status(self, path: str, body) -> tuple[int, dict]:
        res = self.http.post(self.base + path, json=body, timeout=10)
        return res.status_code, res.json()

    def delete(self, path: str, **params) -> dict:
        return self.http.delete(self.base + path, params=params, timeout=10).json()

    # WeChat API ------------------------------------------------------------------------
    def token(self, app: str = "mp", force: bool = False) -> str:
        appid, secret = (self.mp_appid, self.mp_secret) if app == "mp" else (
            self.oa_appid, self.oa_secret)
        res = self.post("/cgi-bin/stable_token", {"grant_type": "client_credential",
                                                  "appid": appid, "secret": secret,
                                                  "force_refresh": force})
        assert "access_token" in res, res
        return res["access_token"]

    def subscribe_send(self, body: dict, token: str | None = None) -> dict:
        return self.post("/cgi-bin/message/subscribe/send", body,
                         access_token=token or self.token("mp"))

    def template_send(self, body: dict, token: str | None = None) -> dict:
        return self.post("/cgi-bin/message/template/send", body,
                         access_token=token or self.token("oa"))

    def login(self, js_code: str) -> dict:
        return self.get("/sns/jscode2session", appid=self.mp_appid, secret=self.mp_secret,
                        js_code=js_code, grant_type="authorization_code")

    # test interface --------------------------------------------------------------------
    def grant(self, openid: str, template_id: str | None = None, count: int = 1) -> dict:
        res = self.post("/subscriptions", {"openid": openid,
                                           "template_id": template_id or self.tpl_cancelled,
                                           "count": count})
        assert res["errcode"] == 0, res
        return res

    def follow(self, openid: str, unionid: str | None = None) -> dict:
        return self.post("/followers", {"openid": openid, "unionid": unionid})

    def fault(self, **spec) -> dict:
        res = self.post("/faults", spec)
        assert res["errcode"] == 0, res
        return res["fault"]

    def messages(self, touser: str | None = None) -> list[dict]:
        params = {"touser": touser} if touser else {}
        return self.get("/messages", **params)["items"]

    def advance(self, seconds: float) -> None:
        assert self.post("/clock", {"advance_seconds": seconds})["errcode"] == 0

    def calls(self) -> dict:
        return self.get("/calls")["calls"]


@pytest.fixture
def sandbox(app, live_url) -> Sandbox:
    return Sandbox(app, live_url + "/_sandbox/wechat")


@pytest.fixture
def make_outbox(app):
    """make_outbox(**fields) -> id: an outbox row as the dispatcher leaves it after a
    send (factories.outbox_message); the n-th row of a test goes to recipient n, without
    channel, and was sent n seconds ago."""
    from app.core.timeutil import utcnow
    from tests import factories

    counter = iter(range(1, 10_000))

    def make(**fields) -> int:
        n = next(counter)
        values = {"recipient_id": n, "channel": None,
                  "sent_at": utcnow() - timedelta(seconds=n)}
        values.update(fields)
        return factories.outbox_message(app, **values)

    return make
