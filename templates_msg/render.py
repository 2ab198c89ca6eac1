"""Build the WeChat payload of one message from its kind and context."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from templates_msg import fields
from templates_msg.catalogue import MOBILE_PAGES, get_kind


@dataclass(frozen=True)
class RenderedMessage:
    template_id: str
    data: dict            # {"thing1": {"value": "..."}}
    page: str             # page path with the open token
    text: str             # SMS / e-mail body
    # An OA template message to staff opens this web page (the mobile console) instead
    # of the mini program; None for every other message.
    url: str | None = None


@dataclass(frozen=True)
class PlainMessage:
    subject: str          # e-mail subject
    text: str             # e-mail body / SMS text
    sms_params: list[str]  # positional parameters of the approved SMS template


SMS_PARAM_MAX = fields.SMS_PARAM_MAX  # Tencent Cloud SMS: characters per template variable

# The variables of each kind's approved SMS template, in order ({1}, {2}, ...): a
# context key and how it is fitted (fields.sms_time / fields.sms_text, or
# fields.sms_title: the position title takes TWO variables, {2}{3}, written together in
# the template). Kinds not listed use SMS_DEFAULT. The README's SMS table lists the same
# order per kind.
SMS_DEFAULT = (("candidate_name", "text"), ("position_title", "title"),
               ("scheduled_at", "time"), ("reason_label", "text"))
SMS_PARAMS: dict[str, tuple[tuple[str, str], ...]] = {
    "candidate_rescheduled": (("candidate_name", "text"), ("position_title", "title"),
                              ("previous_scheduled_at", "time"), ("scheduled_at", "time")),
    "candidate_confirm_reminder": (("candidate_name", "text"), ("position_title", "title"),
                                   ("scheduled_at", "time"), ("confirm_by", "time")),
    "candidate_slot_offer": (("candidate_name", "text"), ("position_title", "title"),
                             ("slot_starts_at", "time")),
}


def sms_params(kind_code: str, ctx: dict) -> list[str]:
    """The SMS template variables of a message, each within the provider's rule."""
    params = []
    for key, how in SMS_PARAMS.get(kind_code, SMS_DEFAULT):
        value = ctx.get(key)
        if how == "title":
            params.extend(fields.sms_title(value or ""))
        elif how == "time":
            params.append(fields.sms_time(value if isinstance(value, datetime) else None))
        else:
            params.append(fields.sms_text(value or ""))
    return params


def _context(context: dict) -> dict:
    ctx = dict(context)
    for key, value in context.items():  # ISO times -> datetime, plus a Chinese text form
        if key.endswith(("_at", "_by")) and isinstance(value, str) and value:
            ctx[key] = datetime.fromisoformat(value)
            ctx[key + "_text"] = fields.time(ctx[key])
    return ctx


def render_plain(kind_code: str, context: dict, *, open_url: str | None = None) -> PlainMessage:
    """SMS and e-mail text of a message kind."""
    from templates_msg.catalogue import TITLES

    kind = get_kind(kind_code)
    ctx = _context(context)
    text = fields.clean(kind.text(ctx))
    if open_url:
        text += f" 查看详情：{open_url}"
    return PlainMessage(subject=TITLES.get(kind_code, "AI面试通知"), text=text,
                        sms_params=sms_params(kind_code, ctx))


def render(kind_code: str, context: dict, *, app: str, config, open_token: str | None
           ) -> RenderedMessage:
    """Render for `app` ("mp" subscribe message or "oa" template message).

    WeChat's rules since 2023 hold for both: every fact goes into the template's typed
    keyword fields (fitted to their type: thing at most 20 characters, ...), each given as
    {"value": ...} only: no first/remark fields and no colour."""
    kind = get_kind(kind_code)
    template_key = kind.mp_template_key if app == "mp" else kind.oa_template_key
    if template_key is None:
        raise ValueError(f"message kind {kind_code} has no template for app {app}")
    ctx = _context(context)
    use_oa = app == "oa" and kind.oa_fields is not None
    raw = (kind.oa_values if use_oa else kind.values)(ctx)
    data = {}
    for field, ftype in (kind.oa_fields if use_oa else kind.fields).items():
        data[field] = {"value": fields.FITTERS[ftype](raw[field])}
    page = kind.page + (f"?t={open_token}" if open_token else "")
    mobile_page = MOBILE_PAGES.get(kind_code) if app == "oa" else None
    url = (str(config.get("PUBLIC_BASE_URL") or "").rstrip("/") + mobile_page(ctx)
           if mobile_page else None)
    return RenderedMessage(template_id=config[template_key], data=data, page=page,
                           text=fields.clean(kind.text(ctx)), url=url)
