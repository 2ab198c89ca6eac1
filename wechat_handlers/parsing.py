"""Reading WeChat's callback XML: one safe parser, list items, the dedupe identity.

Traps:
- WeChat never sends a DTD, a comment or an entity declaration. Any `<!` other than
  `<![CDATA[` is refused before a parser sees it: expat would otherwise expand internal
  entities (a "billion laughs" body is a few hundred bytes), and wechatpy parses the
  envelope and `parse_message` parses the plaintext with their own calls.
- `List` in subscribe_msg_* events is a dict for one item and a list for several.
- The dedupe identity of an event without MsgID is FromUserName + CreateTime + Event
  (WeChat's own advice) plus its EventKey and List items (two popup taps can share a
  second); a delivery event is identified by its MsgID(s).
"""
from __future__ import annotations

import hashlib
import re
from xml.etree import ElementTree

# `<!` that does not open a CDATA section: DOCTYPE, ENTITY, comments.
_MARKUP_DECLARATION = re.compile(rb"<!(?!\[CDATA\[)")

LIST_BLOCKS = ("SubscribeMsgSentEvent", "SubscribeMsgPopupEvent", "SubscribeMsgChangeEvent")


class UnsafeXml(ValueError):
    """The body is not XML as WeChat sends it."""


def refuse_declarations(data: bytes | str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    if _MARKUP_DECLARATION.search(raw):
        raise UnsafeXml("markup declaration in callback body")


def _element(node: ElementTree.Element):
    """xmltodict's shape of one element (WeChat's XML has no attributes): children as a
    dict, a repeated child as a list, a leaf as its stripped text or None."""
    children = list(node)
    if not children:
        text = (node.text or "").strip()
        return text or None
    out: dict = {}
    for child in children:
        value = _element(child)
        if child.tag not in out:
            out[child.tag] = value
        elif isinstance(out[child.tag], list):
            out[child.tag].append(value)
        else:
            out[child.tag] = [out[child.tag], value]
    return out


def parse_xml(data: bytes | str) -> dict:
    """The `<xml>` root of a callback body as a dict (the shape xmltodict gives); UnsafeXml
    when it is anything else. (ElementTree: twice as fast as xmltodict on the hot path;
    declarations are refused before, so no entity is ever expanded.)"""
    refuse_declarations(data)
    try:
        node = ElementTree.fromstring(data)
    except (ElementTree.ParseError, ValueError) as exc:  # expat errors, wrong encodings
        raise UnsafeXml("unparsable callback body") from exc
    root = _element(node) if node.tag == "xml" else None
    if not isinstance(root, dict):
        raise UnsafeXml("callback body has no <xml> root with fields")
    return root


def list_items(raw: dict, block: str | None = None) -> list[dict]:
    """The List items of a subscribe_msg_* event (of `block`, else of the first present)."""
    for name in (block,) if block else LIST_BLOCKS:
        value = raw.get(name)
        if isinstance(value, dict):
            items = value.get("List")
            if isinstance(items, dict):
                return [items]
            if isinstance(items, list):
                return [i for i in items if isinstance(i, dict)]
    return []


def dedupe_id(raw: dict) -> str:
    """MsgId for messages; MsgID(s) for delivery events; else FromUserName+CreateTime+Event."""
    if raw.get("MsgId"):
        return f"msg:{raw['MsgId']}"
    event = str(raw.get("Event") or "").lower()
    msgids = [str(raw["MsgID"])] if raw.get("MsgID") else []
    msgids += [str(i["MsgID"]) for i in list_items(raw) if i.get("MsgID")]
    if msgids:
        return f"evt:{event}:{','.join(msgids)}"
    # Two taps on the subscription popup within one second are two events: their items
    # (and a menu event's key) belong to the identity.
    detail = ",".join(f"{i.get('TemplateId')}={i.get('SubscribeStatusString')}"
                      for i in list_items(raw))
    return (f"evt:{raw.get('FromUserName')}:{raw.get('CreateTime')}:{event}:"
            f"{raw.get('EventKey') or ''}:{hashlib.sha1(detail.encode()).hexdigest()[:12]}")
