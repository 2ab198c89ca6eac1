"""A candidate never sees or touches another candidate's interview: every endpoint that takes
an interview id answers 404 for someone else's interview and for an unknown id, alike."""
import pytest

from tests import factories
from tests.factories import API

ENDPOINTS = [
    ("GET", "/interviews/{id}", None),
    ("POST", "/interviews/{id}/cancel", {"reason_code": "time_conflict"}),
    ("POST", "/interviews/{id}/confirm", None),
    ("GET", "/interviews/{id}/reschedule-slots", None),
    ("POST", "/interviews/{id}/reschedule", {"slot_id": "1"}),
    ("POST", "/feedback", {"content": "你好", "interview_id": "{id}"}),
]


@pytest.fixture
def people(app):
    """Two candidates, each bound to a WeChat user and with one interview."""
    return [factories.mp_candidate(app, "authz-me", "张三"),
            factories.mp_candidate(app, "authz-other", "李四")]


def _call(client, method, path, body, iv_id, auth):
    url = API + path.replace("{id}", iv_id)
    if body is not None:
        body = {k: (v.replace("{id}", iv_id) if isinstance(v, str) else v)
                for k, v in body.items()}
    return client.open(url, method=method, headers=auth, json=body)


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
@pytest.mark.parametrize("whose", ["another_candidate", "unknown"])
def test_other_or_unknown_interview_is_404(client, people, mp_login, method, path, body, whose):
    me, other = people[0], people[1]
    iv_id = other["interview_ids"][0] if whose == "another_candidate" else "iv_doesnotexist"
    r = _call(client, method, path, body, iv_id, mp_login(me["openid"]))
    assert r.status_code == 404, (path, r.get_json())
    assert r.get_json()["error"]["code"] == "interview_not_found"


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
def test_other_candidates_interview_is_untouched(app, client, people, mp_login, method, path, body):
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import AuditEntry, Interview

    me, other = people[0], people[1]
    _call(client, method, path, body, other["interview_ids"][0], mp_login(me["openid"]))
    with app.app_context():
        iv = db.session.scalars(select(Interview).where(
            Interview.public_id == other["interview_ids"][0])).one()
        assert iv.status.value == "scheduled" and iv.version == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


@pytest.mark.parametrize("method,path,body", ENDPOINTS)
def test_every_endpoint_needs_a_session(client, people, method, path, body):
    r = _call(client, method, path, body, people[0]["interview_ids"][0], {})
    assert r.status_code == 401
