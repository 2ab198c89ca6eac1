"""The audit viewer: who may read which entries, the filters, keyset pages, the export.

Who sees what (`visible`): users with the "audit" permission only. An admin sees every
entry. A recruiting manager sees
- the entries about objects in their departments: interviews (by the position's
  department), candidates with an interview there, positions and their sessions, HR users
  who belong to one of those departments, batch cancels made by such users;
- and every entry made by an HR user who belongs to one of their departments (whatever
  the object: a colleague's sign-ins, settings changes, exports).
Entries about nothing in a department and made by no one in it (an unknown username's
failed sign-in, a system job's webhook change) are for admins only.

Pages are keysets on the entry id (newest first): `before`/`after` an id, so a page deep
in a huge log costs what the first page costs and no page number can overflow.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, false, func, or_, select, true

from app.core.errors import Forbidden
from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.models import (
    ApiKey,
    AuditEntry,
    CancelBatch,
    Candidate,
    HrUser,
    Interview,
    InterviewSession,
    Position,
)
from app.models.hr import HrUserDepartment
from app.services.audit import labels
from app.services.users.actor import Actor

# Rows, not ORM objects: an export of the whole log must not fill the session's identity map.
ENTRY = select(*AuditEntry.__table__.c)
PER_PAGE = 50
EXPORT_CHUNK = 1000
MAX_TEXT = 64
ID_MAX = 2**31 - 1
ACTOR_TYPES = ("hr", "candidate", "system", "integration")


@dataclass(frozen=True)
class AuditFilters:
    actor_type: str | None = None      # hr / candidate / system / integration
    actor: str | None = None           # an HR user's username or name, a candidate's name
    action: str | None = None          # an action code (chosen by its label)
    object_type: str | None = None
    object_ref: str | None = None      # an id, or an interview number (AI-...)
    date_from: date | None = None      # Beijing days, both ends included
    date_to: date | None = None

    def args(self) -> dict:
        """The filters as query-string values (links keep them; exports record them)."""
        values = {"actor_type": self.actor_type, "actor": self.actor, "action": self.action,
                  "object_type": self.object_type, "object": self.object_ref,
                  "date_from": self.date_from.isoformat() if self.date_from else None,
                  "date_to": self.date_to.isoformat() if self.date_to else None}
        return {k: v for k, v in values.items() if v}


def audit_filters(*, actor_type=None, actor=None, action=None, object_type=None,
                  object_ref=None, date_from=None, date_to=None) -> AuditFilters:
    """Filters from user input: unknown choices and bad dates are dropped, texts bounded."""
    return AuditFilters(
        actor_type=actor_type if actor_type in ACTOR_TYPES else None,
        actor=_text(actor), action=action if action in labels.ACTION_LABELS else None,
        object_type=object_type if object_type in labels.OBJECT_TYPE_LABELS else None,
        object_ref=_text(object_ref), date_from=_day(date_from), date_to=_day(date_to))


def _text(value) -> str | None:
    return (str(value).strip()[:MAX_TEXT] or None) if value else None


def _day(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def page_bound(value) -> int | None:
    """A keyset bound from the query string; anything else (huge, negative, text): none."""
    try:
        number = int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and 0 < number <= ID_MAX else None


# --- who sees what ---------------------------------------------------------------------

def _require_audit(actor: Actor) -> None:
    if not actor.is_hr or not actor.can("audit"):
        raise Forbidden("您没有查看审计日志的权限")


def visible(actor: Actor):
    """The SQL condition over AuditEntry: the entries this user may read (module doc)."""
    _require_audit(actor)
    if actor.departments is None:
        return true()
    departments = sorted(actor.departments)
    if not departments:
        return false()
    colleagues = select(HrUserDepartment.user_id).where(
        HrUserDepartment.department.in_(departments))
    interviews = (select(Interview.id).join(Position, Position.id == Interview.position_id)
                  .where(Position.department.in_(departments)))
    candidates = (select(Interview.candidate_id)
                  .join(Position, Position.id == Interview.position_id)
                  .where(Position.department.in_(departments)))
    positions = select(Position.id).where(Position.department.in_(departments))
    sessions = select(InterviewSession.id).where(InterviewSession.position_id.in_(positions))
    batches = select(CancelBatch.id).where(CancelBatch.actor_id.in_(colleagues))
    about = {"interview": interviews, "candidate": candidates, "position": positions,
             "session": sessions, "hr_user": colleagues, "cancel_batch": batches}
    return or_(
        and_(AuditEntry.actor_type == "hr", AuditEntry.actor_id.in_(colleagues)),
        *(and_(AuditEntry.object_type == kind, AuditEntry.object_id.in_(ids))
          for kind, ids in about.items()))


def _conditions(actor: Actor, filters: AuditFilters) -> list:
    conditions = [visible(actor)]
    if filters.actor_type:
        conditions.append(AuditEntry.actor_type == filters.actor_type)
    if filters.actor:
        conditions.append(_actor_matches(filters.actor, filters.actor_type))
    if filters.action:
        conditions.append(AuditEntry.action == filters.action)
    if filters.object_type:
        conditions.append(AuditEntry.object_type == filters.object_type)
    if filters.object_ref:
        conditions.append(_object_matches(filters.object_ref, filters.object_type))
    if filters.date_from:
        conditions.append(AuditEntry.at >= _start_of(filters.date_from))
    if filters.date_to:
        conditions.append(AuditEntry.at < _start_of(filters.date_to + timedelta(days=1)))
    return conditions


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, SHANGHAI)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _actor_matches(text: str, actor_type: str | None):
    pattern = _like(text.lower())
    hr = and_(AuditEntry.actor_type == "hr", AuditEntry.actor_id.in_(
        select(HrUser.id).where(or_(func.lower(HrUser.username).like(pattern, escape="\\"),
                                    func.lower(HrUser.display_name).like(pattern,
                                                                         escape="\\")))))
    candidate = and_(AuditEntry.actor_type == "candidate", AuditEntry.actor_id.in_(
        select(Candidate.id).where(Candidate.name.like(_like(text), escape="\\"))))
    integration = and_(AuditEntry.actor_type == "integration", AuditEntry.actor_id.in_(
        select(ApiKey.id).where(or_(ApiKey.name.like(_like(text), escape="\\"),
                                    ApiKey.prefix == text))))
    return {"hr": hr, "candidate": candidate, "integration": integration,
            "system": false()}.get(actor_type or "", or_(hr, candidate, integration))


def _object_matches(text: str, object_type: str | None):
    """An id of the chosen type, or an interview number (or public id)."""
    interview = select(Interview.id).where(or_(Interview.number == text,
                                               Interview.public_id == text))
    by_number = and_(AuditEntry.object_type == "interview",
                     AuditEntry.object_id.in_(interview))
    number = page_bound(text)
    if number is None:
        return by_number
    by_id = AuditEntry.object_id == number
    if object_type is None or object_type == "interview":
        return or_(by_id, by_number)
    return by_id


# --- the page ------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str                         # 王招聘（HR用户） / 候选人 张三 / 系统（rule）
    ip: str | None
    action: str                        # the Chinese label
    action_code: str
    object: str                        # 面试 AI-2026-... / HR用户 zhaopin / 规则设置
    changes: list[labels.Change]
    details: list[tuple[str, str]]
    seq: int | None                    # None: not sealed yet

    @property
    def sealed(self) -> bool:
        return self.seq is not None

    def change_text(self) -> str:
        return "；".join(f"{c.field}：{c.before} → {c.after}" for c in self.changes)

    def detail_text(self) -> str:
        return "；".join(f"{k}：{v}" for k, v in self.details)


@dataclass
class AuditPage:
    rows: list[AuditRow] = field(default_factory=list)
    older: int | None = None           # `before` of the next (older) page
    newer: int | None = None           # `after` of the previous (newer) page


def list_entries(actor: Actor, filters: AuditFilters, *, before: int | None = None,
                 after: int | None = None, per_page: int = PER_PAGE) -> AuditPage:
    """One page of the entries this user may read, newest first."""
    conditions = _conditions(actor, filters)
    if after is not None:
        # The page just newer than `after`: read upwards, show newest first.
        entries = list(db.session.execute(
            ENTRY.where(*conditions, AuditEntry.id > after)
            .order_by(AuditEntry.id.asc()).limit(per_page + 1)))
        has_newer = len(entries) > per_page
        entries = list(reversed(entries[:per_page]))
        has_older = bool(entries) or after is not None
    else:
        statement = ENTRY.where(*conditions)
        if before is not None:
            statement = statement.where(AuditEntry.id < before)
        entries = list(db.session.execute(
            statement.order_by(AuditEntry.id.desc()).limit(per_page + 1)))
        has_older = len(entries) > per_page
        entries = entries[:per_page]
        has_newer = before is not None
    rows = _rows(entries)
    page = AuditPage(rows)
    if rows and has_older:
        page.older = rows[-1].id
    if rows and has_newer:
        page.newer = rows[0].id
    if not rows and after is not None:
        page.older = after + 1 if after < ID_MAX else None
    return page


def iter_entries(actor: Actor, filters: AuditFilters, chunk: int = EXPORT_CHUNK
                 ) -> Iterator[AuditRow]:
    """Every entry of these filters, newest first, read `chunk` at a time by keyset (an
    export of the whole log never holds it in memory)."""
    conditions = _conditions(actor, filters)
    before = None
    while True:
        statement = ENTRY.where(*conditions)
        if before is not None:
            statement = statement.where(AuditEntry.id < before)
        entries = list(db.session.execute(statement.order_by(AuditEntry.id.desc())
                                          .limit(chunk)))
        if not entries:
            return
        yield from _rows(entries)
        before = entries[-1].id
        if len(entries) < chunk:
            return


def _rows(entries: list) -> list[AuditRow]:
    names = _Names.load(entries)
    lookups = labels.Lookups.load()
    return [AuditRow(e.id, e.at, names.actor(e), e.ip, labels.action_label(e.action),
                     e.action, names.object(e), labels.changes(e.data, lookups),
                     labels.details(e.data, lookups), e.seq)
            for e in entries]


@dataclass
class _Names:
    """The names a page shows, read in one query per kind (no N+1)."""
    hr: dict[int, str]
    candidates: dict[int, str]
    keys: dict[int, str]
    interviews: dict[int, str]

    @classmethod
    def load(cls, entries: list) -> _Names:
        def ids(kind_of, kind):
            return {i for e in entries for t, i in kind_of(e) if t == kind and i is not None}

        def people(e):
            return [(e.actor_type, e.actor_id), (e.object_type, e.object_id)]

        hr_ids = ids(people, "hr") | ids(people, "hr_user")
        candidate_ids = ids(people, "candidate")
        key_ids = ids(people, "integration") | ids(people, "api_key")
        interview_ids = ids(people, "interview")
        return cls(
            _lookup(HrUser.id, HrUser.display_name, hr_ids),
            _lookup(Candidate.id, Candidate.name, candidate_ids),
            _lookup(ApiKey.id, ApiKey.name, key_ids),
            _lookup(Interview.id, Interview.number, interview_ids))

    def actor(self, entry) -> str:
        kind, who = entry.actor_type, entry.actor_id
        if kind == "hr":
            if who is None:
                return "HR用户（未知账号）"
            return f"{self.hr.get(who, f'#{who}')}（HR用户）"
        if kind == "candidate":
            return f"候选人 {self.candidates.get(who, f'#{who}')}"
        if kind == "integration":
            return f"接口密钥 {self.keys.get(who, f'#{who}')}"
        if kind == "system":
            rule = (entry.data or {}).get("rule")
            return f"系统（{labels.value_text('rule', rule)}）" if rule else "系统"
        return labels.actor_type_label(kind)

    def object(self, entry) -> str:
        kind, ref = entry.object_type, entry.object_id
        label = labels.object_type_label(kind)
        if ref is None:
            return label
        name = {"interview": self.interviews, "hr_user": self.hr,
                "candidate": self.candidates, "api_key": self.keys}.get(kind, {}).get(ref)
        if kind == "interview" and name is None:
            name = (entry.data or {}).get("number")
        return f"{label} {name}" if name else f"{label} #{ref}"


def _lookup(key_column, value_column, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(key_column, value_column)
                                   .where(key_column.in_(sorted(ids)))).all())


def actor_type_choices() -> list[tuple[str, str]]:
    return [(t, labels.actor_type_label(t)) for t in ACTOR_TYPES]


def object_type_choices() -> list[tuple[str, str]]:
    return sorted(labels.OBJECT_TYPE_LABELS.items(), key=lambda item: item[1])
