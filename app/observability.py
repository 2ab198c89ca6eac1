"""The observability families of /metrics (issue 12 §7), read at scrape time:

    aiic_cancellations_total{initiator,state}        cancellations table
    aiic_wechat_errcodes{errcode,channel}            outbox rows' last WeChat errcode
    aiic_wechat_callbacks_total{app,outcome}         Redis counters (app.core.counters)
    aiic_job_runs_total{job,outcome}                 Redis counters (app.core.counters)
    aiic_job_last_run_started_timestamp_seconds{job}  job_runs
    aiic_job_last_run_finished_timestamp_seconds{job} job_runs
    aiic_job_last_run_ok{job}                         job_runs: 1 ok, 0 failed or stopped

Registered by app/metrics.py beside its own collectors (its access rules apply).
Traps: Redis unreachable leaves out the Redis families (logged), never the whole page;
other processes' counts arrive up to a second late (app.core.counters flushes each
process's counts within FLUSH_SECONDS; this process's are flushed before the read).
"""
from __future__ import annotations

import logging

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from app.core import counters
from app.queries import metrics as queries

log = logging.getLogger(__name__)


class ObservabilityCollector:
    def collect(self):
        cancellations = CounterMetricFamily(
            "aiic_cancellations", "Cancellations by initiator and current state",
            labels=["initiator", "state"])
        for (initiator, state), count in sorted(queries.cancellation_counts().items()):
            cancellations.add_metric([initiator, state], count)
        yield cancellations

        errcodes = GaugeMetricFamily(
            "aiic_wechat_errcodes", "Outbox messages whose last attempt got this errcode",
            labels=["errcode", "channel"])
        for (errcode, channel), count in sorted(queries.errcode_counts().items()):
            errcodes.add_metric([str(errcode), channel], count)
        yield errcodes

        yield from self._redis_counters()

        started = GaugeMetricFamily("aiic_job_last_run_started_timestamp_seconds",
                                    "When each job's last run started", labels=["job"])
        finished = GaugeMetricFamily("aiic_job_last_run_finished_timestamp_seconds",
                                     "When each job's last run ended", labels=["job"])
        ok = GaugeMetricFamily("aiic_job_last_run_ok",
                               "Whether each job's last run ended without error",
                               labels=["job"])
        for run in queries.job_last_runs():
            if run.started_at is not None:
                started.add_metric([run.job], run.started_at.timestamp())
            if run.finished_at is not None:
                finished.add_metric([run.job], run.finished_at.timestamp())
            if run.ok is not None:
                ok.add_metric([run.job], 1 if run.ok else 0)
        yield started
        yield finished
        yield ok

    @staticmethod
    def _redis_counters():
        families = (
            (counters.CALLBACKS, "aiic_wechat_callbacks",
             "WeChat callbacks by app and outcome", ["app", "outcome"]),
            (counters.JOB_RUNS, "aiic_job_runs", "Scheduled job runs by outcome",
             ["job", "outcome"]),
        )
        for family, name, documentation, labels in families:
            try:
                totals = counters.read(family)
            except Exception:
                log.warning("metrics: %s counters unreadable (Redis)", family, exc_info=True)
                continue
            metric = CounterMetricFamily(name, documentation, labels=labels)
            for label_values, count in sorted(totals.items()):
                if len(label_values) == len(labels):
                    metric.add_metric(list(label_values), count)
            yield metric
