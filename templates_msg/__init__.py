"""Message catalogue: one definition per message kind.

A definition knows its WeChat template (id from config), the field types of that template,
how to fill the fields from the message context, the page the message opens (with a
one-time open token), and plain text for channels without templates (SMS, e-mail).
"""
from templates_msg.catalogue import MESSAGE_KINDS, MessageKind, get_kind  # noqa: F401
from templates_msg.render import PlainMessage, RenderedMessage, render, render_plain  # noqa: F401
