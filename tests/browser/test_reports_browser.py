"""Reports in a browser: a recruiting manager opens every report from the 报表 link; every
chart is drawn (a canvas of non-zero size), no console error (the CSP would report one
for any inline script or foreign resource), the XLSX exports download and read back;
at phone width (390 px) the page does not scroll sideways and the charts fit."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from app.models import Role
from tests.console.report_data import FROM, TO, seed
from tests.factories import PASSWORD, hr_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN",
           "timezone_id": "Asia/Shanghai", "accept_downloads": True}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN",
         "timezone_id": "Asia/Shanghai", "accept_downloads": True}
REPORTS = {"cancellations": ("取消统计", 5), "positions": ("岗位取消率", 1),
           "notifications": ("通知触达", 2)}
PERIOD = f"date_from={FROM.isoformat()}&date_to={TO.isoformat()}"


@pytest.fixture
def open_page(chromium):
    contexts = []

    def open_(options):
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("console", lambda msg: page.errors.append(f"{msg.type}: {msg.text}")
                if msg.type == "error" else None)
        page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
        return page

    yield open_
    for context in contexts:
        context.close()


def login(page, live_url: str, username: str) -> None:
    page.goto(live_url + "/console/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/console/interviews"))


def charts_drawn(page, expected: int) -> list[dict]:
    """Wait for every chart, then the size of each one's canvas."""
    page.wait_for_function(
        "n => document.querySelectorAll('[data-chart-ready]').length >= n", arg=expected)
    return page.evaluate("""() => [...document.querySelectorAll('.chart')].map(el => {
        const c = el.querySelector('canvas');
        return {id: el.dataset.chart, width: c ? c.width : 0, height: c ? c.height : 0,
                box: el.getBoundingClientRect().width};
    })""")


def xlsx_rows(download) -> list[tuple]:
    body = open(download.path(), "rb").read()
    return list(load_workbook(io.BytesIO(body), read_only=True).active
                .iter_rows(values_only=True))


def test_a_manager_opens_every_report_and_exports_xlsx(app, live_url, open_page,
                                                       artifacts_dir):
    from playwright.sync_api import expect

    seed(app)
    hr_user(app, "manager", role=Role.RECRUITING_MANAGER, departments=("技术部", "销售部"),
            display_name="李经理")
    page = open_page(DESKTOP)
    login(page, live_url, "manager")
    page.get_by_role("link", name="报表", exact=True).click()
    expect(page.get_by_role("heading", name="报表：取消统计")).to_be_visible()
    for key, (title, n_charts) in REPORTS.items():
        page.goto(f"{live_url}/console/reports/{key}?{PERIOD}")
        expect(page.get_by_role("heading", name=f"报表：{title}")).to_be_visible()
        charts = charts_drawn(page, n_charts)
        assert len(charts) == n_charts, charts
        assert all(c["width"] > 0 and c["height"] > 0 for c in charts), charts
        # Each chart's data table is right beneath it.
        assert page.locator(".chart + script + .report-note + .table-scroll table, "
                            ".chart + script + .table-scroll table").count() == n_charts
        page.screenshot(path=str(artifacts_dir / f"reports-{key}-desktop.png"),
                        full_page=True, animations="disabled")

    page.goto(f"{live_url}/console/reports/cancellations?{PERIOD}")
    charts_drawn(page, 5)
    with page.expect_download() as info:
        page.locator('[data-export="reasons-xlsx"]').click()
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    rows = xlsx_rows(download)
    assert rows[0] == ("原因", "原因代码", "类别", "取消数", "占比（%）")
    assert sum(r[3] for r in rows[1:]) > 0

    page.goto(f"{live_url}/console/interviews?department=销售部")
    with page.expect_download() as info:
        page.locator('[data-export="interviews-xlsx"]').click()
    rows = xlsx_rows(info.value)
    assert rows[0][:4] == ("面试编号", "候选人", "岗位", "部门")
    assert len(rows) > 1 and {r[3] for r in rows[1:]} == {"销售部"}
    assert page.errors == []


def test_reports_at_phone_width(app, live_url, open_page, artifacts_dir):
    seed(app)
    hr_user(app, "manager", role=Role.RECRUITING_MANAGER, departments=("技术部", "销售部"))
    page = open_page(PHONE)
    login(page, live_url, "manager")
    for key, (_, n_charts) in REPORTS.items():
        page.goto(f"{live_url}/console/reports/{key}?{PERIOD}")
        charts = charts_drawn(page, n_charts)
        assert all(0 < c["box"] <= 390 and c["width"] > 0 for c in charts), charts
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= 390, f"{key}: the page scrolls sideways ({scroll_width} px)"
        page.screenshot(path=str(artifacts_dir / f"reports-{key}-phone.png"),
                        full_page=True, animations="disabled")
        for n, chart in enumerate(page.locator(".report-section").all()):
            chart.screenshot(path=str(artifacts_dir / f"reports-{key}-phone-{n}.png"))
    # The filters work by touch: pick a department and query.
    page.goto(f"{live_url}/console/reports/positions?{PERIOD}")
    page.get_by_label("部门").select_option("销售部")
    page.get_by_role("button", name="查询").click()
    page.wait_for_url(re.compile(r"department="))
    assert "Java工程师" not in page.locator(".report-table").inner_text()
    assert page.errors == []
