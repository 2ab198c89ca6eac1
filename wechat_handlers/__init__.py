"""WeChat callbacks: Official Account and mini-program message push (/wechat/...)."""
from flask import Blueprint

bp = Blueprint("wechat_handlers", __name__)

from wechat_handlers import views  # noqa: E402,F401
