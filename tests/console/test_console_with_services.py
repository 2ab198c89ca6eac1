"""The console shows what the real cancel service wrote (demo data, candidate cancels)."""
from __future__ import annotations

from app.services.cancellation import cancel_by_candidate


def test_candidate_cancellation_appears_in_console(app, client, demo, login):
    target = next(c for c in demo["candidates"] if not c["position_review"])
    with app.app_context():
        cancel_by_candidate(candidate_id=target["id"],
                            interview_public_id=target["interview_ids"][0],
                            reason_code="time_conflict")
    assert login(client, "admin", demo["password"]).status_code == 302

    listing = client.get("/console/interviews?status=cancelled").get_data(as_text=True)
    assert target["name"] in listing and "已取消" in listing and "时间冲突" in listing
    assert "排队中" in listing and "HR" in listing

    detail = client.get(f"/console/interviews/{target['interview_ids'][0]}")
    html = detail.get_data(as_text=True)
    assert detail.status_code == 200
    # People read the action by its label, never by its code.
    assert "取消面试" in html and "interview.cancelled" not in html
    assert "原因：时间冲突" in html and "状态：待确认 → 已取消" in html
    assert "张专员" in html and "李经理" in html and "赵面试官" in html  # staff recipients
    assert "已生效" in html
