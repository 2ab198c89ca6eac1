"""HR binding through the Official Account (issue 10 §3): `绑定 <code>` and scanning the
binding QR code bind that WeChat user to the HR account, once and before the code expires;
`解绑` removes it; unbound users asking for HR functions get instructions, never data.
Every message is built, encrypted and signed as WeChat does (sandbox /oa/inbound)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from oa_hr_helpers import entries, issue_code, oa_account, phone_of, user_named
from sqlalchemy import select, update

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import HrBindingCode, HrUser, Role
from tests import factories
from wechat_handlers import menu
from wechat_handlers.hr.common import NOT_BOUND


@pytest.fixture
def hr_id(app):
    return factories.hr_user(app, "zhaopin", Role.RECRUITING_SPECIALIST, display_name="王招聘")


def _assert_bound(app, username: str, openid: str) -> None:
    user = user_named(app, username)
    assert user.wechat_openid == openid and user.wechat_bound_at is not None
    account = oa_account(app, openid)
    assert account.hr_user_id == user.id and account.followed is True


def test_sending_the_code_binds_this_wechat_user_to_the_hr_account(app, live_url, hr_id):
    issued = issue_code(app, hr_id)
    phone = phone_of(live_url, "oa-hr-wang")
    reply = phone.send(f"绑定 {issued.code}")
    assert "绑定成功" in reply and "王招聘" in reply
    _assert_bound(app, "zhaopin", "oa-hr-wang")
    [entry] = entries(app, "hr_user.wechat_bound")
    assert entry.actor_id == hr_id and entry.object_id == hr_id
    assert entry.data["via"] == "code" and entry.data["after"]["wechat_bound"] is True
    assert "帮助" in phone.send("帮助") and "同意 面试编号" in phone.send("帮助")


def test_the_code_may_be_typed_in_lower_case_and_glued_to_the_word(app, live_url, hr_id):
    issued = issue_code(app, hr_id)
    reply = phone_of(live_url, "oa-hr-wang").send(f"绑定{issued.code.lower()}")
    assert "绑定成功" in reply
    _assert_bound(app, "zhaopin", "oa-hr-wang")


def test_a_code_binds_once(app, live_url, hr_id):
    issued = issue_code(app, hr_id)
    assert "绑定成功" in phone_of(live_url, "oa-first").send(f"绑定 {issued.code}")
    reply = phone_of(live_url, "oa-second").send(f"绑定 {issued.code}")
    assert "绑定码无效或已过期" in reply
    _assert_bound(app, "zhaopin", "oa-first")
    assert oa_account(app, "oa-second") is None or oa_account(app, "oa-second").hr_user_id is None


def test_an_expired_code_is_refused(app, live_url, hr_id):
    issued = issue_code(app, hr_id, now=utcnow() - timedelta(minutes=11))
    reply = phone_of(live_url, "oa-hr-wang").send(f"绑定 {issued.code}")
    assert "绑定码无效或已过期" in reply
    assert user_named(app, "zhaopin").wechat_openid is None


def test_a_new_code_replaces_the_old_one_and_codes_are_stored_hashed(app, live_url, hr_id):
    old = issue_code(app, hr_id)
    new = issue_code(app, hr_id)
    with app.app_context():
        rows = db.session.scalars(select(HrBindingCode)).all()
        assert len(rows) == 1
        assert new.code not in (rows[0].code_hash, rows[0].scene_hash)
    phone = phone_of(live_url, "oa-hr-wang")
    assert "绑定码无效或已过期" in phone.send(f"绑定 {old.code}")
    assert "绑定成功" in phone.send(f"绑定 {new.code}")


def test_wrong_codes_lock_the_wechat_user_out_for_a_while(app, live_url, hr_id):
    app.config["HR_BINDING_MAX_FAILURES"] = 3
    issued = issue_code(app, hr_id)
    phone = phone_of(live_url, "oa-guesser")
    for guess in ("AAAA2222", "BBBB3333", "CCCC4444"):
        assert "绑定码无效或已过期" in phone.send(f"绑定 {guess}")
    assert "错误次数过多" in phone.send(f"绑定 {issued.code}")
    assert user_named(app, "zhaopin").wechat_openid is None
    # another WeChat user is not locked out
    assert "绑定成功" in phone_of(live_url, "oa-hr-wang").send(f"绑定 {issued.code}")


def test_scanning_the_qr_code_binds_a_follower(app, live_url, hr_id):
    issued = issue_code(app, hr_id)
    assert issued.qr_url and issued.scene.startswith("hrbind_")
    reply = phone_of(live_url, "oa-hr-wang").scan(issued.qr_url)
    assert "绑定成功" in reply
    _assert_bound(app, "zhaopin", "oa-hr-wang")
    assert entries(app, "hr_user.wechat_bound")[0].data["via"] == "qr_scene"


def test_scanning_follows_and_binds_someone_who_did_not_follow_yet(app, live_url, hr_id):
    issued = issue_code(app, hr_id)
    phone = phone_of(live_url, "oa-new-follower", follow=False)
    reply = phone.scan(issued.qr_url)  # WeChat sends subscribe with EventKey qrscene_...
    assert "绑定成功" in reply
    _assert_bound(app, "zhaopin", "oa-new-follower")


def test_the_qr_code_of_a_replaced_code_no_longer_binds(app, live_url, hr_id):
    old = issue_code(app, hr_id)
    issue_code(app, hr_id)
    reply = phone_of(live_url, "oa-hr-wang").scan(old.qr_url)
    assert "二维码已失效" in reply
    assert user_named(app, "zhaopin").wechat_openid is None


def test_binding_moves_the_wechat_user_from_another_account(app, live_url, hr_id):
    other_id = factories.hr_user(app, "lisi", Role.RECRUITING_SPECIALIST, display_name="李四")
    phone = phone_of(live_url, "oa-shared")
    assert "绑定成功" in phone.send(f"绑定 {issue_code(app, other_id).code}")
    reply = phone.send(f"绑定 {issue_code(app, hr_id).code}")
    assert "绑定成功" in reply and "原绑定的其他账号已解除" in reply
    _assert_bound(app, "zhaopin", "oa-shared")
    assert user_named(app, "lisi").wechat_openid is None
    [unbound] = entries(app, "hr_user.wechat_unbound")
    assert unbound.object_id == other_id and unbound.data["via"] == "rebound_code"


def test_a_new_wechat_user_replaces_the_accounts_old_one(app, live_url, hr_id):
    assert "绑定成功" in phone_of(live_url, "oa-old-phone").send(
        f"绑定 {issue_code(app, hr_id).code}")
    assert "绑定成功" in phone_of(live_url, "oa-new-phone").send(
        f"绑定 {issue_code(app, hr_id).code}")
    _assert_bound(app, "zhaopin", "oa-new-phone")
    assert oa_account(app, "oa-old-phone").hr_user_id is None
    assert NOT_BOUND in phone_of(live_url, "oa-old-phone").click(menu.KEY_PENDING)


def test_unbinding_by_message_ends_hr_access_from_that_wechat_user(app, live_url, hr_id):
    phone = phone_of(live_url, "oa-hr-wang")
    phone.send(f"绑定 {issue_code(app, hr_id).code}")
    reply = phone.send("解绑")
    assert "已解除" in reply
    user = user_named(app, "zhaopin")
    assert user.wechat_openid is None and oa_account(app, "oa-hr-wang").hr_user_id is None
    [entry] = entries(app, "hr_user.wechat_unbound")
    assert entry.actor_id == hr_id and entry.data["via"] == "oa_command"
    assert phone.send("查询 张三") == NOT_BOUND


HR_ASKS = ["帮助", "解绑", "同意 AI-2026-12-03-001", "驳回 AI-2026-12-03-001 不行",
           "取消 AI-2026-12-03-001 岗位已招满", "查询 AI-2026-12-03-001", "查询 张三"]


@pytest.mark.parametrize("text", HR_ASKS)
def test_unbound_users_asking_for_hr_commands_get_instructions_only(app, live_url, text):
    iv = factories.interview(app, "AI-2026-12-03-001", name="张三")
    assert iv.number
    reply = phone_of(live_url, "oa-stranger").send(text)
    assert reply == NOT_BOUND
    assert "AI-2026-12-03-001" not in reply and "张三" not in reply


@pytest.mark.parametrize("key", menu.CLICK_KEYS)
def test_unbound_users_tapping_the_hr_menu_get_instructions_only(app, live_url, key):
    assert phone_of(live_url, "oa-stranger").click(key) == NOT_BOUND


def test_a_disabled_hr_user_counts_as_unbound(app, live_url, hr_id):
    phone = phone_of(live_url, "oa-hr-wang")
    phone.send(f"绑定 {issue_code(app, hr_id).code}")
    with factories.committed(app) as session:
        session.execute(update(HrUser).where(HrUser.id == hr_id).values(active=False))
    assert phone.click(menu.KEY_PENDING) == NOT_BOUND
    assert phone.send("查询 张三") == NOT_BOUND


def test_a_code_of_a_disabled_user_does_not_bind(app, live_url, hr_id):
    issued = issue_code(app, hr_id)
    with factories.committed(app) as session:
        session.execute(update(HrUser).where(HrUser.id == hr_id).values(active=False))
    assert "绑定码无效或已过期" in phone_of(live_url, "oa-hr-wang").send(f"绑定 {issued.code}")


def test_two_wechat_users_racing_for_one_code_bind_only_one(app, hr_id):
    import threading

    from app.services.users import wechat_binding

    issued = issue_code(app, hr_id)
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def attempt(openid: str) -> None:
        with app.app_context():
            barrier.wait()
            try:
                wechat_binding.bind_by_code(openid, issued.code)
                results[openid] = "bound"
            except Exception as exc:  # the loser: invalid code (or SQLite's busy lock)
                results[openid] = type(exc).__name__
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt, args=(o,)) for o in ("oa-racer-1", "oa-racer-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()).count("bound") == 1, results
    winner = next(o for o, r in results.items() if r == "bound")
    _assert_bound(app, "zhaopin", winner)
    assert len(entries(app, "hr_user.wechat_bound")) == 1


def test_replies_are_encrypted_and_pictures_get_a_one_line_answer(app, live_url, hr_id):
    import requests

    phone = phone_of(live_url, "oa-hr-wang")
    r = requests.post(f"{phone.url}/oa/inbound", json={
        "openid": phone.openid, "action": "text", "content": "帮助"}, timeout=15).json()
    assert r["reply_encrypted"] is True and r["reply"] == NOT_BOUND
    r = requests.post(f"{phone.url}/oa/inbound", json={
        "openid": phone.openid, "action": "image"}, timeout=15).json()
    assert r["callback_status"] == 200 and r["reply"].startswith("目前仅支持文字消息")
