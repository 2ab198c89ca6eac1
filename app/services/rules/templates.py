"""WeChat template ids, per template: stored in the settings table (HR edits them), falling
back to the configured value (config/settings.py, WECHAT_TPL_* and WECHAT_OA_TPL_*).

A message kind (templates_msg.catalogue) names the config key of the mini-program
subscribe template and of the Official Account template it is sent with; several kinds
share one template (the field layout is the template's). Every lookup reads the settings
row, so a changed id is used at once by every process for new messages.
"""
from __future__ import annotations

import re
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass

from flask import current_app

from app.core.errors import ValidationFailed
from app.extensions import db
from app.models import Setting
from app.services import audit
from app.services.rules.store import require_settings
from templates_msg.catalogue import MESSAGE_KINDS, TITLES

SETTINGS_KEY = "wechat_template_ids"
TEMPLATE_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")

# Every template the catalogue uses: config key -> (app, what it is called in the
# WeChat admin console).
TEMPLATES = {
    "WECHAT_TPL_INTERVIEW_CANCELLED": ("mp", "面试取消通知"),
    "WECHAT_TPL_CANCEL_REQUEST": ("mp", "取消申请审核结果"),
    "WECHAT_TPL_INTERVIEW_CHANGED": ("mp", "面试变更通知"),
    "WECHAT_TPL_CONFIRM_REMINDER": ("mp", "面试确认提醒"),
    "WECHAT_TPL_SLOT_OFFER": ("mp", "面试空档通知"),
    "WECHAT_OA_TPL_HR_ALERT": ("oa", "待办事项提醒（公众号）"),
}
APP_LABELS = {"mp": "小程序订阅消息", "oa": "公众号模板消息"}


def _stored() -> dict:
    row = db.session.get(Setting, SETTINGS_KEY)
    return dict(row.value or {}) if row is not None else {}


def effective_ids() -> dict[str, str]:
    """Every template's id in force: HR's value, else the configured one."""
    cfg = current_app.config
    stored = _stored()
    return {key: stored.get(key) or cfg.get(key) for key in TEMPLATES}


def template_id(config_key: str) -> str:
    """The id in force for one template (config key)."""
    return _stored().get(config_key) or current_app.config[config_key]


def config_with_overrides(config: Mapping) -> Mapping:
    """`config` with HR's template ids in front (what templates_msg.render reads)."""
    return ChainMap({k: v for k, v in _stored().items() if v}, config)


@dataclass(frozen=True)
class TemplateRow:
    key: str
    app: str
    title: str
    template_id: str
    configured_id: str | None
    overridden: bool
    kinds: tuple[str, ...]       # message kinds sent with it (their Chinese titles)


@dataclass(frozen=True)
class KindRow:
    code: str
    title: str
    audience: str                # 候选人 / HR
    mp: TemplateRow | None
    oa: TemplateRow | None

    @property
    def testable(self) -> bool:
        """A test goes to an HR user's Official Account openid: only OA templates."""
        return self.oa is not None


def overview(actor) -> tuple[list[TemplateRow], list[KindRow]]:
    """The templates with their ids in force, and every message kind with the templates
    it is sent with (admins)."""
    require_settings(actor)
    cfg = current_app.config
    stored = _stored()
    users: dict[str, list[str]] = {key: [] for key in TEMPLATES}
    for kind in MESSAGE_KINDS.values():
        for key in (kind.mp_template_key, kind.oa_template_key):
            if key:
                users[key].append(TITLES.get(kind.code, kind.code))
    templates = {key: TemplateRow(key, app, title, stored.get(key) or cfg.get(key) or "",
                                  cfg.get(key), bool(stored.get(key)),
                                  tuple(dict.fromkeys(users[key])))
                 for key, (app, title) in TEMPLATES.items()}
    kinds = [KindRow(kind.code, TITLES.get(kind.code, kind.code),
                     "候选人" if kind.audience == "candidate" else "HR",
                     templates.get(kind.mp_template_key), templates.get(kind.oa_template_key))
             for kind in MESSAGE_KINDS.values()]
    kinds.sort(key=lambda k: (k.audience != "候选人", k.code))
    return list(templates.values()), kinds


def set_template_id(actor, config_key: str, value: str | None, *, ip: str | None = None
                    ) -> str:
    """An admin sets a template's id (empty: back to the configured one); new messages use
    it at once. Returns the id now in force."""
    require_settings(actor)
    if config_key not in TEMPLATES:
        raise ValidationFailed("未知的消息模板", code="unknown_template",
                               details={"field": "key"})
    value = (value or "").strip()
    if value and not TEMPLATE_ID_RE.fullmatch(value):
        raise ValidationFailed("模板ID只能由英文字母、数字、- 和 _ 组成，最多64个字符"
                               "（在微信公众平台“订阅消息/模板消息”中复制）",
                               code="template_id_invalid", details={"field": "template_id"})
    before = template_id(config_key)
    row = db.session.get(Setting, SETTINGS_KEY, with_for_update=True)
    if row is None:
        row = Setting(key=SETTINGS_KEY, value={})
        db.session.add(row)
    stored = dict(row.value or {})
    if value and value != current_app.config.get(config_key):
        stored[config_key] = value
    else:
        stored.pop(config_key, None)
    after = stored.get(config_key) or current_app.config.get(config_key)
    if after == before and stored == (row.value or {}):
        db.session.rollback()
        return after
    row.value = stored
    row.updated_by = actor.id
    audit.record(actor_type="hr", actor_id=actor.id, action="settings.template_id_changed",
                 object_type="settings", object_id=None, ip=ip,
                 data={"template": config_key, "before": before, "after": after})
    db.session.commit()
    return after
