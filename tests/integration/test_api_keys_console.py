"""系统设置 → 接口密钥: an admin creates a key (shown once, with CSRF), sees it listed by
prefix, revokes it (401 from then on); other roles get 403; each change is audited."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey, AuditEntry, Role
from tests import factories
from tests.integration.conftest import BASE, bearer

PAGE = "/console/settings/api-keys"


def _admin(app):
    user_id = factories.hr_user(app, "admin1", role=Role.ADMIN)
    return user_id, factories.console_client(app, "admin1", factories.PASSWORD)


def test_admin_creates_sees_once_and_revokes_a_key(app):
    admin_id, client = _admin(app)
    assert "接口密钥" in client.get("/console/settings").get_data(as_text=True)
    token = factories.csrf_token(client, PAGE)
    created = client.post(PAGE, data={"csrf_token": token, "name": "北森 ATS",
                                      "scopes": ["interviews:read", "interviews:write"],
                                      "departments": "技术部，销售部"})
    assert created.status_code == 200
    html = created.get_data(as_text=True)
    secret = re.search(r'<code id="shown-once">(aiik_[^<]+)</code>', html).group(1)
    with app.app_context():
        key = db.session.scalars(select(ApiKey)).one()
        assert key.departments == ["技术部", "销售部"] and key.created_by == admin_id
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "api_key.created")).one()
        assert (entry.actor_type, entry.actor_id) == ("hr", admin_id)
        assert entry.data["before"] is None and entry.data["after"]["name"] == "北森 ATS"
        key_id, prefix = key.id, key.prefix
    listing = client.get(PAGE).get_data(as_text=True)
    assert prefix in listing and secret not in listing and "从未使用" in listing
    api = app.test_client()
    assert api.get(f"{BASE}/cancel-reasons", headers=bearer(secret)).status_code == 200
    assert "从未使用" not in client.get(PAGE).get_data(as_text=True)

    revoked = client.post(f"{PAGE}/{key_id}/revoke",
                          data={"csrf_token": factories.csrf_token(client, PAGE)})
    assert revoked.status_code == 302
    assert "已吊销" in client.get(PAGE).get_data(as_text=True)
    assert api.get(f"{BASE}/cancel-reasons", headers=bearer(secret)).status_code == 401
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "api_key.revoked")).one()
        assert entry.data["before"]["revoked"] is False and entry.data["after"]["revoked"]


def test_bad_form_shows_a_chinese_error_and_creates_nothing(app):
    _, client = _admin(app)
    token = factories.csrf_token(client, PAGE)
    r = client.post(PAGE, data={"csrf_token": token, "name": "ERP"})
    assert r.status_code == 422 and "请至少选择一个权限范围" in r.get_data(as_text=True)
    no_csrf = client.post(PAGE, data={"name": "ERP", "scopes": ["interviews:read"]})
    assert no_csrf.status_code == 400
    with app.app_context():
        assert db.session.scalars(select(ApiKey)).first() is None


def test_only_admins_manage_keys(app):
    factories.hr_user(app, "manager1", role=Role.RECRUITING_MANAGER)
    client = factories.console_client(app, "manager1", factories.PASSWORD)
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, data={"name": "x"}).status_code in (400, 403)
    assert client.post(f"{PAGE}/1/revoke").status_code in (400, 403)
