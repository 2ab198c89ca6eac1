"""Interview list: columns, search, status filter, pagination, query count."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from app.core.timeutil import utcnow
from app.extensions import db
from app.models import InterviewStatus, OutboxStatus

ROW_RE = re.compile(r"AI-2026-\d\d-\d\d-\d{3}")


def numbers_on(client, query: str = "") -> list[str]:
    html = client.get("/console/interviews" + query).get_data(as_text=True)
    return ROW_RE.findall(html)


def test_list_shows_interview_status_and_messages(hr_client, make_interview, make_message):
    iv = make_interview(scheduled_at=utcnow().replace(year=2026, month=11, day=22, hour=6,
                                                      minute=0, second=0, microsecond=0))
    make_message(iv.id, status=OutboxStatus.SENT, sent_at=utcnow())
    make_message(iv.id, status=OutboxStatus.FAILED, recipient_type="hr_user",
                 channel="oa_template", errcode=43004, last_error="需要接收者关注")
    response = hr_client.get("/console/interviews")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "AI-2026-11-22-001" in html and "待确认" in html
    assert "已发送" in html and "发送失败" in html
    assert "候选人" in html and "HR" in html and "小程序订阅消息" in html
    assert "2026年11月22日 14:00" in html  # 06:00 UTC shown in Asia/Shanghai
    assert "138****8000" in html and "13800138000" not in html
    assert "张三" in html and "Java工程师" in html
    assert f'/console/interviews/{iv.public_id}' in html
    assert "原因：需要接收者关注" in html  # failure reason in the tooltip


def test_list_shows_cancel_reason_only_when_cancelled(hr_client, make_interview,
                                                       make_cancellation):
    cancelled = make_interview(number="AI-2026-11-22-001", status=InterviewStatus.CANCELLED)
    make_cancellation(cancelled.id, label="旧原因")
    make_cancellation(cancelled.id, label="临时有事")
    back = make_interview(number="AI-2026-11-22-002", name="李四")
    make_cancellation(back.id, label="被驳回的原因")
    html = hr_client.get("/console/interviews").get_data(as_text=True)
    assert "已取消" in html and "临时有事" in html
    assert "旧原因" not in html and "被驳回的原因" not in html


def test_list_empty(hr_client):
    html = hr_client.get("/console/interviews").get_data(as_text=True)
    assert "没有符合条件的面试" in html and "共 0 条" in html


@pytest.fixture
def three(make_interview):
    make_interview(number="AI-2026-11-22-001", name="张三", title="Java工程师")
    make_interview(number="AI-2026-11-22-002", name="李四", title="产品经理",
                   status=InterviewStatus.CANCELLED)
    make_interview(number="AI-2026-11-23-001", name="张小明", title="测试工程师",
                   status=InterviewStatus.CONFIRMED)


@pytest.mark.parametrize("query,expected", [
    ("?q=AI-2026-11-22-002", ["AI-2026-11-22-002"]),            # exact number
    ("?q=AI-2026-11-22", ["AI-2026-11-22-001", "AI-2026-11-22-002"]),  # number prefix
    ("?q=ai-2026-11-23", ["AI-2026-11-23-001"]),                # case-insensitive
    ("?q=%E5%BC%A0", ["AI-2026-11-22-001", "AI-2026-11-23-001"]),  # name contains 张
    ("?q=%E6%9D%8E%E5%9B%9B", ["AI-2026-11-22-002"]),            # name 李四
    ("?q=java", ["AI-2026-11-22-001"]),                         # position title
    ("?q=%E5%B7%A5%E7%A8%8B%E5%B8%88", ["AI-2026-11-22-001", "AI-2026-11-23-001"]),
    ("?q=2026-11-22", []),                                      # number: prefix only
    ("?q=%25", []),                                             # LIKE wildcard is literal
    ("?q=", ["AI-2026-11-22-001", "AI-2026-11-22-002", "AI-2026-11-23-001"]),
])
def test_search(hr_client, three, query, expected):
    assert sorted(set(numbers_on(hr_client, query))) == expected


@pytest.mark.parametrize("query,expected", [
    ("?status=cancelled", ["AI-2026-11-22-002"]),
    ("?status=confirmed&q=%E5%BC%A0", ["AI-2026-11-23-001"]),
    ("?status=scheduled&q=%E6%9D%8E", []),
    ("?status=bogus", ["AI-2026-11-22-001", "AI-2026-11-22-002", "AI-2026-11-23-001"]),
])
def test_status_filter(hr_client, three, query, expected):
    assert sorted(set(numbers_on(hr_client, query))) == expected


def test_filters_are_kept_in_the_form(hr_client, three):
    html = hr_client.get("/console/interviews?q=%E5%BC%A0&status=confirmed").get_data(
        as_text=True)
    assert 'value="张"' in html
    assert '<option value="confirmed" selected>' in html


def test_pagination(hr_client, make_interview):
    start = utcnow() + timedelta(days=1)
    for i in range(1, 26):  # later interviews first: 025 .. 006 on page 1
        make_interview(number=f"AI-2026-12-01-{i:03d}", name=f"候选人{i}",
                       scheduled_at=start + timedelta(hours=i))
    page1 = numbers_on(hr_client)
    assert len(set(page1)) == 20 and "AI-2026-12-01-025" in page1
    html = hr_client.get("/console/interviews").get_data(as_text=True)
    assert "第 1 / 2 页" in html and "page=2" in html and "共 25 条" in html
    page2 = set(numbers_on(hr_client, "?page=2"))
    assert page2 == {f"AI-2026-12-01-{i:03d}" for i in range(1, 6)}
    assert set(numbers_on(hr_client, "?page=99")) == page2   # past the end: last page
    assert set(numbers_on(hr_client, "?page=abc")) == set(page1)
    assert set(numbers_on(hr_client, "?page=-3")) == set(page1)


def test_pagination_keeps_filters(hr_client, make_interview):
    for i in range(1, 23):
        make_interview(number=f"AI-2026-12-02-{i:03d}", name="王五")
    make_interview(number="AI-2026-12-03-001", name="赵六")
    html = hr_client.get("/console/interviews?q=%E7%8E%8B%E4%BA%94").get_data(as_text=True)
    assert "q=%E7%8E%8B%E4%BA%94" in html and "page=2" in html
    assert len(set(numbers_on(hr_client, "?q=%E7%8E%8B%E4%BA%94&page=2"))) == 2


def test_user_text_is_escaped(hr_client, make_interview):
    make_interview(name="<script>alert(1)</script>", title='"><b>x</b>')
    html = hr_client.get("/console/interviews").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html


@contextmanager
def count_queries(app):
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_list_query_count_does_not_grow_with_rows(app, hr_client, make_interview,
                                                  make_message, make_cancellation):
    def add(n: int, day: int):
        for i in range(n):
            iv = make_interview(number=f"AI-2026-12-{day:02d}-{i:03d}",
                                status=InterviewStatus.CANCELLED)
            make_message(iv.id)
            make_message(iv.id, recipient_type="hr_user", status=OutboxStatus.READ)
            make_cancellation(iv.id)

    add(1, 1)
    with count_queries(app) as few:
        assert hr_client.get("/console/interviews").status_code == 200
    add(12, 2)
    with count_queries(app) as many:
        assert hr_client.get("/console/interviews").status_code == 200
    assert len(many) == len(few)
    # user, departments, count, page, messages, cancellations, filter positions, sessions,
    # and the watchdog banner's open alerts (one query on every console page)
    assert len(few) <= 9
