"""Upserts by external id: every field's validation, scope, idempotence, closed interviews."""
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.core import crypto
from app.core.errors import Forbidden
from app.core.timeutil import SHANGHAI
from app.extensions import db
from app.models import (
    ActorType,
    AuditEntry,
    Candidate,
    HrUser,
    Interview,
    InterviewSession,
    InterviewStatus,
    InviteToken,
    OutboxMessage,
    Position,
    Role,
)
from app.services.integration import upsert
from app.services.integration.upsert import (
    InterviewClosed,
    OutOfScope,
    SessionFull,
    UpsertInvalid,
)
from app.services.users.actor import Actor
from tests import factories

POSITION = {"external_id": "P-1", "title": "Java后端开发工程师", "department": "技术部",
            "level": "P5"}
SESSION = {"external_id": "S-1", "position_external_id": "P-1",
           "starts_at": "2027-03-15 14:00", "ends_at": "2027-03-15T16:00:00+08:00",
           "capacity": 2}
CANDIDATE = {"external_id": "C-1", "name": "张三", "phone": "+86 138-0013-8000",
             "email": "zhangsan@example.com"}
INTERVIEW = {"external_id": "I-1", "candidate_external_id": "C-1",
             "position_external_id": "P-1", "session_external_id": "S-1",
             "scheduled_at": "2027-03-15 14:30"}


def errors_of(clean, data):
    with pytest.raises(UpsertInvalid) as info:
        clean(data)
    return {e["field"]: e["code"] for e in info.value.details["errors"]}


# --- pure validation: one case per rule -----------------------------------------------------

@pytest.mark.parametrize("change, field, code", [
    ({"external_id": ""}, "external_id", "external_id_required"),
    ({"external_id": "P 1"}, "external_id", "external_id_invalid"),
    ({"external_id": "x" * 65}, "external_id", "external_id_too_long"),
    ({"title": "  "}, "title", "title_required"),
    ({"title": "长" * 101}, "title", "title_too_long"),
    ({"department": None}, "department", "department_required"),
    ({"level": "L" * 33}, "level", "level_too_long"),
    ({"is_senior": "也许"}, "is_senior", "is_senior_invalid"),
    ({"cancel_requires_review": 2}, "cancel_requires_review", "cancel_requires_review_invalid"),
])
def test_position_field_rules(change, field, code):
    assert errors_of(upsert.clean_position, {**POSITION, **change}) == {field: code}


@pytest.mark.parametrize("word, value", [("是", True), ("否", False), ("TRUE", True),
                                         ("0", False), (True, True), ("", None)])
def test_position_flags_accept_chinese_and_english_words(word, value):
    assert upsert.clean_position({**POSITION, "is_senior": word})["is_senior"] is value


def test_every_bad_field_is_reported_at_once_with_chinese_messages():
    with pytest.raises(UpsertInvalid) as info:
        upsert.clean_position({"external_id": "", "title": "", "department": "", "level": ""})
    exc = info.value
    assert [e["field"] for e in exc.details["errors"]] == ["external_id", "title",
                                                           "department", "level"]
    assert exc.code == "external_id_required" and exc.details["field"] == "external_id"
    assert exc.message == "请填写岗位编号" and exc.status == 422


@pytest.mark.parametrize("change, field, code", [
    ({"position_external_id": ""}, "position_external_id", "position_external_id_required"),
    ({"starts_at": "明天下午"}, "starts_at", "starts_at_invalid"),
    ({"ends_at": None}, "ends_at", "ends_at_required"),
    ({"ends_at": "2027-03-15 13:00"}, "ends_at", "ends_at_before_start"),
    ({"capacity": "十"}, "capacity", "capacity_invalid"),
    ({"capacity": 0}, "capacity", "capacity_out_of_range"),
    ({"capacity": 10001}, "capacity", "capacity_out_of_range"),
    ({"capacity": 2.5}, "capacity", "capacity_invalid"),
])
def test_session_field_rules(change, field, code):
    assert errors_of(upsert.clean_session, {**SESSION, **change}) == {field: code}


def test_times_without_offset_are_beijing_time():
    values = upsert.clean_session({**SESSION, "starts_at": "2027/03/15 14:00",
                                   "capacity": "3"})
    assert values["starts_at"] == datetime(2027, 3, 15, 6, 0, tzinfo=UTC)
    assert values["ends_at"] == datetime(2027, 3, 15, 8, 0, tzinfo=UTC)
    assert values["capacity"] == 3
    naive_cell = upsert.parse_time(datetime(2027, 3, 15, 14, 0))  # an XLSX cell
    assert naive_cell == datetime(2027, 3, 15, 14, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize("change, field, code", [
    ({"name": ""}, "name", "name_required"),
    ({"name": "名" * 65}, "name", "name_too_long"),
    ({"phone": ""}, "phone", "phone_required"),
    ({"phone": "12800138000"}, "phone", "phone_invalid"),
    ({"phone": "1380013800"}, "phone", "phone_invalid"),
    ({"phone": "010-62345678"}, "phone", "phone_invalid"),
    ({"email": "zhangsan.example.com"}, "email", "email_invalid"),
])
def test_candidate_field_rules(change, field, code):
    assert errors_of(upsert.clean_candidate, {**CANDIDATE, **change}) == {field: code}


def test_candidate_phone_is_normalised_and_a_number_cell_is_read():
    assert upsert.clean_candidate(CANDIDATE)["phone"] == "13800138000"
    assert upsert.clean_candidate({**CANDIDATE, "phone": 13900139000.0})["phone"] == \
        "13900139000"
    assert upsert.clean_candidate({**CANDIDATE, "email": ""})["email"] is None


@pytest.mark.parametrize("change, field, code", [
    ({"candidate_external_id": None}, "candidate_external_id",
     "candidate_external_id_required"),
    ({"session_external_id": "S 1"}, "session_external_id", "session_external_id_invalid"),
    ({"scheduled_at": ""}, "scheduled_at", "scheduled_at_required"),
    ({"scheduled_at": "2027-13-01 10:00"}, "scheduled_at", "scheduled_at_invalid"),
    ({"duration_minutes": 4}, "duration_minutes", "duration_minutes_out_of_range"),
    ({"duration_minutes": "半小时"}, "duration_minutes", "duration_minutes_invalid"),
    ({"join_url": "javascript:alert(1)"}, "join_url", "join_url_invalid"),
    ({"confirm_by": "2027-03-16 10:00"}, "confirm_by", "confirm_by_after_start"),
    ({"number": "N" * 33}, "number", "number_too_long"),
])
def test_interview_field_rules(change, field, code):
    assert errors_of(upsert.clean_interview, {**INTERVIEW, **change}) == {field: code}


# --- with the database ----------------------------------------------------------------------

def hr(app, username, role, departments):
    user_id = factories.hr_user(app, username, role=role, departments=departments)
    with app.app_context():
        return Actor.hr(db.session.get(HrUser, user_id))


def load_all(actor):
    results = [upsert.upsert_position(POSITION, actor=actor),
               upsert.upsert_session(SESSION, actor=actor),
               upsert.upsert_candidate(CANDIDATE, actor=actor),
               upsert.upsert_interview(INTERVIEW, actor=actor)]
    db.session.commit()
    return results


def test_creates_everything_once_and_again_is_no_change(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        first = load_all(actor)
        assert [r.created for r in first] == [True] * 4
        interview = first[3].obj
        assert interview.number == "AI-2027-03-15-001"
        assert interview.scheduled_at == datetime(2027, 3, 15, 6, 30, tzinfo=UTC)
        assert interview.status == InterviewStatus.SCHEDULED
        assert interview.duration_minutes == 30
        candidate = first[2].obj
        assert candidate.phone == "13800138000"
        assert candidate.phone_encrypted and "13800138000" not in candidate.phone_encrypted
        invite = first[2].invite
        assert invite.scene == invite.token and len(invite.scene) <= 32
        assert invite.token in invite.link
        assert db.session.scalar(select(InviteToken.candidate_id).where(
            InviteToken.token_hash == crypto.token_hash(invite.token))) == candidate.id
        assert db.session.get(InterviewSession, first[1].obj.id).booked == 1
        audit_count = db.session.scalar(select(func.count()).select_from(AuditEntry))
        assert audit_count == 4
    with app.app_context():
        again = load_all(actor)
        assert [(r.created, r.changed, r.invite) for r in again] == [(False, False, None)] * 4
        for model in (Position, InterviewSession, Candidate, Interview, InviteToken):
            assert db.session.scalar(select(func.count()).select_from(model)) == 1
        assert db.session.scalar(select(InterviewSession.booked)) == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 4


def test_update_reports_changed_fields_and_audits_before_after(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        load_all(actor)
        result = upsert.upsert_position({**POSITION, "title": "高级Java工程师",
                                         "is_senior": "是"}, actor=actor)
        db.session.commit()
        assert result.changed and set(result.fields) == {"title", "is_senior"}
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.action == "position.updated"
        assert entry.data["before"] == {"title": "Java后端开发工程师", "is_senior": False}
        assert entry.data["after"] == {"title": "高级Java工程师", "is_senior": True}
        phone = upsert.upsert_candidate({**CANDIDATE, "phone": "13900139000"}, actor=actor)
        db.session.commit()
        assert phone.fields == ("phone",)
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert entry.data["after"] == {"phone": "139****9000"}  # never the number itself


def test_generated_numbers_follow_the_day_count(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        load_all(actor)
        upsert.upsert_interview({**INTERVIEW, "external_id": "I-2", "number": ""},
                                actor=actor)
        other = upsert.upsert_interview({**INTERVIEW, "external_id": "I-3",
                                         "session_external_id": "",
                                         "scheduled_at": "2027-03-16T09:00:00+08:00"},
                                        actor=actor)
        db.session.commit()
        numbers = db.session.scalars(select(Interview.number).order_by(Interview.id)).all()
        assert numbers == ["AI-2027-03-15-001", "AI-2027-03-15-002", "AI-2027-03-16-001"]
        assert other.obj.session_id is None


def test_references_must_exist(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        with pytest.raises(UpsertInvalid) as info:
            upsert.upsert_session(SESSION, actor=actor)
        assert info.value.code == "position_external_id_not_found"
        upsert.upsert_position(POSITION, actor=actor)
        upsert.upsert_session(SESSION, actor=actor)
        with pytest.raises(UpsertInvalid) as info:
            upsert.upsert_interview(INTERVIEW, actor=actor)
        assert info.value.details["field"] == "candidate_external_id"
        upsert.upsert_candidate(CANDIDATE, actor=actor)
        for change, field, code in [
            ({"session_external_id": "S-9"}, "session_external_id",
             "session_external_id_not_found"),
            ({"scheduled_at": "2027-03-15 17:00"}, "scheduled_at",
             "scheduled_at_outside_session"),
            ({"interviewer_username": "nobody"}, "interviewer_username",
             "interviewer_username_not_found"),
        ]:
            with pytest.raises(UpsertInvalid) as info:
                upsert.upsert_interview({**INTERVIEW, **change}, actor=actor)
            assert (info.value.details["field"], info.value.code) == (field, code)


def test_every_missing_reference_is_reported_at_once(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        with pytest.raises(UpsertInvalid) as info:
            upsert.upsert_interview({**INTERVIEW, "interviewer_username": "nobody"},
                                    actor=actor)
        assert [e["code"] for e in info.value.details["errors"]] == [
            "candidate_external_id_not_found", "position_external_id_not_found",
            "session_external_id_not_found", "interviewer_username_not_found"]


def test_a_new_interview_in_the_past_is_refused(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        load_all(actor)
        with pytest.raises(UpsertInvalid) as info:
            upsert.upsert_interview({**INTERVIEW, "external_id": "I-2",
                                     "session_external_id": "",
                                     "scheduled_at": "2020-01-01 10:00"}, actor=actor)
        assert (info.value.details["field"], info.value.code) == ("scheduled_at",
                                                                  "scheduled_at_past")


def test_session_of_another_position_and_full_sessions_are_refused(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        load_all(actor)
        upsert.upsert_position({**POSITION, "external_id": "P-2"}, actor=actor)
        with pytest.raises(UpsertInvalid) as info:
            upsert.upsert_interview({**INTERVIEW, "external_id": "I-2",
                                     "position_external_id": "P-2"}, actor=actor)
        assert info.value.code == "session_position_mismatch"
        upsert.upsert_interview({**INTERVIEW, "external_id": "I-2"}, actor=actor)  # 2 of 2
        with pytest.raises(SessionFull):
            upsert.upsert_interview({**INTERVIEW, "external_id": "I-3"}, actor=actor)
        with pytest.raises(UpsertInvalid) as info:
            upsert.upsert_session({**SESSION, "capacity": 1}, actor=actor)
        assert info.value.code == "capacity_below_booked"


def test_number_must_be_unique(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        load_all(actor)
        with pytest.raises(UpsertInvalid) as info:
            upsert.upsert_interview({**INTERVIEW, "external_id": "I-2",
                                     "number": "AI-2027-03-15-001"}, actor=actor)
        assert info.value.code == "number_taken"


@pytest.mark.parametrize("status", [InterviewStatus.CANCELLED, InterviewStatus.COMPLETED,
                                    InterviewStatus.CANCEL_PENDING])
def test_a_closed_interview_is_never_resurrected(app, status):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        load_all(actor)
        db.session.execute(Interview.__table__.update().values(status=status.value))
        db.session.commit()
        same = upsert.upsert_interview(INTERVIEW, actor=actor)
        assert not same.changed  # the same data again is fine
        with pytest.raises(InterviewClosed) as info:
            upsert.upsert_interview({**INTERVIEW, "scheduled_at": "2027-03-15 15:00"},
                                    actor=actor)
        assert info.value.status == 409
        db.session.rollback()
        assert db.session.scalar(select(Interview.status)) == status


def test_moving_a_confirmed_interview_needs_a_new_confirmation(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        load_all(actor)
        interview = db.session.scalars(select(Interview)).one()
        interview.confirm(datetime.now(UTC))
        db.session.commit()
        result = upsert.upsert_interview({**INTERVIEW, "scheduled_at": "2027-03-15 15:00"},
                                         actor=actor)
        db.session.commit()
        assert result.fields == ("scheduled_at",)
        assert result.obj.status == InterviewStatus.SCHEDULED and result.obj.confirmed_at is None
        told = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.recipient_type == "candidate")).all()
        assert [m.event.split(":")[0] for m in told] == ["interview.rescheduled"]
        assert told[0].interview_id == result.obj.id


def test_department_scope(app):
    sales = hr(app, "sales_mgr", Role.RECRUITING_MANAGER, ("销售部",))
    tech = hr(app, "tech_mgr", Role.RECRUITING_MANAGER, ("技术部",))
    specialist = hr(app, "tech_sp", Role.RECRUITING_SPECIALIST, ("技术部",))
    with app.app_context():
        with pytest.raises(OutOfScope):
            upsert.upsert_position(POSITION, actor=sales)
        with pytest.raises(Forbidden):
            upsert.upsert_position(POSITION, actor=specialist)  # no permission
        load_all(tech)
        # Moving a position into a department one does not see, or out of one.
        with pytest.raises(OutOfScope):
            upsert.upsert_position({**POSITION, "department": "销售部"}, actor=tech)
        with pytest.raises(OutOfScope):
            upsert.upsert_position({**POSITION, "department": "销售部"}, actor=sales)
        with pytest.raises(OutOfScope):
            upsert.upsert_session(SESSION, actor=sales)
        with pytest.raises(OutOfScope):  # the candidate's interviews are in 技术部
            upsert.upsert_candidate({**CANDIDATE, "name": "李四"}, actor=sales)
        api_key = Actor(type=ActorType.INTEGRATION, id=1,
                        permissions=frozenset({"batch_cancel"}),
                        departments=frozenset({"销售部"}))
        with pytest.raises(OutOfScope):
            upsert.upsert_interview(INTERVIEW, actor=api_key)


def test_save_commits_and_a_failure_rolls_back(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        upsert.save_position(POSITION, actor=actor)
        with pytest.raises(UpsertInvalid):
            upsert.save_session({**SESSION, "capacity": 0}, actor=actor)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Position)) == 1
        assert db.session.scalar(select(func.count()).select_from(InterviewSession)) == 0


def test_confirm_by_is_kept(app):
    actor = hr(app, "boss", Role.ADMIN, ())
    with app.app_context():
        load_all(actor)
        result = upsert.upsert_interview({**INTERVIEW, "confirm_by": "2027-03-14 18:00"},
                                         actor=actor)
        db.session.commit()
        assert result.obj.confirm_by == datetime(2027, 3, 14, 18, 0, tzinfo=SHANGHAI)
        assert result.obj.confirm_by - result.obj.scheduled_at == timedelta(hours=-20, minutes=-30)


def test_next_number_passes_999_and_sees_numbers_given_elsewhere(app):
    factories.interview(app, number="AI-2027-03-15-999")
    factories.interview(app, number="AI-2027-03-15-x7")  # hand-made: ignored
    at = datetime(2027, 3, 15, 10, 0, tzinfo=SHANGHAI)
    with app.app_context():
        assert upsert.next_number(at) == "AI-2027-03-15-1000"
        assert upsert.next_number(at) == "AI-2027-03-15-1001"  # same transaction: remembered
        db.session.rollback()
    factories.interview(app, number="AI-2027-03-15-1005")  # another process, meanwhile
    with app.app_context():
        assert upsert.next_number(at) == "AI-2027-03-15-1006"
        assert upsert.next_number(at + timedelta(days=1)) == "AI-2027-03-16-001"
