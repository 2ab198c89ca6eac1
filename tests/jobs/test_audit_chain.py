"""The audit log's hash chain: the sealer links entries in id order; `flask audit verify`
passes an intact chain and names the first entry altered, removed or reordered."""
from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from app.extensions import db
from app.models import AuditEntry, Setting
from app.services import audit
from app.services.audit import seal, verify

ENTRIES = AuditEntry.__table__


def write_entries(app, n: int, start: int = 1) -> list[int]:
    """n entries as services write them (unsealed); returns their ids."""
    with app.app_context():
        for i in range(start, start + n):
            audit.record(actor_type="hr", actor_id=i, action="interview.cancelled",
                         object_type="interview", object_id=100 + i,
                         data={"reason": "schedule_conflict", "note": f"第{i}条",
                               "before": {"status": "scheduled"},
                               "after": {"status": "cancelled"}},
                         ip=f"10.0.0.{i}")
        db.session.commit()
        return list(db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)))


def seal_now(app, **kw) -> int:
    with app.app_context():
        return seal.seal_pending(**kw)


def tamper(app, statement) -> None:
    """What someone with write access to the table could do, outside the application."""
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()


def check(app, **kw) -> verify.Report:
    with app.app_context():
        return verify.verify_chain(**kw)


def seq_of(app, entry_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(AuditEntry.seq).where(AuditEntry.id == entry_id))


@pytest.fixture
def sealed_five(app):
    ids = write_entries(app, 5)
    assert seal_now(app) == 5
    return ids


def test_sealer_numbers_entries_in_id_order_and_records_the_head(app, sealed_five):
    with app.app_context():
        rows = db.session.execute(select(AuditEntry.id, AuditEntry.seq, AuditEntry.hash)
                                  .order_by(AuditEntry.id)).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        previous = seal.GENESIS
        for entry in db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
            assert entry.hash == seal.chain_hash(previous, entry)
            previous = entry.hash
        head = db.session.get(Setting, seal.HEAD_KEY).value
        assert (head["seq"], head["hash"]) == (5, rows[-1].hash)
    assert seal_now(app) == 0   # nothing new


def test_intact_chain_verifies_and_the_command_exits_0(app, runner, sealed_five):
    report = check(app)
    assert report.ok and report.checked == 5 and report.head_seq == 5
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    assert "intact" in result.output and "5 sealed entries" in result.output


def test_sealing_in_small_batches_gives_the_same_chain(app):
    write_entries(app, 7)
    assert seal_now(app, batch=2) == 7
    assert check(app, batch=3).ok
    with app.app_context():
        assert db.session.scalar(select(db.func.max(AuditEntry.seq))) == 7


def test_the_command_seals_now(app, runner):
    write_entries(app, 3)
    result = runner.invoke(args=["audit", "seal"])
    assert result.exit_code == 0 and "sealed 3 entries" in result.output
    assert runner.invoke(args=["jobs", "run", "audit_seal"]).output.strip() == "audit_seal: 0"


def test_unsealed_entries_are_reported_as_such_not_as_tampering(app, runner, sealed_five):
    new_ids = write_entries(app, 2, start=6)[-2:]
    report = check(app)
    assert report.ok
    assert (report.unsealed, report.oldest_unsealed_id) == (2, new_ids[0])
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0
    assert "2 not sealed yet" in result.output


def _assert_broken(app, runner, kind: str, seq: int | None, entry_id: int | None):
    report = check(app)
    assert not report.ok
    problem = report.problem
    assert (problem.kind, problem.seq, problem.entry_id) == (kind, seq, entry_id), problem
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert (f"{kind} at seq {seq}" if seq is not None else f"{kind}: ") in result.output
    if entry_id is not None and kind != "removed":
        assert f"entry id {entry_id}" in result.output
    return problem


def test_edited_data_is_named_as_altered(app, runner, sealed_five):
    target = sealed_five[2]
    tamper(app, update(ENTRIES).where(ENTRIES.c.id == target).values(
        data={"reason": "personal", "note": "第3条", "before": {"status": "scheduled"},
              "after": {"status": "cancelled"}}))
    _assert_broken(app, runner, "altered", 3, target)


def test_edited_action_is_named_as_altered(app, runner, sealed_five):
    target = sealed_five[1]
    tamper(app, update(ENTRIES).where(ENTRIES.c.id == target).values(
        action="interview.confirmed"))
    _assert_broken(app, runner, "altered", 2, target)


def test_edited_ip_and_recomputed_own_hash_is_still_caught(app, runner, sealed_five):
    """Rewriting one entry's hash to fit its new content breaks the link of the next."""
    target = sealed_five[3]
    with app.app_context():
        entry = db.session.get(AuditEntry, target)
        previous = db.session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == 3))
        forged = seal.chain_hash(previous, {**{c: getattr(entry, c) for c in (
            "id", "at", "actor_type", "actor_id", "action", "object_type", "object_id",
            "data")}, "ip": "1.2.3.4", "seq": 4})
    tamper(app, update(ENTRIES).where(ENTRIES.c.id == target).values(ip="1.2.3.4",
                                                                       hash=forged))
    # Entry 4 now fits its own hash; entry 5 no longer fits after it: named at 5,
    # pointing at 4 (which of the two changed, the chain cannot tell).
    problem = _assert_broken(app, runner, "altered", 5, sealed_five[4])
    assert "entry before it (seq 4) was rewritten" in problem.detail


def test_deleted_middle_entry_is_named_as_removed(app, runner, sealed_five):
    tamper(app, delete(ENTRIES).where(ENTRIES.c.id == sealed_five[2]))
    problem = _assert_broken(app, runner, "removed", 3, sealed_five[3])
    assert "seq 3 missing" in problem.detail


def test_deleted_last_entry_is_named_as_removed(app, runner, sealed_five):
    tamper(app, delete(ENTRIES).where(ENTRIES.c.id == sealed_five[4]))
    problem = _assert_broken(app, runner, "removed", 5, None)
    assert "head records seq 5" in problem.detail


def test_sealing_after_a_deleted_last_entry_does_not_hide_the_gap(app, runner, sealed_five):
    tamper(app, delete(ENTRIES).where(ENTRIES.c.id == sealed_five[4]))
    new_id = write_entries(app, 1, start=6)[-1]
    assert seal_now(app) == 1
    assert seq_of(app, new_id) == 6   # the head's seq 5 is not handed out again
    _assert_broken(app, runner, "removed", 5, new_id)


def test_two_entries_with_swapped_seq_are_named_as_reordered(app, runner, sealed_five):
    first, second = sealed_five[1], sealed_five[2]   # seq 2 and 3
    tamper(app, update(ENTRIES).where(ENTRIES.c.id == first).values(seq=-1))
    tamper(app, update(ENTRIES).where(ENTRIES.c.id == second).values(seq=2))
    tamper(app, update(ENTRIES).where(ENTRIES.c.id == first).values(seq=3))
    problem = _assert_broken(app, runner, "reordered", 2, second)
    assert "sealed at seq 3, now at seq 2" in problem.detail


def test_a_deleted_head_record_is_reported_and_stops_the_sealer(app, runner, sealed_five):
    tamper(app, delete(Setting.__table__).where(Setting.key == seal.HEAD_KEY))
    write_entries(app, 1, start=6)
    assert seal_now(app) == 0
    problem = _assert_broken(app, runner, "head", None, None)
    assert "head record missing" in problem.detail


def test_a_lost_head_is_restored_only_over_an_intact_chain(app, runner, sealed_five):
    tamper(app, delete(Setting.__table__).where(Setting.key == seal.HEAD_KEY))
    result = runner.invoke(args=["audit", "restore-head"])
    assert result.exit_code == 0 and "seq 5" in result.output
    assert check(app).ok
    assert seal_now(app) == 1   # the restoring's own entry, sealed as seq 6
    assert check(app).head_seq == 6
    # Over an edited chain it refuses: that is evidence, not a lost row.
    tamper(app, update(ENTRIES).where(ENTRIES.c.id == sealed_five[0]).values(ip="6.6.6.6"))
    tamper(app, delete(Setting.__table__).where(Setting.key == seal.HEAD_KEY))
    result = runner.invoke(args=["audit", "restore-head"])
    assert result.exit_code != 0 and "altered at seq 1" in result.output


def test_an_empty_log_is_intact(app, runner):
    assert check(app).ok
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


# --- the database refuses changes (README "Audit log": the SQL run here is the README's) --

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_sql(role: str) -> str:
    text_ = README.read_text(encoding="utf-8")
    block = re.search(r"-- audit-append-only:begin\n(.*?)-- audit-append-only:end", text_,
                      re.S)
    assert block, "README.md lost its audit-append-only block"
    return block.group(1).replace("aiic_app", role)


def _refused(conn, statement, role: str | None, message: str) -> None:
    with conn.begin():
        if role:
            conn.execute(text(f'SET LOCAL ROLE "{role}"'))
        with pytest.raises(DBAPIError) as refused:
            conn.execute(statement)
    assert message in str(refused.value), refused.value


def test_the_readme_sql_denies_update_and_delete_while_sealing_still_works(app, backend):
    if backend.name != "services":
        pytest.skip("column grants and triggers are PostgreSQL's: runs on the services "
                    "backend (SQLite has no roles)")
    role = f"aiic_app_{uuid.uuid4().hex[:8]}"
    with app.app_context():
        engine = db.engine
    with engine.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}"'))
        conn.execute(text(f'GRANT SELECT, INSERT, UPDATE ON settings TO "{role}"'))
        with conn.connection.dbapi_connection.cursor() as cursor:
            cursor.execute(readme_sql(role))  # no parameters: its % are PL/pgSQL's
    try:
        ids = write_entries(app, 3)
        # The sealer, as the application's role: allowed to set seq, hash and sealed_at.
        with app.app_context():
            db.session.execute(text(f'SET LOCAL ROLE "{role}"'))
            assert seal.seal_pending() == 3
        assert check(app).ok
        edit = update(ENTRIES).where(ENTRIES.c.id == ids[0]).values(action="x.edited")
        with engine.connect() as conn:
            # The application's role may neither edit nor delete...
            _refused(conn, edit, role, "permission denied")
            _refused(conn, delete(ENTRIES).where(ENTRIES.c.id == ids[1]), role,
                     "permission denied")
            # ... nor re-seal, though it may set seq on unsealed entries.
            _refused(conn, update(ENTRIES).where(ENTRIES.c.id == ids[0]).values(seq=99),
                     role, "is sealed")
            # And the trigger refuses even the owner.
            _refused(conn, edit, None, "is sealed")
            _refused(conn, delete(ENTRIES).where(ENTRIES.c.id == ids[1]), None,
                     "append-only")
            _refused(conn, text("TRUNCATE audit_entries"), None, "append-only")
        unsealed = write_entries(app, 1, start=4)[-1]
        with engine.connect() as conn:
            _refused(conn, update(ENTRIES).where(ENTRIES.c.id == unsealed)
                     .values(data={"forged": True}), None, "only seq, hash and sealed_at")
        with app.app_context():
            db.session.execute(text(f'SET LOCAL ROLE "{role}"'))
            assert seal.seal_pending() == 1
        report = check(app)
        assert report.ok and report.checked == 4
        with app.app_context():
            assert db.session.get(AuditEntry, ids[0]).action == "interview.cancelled"
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER IF EXISTS audit_entries_append_only "
                              "ON audit_entries"))
            conn.execute(text("DROP TRIGGER IF EXISTS audit_entries_no_truncate "
                              "ON audit_entries"))
            conn.execute(text("DROP FUNCTION IF EXISTS audit_entries_append_only()"))
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))


def test_an_entry_committed_late_is_sealed_after_and_the_chain_holds(app, runner):
    """A transaction that took its id early and committed after the sealer ran: its entry
    (a lower id) gets the next seq, and verify accepts it."""
    write_entries(app, 2)
    with app.app_context():
        db.session.add(AuditEntry(id=1000, actor_type="system", action="batch.finished",
                                  object_type="cancel_batch", object_id=1, data={}))
        db.session.commit()
    assert seal_now(app) == 3
    with app.app_context():
        db.session.add(AuditEntry(id=500, actor_type="system", action="batch.finished",
                                  object_type="cancel_batch", object_id=2, data={}))
        db.session.commit()
    assert seal_now(app) == 1
    assert (seq_of(app, 1000), seq_of(app, 500)) == (3, 4)
    assert check(app).ok
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_two_sealers_at_once_never_fork_the_chain(app, backend):
    """The Redis lock normally keeps the sealer alone; should two run anyway (PostgreSQL:
    any number of workers), the head row's lock orders them."""
    if backend.name != "services":
        pytest.skip("SQLite serializes writers; row locks between sealers need PostgreSQL")
    import threading

    write_entries(app, 1)
    seal_now(app)
    write_entries(app, 300, start=2)
    totals, errors = [], []

    def sealer():
        try:
            totals.append(seal_now(app, batch=25))
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=sealer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and sum(totals) == 300
    report = check(app)
    assert report.ok and report.checked == 301 and report.unsealed == 0
