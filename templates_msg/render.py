"""Build the WeChat payload of one message from its kind and context."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from templates_msg import fields
from templates_msg.catalogue import get_kind


@dataclass(frozen=True)
class RenderedMessage:
    template_id: str
    data: dict            # {"thing1": {"value": "..."}}
    page: str             # page path with the open token
    text: str             # SMS / e-mail body


def render(kind_code: str, context: dict, *, app: str, config, open_token: str | None
           ) -> RenderedMessage:
    """Render for `app` ("mp" subscribe message or "oa" template message)."""
    kind = get_kind(kind_code)
    template_key = kind.mp_template_key if app == "mp" else kind.oa_template_key
    if template_key is None:
        raise ValueError(f"message kind {kind_code} has no template for app {app}")
    ctx = dict(context)
    for key, value in context.items():  # ISO times -> datetime, plus a Chinese text form
        if key.endswith("_at") and isinstance(value, str) and value:
            ctx[key] = datetime.fromisoformat(value)
            ctx[key + "_text"] = fields.time(ctx[key])
    raw = kind.values(ctx)
    data = {}
    for field, ftype in kind.fields.items():
        data[field] = {"value": fields.FITTERS[ftype](raw[field])}
    page = kind.page + (f"?t={open_token}" if open_token else "")
    return RenderedMessage(template_id=config[template_key], data=data, page=page,
                           text=fields.clean(kind.text(ctx)))
