"""重新邀请 after 解除微信绑定: HR gets a new invitation (link and QR scene) shown once,
audited and scoped; the candidate binds again with it from the mini program."""
import re

from sqlalchemy import func, select

from app.core import crypto
from app.extensions import db
from app.models import AuditEntry, InviteToken, Role
from tests.factories import API, mp_login

SCENE_RE = re.compile(r"<code data-invite-scene>([^<]+)</code>")


def _candidate(demo, department="技术部"):
    return next(c for c in demo["candidates"]
                if not c["position_review"] and c["department"] == department)


def test_unbind_then_reinvite_then_the_candidate_binds_again(app, client, demo, make_user,
                                                             login, csrf_token):
    cand = _candidate(demo)
    make_user(username="jingli", role=Role.RECRUITING_MANAGER, departments=("技术部",))
    assert login(client, "jingli").status_code == 302
    page = f"/console/interviews/{cand['interview_ids'][0]}"
    assert "重新邀请" not in client.get(page).get_data(as_text=True)  # still bound
    client.post(f"{page}/unbind-wechat", data={"csrf_token": csrf_token(client, page)})
    html = client.get(page).get_data(as_text=True)
    assert "未绑定" in html and "重新邀请" in html

    r = client.post(f"{page}/reinvite", data={"csrf_token": csrf_token(client, page)})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    [scene] = SCENE_RE.findall(html)
    assert f"pages/bind/index?invite_token={scene}" in html and "离开本页后将无法再次查看" in html
    assert r.headers["Cache-Control"] == "no-store"
    assert scene not in client.get(page).get_data(as_text=True)  # shown once
    with app.app_context():
        invite = db.session.scalars(select(InviteToken)).one()
        assert invite.token_hash == crypto.token_hash(scene)
        assert invite.candidate_id == cand["id"]
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "candidate.reinvited")).one()
        assert (entry.actor_type, entry.object_id) == ("hr", cand["id"])

    # The WeChat user (or a new phone) binds with the new invitation.
    mp = app.test_client()
    auth = mp_login(mp, "sandbox-new-phone", bound=False)
    r = mp.post(f"{API}/auth/bind", json={"invite_token": scene}, headers=auth)
    assert r.status_code == 200, r.get_json()
    assert mp.get(f"{API}/interviews", headers=mp_login(mp, "sandbox-new-phone", bound=True)
                  ).status_code == 200


def test_reinvite_refused_while_bound_and_outside_scope(app, client, demo, make_user, login,
                                                        csrf_token):
    cand = _candidate(demo)
    make_user(username="jingli", role=Role.RECRUITING_MANAGER, departments=("技术部",))
    assert login(client, "jingli").status_code == 302
    page = f"/console/interviews/{cand['interview_ids'][0]}"
    r = client.post(f"{page}/reinvite", data={"csrf_token": csrf_token(client, page)})
    assert r.status_code == 409 and "请先解除微信绑定" in r.get_data(as_text=True)

    other = app.test_client()
    make_user(username="xiaoshou", role=Role.RECRUITING_MANAGER, departments=("销售部",))
    assert login(other, "xiaoshou").status_code == 302
    token = csrf_token(other, "/console/interviews")
    assert other.post(f"{page}/reinvite", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(InviteToken)) == 0


def test_reinvite_needs_rebind_and_the_csrf_token(app, client, demo, make_user, login,
                                                  csrf_token):
    cand = _candidate(demo)
    page = f"/console/interviews/{cand['interview_ids'][0]}"
    make_user()  # a recruiting specialist: no rebind
    assert login(client, "zhaopin").status_code == 302
    r = client.post(f"{page}/reinvite", data={"csrf_token": csrf_token(client, page)})
    assert r.status_code == 403
    manager = app.test_client()
    make_user(username="jingli", role=Role.RECRUITING_MANAGER, departments=("技术部",))
    assert login(manager, "jingli").status_code == 302
    assert manager.post(f"{page}/reinvite", data={}).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(InviteToken)) == 0
