"""What people read in the audit log: every action code, actor type, object type and the
data keys written by app.services, in Chinese; reason codes by their labels (from the
cancel_reasons table, which each company edits), statuses by InterviewStatus's labels.

The one place for these labels (the interview page's trail and the audit viewer both use
it). tests/unit/test_audit_labels.py fails when an action code written anywhere in app/
has no label here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from app.extensions import db
from app.models import CancelReason, InterviewStatus
from app.models.hr import ROLE_LABELS, Role

ACTION_LABELS: dict[str, str] = {
    # interviews: cancelling, reviewing, attending
    "interview.cancelled": "取消面试",
    "interview.cancel_requested": "申请取消面试",
    "interview.cancel_level_approved": "一级审批通过",
    "interview.cancel_approved": "审批通过",
    "interview.cancel_rejected": "驳回取消申请",
    "interview.cancel_detail_requested": "要求补充说明",
    "interview.cancel_detail_answered": "候选人补充说明",
    "interview.cancel_request_escalated": "待审批申请上报招聘经理",
    "interview.confirmed": "确认参加面试",
    "interview.rescheduled": "改期",
    "interview.completed": "报告面试完成",
    "interview.no_show": "报告未到场",
    "interview.created": "新建面试",
    "interview.updated": "修改面试",
    "batch.created": "批量取消",
    "batch.finished": "批量取消完成",
    # positions, sessions, candidates (imports and the integration API)
    "position.created": "新建岗位",
    "position.updated": "修改岗位",
    "session.created": "新建面试场次",
    "session.updated": "修改面试场次",
    "candidate.created": "新建候选人",
    "candidate.updated": "修改候选人",
    "candidate.bound": "候选人绑定微信",
    "candidate.unbound": "解除微信绑定",
    "candidate.reinvited": "重新邀请候选人",
    "feedback.submitted": "候选人提交反馈",
    "import.validated": "导入试运行",
    "import.queued": "确认导入（后台执行）",
    "import.committed": "导入数据",
    "import.failed": "导入失败",
    # HR users and signing in
    "hr_user.signed_in": "登录控制台",
    "hr_user.signed_in_wechat": "从公众号登录移动后台",  # mobile console (OA web OAuth)
    "hr_user.sign_in_failed": "登录失败",
    "hr_user.signed_out": "退出登录",
    "hr_user.password_changed": "修改密码",
    "hr_user.created": "新建HR用户",
    "hr_user.updated": "修改HR用户",
    "hr_user.disabled": "停用HR用户",
    "hr_user.enabled": "启用HR用户",
    "hr_user.password_reset": "重置密码",
    "hr_user.login_unlocked": "解锁登录",
    "hr_user.wechat_unbound": "解除HR微信绑定",
    # HR in the Official Account (issue 10 §3-4): binding codes, binding, replies
    "hr_user.wechat_code_issued": "生成微信绑定码",
    "hr_user.wechat_bound": "绑定HR微信",
    "feedback.replied": "回复候选人反馈",
    "login_address.unlocked": "解锁登录地址",
    # watchdogs and personal data (issue 11 §6-7)
    "alert.opened": "系统提醒",
    "alert.cleared": "提醒已解除",
    "alert.acknowledged": "确认提醒",
    "candidate.anonymised": "匿名化个人信息",
    "candidate.data_exported": "候选人下载个人信息",
    "privacy.erasure_requested": "候选人申请删除个人信息",
    "settings.privacy_changed": "修改个人信息规则",
    # settings
    "settings.rules_changed": "修改规则",
    "settings.position_rules_changed": "修改岗位规则",
    "settings.reason_created": "新增取消原因",
    "settings.reason_updated": "修改取消原因",
    "settings.reason_retired": "停用取消原因",
    "settings.reason_reactivated": "重新启用取消原因",
    "settings.template_id_changed": "修改消息模板",
    "settings.template_test_sent": "发送测试消息",
    "settings.defaults_installed": "安装默认设置",
    "calendar.override_set": "设置工作日调整",
    "calendar.override_removed": "删除工作日调整",
    "webhook.created": "新增Webhook",
    "webhook.updated": "修改Webhook",
    "webhook.disabled": "停用Webhook",
    "webhook.enabled": "重新启用Webhook",
    "webhook.test_sent": "发送Webhook测试事件",
    "webhook.secret_rotated": "重置Webhook密钥",
    "webhook.failed_requeued": "重新投递失败事件",
    "api_key.created": "创建接口密钥",
    "api_key.revoked": "吊销接口密钥",
    # reading out
    "report.exported": "导出报表",
    "audit.exported": "导出审计日志",
    "audit.head_restored": "恢复审计链头记录",
    # rescheduling promises, waiting lists and slot offers (issue 11 §4-5)
    "promise.opened": "记录重新安排承诺",
    "promise.slots_offered": "向候选人提供可选时段",
    "promise.kept": "重新安排承诺已兑现",
    "promise.broken": "重新安排承诺未兑现",
    "promise.warned": "提醒HR重新安排即将逾期",
    "offer.accepted": "候选人接受面试邀约",
    "offer.declined": "候选人婉拒面试邀约",
    "offer.expired": "面试邀约已过期",
    "offer.taken": "面试邀约名额已被预约",
    "backfill.place_held": "为候补名单保留名额",
    "backfill.place_released": "释放候补保留名额",
    "backfill.offered": "向候补候选人发出邀约",
    "waitlist.added": "加入候补名单",
    "waitlist.moved": "调整候补顺序",
    "waitlist.removed": "移出候补名单",
}

ACTOR_TYPE_LABELS: dict[str, str] = {
    "hr": "HR用户", "candidate": "候选人", "system": "系统", "integration": "接口密钥",
}

OBJECT_TYPE_LABELS: dict[str, str] = {
    "interview": "面试", "candidate": "候选人", "hr_user": "HR用户", "position": "岗位",
    "session": "面试场次", "cancel_batch": "批量取消", "cancel_reason": "取消原因",
    "settings": "规则设置", "workday": "工作日", "webhook_endpoint": "Webhook",
    "api_key": "接口密钥", "import_job": "导入任务", "login_address": "登录地址",
    "outbox_message": "消息", "report": "报表", "audit_log": "审计日志",
    "alert": "系统提醒", "erasure_request": "删除申请",
    "reschedule_promise": "重新安排承诺", "slot_offer": "面试邀约", "waitlist_entry": "候补记录",
}

# System jobs name the rule they applied (data "rule", Actor.rule).
RULE_LABELS: dict[str, str] = {"auto_cancel_unconfirmed": "逾期未确认自动取消",
                               "webhook_auto_disable": "连续投递失败自动停用",
                               "audit_head_restore": "恢复审计链头记录",
                               "install_defaults": "安装默认原因与规则",
                               "watchdog": "系统监控提醒",
                               "privacy_retention": "超过保存期限自动匿名化",
                               "privacy_erasure_request": "按候选人申请删除",
                               "privacy_erasure_deadline": "删除申请到期，结束未完成的面试",
                               "reschedule_promise": "重新安排承诺",
                               "backfill": "候补补位",
                               "escalation_lead_hours": "临近面试未审批上报招聘经理",
                               "unanswered_request_at_start": "面试开始时未审批申请自动处理"}

FIELD_LABELS: dict[str, str] = {
    # the request that acted (issue 12 §7, app.core.request_context)
    "request_id": "请求编号",
    # rescheduling promises, waiting lists and slot offers (issue 11 §4-5)
    "interview_id": "面试", "kept_by_interview_id": "兑现的面试",
    # requests escalated to recruiting managers (issue 11 §3)
    "managers": "招聘经理", "lead_hours": "提前小时数",
    "session_ids": "场次", "place_id": "保留名额", "position_id": "岗位",
    "candidate_id": "候选人", "why": "原因", "direction": "方向", "rank": "候补顺序",
    "status": "状态", "reason": "原因", "reason_id": "原因", "note": "说明",
    "number": "面试编号", "cancellation_id": "取消记录", "batch_id": "批次",
    "comment": "审批意见", "level": "审批级别", "answer": "补充说明",
    "reschedule_by": "重新安排期限", "notified": "已通知", "rule": "规则",
    "criteria": "范围", "total": "总数", "cancelled": "已取消", "skipped": "跳过",
    "summaries": "汇总通知", "method": "方式", "wechat_account_id": "微信账号",
    "feedback_id": "反馈", "from_text": "原时间", "to_text": "新时间",
    "scheduled_at": "面试时间", "session_id": "场次", "username": "用户名",
    "display_name": "姓名", "role": "角色", "departments": "部门", "email": "电子邮箱",
    "active": "启用", "must_change_password": "需修改密码", "was_locked": "原已锁定",
    "address": "地址", "wechat_bound": "微信绑定", "hr_user_id": "HR用户",
    "day": "日期", "is_workday": "工作日", "override": "手工调整", "code": "代码",
    "label": "名称", "category": "类别", "actor": "适用方", "requires_note": "需填写说明",
    "sort_order": "排序", "note_max_length": "说明最多字数", "name": "名称", "url": "地址",
    "events": "事件", "automatic": "自动", "consecutive_failures": "连续失败次数",
    "previous_disabled_reason": "原停用原因", "external_id": "外部编号", "source": "来源",
    "title": "岗位名称", "department": "部门", "is_senior": "高级岗位",
    "scopes": "权限范围", "prefix": "密钥前缀", "expires_at": "有效期至",
    "filename": "文件名", "rows": "行数", "errors": "错误", "counts": "数量",
    "format": "格式", "filters": "筛选条件", "report": "报表", "kind": "类型",
    "template": "模板", "template_id": "模板ID", "reasons": "取消原因", "rules": "规则",
    "phone": "手机号", "level_name": "职级", "refused": "未登录原因",
    "last_delivery_id": "最后一次投递", "requeued_failed": "重新投递失败事件",
    "secret_rotated": "已重置密钥", "generated": "系统生成",
    # watchdogs and personal data (issue 11 §6-7)
    "trigger": "触发方式", "interviews": "面试数", "wechat_accounts": "微信账号数",
    "due_at": "处理期限", "retention_days": "保存期限（天）",
    "erasure_deadline_working_days": "删除申请处理期限（工作日）",
    "notice_version": "隐私政策版本号", "require_notice_version": "绑定时必须确认隐私政策",
    # HR in the Official Account (issue 10 §3-4)
    "via": "途径", "replaced_other_user": "原绑定的HR用户", "reply_id": "回复",
    "delivered": "已送达微信", "errcode": "微信错误码",
}

AFTER_DEADLINE_LABELS = {"refuse": "不允许取消", "request": "提交HR审批"}
SIGN_IN_REFUSED_LABELS = {"invalid_credentials": "用户名或密码错误", "locked": "登录已锁定",
                          "account_disabled": "账号已停用"}
BOOL_TEXT = {True: "是", False: "否"}
# How an HR user's WeChat binding was made or removed (issue 10 §3)
VIA_LABELS = {"code": "公众号发送绑定码", "qr_scene": "扫描绑定二维码",
              "oa_command": "公众号发送解绑", "self": "本人在后台解除",
              "rebound_code": "该微信改绑其他账号（绑定码）",
              "rebound_qr_scene": "该微信改绑其他账号（二维码）",
              "replaced_code": "改绑新的微信（绑定码）",
              "replaced_qr_scene": "改绑新的微信（二维码）"}
EMPTY = "（空）"
# Keys that describe the change itself (shown as before -> after, not as details).
CHANGE_KEYS = frozenset({"before", "after", "from", "to", "from_text", "to_text"})


def action_label(code: str | None) -> str:
    """取消面试, 审批通过 ... for an action code (an unknown code is marked as such)."""
    if not code:
        return ""
    return ACTION_LABELS.get(code) or f"其他操作（{code}）"


def actor_type_label(actor_type: str | None) -> str:
    return ACTOR_TYPE_LABELS.get(actor_type or "", actor_type or "")


def object_type_label(object_type: str | None) -> str:
    return OBJECT_TYPE_LABELS.get(object_type or "", object_type or "")


def field_label(key: str) -> str:
    from app.services.rules.store import LABELS as RULE_FIELD_LABELS

    return FIELD_LABELS.get(key) or RULE_FIELD_LABELS.get(key) or key


def action_choices() -> list[tuple[str, str]]:
    """(code, label) of every action, by label: the viewer's action filter."""
    return sorted(ACTION_LABELS.items(), key=lambda item: (item[1], item[0]))


@dataclass
class Lookups:
    """Labels that live in the database (cancel reasons), read once for a page."""
    reasons_by_code: dict[str, str] = field(default_factory=dict)
    reasons_by_id: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Lookups:
        """Every reason's label, retired ones too (a company has tens of them)."""
        rows = db.session.execute(select(CancelReason.id, CancelReason.code,
                                         CancelReason.label)).all()
        return cls({r.code: r.label for r in rows}, {r.id: r.label for r in rows})


def value_text(key: str, value, lookups: Lookups | None = None) -> str:
    """One data value as people read it: labels for statuses, reasons, roles, booleans."""
    lookups = lookups or Lookups()
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return BOOL_TEXT[value]
    if isinstance(value, dict):
        return "；".join(f"{field_label(k)}：{value_text(k, v, lookups)}"
                        for k, v in value.items()) or EMPTY
    if isinstance(value, list | tuple):
        return "、".join(value_text(key, v, lookups) for v in value) or EMPTY
    if key in ("status", "new_status", "old_status"):
        try:
            return InterviewStatus(value).label
        except ValueError:
            return str(value)
    if key == "reason":
        return lookups.reasons_by_code.get(str(value), str(value))
    if key == "reason_id":
        return lookups.reasons_by_id.get(value, str(value))
    if key == "role":
        try:
            return ROLE_LABELS[Role(value)]
        except ValueError:
            return str(value)
    if key == "after_deadline":
        return AFTER_DEADLINE_LABELS.get(value, str(value))
    if key == "rule":
        return RULE_LABELS.get(value, str(value))
    if key == "notified":
        return _recipient_text(str(value))
    if key == "refused":
        return SIGN_IN_REFUSED_LABELS.get(value, str(value))
    if key == "method":
        return {"invite": "邀请链接", "phone": "手机号"}.get(value, str(value))
    if key == "trigger":  # candidate.anonymised (issue 11 §7)
        return {"retention": "超过保存期限", "request": "候选人申请删除"}.get(value, str(value))
    if key == "kind":
        from app.models.alerts import ALERT_KINDS

        return ALERT_KINDS.get(str(value), str(value))
    if key == "via":
        return VIA_LABELS.get(value, str(value))
    return str(value)


def _recipient_text(item: str) -> str:
    from app.services.interviews.recipients import STAFF_ROLE_LABELS

    who = item.split(":", 1)[0]
    return STAFF_ROLE_LABELS.get(who) or {"hr_user": "HR", "candidate": "候选人"}.get(who, who)


@dataclass(frozen=True)
class Change:
    field: str       # the field's label
    before: str
    after: str


def changes(data: dict | None, lookups: Lookups | None = None) -> list[Change]:
    """The entry's before -> after, field by field, in words (reschedules: from -> to)."""
    data = data or {}
    before, after = data.get("before"), data.get("after")
    if isinstance(before, dict) or isinstance(after, dict):
        before, after = before or {}, after or {}
        keys = list(dict.fromkeys([*before, *after]))
        return [Change(field_label(k), value_text(k, before.get(k), lookups),
                       value_text(k, after.get(k), lookups))
                for k in keys if before.get(k) != after.get(k) or k in after]
    if "from_text" in data or "to_text" in data:
        return [Change("面试时间", data.get("from_text") or EMPTY, data.get("to_text") or EMPTY)]
    if before is not None or after is not None:
        return [Change("内容", value_text("", before, lookups), value_text("", after, lookups))]
    return []


def details(data: dict | None, lookups: Lookups | None = None) -> list[tuple[str, str]]:
    """The entry's other data (reason, note, number ...) as (label, text), empty ones left
    out."""
    return [(field_label(k), value_text(k, v, lookups)) for k, v in (data or {}).items()
            if k not in CHANGE_KEYS and v not in (None, "", [], {})]
