"""候补名单 in the console: HR adds a candidate (by an interview number they can see),
reorders and removes, each change audited; the page and the changes are limited to the
user's departments and roles (interviewers read nothing, another department's list is
404); forms need their CSRF token; the report tab 重新安排承诺 and its export."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEntry, Role, WaitlistEntry, WaitlistState
from tests import factories
from tests.factories import CSRF_RE

PAGE = "/console/waitlist"


@pytest.fixture
def world(app):
    tech = factories.position(app)
    sales = factories.position(app, title="销售代表", department="销售部")
    ivs = [factories.interview(app, number=f"AI-2026-12-10-00{k}", name=name,
                               position_id=tech)
           for k, name in enumerate(("王一", "李二", "张三"), start=1)]
    far = factories.interview(app, number="AI-2026-12-10-009", name="赵销售", position_id=sales)
    return {"tech": tech, "sales": sales, "ivs": ivs, "far": far}


def client_as(app, username: str, role: Role = Role.RECRUITING_SPECIALIST,
              departments=("技术部",)):
    factories.hr_user(app, username, role=role, departments=departments)
    client = app.test_client()
    assert factories.console_login(client, username).status_code == 302
    return client


def token(client, position_id: int) -> str:
    html = client.get(PAGE, query_string={"position_id": position_id}).get_data(as_text=True)
    return CSRF_RE.search(html).group(1)


def add(client, position_id: int, number: str):
    return client.post(f"{PAGE}/{position_id}/add", follow_redirects=True,
                       data={"csrf_token": token(client, position_id),
                             "interview_number": number})


def entries(app, position_id: int) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(WaitlistEntry.candidate_id, WaitlistEntry.state)
            .where(WaitlistEntry.position_id == position_id,
                   WaitlistEntry.state == WaitlistState.WAITING)
            .order_by(WaitlistEntry.rank)).all()
        return [r.candidate_id for r in rows]


def entry_id(app, candidate_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(WaitlistEntry.id).where(
            WaitlistEntry.candidate_id == candidate_id))


def test_hr_fills_orders_and_empties_the_list_and_every_change_is_audited(app, world):
    client = client_as(app, "zhaopin")
    a, b, c = (iv.candidate_id for iv in world["ivs"])
    for iv in world["ivs"]:
        assert "已加入候补名单" in add(client, world["tech"], iv.number).get_data(as_text=True)
    assert entries(app, world["tech"]) == [a, b, c]
    page = client.get(PAGE, query_string={"position_id": world["tech"]}).get_data(as_text=True)
    assert page.index("王一") < page.index("李二") < page.index("张三")
    again = add(client, world["tech"], world["ivs"][0].number).get_data(as_text=True)
    assert "该候选人已在候补名单中" in again

    csrf = token(client, world["tech"])
    r = client.post(f"{PAGE}/entries/{entry_id(app, c)}/move",
                    data={"csrf_token": csrf, "direction": "up"})
    assert r.status_code == 302
    assert entries(app, world["tech"]) == [a, c, b]
    client.post(f"{PAGE}/entries/{entry_id(app, a)}/move",
                data={"csrf_token": csrf, "direction": "down"})
    assert entries(app, world["tech"]) == [c, a, b]
    client.post(f"{PAGE}/entries/{entry_id(app, a)}/remove", data={"csrf_token": csrf})
    assert entries(app, world["tech"]) == [c, b]
    with app.app_context():
        actions = [r.action for r in db.session.scalars(
            select(AuditEntry).where(AuditEntry.object_type == "waitlist_entry")
            .order_by(AuditEntry.id))]
    assert actions == ["waitlist.added"] * 3 + ["waitlist.moved"] * 2 + ["waitlist.removed"]
    # the audit log reads them in Chinese
    from app.services.audit import labels

    assert [labels.action_label(a) for a in actions[-3:]] == ["调整候补顺序", "调整候补顺序",
                                                              "移出候补名单"]


def test_a_number_outside_the_users_departments_is_not_found(app, world):
    client = client_as(app, "zhaopin")
    page = add(client, world["tech"], world["far"].number).get_data(as_text=True)
    assert "未找到该面试编号对应的候选人" in page
    assert entries(app, world["tech"]) == []


def test_another_departments_list_is_404_for_reading_and_changing(app, world):
    client = client_as(app, "zhaopin")
    assert client.get(PAGE, query_string={"position_id": world["sales"]}).status_code == 404
    csrf = token(client, world["tech"])
    r = client.post(f"{PAGE}/{world['sales']}/add",
                    data={"csrf_token": csrf, "interview_number": world["far"].number})
    assert r.status_code == 404
    factories.waitlist_entry(app, world["sales"], world["far"].candidate_id, 1)
    r = client.post(f"{PAGE}/entries/{entry_id(app, world['far'].candidate_id)}/remove",
                    data={"csrf_token": csrf})
    assert r.status_code == 404
    assert entries(app, world["sales"]) == [world["far"].candidate_id]
    # the position picker lists only the user's departments
    html = client.get(PAGE).get_data(as_text=True)
    assert "销售代表" not in html and "Java工程师" in html


def test_an_interviewer_may_not_manage_the_list(app, world):
    client = client_as(app, "mianshi", role=Role.INTERVIEWER)
    html = client.get(PAGE).get_data(as_text=True)
    assert "加入候补名单</button>" not in html
    r = client.post(f"{PAGE}/{world['tech']}/add",
                    data={"csrf_token": CSRF_RE.search(html).group(1),
                          "interview_number": world["ivs"][0].number})
    assert r.status_code in (403, 404)
    assert entries(app, world["tech"]) == []


def test_a_change_without_its_csrf_token_is_refused(app, world):
    client = client_as(app, "zhaopin")
    r = client.post(f"{PAGE}/{world['tech']}/add",
                    data={"interview_number": world["ivs"][0].number})
    assert r.status_code in (302, 400)
    assert entries(app, world["tech"]) == []
    factories.waitlist_entry(app, world["tech"], world["ivs"][0].candidate_id, 1)
    r = client.post(f"{PAGE}/entries/{entry_id(app, world['ivs'][0].candidate_id)}/remove")
    assert r.status_code == 400
    assert entries(app, world["tech"]) == [world["ivs"][0].candidate_id]


def test_the_nav_links_the_page_and_the_reports_have_the_promise_tab(app, world):
    client = client_as(app, "zhaopin")
    html = client.get("/console/interviews").get_data(as_text=True)
    assert 'href="/console/waitlist"' in html
    report = client.get("/console/reports/promises")
    assert report.status_code == 200
    text = report.get_data(as_text=True)
    assert "重新安排承诺兑现情况" in text and "各岗位承诺兑现" in text
    export = client.get("/console/reports/promises/export/promise_positions.csv")
    assert export.status_code == 200
    assert re.search("部门.*岗位.*已兑现.*未兑现", export.get_data(as_text=True))
