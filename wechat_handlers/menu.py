"""The Official Account's custom menu, defined here and pushed by `flask wechat sync-menu`
(with server configuration enabled WeChat only takes a menu through the API).

HR工作台: 待我审批, 今日取消, 取消统计 (click: the bound user's scope, answered by
wechat_handlers.hr.clicks) and 移动后台 (view: the mobile console, which sends the user
through OA web OAuth); 我的面试 opens the candidates' mini program.

`validate` checks WECHAT.md's limits before anything is sent: 1-3 top-level buttons,
1-5 sub-buttons each, names at most 16 bytes, keys at most 128 bytes, http(s) URLs.
"""
from __future__ import annotations

KEY_PENDING = "HR_PENDING_APPROVALS"
KEY_TODAY = "HR_TODAY_CANCELLED"
KEY_STATS = "HR_CANCEL_STATS"
CLICK_KEYS = (KEY_PENDING, KEY_TODAY, KEY_STATS)
MOBILE_CONSOLE_PATH = "/console/m/"
MINI_PROGRAM_PAGE = "pages/interview/list"

MAX_TOP = 3
MAX_SUB = 5
MAX_NAME_BYTES = 16
MAX_KEY_BYTES = 128
MAX_URL_BYTES = 1024


def build(public_base_url: str, mp_appid: str) -> dict:
    """The menu as WeChat's menu/create takes it."""
    base = public_base_url.rstrip("/")
    return {"button": [
        {"name": "HR工作台", "sub_button": [
            {"type": "click", "name": "待我审批", "key": KEY_PENDING},
            {"type": "click", "name": "今日取消", "key": KEY_TODAY},
            {"type": "click", "name": "取消统计", "key": KEY_STATS},
            {"type": "view", "name": "移动后台", "url": base + MOBILE_CONSOLE_PATH},
        ]},
        {"type": "miniprogram", "name": "我的面试", "url": base + "/",
         "appid": mp_appid, "pagepath": MINI_PROGRAM_PAGE},
    ]}


def _leaf_problems(button: dict, where: str) -> list[str]:
    problems = []
    kind = button.get("type")
    if kind == "click":
        key = button.get("key")
        if not isinstance(key, str) or not key or len(key.encode()) > MAX_KEY_BYTES:
            problems.append(f"{where}: key must be 1-{MAX_KEY_BYTES} bytes")
    elif kind in ("view", "miniprogram"):
        url = button.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) \
                or len(url.encode()) > MAX_URL_BYTES:
            problems.append(f"{where}: url must be http(s) and at most {MAX_URL_BYTES} bytes")
        if kind == "miniprogram" and not (button.get("appid") and button.get("pagepath")):
            problems.append(f"{where}: a miniprogram button needs appid and pagepath")
    else:
        problems.append(f"{where}: unsupported button type {kind!r}")
    return problems


def _name_problems(button: dict, where: str) -> list[str]:
    name = button.get("name")
    if not isinstance(name, str) or not name or len(name.encode()) > MAX_NAME_BYTES:
        return [f"{where}: name must be 1-{MAX_NAME_BYTES} bytes (UTF-8)"]
    return []


def validate(menu: dict) -> list[str]:
    """Every way `menu` breaks WeChat's limits (empty: it may be pushed)."""
    buttons = menu.get("button") if isinstance(menu, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_TOP:
        return [f"the menu needs 1-{MAX_TOP} top-level buttons"]
    problems = []
    for i, button in enumerate(buttons, 1):
        where = f"button {i}"
        problems += _name_problems(button, where)
        subs = button.get("sub_button")
        if subs is None:
            problems += _leaf_problems(button, where)
            continue
        if not isinstance(subs, list) or not 1 <= len(subs) <= MAX_SUB:
            problems.append(f"{where}: needs 1-{MAX_SUB} sub-buttons")
            continue
        for j, sub in enumerate(subs, 1):
            problems += _name_problems(sub, f"{where}.{j}")
            problems += _leaf_problems(sub, f"{where}.{j}")
    return problems
