"""Bad input gets a clear 4xx in the route's own format, never a 500 or unbounded work
(issue 12, section 1): body caps per route, JSON depth, NUL bytes, absurd page numbers,
and one unexpected exception anywhere."""
from __future__ import annotations

import io
import uuid

import pytest
import requests

from config import BaseConfig
from tests.factories import API, PASSWORD, bearer, console_client, csrf_token, hr_user, mp_login

MP_CAP = BaseConfig.MP_MAX_BODY_BYTES


def _api_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"] and body["error"]["details"] is not None
    return body["error"]


def _chinese_page(response, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert 'lang="zh-CN"' in html and "Traceback" not in html
    return html


# --- body caps ------------------------------------------------------------------------------

@pytest.mark.parametrize("size", [10 * 1024 * 1024, 100 * 1024 * 1024])
def test_a_huge_login_body_is_refused_before_it_is_read(app, client, size):
    # A declared length past the cap: 413 without reading the body (none is sent here).
    response = client.post(f"{API}/auth/login", data=b"", content_type="application/json",
                           environ_overrides={"CONTENT_LENGTH": str(size)})
    error = _api_error(response, 413, "payload_too_large")
    assert error["details"]["max_bytes"] == MP_CAP


def test_a_mini_program_body_just_past_its_cap_is_413_and_one_under_is_read(app, client):
    over = b'{"code": "' + b"x" * MP_CAP + b'"}'
    _api_error(client.post(f"{API}/auth/login", data=over, content_type="application/json"),
               413, "payload_too_large")
    under = client.post(f"{API}/auth/login", json={"code": "x" * 200})
    assert under.status_code == 422  # read and validated: the code is too long


def test_a_chunked_body_past_the_cap_is_cut_off_as_it_is_read(app, live_url):
    def chunks():
        for _ in range(64):
            yield b"[" * 4096  # 256 KB in all, no Content-Length

    r = requests.post(f"{live_url}{API}/auth/login", data=chunks(),
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"]["code"] == "payload_too_large"


def test_a_chunked_console_form_past_its_cap_gets_the_chinese_page(app, live_url):
    def chunks():
        yield b"username=zhaopin&password="
        for _ in range(20):
            yield b"x" * 65536  # 1.3 MB in all, no Content-Length

    r = requests.post(f"{live_url}/console/login", data=chunks(), timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413 and "内容过大" in r.text and "Traceback" not in r.text


def test_a_chunked_body_within_the_cap_reaches_the_view_whole(app, live_url):
    def chunks():
        yield b'{"code": "'
        yield b"y" * 300
        yield b'"}'

    r = requests.post(f"{live_url}{API}/auth/login", data=chunks(), timeout=10,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "field_too_long"


def test_a_console_form_past_its_cap_gets_the_chinese_page(app, client):
    hr_user(app)
    token = csrf_token(client)
    response = client.post("/console/login", data={"csrf_token": token, "username": "zhaopin",
                                                   "password": "x" * (1100 * 1024)})
    assert "内容过大" in _chinese_page(response, 413)


def test_the_import_takes_a_file_bigger_than_a_form_but_not_unbounded(app, demo):
    client = console_client(app, demo["hr_users"]["recruiting_manager"]["username"])
    token = csrf_token(client, "/console/imports")
    big = b"a" * (2 * 1024 * 1024)  # past the form cap, inside the import's
    response = client.post("/console/imports", data={
        "csrf_token": token, "file": (io.BytesIO(big), "rows.csv")},
        content_type="multipart/form-data")
    assert response.status_code in (200, 302)  # read, then judged by the import itself
    huge = b"a" * (7 * 1024 * 1024)
    response = client.post("/console/imports", data={
        "csrf_token": token, "file": (io.BytesIO(huge), "rows.csv")},
        content_type="multipart/form-data")
    assert "内容过大" in _chinese_page(response, 413)


def test_the_integration_api_answers_413_in_its_json_format(app, client):
    response = client.post("/api/integration/v1/interviews/x/cancel", data=b"",
                           content_type="application/json",
                           environ_overrides={"CONTENT_LENGTH": str(5 * 1024 * 1024)})
    _api_error(response, 413, "payload_too_large")


# --- JSON depth -------------------------------------------------------------------------------

@pytest.mark.parametrize("depth", [40, 1000, 20000])
def test_deeply_nested_json_on_login_is_400(app, client, depth):
    body = '{"code": ' + "[" * depth + "]" * depth + "}"
    if len(body) > MP_CAP:
        pytest.fail("the test body must fit the cap")
    response = client.post(f"{API}/auth/login", data=body, content_type="application/json")
    error = _api_error(response, 400, "json_too_deep")
    assert error["details"]["max_depth"] >= 8


def test_deeply_nested_json_on_cancel_is_400_and_cancels_nothing(app, client, demo):
    cand = demo["candidates"][0]
    auth = mp_login(client, cand["openid"], bound=True)
    body = '{"reason_code": "time_conflict", "x": ' + "[" * 1000 + "]" * 1000 + "}"
    response = client.post(f"{API}/interviews/{cand['interview_ids'][0]}/cancel",
                           data=body, content_type="application/json",
                           headers={**auth, "Idempotency-Key": str(uuid.uuid4())})
    _api_error(response, 400, "json_too_deep")
    detail = client.get(f"{API}/interviews/{cand['interview_ids'][0]}", headers=auth)
    assert detail.get_json()["status"] == "scheduled"


def test_ordinary_nesting_is_accepted(app, client):
    from app.core.json_limits import MAX_DEPTH, depth_exceeds

    nested: list = []
    for _ in range(MAX_DEPTH - 1):
        nested = [nested]
    assert not depth_exceeds(nested)
    assert depth_exceeds([nested])
    assert not depth_exceeds({"results": {"tpl": "accept"}})


# --- NUL bytes (PostgreSQL rejects them in text) ------------------------------------------------

def test_a_nul_in_the_console_login_name_is_400_not_500(app, client):
    hr_user(app)
    token = csrf_token(client)
    response = client.post("/console/login", data={"csrf_token": token,
                                                   "username": "zhao\x00pin",
                                                   "password": PASSWORD})
    _chinese_page(response, 400)


def test_a_nul_in_the_list_search_is_400(app, demo):
    client = console_client(app, demo["hr_users"]["recruiting_manager"]["username"])
    _chinese_page(client.get("/console/interviews", query_string={"q": "张\x00三"}), 400)
    _chinese_page(client.get("/console/audit", query_string={"actor": "a\x00"}), 400)


@pytest.mark.parametrize("path", ["/console/interviews/iv%00x",
                                  "/console/interviews/%00",
                                  "/console/imports/ab%00cd"])
def test_a_nul_in_an_id_in_a_console_url_is_404(app, demo, path):
    client = console_client(app, demo["hr_users"]["recruiting_manager"]["username"])
    _chinese_page(client.get(path), 404)


def test_a_nul_in_an_api_path_is_a_json_404(app, client):
    response = client.get("/api/integration/v1/interviews/iv%00x",
                          headers=bearer("aiik_junk"))
    assert response.status_code in (401, 404)
    response = client.get(f"{API}/interviews/iv%00x", headers=bearer("junk"))
    assert response.status_code in (401, 404) and response.get_json()["error"]["code"]


@pytest.mark.parametrize("path", ["/console/settings/webhooks/3000000000",
                                  "/console/settings/reasons/3000000000",
                                  "/console/settings/webhooks/" + "9" * 25])
def test_an_integer_id_past_any_row_is_404(app, demo, path):
    client = console_client(app, demo["hr_users"]["admin"]["username"])
    _chinese_page(client.get(path), 404)


# --- page numbers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("page", ["999999999999999999999", "-5", "0", "abc"])
@pytest.mark.parametrize("path", ["/console/interviews", "/console/feedback", "/console/audit"])
def test_absurd_page_numbers_are_clamped(app, demo, path, page):
    client = console_client(app, demo["hr_users"]["admin"]["username"])
    response = client.get(path, query_string={"page": page})
    assert response.status_code == 200, response.get_data(as_text=True)[:300]


def test_audit_cursors_past_bigint_are_not_a_500(app, demo):
    client = console_client(app, demo["hr_users"]["admin"]["username"])
    for name in ("before", "after"):
        response = client.get("/console/audit", query_string={name: "9" * 30})
        assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]


# --- one unexpected exception anywhere ------------------------------------------------------

@pytest.fixture
def broken(app, monkeypatch):
    """Every route that lists cancel reasons or interviews fails with a bug."""
    def explode(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    from app.console import views as console_views
    from app.queries.interviews import candidate as mp_queries

    monkeypatch.setattr(mp_queries, "candidate_cancel_reasons", explode)
    monkeypatch.setattr(console_views, "list_interviews", explode)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_an_unexpected_error_on_the_api_is_a_json_500_with_a_request_id(broken, client,
                                                                        demo):
    auth = mp_login(client, demo["candidates"][0]["openid"], bound=True)
    response = client.get(f"{API}/cancel-reasons", headers=auth)
    error = _api_error(response, 500, "internal_error")
    assert error["details"]["request_id"] == response.headers["X-Request-Id"]
    assert "ZeroDivisionError" not in response.get_data(as_text=True)


def test_an_unexpected_error_in_the_console_is_the_chinese_page(broken, demo):
    client = console_client(broken, demo["hr_users"]["admin"]["username"])
    response = client.get("/console/interviews", headers={"X-Request-Id": "req-from-proxy-1"})
    html = _chinese_page(response, 500)
    assert "系统繁忙" in html and "req-from-proxy-1" in html
    assert "ZeroDivisionError" not in html


def test_an_http_error_outside_the_apis_is_chinese_too(app, client):
    response = client.delete("/m/open")
    assert "请求方式有误" in _chinese_page(response, 405)
    assert "GET" in response.headers["Allow"]
