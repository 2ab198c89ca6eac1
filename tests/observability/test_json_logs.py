"""Structured logs (issue 12 §7): with LOG_FORMAT=json (production's default) each log
line is one JSON object (time in UTC, level, logger, message, the request id inside a
request or the one the call passes, the worker's fields), and the redaction of H7's
record factory still holds in that output."""
from __future__ import annotations

import io
import json
import logging
import re

import pytest

from app.core import json_logs
from config import settings
from config.settings import ConfigError


@pytest.fixture
def json_lines():
    """A logger writing JSON lines to a buffer: (logger, lines())."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(json_logs.JsonFormatter())
    logger = logging.getLogger("tests.observability.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_each_line_is_one_json_object_with_utc_time_level_logger_and_message(json_lines):
    logger, lines = json_lines
    logger.warning("outbox row %s: 面试已取消 %s", 12, "AI-2026-12-01-001")
    [line] = lines()
    assert line["level"] == "WARNING" and line["logger"] == "tests.observability.json"
    assert line["message"] == "outbox row 12: 面试已取消 AI-2026-12-01-001"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert "request_id" not in line  # outside a request, none is made up


def test_a_line_logged_in_a_request_carries_its_request_id(app, json_lines):
    logger, lines = json_lines
    with app.test_request_context("/api/mp/v1/interviews", headers={"X-Request-Id": "rq-77"}):
        logger.info("in a request")
    assert lines()[0]["request_id"] == "rq-77"


def test_the_fields_a_call_passes_are_written_and_win_over_the_request(app, json_lines):
    logger, lines = json_lines
    with app.test_request_context("/", headers={"X-Request-Id": "web-1"}):
        logger.info("sent", extra=json_logs.log_fields(
            request_id="from-row-5", worker_id="w-abc", outbox_id=5, interview_id=9,
            channel="subscribe", status="sent", errcode=None))
    line = lines()[0]
    assert (line["request_id"], line["worker_id"], line["outbox_id"], line["interview_id"],
            line["channel"], line["status"]) == ("from-row-5", "w-abc", 5, 9, "subscribe",
                                                 "sent")
    assert "errcode" not in line
    with pytest.raises(ValueError):
        json_logs.log_fields(phone="13800138000")  # only the known context fields


def test_a_secret_stays_redacted_in_json_output(app, json_lines):
    logger, lines = json_lines
    secret = app.config["WECHAT_MP_SECRET"]
    logger.info("GET https://api.weixin.qq.com/cgi-bin/token?access_token=ACCESS123456 %s",
                secret)
    try:
        raise RuntimeError(f"refused with Bearer aiik_live_0123456789 and {secret}")
    except RuntimeError:
        logger.exception("send failed")
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines())
    assert secret not in text and "ACCESS123456" not in text and "aiik_live" not in text
    first, second = lines()
    assert "access_token=[REDACTED]" in first["message"]
    assert "Traceback" in second["exc_info"] and "[REDACTED]" in second["exc_info"]
    # a string passed in `extra` (set after the record factory ran) is redacted here
    logger.info("x", extra={"request_id": f"id-{secret}"})
    assert secret not in json.dumps(lines()[-1])


def test_production_logs_json_by_default_and_elsewhere_text(monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert settings.ProductionConfig().LOG_FORMAT == "json"
    assert settings.TestingConfig().LOG_FORMAT == "text"
    monkeypatch.setenv("LOG_FORMAT", "TEXT")
    assert settings.ProductionConfig().LOG_FORMAT == "text"


def test_create_app_puts_json_on_the_root_stream_handler_only(make_app):
    root = logging.getLogger()
    buffer = io.StringIO()
    ours = logging.StreamHandler(buffer)
    before = {h: h.formatter for h in root.handlers}
    # pytest's capture handlers (StreamHandler subclasses) and any other kind
    hosts = {h: f for h, f in before.items() if type(h) is not logging.StreamHandler}
    root.addHandler(ours)
    try:
        application = make_app(LOG_FORMAT="json")
        assert isinstance(ours.formatter, json_logs.JsonFormatter)
        assert {h: h.formatter for h in hosts} == hosts  # they keep their format
        with application.test_request_context("/", headers={"X-Request-Id": "boot-1"}):
            logging.getLogger("app.test").warning("token=%s", "abcdef123456")
        [line] = [json.loads(x) for x in buffer.getvalue().splitlines()
                  if '"app.test"' in x]
        assert line["request_id"] == "boot-1" and line["message"] == "token=[REDACTED]"
    finally:
        root.removeHandler(ours)
        for handler, formatter in before.items():  # the process's stderr handler too
            handler.setFormatter(formatter)


def test_an_unknown_log_format_refuses_to_start(make_app):
    with pytest.raises(ConfigError, match="LOG_FORMAT must be json or text"):
        make_app(LOG_FORMAT="xml")
