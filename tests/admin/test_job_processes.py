"""后台任务 across real processes on PostgreSQL: two app processes and ``wuye worker``s. A job started through one
process is seen and downloaded through the other; a worker killed mid-job leaves nothing written, and its job is
run again by another worker — or, its attempts spent, failed with the reason; past the limits, 429 in Chinese; a
dunning run queued through one process holds its project·month·stage lock against a second through the other."""

from __future__ import annotations

import io
import signal
import time
from urllib.parse import urlencode

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, insert, select, text, update

from admin.views.list_export import INLINE_ROWS
from models import AuditKind, AuditLog, Customer, Job, JobState, User
from tests import factories
from tests.browser_support import Browser
from tests.processes_support import LEASE_SECONDS

pytestmark = pytest.mark.postgres_only


def _customers(app_processes, name: str, count: int) -> str:
    """``count`` customers named after their project; returns the list's query string finding them."""
    with app_processes.session_maker.begin() as session:
        project = factories.project(session, name=name)
        session.execute(insert(Customer), [
            {"project_id": project.id, "name": f"{name}{i}", "phone": f"138{i:08d}", "id_number": ""}
            for i in range(count)])
    return "?" + urlencode({"search": name})


def _user(app_processes, username: str) -> int:
    with app_processes.session_maker.begin() as session:
        return factories.user(session, username=username, superuser=True).id


def _job(app_processes, job_id: int) -> Job:
    with app_processes.session_maker() as session:
        return session.get(Job, job_id)


def _latest_job(app_processes, user_id: int) -> Job:
    with app_processes.session_maker() as session:
        return session.scalars(select(Job).where(Job.user_id == user_id).order_by(Job.id.desc())).first()


def _until(check, seconds: float = 60, step: float = 0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(step)
    raise AssertionError("timed out")


def _as(url: str, cookies: dict[str, str]) -> Browser:
    """A fresh connection with a logged-in user's cookies (an idle keep-alive connection is closed by the server)."""
    browser = Browser(url)
    browser.cookies = dict(cookies)
    return browser


def _download(url: str, cookies: dict[str, str], path: str) -> tuple[int, bytes]:
    browser = Browser(url)
    browser.conn.request("GET", path, headers={"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    response = browser.conn.getresponse()
    return response.status, response.read()


def test_jobs_past_the_limits_are_refused_429_in_chinese_through_any_process(app_processes):
    _customers(app_processes, "限额小区", INLINE_ROWS + 1)
    uid = _user(app_processes, "greedy")
    first, second = (Browser(url) for url in app_processes.urls)
    assert first.log_in("greedy") == 302
    second.cookies = dict(first.cookies)  # one user, whichever process answers
    for browser in (first, second):
        assert browser.request("GET", "/admin/customer/list")[0] == 200  # the 导出 button's page, its token
    try:
        for i in range(4):  # no worker runs: the jobs stay queued, each holding a place
            status, _ = (first, second)[i % 2].request("POST", "/admin/customer/export/xlsx", {})
            assert status == 303
        for browser in (first, second):
            status, page = browser.request("POST", "/admin/customer/export/xlsx", {})
            assert status == 429 and "每人最多 4 个" in page
        with app_processes.session_maker() as session:
            states = session.scalars(select(Job.state).where(Job.user_id == uid)).all()
        assert states == [JobState.QUEUED] * 4  # the refused ones left nothing behind
        other = Browser(app_processes.urls[1])
        _user(app_processes, "modest")
        assert other.log_in("modest") == 302
        assert other.request("GET", "/admin/customer/list")[0] == 200
        assert other.request("POST", "/admin/customer/export/xlsx", {})[0] == 303  # another user's place is theirs
    finally:
        with app_processes.session_maker.begin() as session:  # the next tests' worker need not run these
            session.execute(update(Job).where(Job.state == JobState.QUEUED).values(state=JobState.FAILED))


def test_a_job_started_through_one_process_is_run_by_the_worker_and_downloaded_through_the_other(
        app_processes):
    search = _customers(app_processes, "两进程小区", INLINE_ROWS + 1)
    uid = _user(app_processes, "exporter")
    first, second = (Browser(url) for url in app_processes.urls)
    assert first.log_in("exporter") == 302
    second.cookies = dict(first.cookies)
    assert first.request("GET", "/admin/customer/list" + search)[0] == 200
    assert first.request("POST", "/admin/customer/export/xlsx" + search, {})[0] == 303
    job = _latest_job(app_processes, uid)
    assert job.state is JobState.QUEUED
    status, page = second.request("GET", f"/admin/jobs/{job.id}")
    assert status == 200 and "导出客户" in page and "data-job-status" in page  # the other process shows it
    worker = app_processes.start_worker()
    try:
        _run_and_download(app_processes, job, worker, first.cookies)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)


def _run_and_download(app_processes, job, worker, cookies) -> None:
    _until(lambda: _job(app_processes, job.id).state is JobState.DONE)
    second = _as(app_processes.urls[1], cookies)
    assert second.request("GET", f"/admin/jobs/{job.id}/status")[1].count('"state":"done"') == 1
    done = _job(app_processes, job.id)
    assert done.worker.split(":")[1] == str(worker.pid) and done.attempts == 1
    assert done.result["rows"] == INLINE_ROWS + 1
    status, data = _download(app_processes.urls[1], second.cookies, f"/admin/jobs/{job.id}/file")
    assert status == 200 and len(data) == done.file_size
    rows = list(load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == INLINE_ROWS + 3 and rows[2][1] is not None  # the title row, the header, the rows
    assert "下载" in _as(app_processes.urls[1], cookies).request("GET", "/admin/jobs")[1]  # 我的任务 there too
    stranger = Browser(app_processes.urls[0])
    _user(app_processes, "stranger")
    assert stranger.log_in("stranger") == 302
    assert _download(app_processes.urls[0], stranger.cookies, f"/admin/jobs/{job.id}/file")[0] == 404


def _waiting_to_write(app_processes, table: str) -> int:
    """How many database sessions wait for the lock on ``table`` (held by the test)."""
    with app_processes.engine.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = CAST(:table AS regclass)"),
            {"table": table})


def test_a_job_whose_worker_is_killed_is_run_again_then_failed_with_its_reason(app_processes):
    search = _customers(app_processes, "中断小区", INLINE_ROWS + 1)
    uid = _user(app_processes, "unlucky")
    browser = Browser(app_processes.urls[0])
    assert browser.log_in("unlucky") == 302
    assert browser.request("GET", "/admin/customer/list" + search)[0] == 200
    assert browser.request("POST", "/admin/customer/export/xlsx" + search, {})[0] == 303
    job = _latest_job(app_processes, uid)
    # The export's last step writes its audit row: while the test holds the audit table, each worker reads every
    # row, writes the whole file, and then waits there, in the middle of its job's one transaction — where it is
    # killed. (Sessions of the killed workers wait on too, till the lock goes; they are never committed.)
    with app_processes.engine.connect() as hold:
        hold.execute(text("LOCK TABLE audit_log IN SHARE MODE"))
        for attempt in (1, 2):  # the second worker finds the first one's lease run out and runs the job again
            worker = app_processes.start_worker()
            _until(lambda attempt=attempt: _waiting_to_write(app_processes, "audit_log") == attempt,
                   LEASE_SECONDS * 10, step=0.01)
            now = _job(app_processes, job.id)
            assert (now.state, now.attempts, now.worker.split(":")[1]) == (
                JobState.RUNNING, attempt, str(worker.pid))
            worker.send_signal(signal.SIGKILL)  # kill -9, mid-export
            worker.wait(10)
            now = _job(app_processes, job.id)
            assert (now.state, now.attempts, now.worker.split(":")[1]) == (
                JobState.RUNNING, attempt, str(worker.pid))
        hold.rollback()
    # a last worker finds the second one dead, its attempts spent
    last = app_processes.start_worker()
    failed = _until(lambda: (j := _job(app_processes, job.id)).state is JobState.FAILED and j, LEASE_SECONDS * 4)
    assert "处理进程中断（已尝试 2 次）" in failed.error and failed.file_size == 0
    status, page = _as(app_processes.urls[1], browser.cookies).request("GET", f"/admin/jobs/{job.id}")
    assert status == 200 and "处理进程中断" in page
    with app_processes.session_maker() as session:  # nothing the killed exports did was kept
        exported = session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.kind == AuditKind.EXPORT, AuditLog.actor_id == uid))
        assert session.scalar(select(User.id).where(User.username == "unlucky")) == uid
    assert exported == 0
    last.send_signal(signal.SIGTERM)
    last.wait(30)


def test_a_dunning_run_queued_through_one_process_refuses_a_second_through_the_other_then_runs(
        app_processes):
    with app_processes.session_maker.begin() as session:
        project = factories.project(session, name="两进程催缴苑")
        fee = factories.fee_type(session, project_=project, name="物业管理费")
        building = factories.building(session, project_=project, name="D栋")
        for room in ("101", "102"):
            unit = factories.unit(session, project_=project, building_=building, room_no=room)
            for month in ("2026-02", "2026-03"):
                factories.bill(session, unit_=unit, fee_type_=fee, period=month)
        form = {"stage": "1", "as_of": "2026-04-05", "scope": "project", "project_id": str(project.id)}
    uid = _user(app_processes, "dunner")
    first, second = (Browser(url) for url in app_processes.urls)
    assert first.log_in("dunner") == 302
    second.cookies = dict(first.cookies)
    for browser in (first, second):
        assert browser.request("GET", "/admin/dunning")[0] == 200
    assert first.request("POST", "/admin/dunning", form)[0] == 303  # no worker yet: it stays queued
    job = _latest_job(app_processes, uid)
    status, page = second.request("POST", "/admin/dunning", form)
    assert status == 409 and "「两进程催缴苑」2026-04 第一次催缴(5日)正在进行中（dunner发起，排队中）" in page
    assert _latest_job(app_processes, uid).id == job.id  # nothing queued
    worker = app_processes.start_worker()
    try:
        done = _until(lambda: (j := _job(app_processes, job.id)).state is JobState.DONE and j)
        assert done.result["message"].startswith("已发出第一次催缴(5日) 2 份")
        status, page = _as(app_processes.urls[1], first.cookies).request("GET", f"/admin/jobs/{job.id}")
        assert status == 200 and "已发出第一次催缴(5日) 2 份" in page and "打印通知函" in page
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
