"""HR removes a candidate's WeChat binding: the binding is gone, the audit log says who did
it, and that WeChat user is logged out everywhere at once (sessions carry the binding)."""
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Role, WechatAccount
from tests.factories import API, mp_login


def _candidate_session(app, demo):
    """A candidate logged in to the mini program (a test client of its own)."""
    cand = next(c for c in demo["candidates"] if not c["position_review"])
    mp = app.test_client()
    return cand, mp, mp_login(mp, cand["openid"], bound=True)


def test_manager_unbinds_and_the_candidate_is_logged_out(app, client, demo, make_user, login,
                                                         csrf_token):
    cand, mp, auth = _candidate_session(app, demo)
    other_device = mp_login(mp, cand["openid"])
    assert mp.get(f"{API}/interviews", headers=auth).status_code == 200

    make_user(username="jingli", role=Role.RECRUITING_MANAGER)
    assert login(client, "jingli").status_code == 302
    page = f"/console/interviews/{cand['interview_ids'][0]}"
    html = client.get(page).get_data(as_text=True)
    assert "已绑定" in html and "解除微信绑定" in html
    r = client.post(f"{page}/unbind-wechat", data={"csrf_token": csrf_token(client, page)})
    assert r.status_code == 302
    html = client.get(page).get_data(as_text=True)
    assert "已解除微信绑定，该微信的 2 个登录会话已失效" in html and "未绑定" in html

    for headers in (auth, other_device):  # every session of that WeChat user
        r = mp.get(f"{API}/interviews", headers=headers)
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "session_invalid"
    r = mp.post(f"{API}/auth/login", json={"code": f"sandbox:{cand['openid']}"})
    assert r.get_json()["bound"] is False
    with app.app_context():
        account = db.session.scalars(select(WechatAccount).where(
            WechatAccount.openid == cand["openid"])).one()
        assert account.candidate_id is None
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "candidate.unbound")).one()
        assert entry.actor_type == "hr" and entry.data == {"wechat_account_id": account.id}


def test_specialist_cannot_unbind(app, client, demo, make_user, login, csrf_token):
    cand, mp, auth = _candidate_session(app, demo)
    make_user()  # a recruiting specialist
    assert login(client, "zhaopin").status_code == 302
    page = f"/console/interviews/{cand['interview_ids'][0]}"
    assert "解除微信绑定" not in client.get(page).get_data(as_text=True)
    r = client.post(f"{page}/unbind-wechat", data={"csrf_token": csrf_token(client, page)})
    assert r.status_code == 403
    assert mp.get(f"{API}/interviews", headers=auth).status_code == 200


def test_unbind_needs_the_csrf_token(app, client, demo, make_user, login):
    cand, mp, auth = _candidate_session(app, demo)
    make_user(username="jingli", role=Role.RECRUITING_MANAGER)
    login(client, "jingli")
    r = client.post(f"/console/interviews/{cand['interview_ids'][0]}/unbind-wechat")
    assert r.status_code == 400
    assert mp.get(f"{API}/interviews", headers=auth).status_code == 200


def test_unbinding_an_unbound_candidate_says_so(app, client, demo, make_user, login,
                                                csrf_token):
    cand, mp, auth = _candidate_session(app, demo)
    make_user(username="jingli", role=Role.RECRUITING_MANAGER)
    login(client, "jingli")
    page = f"/console/interviews/{cand['interview_ids'][0]}"
    client.post(f"{page}/unbind-wechat", data={"csrf_token": csrf_token(client, page)})
    token = csrf_token(client, page)
    html = client.post(f"{page}/unbind-wechat", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "该候选人尚未绑定微信" in html
