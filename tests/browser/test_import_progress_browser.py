"""导入 in a browser, at 1280 and 390 px: upload, 检查文件, 确认导入; the job page shows the
import queued with its rows done and reloads itself (a meta refresh: no script, the CSP
stays 'self') until the worker has committed it, then shows the result and the
invitations; no console error, no sideways scroll."""
from __future__ import annotations

import csv
import io
import re

import pytest

from app.services.integration.import_runner import run_due_imports

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HEADER = ["岗位编号", "岗位名称", "部门", "级别", "候选人编号", "姓名", "手机号",
          "面试编号(外部)", "面试时间"]


def _file(tmp_path, prefix: str, rows: int):
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER] + [
        [f"{prefix}-P", "数据分析师", "技术部", "P5", f"{prefix}-C{i}", f"候选人{i}",
         f"137{i:08d}", f"{prefix}-I{i}", f"2027-04-0{1 + i % 5} 10:{i % 6}0"]
        for i in range(rows)])
    path = tmp_path / f"{prefix}.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return path


@pytest.mark.parametrize("width", [1280, 390])
def test_the_import_page_follows_the_worker_until_the_result(app, demo, live_url, chromium,
                                                            artifacts_dir, tmp_path, width):
    from playwright.sync_api import expect

    context = chromium.new_context(viewport={"width": width, "height": 900},
                                   locale="zh-CN", timezone_id="Asia/Shanghai",
                                   is_mobile=width < 500, has_touch=width < 500)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(live_url + "/console/login")
        page.locator("#username").fill("admin")
        page.locator("#password").fill(demo["password"])
        page.get_by_role("button", name="登录").click()
        page.wait_for_url(re.compile(r"/console/interviews"))
        page.goto(live_url + "/console/imports")
        page.locator("#file").set_input_files(str(_file(tmp_path, f"W{width}", 5)))
        page.get_by_role("button", name="检查文件").click()
        page.wait_for_url(re.compile(r"/console/imports/imp_"))
        expect(page.locator("[data-import-status]")).to_have_text("检查通过，待确认")
        page.get_by_role("button", name="确认导入").click()

        # Queued: the request committed nothing; the page says so and reloads itself.
        expect(page.locator("[data-import-status]")).to_have_text("排队等待导入")
        expect(page.locator("#import-progress")).to_contain_text("已写入 0 / 5 行")
        assert page.locator('meta[http-equiv="refresh"]').count() == 1
        assert not page.evaluate("document.documentElement.scrollWidth > innerWidth + 1")
        page.screenshot(path=str(artifacts_dir / f"import-queued-{width}.png"), full_page=True)

        with app.app_context():  # the worker's turn
            assert run_due_imports("browser-worker") == 1
        # No reload by the test: the page's own refresh shows the result.
        expect(page.locator("[data-import-status]")).to_have_text("已导入", timeout=10_000)
        expect(page.locator("#import-progress")).to_contain_text("已写入 5 / 5 行")
        assert page.locator('meta[http-equiv="refresh"]').count() == 0
        assert page.locator("code[data-scene]").count() == 5
        assert not page.evaluate("document.documentElement.scrollWidth > innerWidth + 1")
        page.screenshot(path=str(artifacts_dir / f"import-committed-{width}.png"),
                        full_page=True)
        assert errors == []
    finally:
        context.close()
