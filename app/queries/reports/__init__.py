"""Read side of the reports: figures computed in SQL (GROUP BY), narrowed to the actor's
scope with interview_scope, for a period of Asia/Shanghai days."""
from app.queries.reports.filters import ReportFilters  # noqa: F401
