"""GET /changes: the sealed audit log's interview entries after a cursor, in seq order,
paged, only of the key's departments; unsealed entries wait for the sealer."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry
from app.services.audit import seal
from tests import factories
from tests.integration.conftest import BASE


def _seal(app) -> None:
    with app.app_context():
        seal.seal_pending()


def _head(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(AuditEntry.seq)))


def _feed(client, key, cursor, limit=2):
    r = client.get(f"{BASE}/changes", headers=key.headers,
                   query_string={"cursor": cursor, "limit": limit})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_changes_are_paged_by_seq_in_scope_and_only_once_sealed(app, client, make_key,
                                                                tech_and_sales):
    tech, sales = tech_and_sales.tech, tech_and_sales.sales
    for action in ("interview.created", "interview.updated", "interview.cancelled"):
        factories.audit_entry(app, tech.id, action)
    factories.audit_entry(app, sales.id, "interview.created")
    factories.audit_entry(app, None, "settings.rules_changed", object_type="settings")
    key = make_key()
    assert _feed(client, key, 0) == {"items": [], "next_cursor": 0, "has_more": False}
    _seal(app)

    seen, cursor, pages = [], 0, 0
    while True:
        page = _feed(client, key, cursor)
        seen += page["items"]
        cursor, pages = page["next_cursor"], pages + 1
        if not page["has_more"]:
            break
    assert pages == 2
    with app.app_context():
        expected = [(e.seq, e.action) for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "interview")
            .order_by(AuditEntry.seq))]
    assert [(c["cursor"], c["action"]) for c in seen] == expected
    assert [c["interview"]["external_id"] for c in seen] == ["ext-tech-1"] * 3 + ["ext-sales-1"]
    assert seen[0]["interview"]["number"] == tech.number and seen[0]["at"].endswith("+08:00")
    # the settings and key entries are not an interview's: the cursor moved past them
    assert cursor == _head(app) > expected[-1][0]
    assert _feed(client, key, cursor)["items"] == []

    # a later change appears after the next seal, and only once
    factories.audit_entry(app, sales.id, "interview.cancelled")
    assert _feed(client, key, cursor)["items"] == []
    _seal(app)
    later = _feed(client, key, cursor)
    assert [(c["cursor"], c["action"]) for c in later["items"]] == [(cursor + 1,
                                                                    "interview.cancelled")]
    assert later["next_cursor"] == cursor + 1

    # a key of 销售部 sees only its department, and its cursor still reaches the head
    sales_key = make_key(departments=("销售部",), name="sales")
    page = _feed(client, sales_key, 0, limit=100)
    assert [c["interview"]["external_id"] for c in page["items"]] == ["ext-sales-1"] * 2
    assert page["next_cursor"] == cursor + 1 and page["has_more"] is False


def test_bad_cursor_or_limit_is_a_clear_422(app, client, make_key):
    key = make_key()
    for params in ({"cursor": "-1"}, {"cursor": "abc"}, {"limit": "0"}, {"limit": "501"}):
        r = client.get(f"{BASE}/changes", headers=key.headers, query_string=params)
        assert r.status_code == 422, params
        assert r.get_json()["error"]["code"] == "field_invalid"
        assert r.get_json()["error"]["details"]["field"] in params
