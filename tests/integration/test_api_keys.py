"""API keys: created by the CLI (the key on the last line), stored as SHA-256 only, revoked
keys and unknown keys answer 401, a key without the scope 403, last_used_at cheap."""
from __future__ import annotations

import hashlib

from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey, AuditEntry
from tests.integration.conftest import BASE, bearer


def _keys(app) -> list[ApiKey]:
    with app.app_context():
        rows = list(db.session.scalars(select(ApiKey).order_by(ApiKey.id)))
        for row in rows:
            db.session.expunge(row)
        return rows


def test_cli_create_prints_the_key_on_its_last_line_and_stores_only_its_hash(app, runner,
                                                                               client):
    result = runner.invoke(args=["api-keys", "create", "--name", "Moka ATS",
                                 "--scopes", "interviews:read,interviews:write",
                                 "--departments", "技术部,销售部"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("aiik_") and len(secret) > 40
    [key] = _keys(app)
    assert key.name == "Moka ATS"
    assert key.scopes == ["interviews:read", "interviews:write"]
    assert key.departments == ["技术部", "销售部"]
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert key.prefix == secret[:12] and secret not in (key.prefix, key.key_hash)
    # the key itself is nowhere in the database row, nor in the audit entry
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "api_key.created")).one()
        assert secret not in str(entry.data)
        assert entry.object_id == key.id and entry.data["after"]["prefix"] == key.prefix
    # and it works
    assert client.get(f"{BASE}/cancel-reasons", headers=bearer(secret)).status_code == 200


def test_cli_list_and_revoke(app, runner, client):
    secret = runner.invoke(args=["api-keys", "create", "--name", "ERP", "--scopes",
                                 "interviews:read"]).output.strip().splitlines()[-1]
    [key] = _keys(app)
    listed = runner.invoke(args=["api-keys", "list"])
    assert listed.exit_code == 0
    assert key.prefix in listed.output and "active" in listed.output
    assert secret not in listed.output
    revoked = runner.invoke(args=["api-keys", "revoke", str(key.id)])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in runner.invoke(args=["api-keys", "list"]).output
    r = client.get(f"{BASE}/cancel-reasons", headers=bearer(secret))
    assert r.status_code == 401
    assert r.get_json()["error"]["code"] == "api_key_invalid"
    assert runner.invoke(args=["api-keys", "revoke", "999"]).exit_code != 0


def test_cli_refuses_unknown_scopes_and_empty_names(app, runner):
    bad = runner.invoke(args=["api-keys", "create", "--name", "x", "--scopes", "admin"])
    assert bad.exit_code != 0 and "未知的权限范围" in bad.output
    empty = runner.invoke(args=["api-keys", "create", "--name", " ", "--scopes",
                                "interviews:read"])
    assert empty.exit_code != 0
    assert _keys(app) == []


def test_missing_unknown_and_malformed_keys_answer_401_in_the_api_error_format(app, client,
                                                                             make_key):
    make_key()
    for headers, code in (({}, "api_key_required"),
                          ({"Authorization": "Basic abc"}, "api_key_required"),
                          (bearer("aiik_" + "x" * 40), "api_key_invalid"),
                          (bearer("not-a-key"), "api_key_invalid")):
        r = client.get(f"{BASE}/interviews/AI-1", headers=headers)
        assert r.status_code == 401, headers
        error = r.get_json()["error"]
        assert error["code"] == code and error["message"] and error["details"] == {}


def test_a_key_without_the_scope_gets_403(app, client, make_key, reasons):
    reader = make_key(scopes=("interviews:read",))
    reports_only = make_key(scopes=("reports:read",))
    r = client.post(f"{BASE}/interviews/AI-1/cancel", headers=reader.headers,
                    json={"reason_code": reasons.company})
    assert r.status_code == 403
    assert r.get_json()["error"]["code"] == "scope_missing"
    assert r.get_json()["error"]["details"] == {"scope": "interviews:write"}
    assert client.get(f"{BASE}/changes", headers=reports_only.headers).status_code == 403
    assert client.get(f"{BASE}/changes", headers=reader.headers).status_code == 200


def test_last_used_at_is_written_at_most_once_a_minute(app, client, make_key):
    key = make_key()
    assert _keys(app)[0].last_used_at is None
    client.get(f"{BASE}/cancel-reasons", headers=key.headers)
    first = _keys(app)[0].last_used_at
    assert first is not None
    for _ in range(3):
        client.get(f"{BASE}/cancel-reasons", headers=key.headers)
    assert _keys(app)[0].last_used_at == first  # within the minute: no more UPDATEs
    from app.extensions import redis_store

    with app.app_context():
        redis_store.client.delete(redis_store.key("apikey-used", key.id))
    client.get(f"{BASE}/cancel-reasons", headers=key.headers)
    assert _keys(app)[0].last_used_at >= first


def test_rate_limit_per_key(app, client, make_key):
    busy, other = make_key(name="busy"), make_key(name="other")
    # An hour's window: a minute's could start afresh between the third and fourth call.
    app.config["RATE_LIMITS"] = {"integration": {"key": (3, 3600)}}
    codes = [client.get(f"{BASE}/cancel-reasons", headers=busy.headers).status_code
             for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = client.get(f"{BASE}/cancel-reasons", headers=busy.headers)
    assert r.get_json()["error"]["code"] == "rate_limited" and int(r.headers["Retry-After"]) >= 1
    # another key has its own limit
    assert client.get(f"{BASE}/cancel-reasons", headers=other.headers).status_code == 200
