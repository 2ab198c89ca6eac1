"""`flask wechat sync-menu`: push the Official Account menu defined in code
(wechat_handlers.menu) after checking it against WeChat's limits; `--dry-run` prints it."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("wechat")
def wechat_cmd():
    """The Official Account: its menu."""


@wechat_cmd.command("sync-menu")
@click.option("--dry-run", is_flag=True, help="Print the menu without sending it.")
@with_appcontext
def sync_menu_cmd(dry_run: bool):
    """Create the OA menu (待我审批, 今日取消, 取消统计, 移动后台, 我的面试) through the API."""
    from wechatpy.exceptions import WeChatClientException

    from app.wechat.client import WeChatUnavailable, official_account_client
    from wechat_handlers import menu

    cfg = current_app.config
    body = menu.build(cfg["PUBLIC_BASE_URL"], cfg["WECHAT_MP_APPID"])
    problems = menu.validate(body)
    if problems:
        raise click.ClickException("menu breaks WeChat's limits: " + "; ".join(problems))
    if dry_run:
        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    client = official_account_client()
    try:
        client.call(lambda c: c.post("menu/create", data=body))
        current = client.call(lambda c: c.get("menu/get"))
    except WeChatClientException as exc:
        raise click.ClickException(f"WeChat refused the menu: {exc.errcode} {exc.errmsg}"
                                   ) from None
    except WeChatUnavailable as exc:
        raise click.ClickException(f"WeChat unreachable: {exc}") from None
    names = [b.get("name") for b in current.get("menu", {}).get("button", [])]
    click.echo(f"menu synced: {', '.join(names)}")
