"""Data builders and lookups shared by the WeChat tests."""
from __future__ import annotations

ALL_TYPES = ("thing", "number", "letter", "symbol", "character_string", "time", "date",
             "amount", "phone_number", "car_number", "name", "phrase")
VALID = {
    "thing": "Java后端工程师", "number": "3.14", "letter": "abc", "symbol": "%",
    "character_string": "AI-2024-03-15-001", "time": "15:01", "date": "2019年10月1日",
    "amount": "¥100.00", "phone_number": "+86-13800138000", "car_number": "粤A12345",
    "name": "张三", "phrase": "已通过",
}

# (type, value, accepted): cases for each rule of WECHAT.md's field table
FIELD_CASES = [
    ("thing", "一" * 20, True),
    ("thing", "一" * 21, False),
    ("thing", "a" * 21, False),
    ("number", "1" * 32, True),
    ("number", "1" * 33, False),
    ("number", "12.50", True),
    ("number", "12a", False),
    ("letter", "a" * 32, True),
    ("letter", "a" * 33, False),
    ("letter", "abc1", False),
    ("symbol", "%$#@!", True),
    ("symbol", "%$#@!&", False),
    ("symbol", "a", False),
    ("character_string", "A1-" * 10 + "xy", True),
    ("character_string", "A1-" * 11, False),
    ("character_string", "中文", False),
    ("time", "15:01", True),
    ("time", "2019年10月1日 15:01", True),
    ("time", "2024年03月15日 14:00", True),
    ("time", "2019-10-01 15:01", True),
    ("time", "15:01~16:30", True),
    ("time", "2019年10月1日 15:01 ~ 2019年10月1日 16:01", True),
    ("time", "25:00", False),
    ("time", "3pm", False),
    ("time", "2019年10月1日", False),
    ("date", "2019年10月1日", True),
    ("date", "2019年10月1日 15:01", True),
    ("date", "2019年10月1日~2019年10月3日", True),
    ("date", "2019年13月1日", False),
    ("date", "15:01", False),
    ("amount", "¥100.00", True),
    ("amount", "100元", True),
    ("amount", "¥1234567890", True),
    ("amount", "¥12345678901", False),
    ("amount", "¥¥100", False),
    ("amount", "一百元", False),
    ("phone_number", "1" * 17, True),
    ("phone_number", "1" * 18, False),
    ("phone_number", "138abc", False),
    ("car_number", "粤A12345", True),
    ("car_number", "粤A1234学", True),
    ("car_number", "粤A1234567", False),
    ("name", "张" * 10, True),
    ("name", "张" * 11, False),
    ("name", "a" * 20, True),
    ("name", "a" * 21, False),
    ("name", "张a" * 5 + "b", False),   # mixed counts as Chinese: 11 > 10
    ("phrase", "审核通过", True),
    ("phrase", "一二三四五", True),
    ("phrase", "一二三四五六", False),
    ("phrase", "ok", False),
]


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
    from app.models import OutboxMessage
    from tests import factories

    return factories.detached(app, OutboxMessage, row_id)
