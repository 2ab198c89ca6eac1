"""WeChat callbacks: Official Account and mini-program message push (/wechat/...).

views: the pipeline and the `on_event` registry; events: delivery, subscription and
follower handlers (modules that register more handlers are imported here too)."""
from flask import Blueprint

bp = Blueprint("wechat_handlers", __name__)

from wechat_handlers import events, views  # noqa: E402,F401
from wechat_handlers import hr  # noqa: E402,F401  (HR binding, commands, menu clicks)
