"""GET /metrics: Prometheus text format, computed from the database at scrape time (so every
web process reports the same numbers).

Protected by METRICS_TOKEN (Authorization: Bearer), and/or answered only on a private
listener (METRICS_PRIVATE_PORT); production refuses to start with neither (config/checks.py).
Workers alive (app.jobs.heartbeat) are reported as aiic_workers_alive."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from app.queries.notifications.promise import promise_stats, status_counts

bp = Blueprint("metrics", __name__)


class OutboxCollector:
    def collect(self):
        counts = status_counts()
        by_status = GaugeMetricFamily("aiic_outbox_messages", "Outbox messages by status",
                                      labels=["status"])
        for status, count in sorted(counts.items()):
            by_status.add_metric([status], count)
        yield by_status
        stats = promise_stats()
        latency = GaugeMetricFamily(
            "aiic_notify_latency_seconds",
            "Commit-to-sent latency of candidate messages over the last 24 h",
            labels=["quantile"])
        for q, v in (("0.5", stats.p50_seconds), ("0.95", stats.p95_seconds),
                     ("0.99", stats.p99_seconds)):
            if v is not None:
                latency.add_metric([q], v)
        yield latency
        yield GaugeMetricFamily("aiic_notify_promise_seconds",
                                "The promise: candidates told within this many seconds",
                                value=stats.promise_minutes * 60)
        yield GaugeMetricFamily("aiic_notify_overdue_messages",
                                "Candidate messages not sent and past the promise",
                                value=len(stats.overdue))
        yield GaugeMetricFamily("aiic_notify_late_messages_24h",
                                "Candidate messages sent after the promise (last 24 h)",
                                value=stats.late)
        yield GaugeMetricFamily("aiic_notify_sent_messages_24h",
                                "Candidate messages sent (last 24 h)", value=stats.sent)


class WorkerCollector:
    def collect(self):
        from app.jobs.heartbeat import alive_workers

        yield GaugeMetricFamily("aiic_workers_alive",
                                "Workers that beat within the last minute",
                                value=len(alive_workers()))


@bp.get("/metrics")
def metrics():
    private_port = current_app.config.get("METRICS_PRIVATE_PORT")
    if private_port and request.environ.get("SERVER_PORT") != str(private_port):
        # Only on the private listener (gunicorn --bind 127.0.0.1:<port>): the public one
        # has no such page. The WSGI server sets SERVER_PORT to the listener's port.
        return Response("not found\n", status=404, mimetype="text/plain")
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return Response("unauthorized\n", status=401, mimetype="text/plain")
    registry = CollectorRegistry()
    registry.register(OutboxCollector())
    registry.register(WorkerCollector())
    from app.observability import ObservabilityCollector  # cancellations, callbacks, jobs

    registry.register(ObservabilityCollector())
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")
