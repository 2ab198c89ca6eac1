"""WeChat callbacks: Official Account and mini-program message push (/wechat/...).

views: the pipeline and the `on_event` registry; events: delivery, subscription and
follower handlers (modules that register more handlers are imported here too)."""
from flask import Blueprint

bp = Blueprint("wechat_handlers", __name__)

# events first: its follower handler runs before the HR binding's on subscribe
from wechat_handlers import events, hr, views  # noqa: E402,F401  (hr: binding, commands, menu)
