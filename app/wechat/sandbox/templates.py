"""Templates and pages the sandbox apps have "registered" in their admin consoles.

Built-in templates take their ids from the app config at request time, so tests and
deployments that change the ids keep working. Tests may register more templates through
POST /_sandbox/wechat/templates (stored in Redis), e.g. one with every field type.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from app.wechat.sandbox import state
from app.wechat.sandbox.rules import FIELD_TYPES

# Pages of the released mini program version (a subscribe message's `page`).
RELEASED_PAGES = frozenset({
    "pages/interview/list",
    "pages/interview/detail",
    "pages/message/open",
    "pages/interview/reschedule",
})


@dataclass(frozen=True)
class Field:
    name: str    # data key, e.g. "thing1"
    type: str    # one of rules.FIELD_TYPES
    label: str   # the keyword's title in the admin console


@dataclass(frozen=True)
class Template:
    app: str     # "mp" (subscribe message) or "oa" (template message)
    template_id: str
    title: str
    fields: tuple[Field, ...]

    def as_dict(self) -> dict:
        return {"app": self.app, "template_id": self.template_id, "title": self.title,
                "fields": [{"name": f.name, "type": f.type, "label": f.label}
                           for f in self.fields]}


def _fields(*specs: tuple[str, str, str]) -> tuple[Field, ...]:
    return tuple(Field(*spec) for spec in specs)


# (config key holding the template id, title, fields)
BUILTIN = {
    "mp": (
        ("WECHAT_TPL_INTERVIEW_CANCELLED", "面试取消通知", _fields(
            ("thing1", "thing", "岗位名称"), ("time2", "time", "面试时间"),
            ("thing3", "thing", "取消原因"), ("thing4", "thing", "温馨提示"))),
        ("WECHAT_TPL_CANCEL_REQUEST", "取消申请审核结果", _fields(
            ("thing1", "thing", "岗位名称"), ("time2", "time", "面试时间"),
            ("phrase3", "phrase", "审核状态"), ("thing4", "thing", "备注"))),
        ("WECHAT_TPL_INTERVIEW_CHANGED", "面试变更通知", _fields(
            ("thing1", "thing", "岗位名称"), ("time2", "time", "原面试时间"),
            ("time3", "time", "新面试时间"), ("thing4", "thing", "备注"))),
        ("WECHAT_TPL_CONFIRM_REMINDER", "面试确认提醒", _fields(
            ("thing1", "thing", "岗位名称"), ("time2", "time", "面试时间"),
            ("time3", "time", "确认截止时间"), ("thing4", "thing", "温馨提示"))),
        ("WECHAT_TPL_SLOT_OFFER", "面试空档通知", _fields(
            ("thing1", "thing", "岗位名称"), ("time2", "time", "可预约时间"),
            ("thing3", "thing", "温馨提示"))),
    ),
    "oa": (
        ("WECHAT_OA_TPL_HR_ALERT", "待办事项提醒", _fields(
            ("thing1", "thing", "事项"), ("thing2", "thing", "候选人"),
            ("time3", "time", "时间"), ("thing4", "thing", "原因"))),
    ),
}


def _custom_key(app_name: str) -> str:
    return state.key("templates", app_name)


def templates(app_name: str) -> dict[str, Template]:
    """Every template of the app: built-ins (ids from config) plus test-registered ones."""
    found: dict[str, Template] = {}
    for config_key, title, fields in BUILTIN[app_name]:
        template_id = current_app.config.get(config_key)
        if template_id:
            found[template_id] = Template(app_name, template_id, title, fields)
    for raw in state.r().hgetall(_custom_key(app_name)).values():
        spec = state.load(raw)
        found[spec["template_id"]] = Template(
            app_name, spec["template_id"], spec["title"],
            tuple(Field(f["name"], f["type"], f.get("label", "")) for f in spec["fields"]))
    return found


def find(app_name: str, template_id: object) -> Template | None:
    if not isinstance(template_id, str) or not template_id:
        return None
    return templates(app_name).get(template_id)


def register(spec: dict) -> Template:
    """Add (or replace) a test template; raises ValueError when the spec is invalid."""
    app_name = spec.get("app")
    if app_name not in BUILTIN:
        raise ValueError('app must be "mp" or "oa"')
    template_id = spec.get("template_id")
    if not isinstance(template_id, str) or not template_id or len(template_id) > 64:
        raise ValueError("template_id must be a string of 1-64 characters")
    fields = spec.get("fields")
    if not isinstance(fields, list) or not fields:
        raise ValueError("fields must be a non-empty list of {name, type, label?}")
    clean = []
    for field in fields:
        if not isinstance(field, dict) or not isinstance(field.get("name"), str) \
                or field.get("type") not in FIELD_TYPES:
            raise ValueError("each field needs a name and a type among "
                             + ", ".join(FIELD_TYPES))
        clean.append({"name": field["name"], "type": field["type"],
                      "label": str(field.get("label", ""))})
    stored = {"template_id": template_id, "title": str(spec.get("title") or template_id),
              "fields": clean}
    state.r().hset(_custom_key(app_name), template_id, state.dump(stored))
    return find(app_name, template_id)


def clear_custom() -> None:
    for app_name in BUILTIN:
        state.r().delete(_custom_key(app_name))


def page_path(page: str) -> str:
    """The path part of a page (before '?'), without a leading slash."""
    return page.split("?", 1)[0].lstrip("/")


def page_released(page: str) -> bool:
    return page_path(page) in RELEASED_PAGES
