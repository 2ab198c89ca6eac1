"""Times: stored as UTC (timezone-aware), shown in Asia/Shanghai."""
from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def local(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(SHANGHAI)


@lru_cache(maxsize=4096)
def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, as the API contract says. (Cached: a batch formats
    the same few times for thousands of messages and payloads; datetimes are immutable.)"""
    value = local(dt)
    return value.isoformat(timespec="seconds") if value else None


def cn_datetime(dt: datetime | None) -> str:
    """WeChat `time` field format: 2024年03月15日 14:00."""
    value = local(dt)
    return value.strftime("%Y年%m月%d日 %H:%M") if value else ""


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
