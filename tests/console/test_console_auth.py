"""Console login, logout and access guards."""
from __future__ import annotations

from urllib.parse import unquote

import pytest
from sqlalchemy import update

from app.extensions import db
from app.models import HrUser, Role

PROTECTED = ["/console/interviews", "/console/interviews?q=AI&page=2",
             "/console/interviews/iv_doesnotexist"]


@pytest.mark.parametrize("path", PROTECTED)
def test_pages_require_login(client, path):
    response = client.get(path)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/console/login?next=")
    assert unquote(location.split("next=", 1)[1]) == path


def test_root_redirects_to_list(client):
    assert client.get("/console/").headers["Location"].endswith("/console/interviews")


def test_login_page_renders_form(client):
    response = client.get("/console/login")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'name="csrf_token"' in html and "用户名" in html and "密码" in html
    assert 'name="viewport"' in html


def test_login_without_csrf_token_is_rejected(client, make_user):
    make_user()
    response = client.post("/console/login", data={"username": "zhaopin",
                                                   "password": "correct-horse-42"})
    assert response.status_code == 400
    assert "页面已过期" in response.get_data(as_text=True)
    assert client.get("/console/interviews").status_code == 302


@pytest.mark.parametrize("username,password", [("zhaopin", "wrong-password"),
                                               ("nobody", "correct-horse-42")])
def test_wrong_credentials_show_same_chinese_error(client, make_user, login, username,
                                                   password):
    make_user()
    response = login(client, username, password)
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/console/interviews").status_code == 302


def test_empty_form_shows_field_errors(client, csrf_token):
    token = csrf_token(client)
    response = client.post("/console/login", data={"csrf_token": token})
    html = response.get_data(as_text=True)
    assert "请输入用户名" in html and "请输入密码" in html


def test_inactive_user_is_refused(client, make_user, login):
    make_user(active=False)
    response = login(client, "zhaopin")
    assert response.status_code == 200
    assert "已停用" in response.get_data(as_text=True)
    assert client.get("/console/interviews").status_code == 302


def test_login_success_redirects_to_list_and_shows_user(client, make_user, login):
    make_user(role=Role.RECRUITING_MANAGER, display_name="李经理")
    response = login(client, "zhaopin")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/interviews"
    html = client.get("/console/interviews").get_data(as_text=True)
    assert "李经理" in html and "招聘经理" in html and "退出" in html
    assert "AI面试取消管理" in html


def test_login_redirects_to_local_next(client, make_user, login):
    make_user()
    response = login(client, "zhaopin", next_url="/console/interviews?q=AI")
    assert response.headers["Location"] == "/console/interviews?q=AI"


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example/x",
                                    "/\\evil.example", "javascript:alert(1)",
                                    "https:/evil.example"])
def test_login_ignores_external_next(client, make_user, login, target):
    make_user()
    response = login(client, "zhaopin", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/interviews"


def test_next_survives_the_login_form(client, make_user):
    make_user()
    html = client.get("/console/login?next=/console/interviews%3Fpage%3D2").get_data(
        as_text=True)
    assert 'value="/console/interviews?page=2"' in html
    html = client.get("/console/login?next=https://evil.example").get_data(as_text=True)
    assert "evil.example" not in html


def test_logged_in_user_visiting_login_is_redirected(hr_client):
    response = hr_client.get("/console/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/interviews"


def test_logout(hr_client, csrf_token):
    token = csrf_token(hr_client, "/console/interviews")
    response = hr_client.post("/console/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/console/login"
    assert "您已退出登录" in hr_client.get("/console/login").get_data(as_text=True)
    assert hr_client.get("/console/interviews").status_code == 302


def test_logout_requires_post_and_csrf(hr_client):
    assert hr_client.get("/console/logout").status_code == 405
    assert hr_client.post("/console/logout").status_code == 400
    assert hr_client.get("/console/interviews").status_code == 200


def test_user_deactivated_after_login_loses_access(app, hr_client):
    with app.app_context():
        db.session.execute(update(HrUser).values(active=False))
        db.session.commit()
    assert hr_client.get("/console/interviews").status_code == 302


def test_console_pages_send_security_headers(hr_client):
    response = hr_client.get("/console/interviews")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_mobile_console_pages_send_the_same_security_headers(app):
    from tests import factories

    factories.hr_user(app, "tech", departments=("技术部",))
    factories.bind_hr_wechat(app, "tech")
    client = app.test_client()
    assert factories.mobile_login(client, "sandbox-hr-tech").status_code == 302
    response = client.get("/console/m/approvals")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
