"""GET /reports/cancellations (scope reports:read): the console's cancellation figures,
within the key's departments."""
from __future__ import annotations

from datetime import timedelta

from app.core.timeutil import local, utcnow
from tests.integration.conftest import BASE


def test_report_counts_the_cancellations_of_the_keys_departments(app, client, make_key,
                                                                 tech_and_sales, reasons):
    writer = make_key(scopes=("interviews:write",))
    for ref in ("ext-tech-1", "ext-sales-1"):
        r = client.post(f"{BASE}/interviews/{ref}/cancel", headers=writer.headers,
                        json={"reason_code": reasons.company})
        assert r.status_code == 200
    everyone = make_key(scopes=("reports:read",), name="bi")
    sales = make_key(scopes=("reports:read",), departments=("销售部",), name="sales-bi")
    day = local(utcnow()).date()
    today = day.isoformat()
    # (the interviews are tomorrow: the period reaches it, for the per-position figures)
    period = {"date_from": today, "date_to": (day + timedelta(days=1)).isoformat()}

    full = client.get(f"{BASE}/reports/cancellations", headers=everyone.headers,
                      query_string=period).get_json()
    assert full["total"] == 2 and full["per_day"] == [{"day": today, "count": 2}]
    assert full["by_initiator"] == {"company": 2}
    assert [(r["code"], r["count"]) for r in full["by_reason"]] == [(reasons.company, 2)]
    assert {p["department"]: (p["interviews"], p["cancelled"]) for p in full["positions"]} \
        == {"技术部": (1, 1), "销售部": (1, 1)}

    own = client.get(f"{BASE}/reports/cancellations", headers=sales.headers,
                     query_string=period).get_json()
    assert own["total"] == 1
    assert [p["department"] for p in own["positions"]] == ["销售部"]

    assert client.get(f"{BASE}/reports/cancellations",
                      headers=writer.headers).status_code == 403  # no reports:read
    bad = client.get(f"{BASE}/reports/cancellations", headers=everyone.headers,
                     query_string={"date_from": "2026-13-01"})
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "period_invalid"
