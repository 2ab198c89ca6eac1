"""The audit viewer (/console/audit): who sees which entries, filters, keyset pages, rows
people can read (labels, names, Beijing time, before -> after, sealed or not), export."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, HrUser, Role
from app.queries.audit import log
from app.services.audit import seal
from app.services.users.actor import Actor
from tests import factories

AT = datetime(2026, 11, 30, 2, 30, tzinfo=UTC)   # 2026年11月30日 10:30 in Beijing


@pytest.fixture
def world(app):
    """Two departments, a user of each, an interview in each, and entries about them."""
    tech_manager = factories.hr_user(app, "jingli", role=Role.RECRUITING_MANAGER,
                                     display_name="李经理", departments=("技术部",))
    tech_specialist = factories.hr_user(app, "zhuanyuan", display_name="张专员",
                                        departments=("技术部",))
    market_user = factories.hr_user(app, "shichang", role=Role.RECRUITING_MANAGER,
                                    display_name="市场经理", departments=("市场部",))
    admin = factories.hr_user(app, "guanli", role=Role.ADMIN, display_name="管理员",
                              departments=())
    factories.hr_user(app, "mianshi", role=Role.INTERVIEWER, display_name="赵面试官")
    factories.cancel_reason(app, "time_conflict", label="时间冲突")
    tech_position = factories.position(app, "Java工程师", department="技术部")
    market_position = factories.position(app, "市场专员", department="市场部")
    tech = factories.interview(app, "AI-2026-11-30-001", name="张三",
                               position_id=tech_position)
    market = factories.interview(app, "AI-2026-11-30-002", name="李四",
                                 position_id=market_position)
    cancel_data = {"reason": "time_conflict", "note": None, "number": tech.number,
                   "before": {"status": "scheduled"}, "after": {"status": "cancelled"}}
    entries = {}

    def add(key, **fields):
        with app.app_context():
            entry = AuditEntry(at=fields.pop("at", AT), **fields)
            db.session.add(entry)
            db.session.commit()
            entries[key] = entry.id

    add("tech_cancel", actor_type="hr", actor_id=tech_specialist, action="interview.cancelled",
        object_type="interview", object_id=tech.id, data=cancel_data, ip="10.1.1.1")
    add("market_cancel", actor_type="hr", actor_id=market_user, action="interview.cancelled",
        object_type="interview", object_id=market.id,
        data={**cancel_data, "number": market.number}, ip="10.2.2.2")
    add("tech_candidate", actor_type="candidate", actor_id=tech.candidate_id,
        action="interview.confirmed", object_type="interview", object_id=tech.id,
        data={"number": tech.number}, ip="10.3.3.3", at=AT + timedelta(days=1))
    add("tech_system", actor_type="system", actor_id=None, action="interview.cancelled",
        object_type="interview", object_id=tech.id,
        data={**cancel_data, "rule": "auto_cancel_unconfirmed"}, at=AT + timedelta(days=2))
    add("colleague_settings", actor_type="hr", actor_id=tech_specialist,
        action="settings.rules_changed", object_type="settings", object_id=None,
        data={"before": {"cancel_deadline_hours": 2}, "after": {"cancel_deadline_hours": 4}},
        ip="10.1.1.1")
    add("market_settings", actor_type="hr", actor_id=market_user,
        action="settings.rules_changed", object_type="settings", object_id=None,
        data={"before": {"cancel_deadline_hours": 4}, "after": {"cancel_deadline_hours": 6}},
        ip="10.2.2.2")
    add("admin_on_colleague", actor_type="hr", actor_id=admin, action="hr_user.disabled",
        object_type="hr_user", object_id=tech_specialist,
        data={"before": {"active": True}, "after": {"active": False}}, ip="10.9.9.9")
    add("stranger", actor_type="hr", actor_id=None, action="hr_user.sign_in_failed",
        object_type="hr_user", object_id=None, data={"username": "nobody",
                                                     "refused": "invalid_credentials"},
        ip="10.6.6.6")
    return {"entries": entries, "tech": tech, "market": market, "ids": {
        "tech_manager": tech_manager, "tech_specialist": tech_specialist,
        "market_user": market_user, "admin": admin}}


def actor_of(app, user_id: int) -> Actor:
    with app.app_context():
        actor = Actor.hr(db.session.get(HrUser, user_id))
        db.session.rollback()
        return actor


def visible_keys(app, world, user_key: str) -> set[str]:
    actor = actor_of(app, world["ids"][user_key])
    by_id = {v: k for k, v in world["entries"].items()}
    with app.app_context():
        ids = db.session.scalars(select(AuditEntry.id).where(log.visible(actor))).all()
    return {by_id[i] for i in ids if i in by_id}


def test_an_admin_sees_every_entry(app, world):
    assert visible_keys(app, world, "admin") == set(world["entries"])


def test_a_manager_sees_their_departments_objects_and_their_colleagues_actions(app, world):
    assert visible_keys(app, world, "tech_manager") == {
        "tech_cancel",          # about an interview of 技术部 (by a colleague, too)
        "tech_candidate",       # a candidate acting on a 技术部 interview
        "tech_system",          # a job acting on a 技术部 interview
        "colleague_settings",   # made by a user of 技术部, about no department
        "admin_on_colleague",   # an admin acting on a user of 技术部
    }
    assert visible_keys(app, world, "market_user") == {"market_cancel", "market_settings"}


@pytest.mark.parametrize("username,status", [
    ("guanli", 200), ("jingli", 200), ("zhuanyuan", 403), ("mianshi", 403)])
def test_only_users_with_the_audit_permission_open_the_viewer(app, world, username, status):
    client = factories.console_client(app, username, factories.PASSWORD)
    assert client.get("/console/audit").status_code == status
    assert client.get("/console/audit/export.csv").status_code == status
    nav = client.get("/console/interviews").get_data(as_text=True)
    assert ('href="/console/audit"' in nav) == (status == 200)


def test_the_viewer_needs_a_login(client):
    response = client.get("/console/audit")
    assert response.status_code == 302 and "/console/login" in response.headers["Location"]


def test_a_service_refuses_the_audit_log_to_roles_without_the_permission(app, world):
    from app.core.errors import Forbidden

    actor = actor_of(app, world["ids"]["tech_specialist"])
    with app.app_context(), pytest.raises(Forbidden):
        log.list_entries(actor, log.AuditFilters())


def test_rows_read_as_words_with_names_time_ip_and_seal_state(app, world):
    client = factories.console_client(app, "jingli", factories.PASSWORD)
    html = client.get("/console/audit?action=interview.cancelled&actor_type=hr"
                      ).get_data(as_text=True)
    row = html[html.index(f'id="entry-{world["entries"]["tech_cancel"]}"'):]
    row = row[:row.index("</tr>")]
    assert "张专员（HR用户）" in row and "2026年11月30日 10:30" in row and "10.1.1.1" in row
    assert "取消面试" in row and "面试 AI-2026-11-30-001" in row
    assert "状态：" in row and "待确认" in row and "已取消" in row
    assert "原因：时间冲突" in row and "待封存" in row
    assert "interview.cancelled" not in row and "time_conflict" not in row
    with app.app_context():
        seal.seal_pending()
    html = client.get("/console/audit?action=interview.cancelled&actor_type=hr"
                      ).get_data(as_text=True)
    assert "已封存" in html and "待封存" not in html


def test_system_and_candidate_actors_are_named(app, world):
    client = factories.console_client(app, "guanli", factories.PASSWORD)
    html = client.get("/console/audit?object=AI-2026-11-30-001").get_data(as_text=True)
    assert "系统（逾期未确认自动取消）" in html and "候选人 张三" in html


def keys_of(app, world, user_key: str, **filters) -> set[str]:
    actor = actor_of(app, world["ids"][user_key])
    by_id = {v: k for k, v in world["entries"].items()}
    with app.app_context():
        page = log.list_entries(actor, log.audit_filters(**filters), per_page=500)
    return {by_id[r.id] for r in page.rows if r.id in by_id}


def test_filters_by_actor_action_object_and_period(app, world):
    assert keys_of(app, world, "admin", actor_type="system") == {"tech_system"}
    assert keys_of(app, world, "admin", actor_type="candidate", actor="张") == {
        "tech_candidate"}
    assert keys_of(app, world, "admin", actor="张专员") == {"tech_cancel",
                                                           "colleague_settings"}
    assert keys_of(app, world, "admin", action="settings.rules_changed") == {
        "colleague_settings", "market_settings"}
    assert keys_of(app, world, "admin", object_ref="AI-2026-11-30-002") == {"market_cancel"}
    assert keys_of(app, world, "admin", object_type="hr_user",
                   object_ref=str(world["ids"]["tech_specialist"])) == {"admin_on_colleague"}
    assert keys_of(app, world, "admin", date_from="2026-12-01", date_to="2026-12-01") == {
        "tech_candidate"}
    # Unknown choices and bad dates are ignored, not errors.
    assert keys_of(app, world, "tech_manager", actor_type="root", action="drop.table",
                   date_from="not-a-date") == visible_keys(app, world, "tech_manager")


def test_the_action_filter_offers_chinese_labels(app, world):
    client = factories.console_client(app, "guanli", factories.PASSWORD)
    html = client.get("/console/audit").get_data(as_text=True)
    assert '<option value="interview.cancelled">取消面试</option>' in html
    assert '<option value="batch.created">批量取消</option>' in html


def test_pages_walk_every_entry_once_and_bad_bounds_never_fail(app, world):
    with app.app_context():
        for i in range(120):
            db.session.add(AuditEntry(at=AT, actor_type="hr",
                                      actor_id=world["ids"]["admin"],
                                      action="report.exported", object_type="report",
                                      object_id=None, data={"report": f"r{i}"}))
        db.session.commit()
        total = db.session.scalar(select(func.count()).select_from(AuditEntry))
    actor = actor_of(app, world["ids"]["admin"])
    seen, before = [], None
    with app.app_context():
        while True:
            page = log.list_entries(actor, log.AuditFilters(), before=before)
            seen += [r.id for r in page.rows]
            if page.older is None:
                break
            before = page.older
        assert len(seen) == len(set(seen)) == total and seen == sorted(seen, reverse=True)
        # 较新 from the third page (its first row) is the second page again.
        third = log.list_entries(actor, log.AuditFilters(), before=seen[log.PER_PAGE * 2 - 1])
        assert third.newer == seen[log.PER_PAGE * 2]
        back = log.list_entries(actor, log.AuditFilters(), after=third.newer)
        assert [r.id for r in back.rows] == seen[log.PER_PAGE:log.PER_PAGE * 2]
        assert back.older == seen[log.PER_PAGE * 2 - 1] and back.newer == seen[log.PER_PAGE]
    client = factories.console_client(app, "guanli", factories.PASSWORD)
    first = client.get("/console/audit").get_data(as_text=True)
    # (signing in wrote one more entry: the 50th row is now the one after seen's 49th)
    assert f"before={seen[log.PER_PAGE - 2]}" in first and "较早" in first
    for bound in ("before=99999999999999999999", "after=99999999999999999999", "before=-5",
                  "before=abc", "after=1e9", "before=2147483647"):
        assert client.get(f"/console/audit?{bound}").status_code == 200, bound


def test_export_streams_the_filtered_entries_and_is_audited(app, world):
    client = factories.console_client(app, "jingli", factories.PASSWORD)
    response = client.get("/console/audit/export.csv?action=interview.cancelled")
    assert response.status_code == 200
    lines = response.get_data(as_text=True).lstrip("\ufeff").strip().splitlines()
    assert lines[0].startswith("时间（北京时间）,操作人,IP,操作,对象")
    # 技术部's manager: the colleague's cancel and the job's, not 市场部's.
    assert len(lines) == 3 and all("取消面试" in line for line in lines[1:])
    assert not any("AI-2026-11-30-002" in line for line in lines)
    xlsx = client.get("/console/audit/export.xlsx?action=interview.cancelled")
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 3 and rows[1][3] == "取消面试"
    with app.app_context():
        exports = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "audit.exported").order_by(AuditEntry.id)).all()
        assert [e.data["format"] for e in exports] == ["csv", "xlsx"]
        assert exports[0].actor_id == world["ids"]["tech_manager"] and exports[0].ip
        assert exports[0].data["filters"] == {"action": "interview.cancelled"}
