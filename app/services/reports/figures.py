"""The reports HR reads: who may read them, the period asked for, and the figures.

Reports need the "reports" permission (admins, recruiting managers and specialists;
not interviewers, who see only their own interviews) and show only the actor's
departments: every query narrows with interview_scope.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.core.errors import Forbidden, ValidationFailed
from app.core.timeutil import local, utcnow
from app.queries.reports import cancellations, notifications
from app.queries.reports.filters import DEFAULT_DAYS, MAX_DAYS, ReportFilters
from app.services.rules import get_rules
from app.services.users.actor import Actor

PERMISSION = "reports"


def authorize(actor: Actor) -> None:
    """Only roles with the reports permission read reports."""
    if not actor.can(PERMISSION):
        raise Forbidden("您没有查看报表的权限", code="reports_forbidden")


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{name}格式有误，请使用 年-月-日（如 2026-01-31）",
                               code="period_invalid", details={"field": name}) from None


def report_filters(date_from: str | None = None, date_to: str | None = None,
                   department: str | None = None, position_id: int | None = None,
                   today: date | None = None) -> ReportFilters:
    """The period (Asia/Shanghai days, both included; default the last 30 days), at most
    a year, from not after to."""
    today = today or local(utcnow()).date()
    start, end = _day(date_from, "开始日期"), _day(date_to, "结束日期")
    department = (department or "").strip()[:100] or None
    if start is None and end is None:
        return ReportFilters.last_days(today, DEFAULT_DAYS, department=department,
                                       position_id=position_id)
    end = end or max(start, today)
    start = start or ReportFilters.last_days(end, DEFAULT_DAYS).date_from
    if start > end:
        raise ValidationFailed("开始日期不能晚于结束日期", code="period_reversed")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed(f"统计周期最长 {MAX_DAYS} 天，请缩短日期范围",
                               code="period_too_long")
    return ReportFilters(start, end, department, position_id)


@dataclass
class CancellationReport:
    filters: ReportFilters
    per_day: dict[str, int]
    per_week: dict[str, int]
    by_reason: list[cancellations.ReasonCount]
    by_category: dict[str, int]
    by_initiator: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.per_day.values())


def cancellation_report(actor: Actor, filters: ReportFilters) -> CancellationReport:
    """Effective cancellations of the period: per day, per week, by reason, category
    and initiator."""
    authorize(actor)
    found = cancellations.summary(actor, filters)
    return CancellationReport(filters, found.per_day, found.per_week, found.by_reason,
                              found.by_category, found.by_initiator)


@dataclass
class PositionReport:
    filters: ReportFilters
    positions: list[cancellations.PositionRate]
    alert_percent: int

    @property
    def interviews(self) -> int:
        return sum(p.interviews for p in self.positions)

    @property
    def cancelled(self) -> int:
        return sum(p.cancelled for p in self.positions)

    @property
    def overall_rate(self) -> float:
        return self.cancelled / self.interviews if self.interviews else 0.0

    def flagged(self, position: cancellations.PositionRate) -> bool:
        """Above the rule cancel_rate_alert_percent."""
        return position.interviews > 0 and position.rate * 100 > self.alert_percent


def position_report(actor: Actor, filters: ReportFilters) -> PositionReport:
    """Per position: interviews of the period, how many are cancelled, the rate against
    the overall rate; positions above the alert rule flagged."""
    authorize(actor)
    return PositionReport(filters, cancellations.per_position(actor, filters),
                          get_rules().cancel_rate_alert_percent)


UNREACHABLE_SHOWN = 200


@dataclass
class NotificationReport:
    filters: ReportFilters
    channels: list[notifications.ChannelFunnel]
    total: notifications.ChannelFunnel
    promise: notifications.Promise
    unreachable: list[notifications.Unreachable]


def notification_report(actor: Actor, filters: ReportFilters, now: datetime | None = None,
                        unreachable_limit: int | None = UNREACHABLE_SHOWN
                        ) -> NotificationReport:
    """Messages of the period: the funnel per channel, time to notify and to open, the
    notification promise kept, and the candidates nobody could reach."""
    authorize(actor)
    found = {}

    def unreachable():
        found["unreachable"] = notifications.unreachable(actor, filters, unreachable_limit)

    channels, total, kept = notifications.funnel(
        actor, filters, get_rules().notify_promise_minutes, now or utcnow(),
        while_waiting=unreachable)
    return NotificationReport(filters, channels, total, kept, found["unreachable"])
