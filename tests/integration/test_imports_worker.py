"""确认导入 in the worker: the request only queues the job (twice = one run); a worker
claims it with a lease and commits it in chunks, each with its progress; a worker that
crashes mid-run is taken over once its lease runs out, a stopping one hands the job back
between chunks, and either way the import finishes with every row once; a row failing in
a later chunk keeps the chunks before it. A long file's dry run is the worker's too."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app.core.timeutil import utcnow
from app.extensions import db
from app.jobs.worker import drain
from app.models import AuditEntry, Candidate, ImportJob, Interview
from app.services.integration import import_runner, imports
from tests import factories
from tests.integration.test_imports import (
    EMPTY,
    HEADER,
    confirm,
    counts,
    csv_bytes,
    dry_run,
    job,
    login_as,
)


def rows(n: int) -> list[list[str]]:
    """n interviews of n new candidates in one session of one position."""
    return [["P-1", "Java后端开发工程师", "技术部", "P5", "S-1", "2027-03-15 09:00",
             "2027-03-15 18:00", "100", f"C-{i}", f"候选人{i}", f"138{i:08d}", "",
             f"I-{i}", f"2027-03-15 {9 + i // 6:02d}:{i % 6 * 10:02d}"] for i in range(n)]


def six_rows(n: int = 6) -> dict:
    return {"Position": 1, "InterviewSession": 1, "Candidate": n, "Interview": n,
            "InviteToken": n}


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(import_runner, "CHUNK_ROWS", 2)


def queued(app, client, n=6) -> str:
    public_id = dry_run(client, csv_bytes(rows(n)))
    assert job(app, public_id).status == "validated", job(app, public_id).errors
    assert confirm(client, public_id, run_worker=False).status_code == 302
    return public_id


def queue_actions(app, public_id) -> list[str]:
    with app.app_context():
        job_id = db.session.scalar(select(ImportJob.id).where(ImportJob.public_id == public_id))
        return db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.object_type == "import_job", AuditEntry.object_id == job_id)
            .order_by(AuditEntry.id)).all()


def test_the_commit_request_only_queues_and_the_worker_commits_once(app):
    client = login_as(app)
    public_id = queued(app, client)
    # The request wrote nothing but the job's state; confirming again is the same job.
    assert job(app, public_id).status == "queued" and counts(app) == EMPTY
    assert confirm(client, public_id, run_worker=False).status_code == 302
    page = client.get(f"/console/imports/{public_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in page and "排队等待导入" in page
    assert "已写入 <strong>0</strong> / 6 行" in page and "确认导入</button>" not in page
    assert queue_actions(app, public_id) == ["import.validated", "import.queued"]

    assert confirm(client, public_id).status_code == 302  # and now the worker's turn
    done = job(app, public_id)
    assert (done.status, done.rows_done, done.claimed_by, done.lease_until) == (
        "committed", 6, None, None)
    assert done.summary["counts"]["candidate"] == {"created": 6, "updated": 0, "unchanged": 0}
    assert done.summary["counts"]["position"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert "progress" not in done.summary
    assert counts(app) == six_rows()
    assert queue_actions(app, public_id) == ["import.validated", "import.queued",
                                             "import.committed"]
    page = client.get(f"/console/imports/{public_id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page and "已导入" in page
    assert len(page.split("<code data-scene>")) == 7  # six invitations
    # A third click after the end: still one run.
    confirm(client, public_id)
    assert counts(app) == six_rows()
    assert queue_actions(app, public_id)[-1] == "import.committed"


def test_the_worker_records_progress_chunk_by_chunk(app, small_chunks):
    client = login_as(app)
    public_id = queued(app, client)
    seen = []
    original = import_runner._run_chunk

    def spy(job_id, worker_id, offset, chunk, actor):
        seen.append((offset, job(app, public_id).rows_done, counts(app)["Interview"]))
        return original(job_id, worker_id, offset, chunk, actor)

    import_runner._run_chunk = spy
    try:
        with app.app_context():
            assert import_runner.run_due_imports("w-1") == 1
    finally:
        import_runner._run_chunk = original
    # each chunk starts where the last one's committed progress ended
    assert seen == [(0, 0, 0), (2, 2, 2), (4, 4, 4)]
    assert job(app, public_id).status == "committed"


def test_a_worker_that_crashes_mid_run_is_taken_over_after_its_lease_without_duplicates(
        app, small_chunks, monkeypatch):
    client = login_as(app)
    public_id = queued(app, client)
    calls = []
    original = imports.run_rows

    def crash_on_second_chunk(chunk, actor):
        calls.append(len(chunk))
        if len(calls) == 2:
            original(chunk, actor)  # the rows are written (flushed) ...
            raise RuntimeError("worker killed")  # ... and the process dies before commit
        return original(chunk, actor)

    monkeypatch.setattr(imports, "run_rows", crash_on_second_chunk)
    with app.app_context():
        assert import_runner.run_due_imports("w-dead") == 1
    half = job(app, public_id)
    assert (half.status, half.rows_done, half.claimed_by) == ("running", 2, "w-dead")
    assert counts(app)["Interview"] == 2  # the first chunk only
    monkeypatch.setattr(imports, "run_rows", original)

    # While its lease runs, nobody else takes the job.
    with app.app_context():
        assert import_runner.claim_next("w-2") is None
        # The lease runs out (the dead worker renews it no more).
        db.session.execute(update(ImportJob).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        job_id = import_runner.claim_next("w-2")
        assert job_id is not None
        # The dead worker's chunk arriving late (it was only slow) loses the guard.
        from app.models import HrUser
        from app.services.users.actor import Actor

        actor = Actor.hr(db.session.get(HrUser, half.created_by))
        chunk = imports.read_rows("x.csv", csv_bytes(rows(6)))[2:4]
        assert import_runner._run_chunk(job_id, "w-dead", 2, chunk, actor) is False
    assert counts(app)["Interview"] == 2
    with app.app_context():
        import_runner.run(job_id, "w-2")
    done = job(app, public_id)
    assert (done.status, done.rows_done, done.claimed_by) == ("committed", 6, None)
    assert counts(app) == six_rows()
    assert done.summary["counts"]["candidate"] == {"created": 6, "updated": 0, "unchanged": 0}
    assert done.summary["counts"]["interview"] == {"created": 6, "updated": 0, "unchanged": 0}
    assert done.summary["invitations"] == 6
    page = client.get(f"/console/imports/{public_id}").get_data(as_text=True)
    assert len(page.split("<code data-scene>")) == 7
    with app.app_context():
        assert db.session.scalar(select(func.count(func.distinct(Interview.external_id)))) == 6
        assert db.session.scalar(select(func.count()).select_from(Candidate)) == 6


def test_a_stopping_worker_hands_the_job_back_between_chunks_and_another_finishes(
        app, small_chunks):
    client = login_as(app)
    public_id = queued(app, client)
    chunks = []
    original = import_runner._run_chunk

    def count(*args):
        chunks.append(args[2])
        return original(*args)

    import_runner._run_chunk = count
    try:
        with app.app_context():
            # stop() is asked before each chunk: true after the first one
            assert import_runner.run_due_imports("w-1", stop=lambda: len(chunks) >= 1) == 1
        half = job(app, public_id)
        assert (half.status, half.rows_done, half.claimed_by, half.lease_until) == (
            "running", 2, None, None)
        page = client.get(f"/console/imports/{public_id}").get_data(as_text=True)
        assert "正在导入" in page and "已写入 <strong>2</strong> / 6 行" in page
        with app.app_context():  # no lease to wait for: released
            assert import_runner.run_due_imports("w-2") == 1
    finally:
        import_runner._run_chunk = original
    assert chunks == [0, 2, 4]
    assert job(app, public_id).status == "committed" and counts(app) == six_rows()


def test_a_row_failing_in_a_later_chunk_keeps_the_chunks_before_it_and_their_invitations(
        app, small_chunks):
    client = login_as(app)
    content = csv_bytes([[*r, ""] for r in rows(3)] + [[*rows(4)[3], "AI-CLAIMED-1"]],
                        [*HEADER, "面试编号"])
    public_id = dry_run(client, content)
    assert job(app, public_id).status == "validated", job(app, public_id).errors
    factories.interview(app, number="AI-CLAIMED-1")  # taken between dry run and commit
    before = counts(app)
    confirm(client, public_id)
    failed = job(app, public_id)
    assert (failed.status, failed.rows_done, failed.claimed_by) == ("failed", 2, None)
    assert [(e["row"], e["code"]) for e in failed.errors] == [(5, "number_taken")]
    assert failed.summary["committed_counts"]["interview"]["created"] == 2
    assert counts(app)["Interview"] == before["Interview"] + 2  # not row 4 (its chunk)
    page = client.get(f"/console/imports/{public_id}").get_data(as_text=True)
    assert "导入失败" in page and "前 2 行数据已导入" in page
    # the two candidates committed before the failing row: their invitations are there
    assert len(page.split("<code data-scene>")) == 3
    assert "import.failed" in queue_actions(app, public_id)


def test_a_disabled_importer_s_queued_job_fails_without_writing(app):
    client = login_as(app)
    public_id = queued(app, client, n=2)
    with app.app_context():
        from app.models import HrUser

        db.session.execute(update(HrUser).where(HrUser.username == "boss").values(active=False))
        db.session.commit()
        assert import_runner.run_due_imports("w-1") == 1
    failed = job(app, public_id)
    assert failed.status == "failed" and failed.errors[0]["code"] == "import_forbidden"
    assert counts(app) == EMPTY


def test_two_workers_claiming_at_once_never_get_the_same_job(app):
    client = login_as(app)
    ids = [queued(app, client, n=1) for _ in range(3)]
    assert len(set(ids)) == 3
    got: list = []
    barrier = threading.Barrier(4)

    def claim(worker_id):
        with app.app_context():
            barrier.wait()
            for _ in range(3):
                job_id = import_runner.claim_next(worker_id)
                if job_id is not None:
                    got.append(job_id)
            db.session.remove()

    threads = [threading.Thread(target=claim, args=(f"w-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # (SQLite: a worker finding the database busy claims nothing this turn)
    with app.app_context():
        while (job_id := import_runner.claim_next("w-late")) is not None:
            got.append(job_id)
        every = db.session.scalars(select(ImportJob.id)).all()
    assert sorted(got) == sorted(every)  # each job claimed once, none twice


def test_a_long_file_is_checked_by_the_worker_while_the_page_waits(app, monkeypatch):
    monkeypatch.setattr(imports, "INLINE_CHECK_ROWS", 3)
    client = login_as(app)
    bad = rows(6)
    bad[4][10] = "1380013"  # row 6: a bad phone
    public_id = dry_run(client, csv_bytes(bad))
    waiting = job(app, public_id)
    assert (waiting.status, waiting.total_rows, waiting.claimed_by) == ("checking", 6, None)
    assert counts(app) == EMPTY
    page = client.get(f"/console/imports/{public_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in page and "正在检查全部 6 行" in page
    assert "确认导入</button>" not in page and 'id="import-counts"' not in page
    drain(app)
    checked = job(app, public_id)
    assert (checked.status, checked.claimed_by) == ("invalid", None)
    assert [(e["row"], e["column"]) for e in checked.errors] == [(6, "手机号")]
    assert counts(app) == EMPTY  # a dry run, in the worker too

    good = dry_run(client, csv_bytes(rows(6)))
    assert job(app, good).status == "checking"
    drain(app)
    assert job(app, good).status == "validated"
    assert job(app, good).summary["counts"]["interview"]["created"] == 6
    assert counts(app) == EMPTY
    assert queue_actions(app, good) == ["import.validated"]
    confirm(client, good)
    assert job(app, good).status == "committed" and counts(app) == six_rows()


def test_a_check_whose_request_died_is_taken_over_once_its_lease_runs_out(app, monkeypatch):
    login_as(app)
    with app.app_context():
        from app.models import HrUser
        from app.services.users.actor import Actor

        actor = Actor.hr(db.session.scalar(select(HrUser).where(HrUser.username == "boss")))

        def die(rows_, actor_):
            raise RuntimeError("request killed")

        monkeypatch.setattr(imports, "run_rows", die)
        with pytest.raises(RuntimeError):
            imports.validate_import("面试.csv", csv_bytes(rows(2)), actor=actor)
        db.session.rollback()
        monkeypatch.undo()
        stored = db.session.scalars(select(ImportJob)).one()
        assert stored.status == "checking" and stored.claimed_by.startswith("request-")
        assert import_runner.run_due_imports("w-1") == 0  # its lease still runs
        db.session.execute(update(ImportJob).values(lease_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert import_runner.run_due_imports("w-1") == 1
        checked = db.session.scalars(select(ImportJob).execution_options(
            populate_existing=True)).one()
        assert (checked.status, checked.claimed_by) == ("validated", None)
        # the dead request's check, had it been only slow, records nothing now
        imports.check_rows(checked.id, imports.read_rows("x.csv", csv_bytes(rows(2))), actor,
                           "request-late")
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "import.validated")) == 1
    assert counts(app) == EMPTY
