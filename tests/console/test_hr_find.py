"""Find: text, status, date range, session, department, position, initiator; sorted by
time; always inside the user's scope; the query count does not grow with the rows."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from app.core.timeutil import SHANGHAI, local
from app.extensions import db
from app.models import HrUser, Interview, Position
from app.services import cancellation
from app.services.users.actor import Actor
from tests.factories import console_client

NUMBER_RE = re.compile(r">(AI-\d{4}-\d{2}-\d{2}-\d{3})</a>")


def _numbers(client, **args):
    r = client.get("/console/interviews", query_string=args)
    assert r.status_code == 200
    return NUMBER_RE.findall(r.get_data(as_text=True))


def _interviews(app, where=None):
    with app.app_context():
        stmt = select(Interview).join(Interview.position).order_by(Interview.scheduled_at)
        if where is not None:
            stmt = stmt.where(where)
        return [(iv.number, iv.session_id, iv.position.department, iv.position_id,
                 iv.scheduled_at, iv.public_id, iv.candidate_id)
                for iv in db.session.scalars(stmt)]


def test_scope_filters_and_sort(app, demo):
    everything = _interviews(app)
    admin = console_client(app, "admin")
    assert sorted(_numbers(admin)) == sorted(n for n, *_ in everything)
    # the specialist sees 技术部 and AI实验室 only, even when asking for 销售部
    specialist = console_client(app, "specialist")
    own = {n for n, _s, dept, *_ in everything if dept != "销售部"}
    assert set(_numbers(specialist)) == own
    assert _numbers(specialist, department="销售部") == []
    assert set(_numbers(admin, department="销售部")) == \
        {n for n, _s, dept, *_ in everything if dept == "销售部"}
    # session, position
    number, session_id, _dept, position_id, starts, *_ = everything[0]
    assert set(_numbers(admin, session_id=session_id)) == \
        {n for n, s, *_ in everything if s == session_id}
    assert set(_numbers(admin, position_id=position_id)) == \
        {n for n, _s, _d, p, *_ in everything if p == position_id}
    # date range (Asia/Shanghai days)
    day = local(starts).date()
    assert set(_numbers(admin, date_from=day.isoformat(), date_to=day.isoformat())) == \
        {n for n, _s, _d, _p, at, *_ in everything if local(at).date() == day}
    after = (day + timedelta(days=1)).isoformat()
    assert number not in _numbers(admin, date_from=after)
    # sort by time, both ways
    times = {n: at for n, _s, _d, _p, at, *_ in everything}
    ascending = _numbers(admin, sort="asc")
    assert [times[n] for n in ascending] == sorted(times[n] for n in ascending)
    descending = _numbers(admin)
    assert [times[n] for n in descending] == sorted((times[n] for n in descending),
                                                    reverse=True)
    # bad values are ignored, not errors
    assert _numbers(admin, date_from="not-a-date", session_id="x", initiator="nobody",
                    position_id="99999999999999999999")
    assert SHANGHAI  # times are shown and filtered in Asia/Shanghai


def test_filter_by_initiator(app, demo):
    rows = _interviews(app, Position.cancel_requires_review.is_(False))
    by_candidate, by_company = rows[0], rows[1]
    with app.app_context():
        cancellation.cancel_by_candidate(candidate_id=by_candidate[6],
                                         interview_public_id=by_candidate[5],
                                         reason_code="time_conflict")
        admin = db.session.scalars(select(HrUser).where(HrUser.username == "admin")).one()
        cancellation.cancel_by_hr(Actor.hr(admin), by_company[5], reason_code="position_filled")
    client = console_client(app, "admin")
    assert _numbers(client, initiator="candidate") == [by_candidate[0]]
    assert _numbers(client, initiator="hr") == [by_company[0]]
    assert _numbers(client, initiator="system") == []
    page = client.get("/console/interviews").get_data(as_text=True)
    assert "候选人取消" in page and "公司取消" in page


def test_a_broad_search_finds_the_same_rows_and_caps_its_count(app, demo, monkeypatch):
    """A fragment matching many interviews takes the OR plan: the same rows, in the same
    order, as the per-field id sets; its count stops at the cap and the list says so."""
    from app.queries.interviews import console as listing

    everything = _interviews(app)
    with app.app_context():
        numbers = sorted(n for n, *_ in everything)
        fragment = "AI-"   # every interview number starts with it
        assert not listing.is_broad_search(fragment)
        narrow = [r.interview.number for r in
                  listing.list_interviews(filters=listing.Filters(q=fragment),
                                          per_page=1000).rows]
        monkeypatch.setattr(listing, "BROAD_MATCHES", 3)
        assert listing.is_broad_search(fragment)
        broad = listing.list_interviews(filters=listing.Filters(q=fragment), per_page=1000)
        assert [r.interview.number for r in broad.rows] == narrow
        assert sorted(narrow) == numbers
        assert broad.capped and broad.total == 3   # counted only up to BROAD_MATCHES
        # a name fragment: the same set by either plan
        name = next(c["name"] for c in demo["candidates"])[:1]
        by_or = {r.interview.number for r in listing.list_interviews(
            filters=listing.Filters(q=name), per_page=1000).rows}
        monkeypatch.setattr(listing, "BROAD_MATCHES", 10 ** 6)
        by_union = {r.interview.number for r in listing.list_interviews(
            filters=listing.Filters(q=name), per_page=1000).rows}
        assert by_or == by_union and by_or
    monkeypatch.setattr(listing, "BROAD_MATCHES", 3)
    page = console_client(app, "admin").get("/console/interviews", query_string={"q": "AI-"})
    html = page.get_data(as_text=True)
    assert "超过 3 条" in html and 'data-testid="count-capped"' in html
    assert len(NUMBER_RE.findall(html)) == min(len(numbers), 20)


def test_a_title_broad_only_outside_the_users_departments_keeps_the_narrow_plan(
        app, demo, monkeypatch):
    """Whether a search is broad is judged in the user's departments: a title matching
    many interviews of 销售部 does not make the specialist's search (技术部, AI实验室)
    broad, which walked every interview to find none of theirs; the admin's is broad.
    Both find exactly the rows the narrow plan finds."""
    from app.queries.interviews import console as listing

    everything = _interviews(app)
    with app.app_context():
        sales = db.session.scalars(select(Position).where(Position.department == "销售部")
                                   ).first()
        title = sales.title
        specialist = Actor.hr(db.session.scalars(
            select(HrUser).where(HrUser.username == "specialist")).one())
        admin = Actor.hr(db.session.scalars(
            select(HrUser).where(HrUser.username == "admin")).one())
        in_sales = [n for n, _s, dept, pid, *_ in everything if pid == sales.id]
        monkeypatch.setattr(listing, "BROAD_MATCHES", max(1, len(in_sales) - 1))
        assert listing.text_plan(title, admin).broad
        assert not listing.text_plan(title, specialist).broad
        mine = listing.list_interviews(actor=specialist, filters=listing.Filters(q=title))
        assert [r.interview.number for r in mine.rows] == [] and not mine.capped
        found = {r.interview.number for r in listing.list_interviews(
            actor=admin, filters=listing.Filters(q=title), per_page=1000).rows}
        assert set(in_sales) <= found


def test_a_broad_name_search_matches_the_joined_name_and_counts_in_scope(
        app, demo, monkeypatch):
    """Many matching names: the name is matched on the joined candidate (no id set of
    them all); the rows, their order and the count are those of the narrow plan, in the
    user's scope."""
    from app.queries.interviews import console as listing

    with app.app_context():
        specialist = Actor.hr(db.session.scalars(
            select(HrUser).where(HrUser.username == "specialist")).one())
        names = [c["name"] for c in demo["candidates"]]
        fragment = max({ch for n in names for ch in n},
                       key=lambda ch: sum(ch in n for n in names))
        assert sum(fragment in n for n in names) > 1
        narrow = listing.list_interviews(actor=specialist, filters=listing.Filters(q=fragment),
                                         per_page=1000)
        assert narrow.rows and not listing.text_plan(fragment, specialist).broad
        monkeypatch.setattr(listing, "BROAD_MATCHES", 1)
        plan = listing.text_plan(fragment, specialist)
        assert plan.broad and plan.many_names
        broad = listing.list_interviews(actor=specialist, filters=listing.Filters(q=fragment),
                                        per_page=1000)
        assert [r.interview.number for r in broad.rows] == \
            [r.interview.number for r in narrow.rows]
        assert broad.capped == (narrow.total > 1) and broad.total == min(narrow.total, 1)


def test_the_initiator_filter_counts_up_to_the_cap_and_lists_the_same_rows(app, demo,
                                                                          monkeypatch):
    """公司取消 over every interview counted only up to the cap (its exact counts are the
    reports'); the rows and their order are those of the exact count."""
    from app.models import ActorType
    from app.queries.interviews import console as listing

    everything = _interviews(app)
    with app.app_context():
        admin = db.session.scalars(select(HrUser).where(HrUser.username == "admin")).one()
        for target in everything[:3]:
            cancellation.cancel_by_hr(Actor.hr(admin), target[5], reason_code="position_filled")
        actor = Actor.hr(admin)
        f = listing.Filters(initiator=ActorType.HR)
        exact = listing.list_interviews(actor=actor, filters=f, per_page=1000)
        assert exact.total == 3 and not exact.capped
        monkeypatch.setattr(listing, "BROAD_MATCHES", 2)
        capped = listing.list_interviews(actor=actor, filters=f, per_page=1000)
        assert capped.capped and capped.total == 2
        assert [r.interview.number for r in capped.rows][:2] == \
            [r.interview.number for r in exact.rows][:2]
