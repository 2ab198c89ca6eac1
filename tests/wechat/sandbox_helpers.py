"""Data builders and lookups shared by the WeChat tests."""
from __future__ import annotations


def cancelled_data(**overrides: str) -> dict:
    """Valid data for WECHAT_TPL_INTERVIEW_CANCELLED."""
    values = {"thing1": "Java后端工程师", "time2": "2024年03月15日 14:00",
              "thing3": "时间冲突", "thing4": "如有疑问请联系HR"}
    values.update(overrides)
    return {k: {"value": v} for k, v in values.items()}


def hr_alert_data(**overrides: str) -> dict:
    """Valid data for WECHAT_OA_TPL_HR_ALERT."""
    values = {"thing1": "候选人取消面试", "thing2": "张三", "time3": "2024年03月15日 14:00",
              "thing4": "时间冲突"}
    values.update(overrides)
    return {k: {"value": v} for k, v in values.items()}


def outbox_row(app, row_id: int):
    """A detached snapshot of an outbox row."""
    from app.extensions import db
    from app.models import OutboxMessage

    with app.app_context():
        row = db.session.get(OutboxMessage, row_id)
        db.session.expunge(row)
        return row
