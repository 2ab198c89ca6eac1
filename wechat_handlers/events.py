"""Event handlers of the callback pipeline: delivery reports, subscription credits,
Official Account followers. (HR binding, menu and text commands: wechat_handlers/hr/ and
menu.py register their own handlers for the same events.)

- TEMPLATESENDJOBFINISH (oa) and subscribe_msg_sent_event (mp) -> outbox row status
  (receipts.record_delivery: only rows of that app and its WeChat channel).
- subscribe_msg_popup_event / subscribe_msg_change_event (mp) -> subscription credits.
- subscribe / unsubscribe (oa) -> follower status (followers.record_follow).

Traps: wechatpy's parse_message does not know the subscribe_msg_* events (they parse as
UnknownMessage): read the raw dict, whose `List` is a dict for one item and a list for
several (parsing.list_items). Each handler does a few quick writes: WeChat waits 5 s.
Deliveries log at DEBUG only: one INFO line per message sent cost a fifth of a
callback's CPU (bench/callbacks.py); the row itself records the result.
"""
from __future__ import annotations

import logging

from app.services.candidates import followers, subscriptions
from app.services.notifications import receipts as delivery
from wechat_handlers.parsing import list_items
from wechat_handlers.views import on_event

log = logging.getLogger(__name__)


def _create_time(raw: dict) -> int:
    try:
        return int(raw.get("CreateTime") or 0)
    except (TypeError, ValueError):
        return 0


# --- delivery -----------------------------------------------------------------------

# A delivery result only moves its row forward: running it twice changes nothing.
@on_event("oa", "templatesendjobfinish", idempotent=True)
def oa_template_finished(raw: dict, xml: str) -> None:
    status = str(raw.get("Status") or "")
    changed = delivery.record_delivery(
        app="oa", msgid=str(raw.get("MsgID")), openid=raw.get("FromUserName"),
        template_id=None, ok=status == "success", errcode=None, status_text=status)
    log.debug("oa delivery msgid=%s status=%s rows=%d", raw.get("MsgID"), status, changed)


@on_event("mp", "subscribe_msg_sent_event", idempotent=True)
def mp_subscribe_sent(raw: dict, xml: str) -> None:
    openid = raw.get("FromUserName")
    for item in list_items(raw, "SubscribeMsgSentEvent"):
        try:
            errcode = int(item.get("ErrorCode") or 0)
        except (TypeError, ValueError):
            errcode = -1
        status = str(item.get("ErrorStatus") or ("success" if errcode == 0 else ""))
        changed = delivery.record_delivery(
            app="mp", msgid=str(item.get("MsgID")), openid=openid,
            template_id=item.get("TemplateId"), ok=errcode == 0,
            errcode=None if errcode == 0 else errcode, status_text=status)
        log.debug("mp delivery msgid=%s errcode=%s rows=%d", item.get("MsgID"), errcode,
                  changed)


# --- subscription credits -----------------------------------------------------------

def _template_results(raw: dict, block: str) -> dict[str, str]:
    results = {}
    for item in list_items(raw, block):
        template_id = item.get("TemplateId")
        result = str(item.get("SubscribeStatusString") or "").lower()
        if isinstance(template_id, str) and 0 < len(template_id) <= 64 and result:
            results[template_id] = result
    return results


@on_event("mp", "subscribe_msg_popup_event")
def mp_subscribe_popup(raw: dict, xml: str) -> None:
    openid = raw.get("FromUserName")
    results = _template_results(raw, "SubscribeMsgPopupEvent")
    if isinstance(openid, str) and openid and results:
        granted = subscriptions.record_popup_events(openid, results)
        log.info("mp subscription popup: %d templates, %d credits", len(results), granted)


@on_event("mp", "subscribe_msg_change_event")
def mp_subscribe_change(raw: dict, xml: str) -> None:
    openid = raw.get("FromUserName")
    results = _template_results(raw, "SubscribeMsgChangeEvent")
    if isinstance(openid, str) and openid and results:
        subscriptions.record_setting_changes(openid, results)


# --- followers ----------------------------------------------------------------------

@on_event("oa", "subscribe")
def oa_follow(raw: dict, xml: str) -> None:
    openid = raw.get("FromUserName")
    if isinstance(openid, str) and openid:
        followers.record_follow(openid, followed=True, event_time=_create_time(raw))


@on_event("oa", "unsubscribe")
def oa_unfollow(raw: dict, xml: str) -> None:
    openid = raw.get("FromUserName")
    if isinstance(openid, str) and openid:
        followers.record_follow(openid, followed=False, event_time=_create_time(raw))
