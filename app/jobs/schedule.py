"""The scheduled jobs, in one list. `flask worker` runs each on an APScheduler trigger;
each period ("turn") runs once across all workers (app.jobs.turns: a lock with expiry
holding a fencing token, the run recorded in job_runs under that token, the turn marked
done only when a run finished) and every job is idempotent anyway. A long job checks
app.core.fencing.should_stop() between chunks (superseded, or the worker stopping). Each
reads time from the `now` it is given, taken from the one injectable clock
(app.core.clock; operators and tests run a job at any clock with
`flask jobs run NAME --now ISO-8601`).

A job: `Job(name, every_seconds, description, run)`, `run(now: datetime) -> int` (how
many things it did). Optional: `daily_at="08:00"` (Asia/Shanghai) makes the turn a day
starting at that time, checked every `every_seconds` (a worker down at 08:00 still runs
it when it comes back that day); `lock_seconds` bounds one run (default: two periods,
at least 5 minutes).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from app.jobs.digest import DIGEST_FROM_TEXT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    every_seconds: int
    description: str
    run: Callable[[datetime], int]   # returns how many things it did
    daily_at: str | None = None      # "HH:MM" Asia/Shanghai: one turn a day from then
    lock_seconds: int | None = None  # how long one run may hold the job's lock


def _auto_cancel_unconfirmed(now: datetime | None) -> int:
    from app.services.cancellation import system

    return system.auto_cancel_unconfirmed(now)


def _confirm_reminders(now: datetime) -> int:
    from app.services.interviews import reminders

    return reminders.send_confirmation_reminders(now)


def _escalate_requests(now: datetime) -> int:
    from app.services.cancellation import escalation

    return escalation.escalate_pending(now)


def _settle_requests(now: datetime) -> int:
    from app.services.cancellation import escalation

    return escalation.settle_started(now)


def _seal_audit(now: datetime | None) -> int:
    from app.services.audit import seal

    return seal.seal_pending(now)


def _watchdogs(now: datetime) -> int:
    from app.jobs import watchdogs

    return watchdogs.run(now)


def _daily_digest(now: datetime) -> int:
    from app.jobs import digest

    return digest.run(now)


def _privacy(now: datetime) -> int:
    from app.jobs import privacy

    return privacy.run(now)


def _promises(now: datetime) -> int:
    from app.jobs import promises

    return promises.run(now)


def _backfill(now: datetime) -> int:
    from app.jobs import backfill

    return backfill.run(now)


def _oa_follower_unionids(now: datetime) -> int:
    from app.services.candidates import followers

    return followers.fill_unionids_from_wechat()


JOBS: tuple[Job, ...] = (
    Job("audit_seal", 10, "将新的审计记录按顺序加入哈希链（防篡改）", _seal_audit),
    Job("auto_cancel_unconfirmed", 60,
        "取消超过确认期限仍未确认的面试（原因：超时未确认），并通知候选人和招聘团队",
        _auto_cancel_unconfirmed),
    # confirmation reminders and requests nobody decided (issue 11 §2-3)
    Job("confirm_reminders", 60, "确认截止前提醒仍未确认的候选人确认参加（每个截止时间一次）",
        _confirm_reminders),
    Job("escalate_pending_requests", 60,
        "面试临近仍未审批的候选人取消申请，通知该部门的招聘经理（每个申请一次）",
        _escalate_requests),
    Job("settle_unanswered_requests", 60,
        "面试开始时仍未审批的取消申请，按规则由系统自动通过（取消面试）或驳回",
        _settle_requests),
    # watchdogs, digest, personal data (issue 11 §6-7)
    Job("watchdogs", 60, "通知超时、候选人无法触达、对接接口持续失败、渠道暂停：每种情况提醒HR一次",
        _watchdogs),
    Job("daily_digest", 300, f"每天{DIGEST_FROM_TEXT}起向各岗位招聘负责人发送昨日取消日报",
        _daily_digest, daily_at=DIGEST_FROM_TEXT),
    Job("privacy_lifecycle", 600,
        "到期的删除申请执行删除；流程结束超过保存期限的候选人个人信息匿名化", _privacy,
        lock_seconds=1800),
    # rescheduling promises and backfill (issue 11 §4-5)
    Job("reschedule_promises", 60,
        "公司取消并承诺重新安排的候选人：有空余名额时提供可选时段，到期前1个工作日提醒招聘负责人，"
        "逾期未安排记为未兑现", _promises),
    Job("backfill", 60,
        "候补补位：空出的名额按候补名单顺序邀约候选人，邀约过期或婉拒后邀约下一位", _backfill),
    # Official Account followers (issue 10 §2)
    Job("oa_follower_unionids", 60,
        "为新关注公众号的用户向微信查询 UnionID，用于把公众号模板消息发给已关注的候选人",
        _oa_follower_unionids),
)


def get_job(name: str) -> Job:
    for job in JOBS:
        if job.name == name:
            return job
    raise KeyError(name)


def run_due(worker_id: str, now: datetime | None = None) -> int:
    """Take every job's turn this worker wins now (inside an app context); returns how
    many things the jobs did. (The worker's scheduler calls turns.run_turn per job.)"""
    from app.jobs import turns

    done = 0
    for job in JOBS:
        outcome = turns.run_turn(job, worker_id, now=now)
        if outcome is not None and outcome.result:
            done += outcome.result
    return done
