"""微信绑定 page (issue 10 §3): each HR user sees their own binding, gets a one-time code and
a QR code (shown once, stored hashed), binds by sending the code or scanning, and can
remove their own binding. CSRF on every form."""
from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import select

from app.extensions import db
from app.models import HrBindingCode, Role
from tests import factories
from tests.factories import CSRF_RE

PAGE = "/console/wechat-binding"
CODE_RE = re.compile(r"绑定 ([A-Z2-9]{8})</code>")


@pytest.fixture
def hr(app, client):
    user_id = factories.hr_user(app, "zhaopin", Role.RECRUITING_SPECIALIST, display_name="王招聘")
    assert factories.console_login(client, "zhaopin").status_code == 302
    return user_id


def _token(client) -> str:
    return CSRF_RE.search(client.get(PAGE).get_data(as_text=True)).group(1)


def _new_code(client) -> str:
    r = client.post(f"{PAGE}/code", data={"csrf_token": _token(client)})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    match = CODE_RE.search(html)
    assert match, html
    return match.group(1), html


def _inbound(live_url, openid: str, **body) -> dict:
    r = requests.post(f"{live_url}/_sandbox/wechat/oa/inbound",
                      json={"openid": openid, **body}, timeout=15)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_page_needs_a_login(client):
    r = client.get(PAGE)
    assert r.status_code == 302 and "/console/login" in r.headers["Location"]


def test_every_console_page_links_to_the_binding_page(app, client, hr):
    html = client.get("/console/interviews").get_data(as_text=True)
    assert f'href="{PAGE}"' in html and "微信绑定" in html


def test_a_code_and_qr_code_shown_once_bind_by_message(app, client, hr, live_url):
    assert "未绑定" in client.get(PAGE).get_data(as_text=True)
    code, html = _new_code(client)
    assert "<svg" in html and "仅显示一次" in html
    with app.app_context():
        row = db.session.scalars(select(HrBindingCode)).one()
        assert code not in (row.code_hash, row.scene_hash) and row.hr_user_id == hr
    assert code not in client.get(PAGE).get_data(as_text=True)   # never shown again
    requests.post(f"{live_url}/_sandbox/wechat/followers", json={"openid": "oa-wang"},
                  timeout=5)
    answer = _inbound(live_url, "oa-wang", action="text", content=f"绑定 {code}")
    assert "绑定成功" in answer["reply"]
    html = client.get(PAGE).get_data(as_text=True)
    assert "已绑定" in html and "解除绑定" in html


def test_the_qr_code_on_the_page_binds_by_scanning(app, client, hr, live_url):
    _, html = _new_code(client)
    # the QR code encodes WeChat's ticket url; the phone reads it back when scanning
    qr_url = re.search(r'data-qr-url="([^"]+)"', html).group(1)
    answer = _inbound(live_url, "oa-wang", action="scan", url=qr_url)
    assert "绑定成功" in answer["reply"]
    assert "已绑定" in client.get(PAGE).get_data(as_text=True)


def test_without_a_qr_code_from_wechat_the_typed_code_still_works(app, client, hr, live_url):
    r = requests.post(f"{live_url}/_sandbox/wechat/faults",
                      json={"api": "qrcode_create", "errcode": -1, "times": 1}, timeout=5)
    assert r.status_code == 200, r.text
    code, html = _new_code(client)
    assert "<svg" not in html and "微信未能生成二维码" in html
    requests.post(f"{live_url}/_sandbox/wechat/followers", json={"openid": "oa-wang"},
                  timeout=5)
    assert "绑定成功" in _inbound(live_url, "oa-wang", action="text",
                                content=f"绑定 {code}")["reply"]


def test_the_user_removes_their_own_binding(app, client, hr, live_url):
    code, _ = _new_code(client)
    requests.post(f"{live_url}/_sandbox/wechat/followers", json={"openid": "oa-wang"},
                  timeout=5)
    _inbound(live_url, "oa-wang", action="text", content=f"绑定 {code}")
    r = client.post(f"{PAGE}/unbind", data={"csrf_token": _token(client)},
                    follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "已解除微信绑定" in html and "未绑定" in html
    with app.app_context():
        from app.models import AuditEntry

        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "hr_user.wechat_unbound")).one()
        assert entry.actor_id == hr and entry.data["via"] == "self"
    assert "尚未绑定" in _inbound(live_url, "oa-wang", action="text", content="帮助")["reply"]


@pytest.mark.parametrize("path", [f"{PAGE}/code", f"{PAGE}/unbind"])
def test_the_forms_need_the_csrf_token(app, client, hr, path):
    r = client.post(path, follow_redirects=True)
    assert "页面已过期" in r.get_data(as_text=True) or r.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(HrBindingCode)).all() == []
