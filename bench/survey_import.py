"""Benchmark of the survey import (issues 5 and 17): 100,000-row survey workbooks, read and imported.

Builds one project with as many occupied units as the workbook has rows (set-based: a recursive CTE on SQLite,
generate_series on PostgreSQL) and its survey campaign, in a temporary SQLite file and in the PostgreSQL
database named by ``--pg`` (dropped and created again: give each engineer's run its own). Two workbooks,
written once and kept in ``/work/bench_survey/`` (writing one takes minutes on a loaded machine):

- the bench's own ROWS × 16, the way staff fill it in (title row, header variants, scores as words, "N分" and
  numbers, text-typed dates, short comments);
- a realistic one, as the issue describes (another generator's 16 columns: owners' names, phone numbers, real
  Excel dates, comments up to 200 characters; ≈ 9 MB).

Then, on each database, ``--runs`` interleaved pairs of (bare python-calamine read, the whole import
``import_survey_responses`` — safe-file checks, read, clean, validate, resolve the units, one row per form
written with its six department scores, households, audit rows, operation log, commit) per workbook, the rows
deleted again between runs (untimed), medians and the median of each run's own ratio (target ≤ 1.5× the read), wall
and CPU, each run with the load average (a real run reads the sheet a piece at a time in a thread of its own while
the rows before are checked and written: judge its wall time on a quiet machine; ``--whole-too`` interleaves the
same import reading the file whole, as before);
the realistic file once more through ``wuye import surveys`` (a process of its own); and the write floor: the
forms alone, bulk-written (COPY / executemany) into the indexed table.

    /work/venvs/<name>/bin/python bench/survey_import.py [--rows 100000] [--runs 3] [--sqlite-only | --pg-only]
        [--openpyxl] [--stages] [--whole-too] [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_survey]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import inspect
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, bindparam, delete, func, select, text, update
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fresh_postgres, load_average, migrate  # noqa: E402  (the benchmarks' shared helpers)

import actions  # noqa: E402,F401  (audit hook)
from actions import kpis  # noqa: E402
from actions.actor import Actor  # noqa: E402
from actions.spreadsheets.bulk import _copy  # noqa: E402
from actions.spreadsheets.reader import read_book  # noqa: E402
from actions.survey_import import import_survey_responses  # noqa: E402
from actions.surveys import create_survey  # noqa: E402
from models import (  # noqa: E402
    SCORE_COLUMNS,
    AuditLog,
    Branch,
    Building,
    ImportBatch,
    OperationLog,
    Project,
    Survey,
    SurveyHousehold,
    SurveyResponse,
    SurveyScore,
    Unit,
    User,
    utcnow,
)
from models.base import UTCDateTime  # noqa: E402
from models.db import make_engine  # noqa: E402
from models.totals import SURVEY_ANSWER_TALLY  # noqa: E402

UNITS_PER_BUILDING = 1000
CACHE = Path("/work/bench_survey")  # generated workbooks, kept between runs (writing one takes a while)
SURVEY_TITLE = "2026年上半年业主满意度调查"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超")
HEADER = ["序号", "楼栋", "房号", "业主姓名", "联系电话", "填表日期", "客服部", "工程部", "秩序维护", "环境卫生", "绿化",
          "开发公司工程部", "总体满意度", "意见建议", "是否署名", "调查员"]
WORDS = ("非常满意", "满意", "满意", "5分", "4分", 5, 4, 4, 3, "基本满意")
COMMENTS = ("", "", "", "电梯经常坏，维修要及时", "保洁不错", "晚上车库太暗", "", "希望增加快递柜")
_UNITS = (
    "INSERT INTO unit (project_id, building_id, room_no, kind, status, area, key_tenant, created_at, updated_at) "
    "SELECT :project, :first_building + (i - 1) / {per}, "
    "(((i - 1) % {per}) / 10 + 1) || '-' || ((i - 1) % 10 + 101), 'house', 'occupied', 89.5, false, :now, :now "
)
BUILD_UNITS = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
              + _UNITS.format(per=UNITS_PER_BUILDING) + "FROM n",
    "postgresql": _UNITS.format(per=UNITS_PER_BUILDING) + "FROM generate_series(1, :count) AS i",
}




def analyze(engine: Engine) -> None:
    """What autovacuum does after a bulk load, so plans see real row counts."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


def building_name(i: int) -> str:
    return f"{i // UNITS_PER_BUILDING + 1}栋"


def room_no(i: int) -> str:
    return f"{(i % UNITS_PER_BUILDING) // 10 + 1}-{i % 10 + 101}"


def build(engine: Engine, units: int) -> tuple[int, Actor]:
    """A project with ``units`` occupied units in buildings of 1,000, and its survey; returns (survey, actor)."""
    migrate(engine)
    with Session(engine) as session, session.begin():
        branch = Branch(name="基准分公司")
        project = Project(name="基准小区", branch=branch)
        user = User(username="supervisor", display_name="客服主管", password_hash="-")
        buildings = [Building(project=project, name=building_name(b * UNITS_PER_BUILDING))
                     for b in range(-(-units // UNITS_PER_BUILDING))]
        session.add_all([branch, project, user, *buildings])
        session.flush()
        session.execute(
            text(BUILD_UNITS[engine.dialect.name]).bindparams(bindparam("now", type_=UTCDateTime())),
            {"count": units, "project": project.id, "first_building": buildings[0].id, "now": utcnow()},
        )
        actor = Actor(user_id=user.id, name="客服主管", project_ids=frozenset({project.id}), source="bench")
        survey = create_survey(session, project_id=project.id, title=SURVEY_TITLE, actor=actor)
    analyze(engine)
    return survey.survey_id, actor


def write_workbook(rows: int) -> bytes:
    """ROWS × 16 as staff type it: a title row, header variants, words and numbers mixed, dates as text."""
    from openpyxl import Workbook

    rng = random.Random(5)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("回收汇总")
    ws.append(["基准小区2026年上半年业主满意度调查汇总表"])
    ws.append(HEADER)
    start = dt.date(2026, 3, 1)
    for i in range(rows):
        day = start + dt.timedelta(days=i % 20)
        scores = [rng.choice(WORDS) for _ in range(6)]
        ws.append([
            i + 1, building_name(i), room_no(i), "", f"1380000{i % 10000:04d}",
            f"{day.year}/{day.month}/{day.day}" if i % 2 else day, *scores, rng.choice(WORDS[:6]),
            rng.choice(COMMENTS), "是", "",
        ])
    ws.append(["合计"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def read_openpyxl(data: bytes) -> int:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    cells = 0
    for ws in wb.worksheets:
        ws.reset_dimensions()  # a stale <dimension> tag would silently truncate the read
        for row in ws.iter_rows(values_only=True):
            cells += len(row)
    wb.close()
    return cells


def read_calamine(data: bytes) -> int:
    import python_calamine

    wb = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    return sum(len(row) for name in wb.sheet_names for row in wb.get_sheet_by_name(name).to_python())


def backend(session: Session) -> int | None:
    """The process id of the PostgreSQL backend serving ``session``; None on SQLite, whose work is the process's."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()


def backend_cpu(pid: int | None) -> float:
    """CPU seconds used so far by the backend ``pid`` (a local server: /proc)."""
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class StageClock:
    """``--stages``: the CPU (the calling thread's + the PostgreSQL backend's) each part of an import spends, timed by
    wrapping the functions in place — no profiler, whose overhead doubles the Python parts. Nested parts are counted
    in their callers too (the gate inside the read, the UPDATE of 已回收 inside the write). A streamed run's parts
    overlap: calamine's thread with the lookups read meanwhile, the writer thread (and the backend's COPY, counted in
    it and in the main thread's parts that run meanwhile) with the parse and the check of the next piece."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.spent: dict[str, float] = {}

    def install(self) -> None:
        from actions import survey_import
        from actions.spreadsheets import pipeline, reader

        importer = survey_import.SurveyImporter
        for owner, name, label in (
            (reader, "check_package", "read: safe-file gate"), (pipeline, "read_book", "read (gate + calamine)"),
            (reader, "_calamine", "read: calamine (its own thread)"),
            (reader.Pieces, "_read", "read: calamine in pieces (its own thread)"),
            (pipeline, "_piece_chunks", "parse + clean (pieces as they are read)"),
            (importer, "prefetch", "read: lookups read meanwhile"),
            (pipeline, "parse", "parse + clean (whole file)"), (pipeline, "_row_chunks", "parse + clean (pieces)"),
            (pipeline, "_check_repeats", "repeats"),
            (importer, "check", "check"), (importer, "_customers", "check: owners' names"),
            (importer, "write", "write (whole file)"), (survey_import._Writer, "run", "writer thread (pieces)"),
            (survey_import, "insert_rows", "write: rows (COPY / executemany)"),
            (importer, "_add_households", "write: households added"),
            (importer, "_finish", "write: after the forms"),
            (importer, "_mark_collected", "write: 已回收 UPDATE"),
        ):
            setattr(owner, name, self._timed(getattr(owner, name), label))

    def _timed(self, fn, label: str):
        def clocked(call, *args, **kwargs):
            # the calling thread's CPU: parts in threads of their own (calamine, the writer) overlap the main one's
            start = time.thread_time() + backend_cpu(self.pid)
            try:
                return call(*args, **kwargs)
            finally:
                spent = time.thread_time() + backend_cpu(self.pid) - start
                self.spent[label] = self.spent.get(label, 0.0) + spent

        if inspect.isgeneratorfunction(fn):  # a generator's parts: each piece it yields timed as it is made
            def pieces(*args, **kwargs):
                made = fn(*args, **kwargs)
                while True:
                    try:
                        piece = clocked(next, made)
                    except StopIteration:
                        return
                    yield piece
            return pieces
        return lambda *args, **kwargs: clocked(fn, *args, **kwargs)

    def line(self, read_cpu: float) -> str:
        return "; ".join(f"{label} {s:.2f} s ({s / read_cpu:.2f}×)" for label, s in self.spent.items())


CLOCK: StageClock | None = None


def timed_import(engine: Engine, survey_id: int, actor: Actor, data: bytes) -> tuple[float, float, dict, list]:
    """The import in one transaction: (wall seconds, CPU seconds — the process's and its PostgreSQL backend's —,
    rows written, stages)."""
    stages: list[tuple[str, float]] = []
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    main0 = time.thread_time()

    def progress(stage: str, done: int, total: int) -> None:
        if not stages or stages[-1][0] != stage:
            stages.append((stage, time.perf_counter() - t0))

    with Session(engine) as session, session.begin():
        pid = backend(session)
        backend0 = backend_cpu(pid)
        if CLOCK is not None:
            CLOCK.pid, CLOCK.spent = pid, {}
        result = import_survey_responses(session, survey_id=survey_id, data=data, file_name="回收汇总.xlsx",
                                         actor=actor, progress=progress)
        assert result.written and not result.problems, result.problems[:5]
        stages.append(("提交", time.perf_counter() - t0))
    elapsed = time.perf_counter() - t0
    # this thread's CPU: the gate, the parse and the check run here, one after the other — on a quiet machine the
    # import takes at least this long, and at least half of all the CPU over 2 cores
    stages.append(("main thread CPU", time.thread_time() - main0))
    cpu = time.process_time() - cpu0 + backend_cpu(pid) - backend0  # the pooled connection's backend lives on
    with Session(engine) as session:
        written = {
            "responses": session.scalar(select(func.count()).select_from(SurveyResponse)),
            "scores": session.scalar(select(func.count()).select_from(SurveyScore)),
        }
    return elapsed, cpu, written, stages


def last_ids(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        return (session.scalar(select(func.coalesce(func.max(AuditLog.id), 0))),
                session.scalar(select(func.coalesce(func.max(OperationLog.id), 0))))


def undo_import(engine: Engine, survey_id: int, before: tuple[int, int]) -> None:
    """Back to the state ``before`` the import (untimed), so the next run imports the same file again."""
    with Session(engine) as session, session.begin():
        session.execute(delete(SurveyResponse))
        session.execute(delete(ImportBatch))
        session.execute(delete(AuditLog).where(AuditLog.id > before[0]))
        session.execute(delete(OperationLog).where(OperationLog.id > before[1]))
        session.execute(update(SurveyHousehold).where(SurveyHousehold.survey_id == survey_id).values(collected=False))
    analyze(engine)


def write_floor(engine: Engine, survey_id: int, rows: int, *, checks: bool = True, cpu: list | None = None) -> float:
    """The least any import of ``rows`` forms must write, timed on its own and rolled back: one row per form in
    ``survey_response`` with its six department scores (PostgreSQL's COPY — binary, as the import's —, SQLite's executemany: the fastest
    way in from Python on each; on SQLite with the tally's row triggers lifted, as the import does) — with the
    table's indexes and foreign keys, as the import writes it; no reading, cleaning or checking. Returns seconds.
    Without ``checks`` (PostgreSQL, the bench's superuser): the same COPY with the household key's and the tally's
    statement triggers (and the batch's foreign key) not fired (``session_replication_role = replica``) — what they cost, not a way to
    import."""
    columns = ("project_id", "survey_id", "unit_id", "respondent", "signed", "answered_on", "overall_score",
               "comments", "created_at", "updated_at", *SCORE_COLUMNS.values())
    now = utcnow()
    with engine.connect() as conn, conn.begin() as tx:
        raw = conn.connection.driver_connection
        project_id = conn.scalar(select(Survey.project_id).where(Survey.id == survey_id))
        units = conn.scalars(select(Unit.id).where(Unit.project_id == project_id).order_by(Unit.id).limit(rows)).all()
        postgres = engine.dialect.name == "postgresql"
        stamp = now if postgres else now.replace(tzinfo=None).isoformat(" ")  # SQLite stores naive UTC text
        forms = [(project_id, survey_id, u, "张伟", True, dt.date(2026, 3, 5), 5, "", stamp, stamp, 5, 4, 4, 3, 5, 4)
                 for u in units]
        cursor = raw.cursor()
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() if postgres else None
        cpu0 = time.process_time() + backend_cpu(pid)
        t0 = time.perf_counter()
        if postgres:
            if not checks:
                cursor.execute("SET LOCAL session_replication_role = replica")
            _copy(conn, "survey_response", columns, forms)  # as the import copies: binary where the types allow
        else:  # as the import writes them: the tally's row triggers lifted, the forms added up once
            with SURVEY_ANSWER_TALLY.in_bulk(conn, f"survey_id = {int(survey_id)}"):
                cursor.executemany(f"INSERT INTO survey_response ({', '.join(columns)}) "
                                   f"VALUES ({', '.join('?' * len(columns))})", forms)
        elapsed = time.perf_counter() - t0
        if cpu is not None:
            cpu.append(time.process_time() + backend_cpu(pid) - cpu0)
        tx.rollback()
    return elapsed


def realistic_workbook(rows: int) -> bytes:
    """ROWS × 16 as another generator makes it (the issue's second file): owners' names, real Excel dates,
    scores as numbers and words, comments up to 200 characters on some forms (≈ 8.9 MB at 100,000 rows, as the issue's)."""
    from openpyxl import Workbook

    rng = random.Random(17)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("满意度调查")
    ws.append(["序号", "楼栋", "房号", "业主姓名", "联系电话", "填表日期", "客服部满意度", "工程维修", "秩序维护",
               "环境卫生", "园林绿化", "开发商", "总体满意度", "意见建议", "是否署名", "调查员"])
    start = dt.date(2026, 3, 1)
    chars = "电梯维修及时保洁不错晚上车库太暗希望增加快递柜绿化养护到位门岗服务态度好噪音扰民停车位紧张物业费偏高"
    for i in range(rows):
        comment = "".join(rng.choice(chars) for _ in range(rng.randint(1, 200))) if rng.random() < 0.07 else ""
        ws.append([
            i + 1, building_name(i), room_no(i), rng.choice(SURNAMES) + rng.choice(GIVEN), f"139{rng.randrange(10**8):08d}",
            start + dt.timedelta(days=rng.randrange(60)), *(rng.choice(WORDS) for _ in range(6)),
            rng.choice((5, 4, 3, 2, 1)), comment, rng.choice(("是", "否")), rng.choice(("", "", "电话回访", "上门")),
        ])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def cli_import(url: str, path: Path, survey_title: str) -> float:
    """``wuye import surveys`` as staff run it (a process of its own); the rows written are deleted after."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "wuye"), "import", "surveys", "--project", "基准小区", "--survey",
         survey_title, str(path)],
        env={**os.environ, "WUYE_DATABASE_URL": url}, capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr[-2000:]
    return elapsed


def cached(name: str, make) -> bytes:
    path = CACHE / name
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())
    return path.read_bytes()


@contextlib.contextmanager
def read_whole() -> Iterator[None]:
    """The import as it was before it read in pieces: the file checked by the gate, then read whole by calamine (while
    the lookups are read), then checked and written a piece at a time."""
    from actions.spreadsheets import reader

    real = reader.Pieces.of
    reader.Pieces.of = classmethod(lambda cls, *args: None)
    try:
        yield
    finally:
        reader.Pieces.of = real


def compare(label: str, engine: Engine, survey_id: int, actor: Actor, data: bytes, runs: int, whole: bool) -> float:
    """``runs`` interleaved (calamine read, import[, the import reading the file whole]) of ``data``; prints them and
    returns the median read."""
    imports, reads, safe, cpus, read_cpus, wholes, whole_cpus, mains = [], [], [], [], [], [], [], []
    before = last_ids(engine)
    for run in range(runs):
        t0, cpu0 = time.perf_counter(), time.process_time()
        read_calamine(data)
        reads.append(time.perf_counter() - t0)
        read_cpus.append(time.process_time() - cpu0)
        t0 = time.perf_counter()
        read_book(data, "回收汇总.xlsx")  # what every import reads first: the safe-file gate, then calamine
        safe.append(time.perf_counter() - t0)
        elapsed, cpu, written, stages = timed_import(engine, survey_id, actor, data)
        imports.append(elapsed)
        cpus.append(cpu)
        undo_import(engine, survey_id, before)
        main = stages.pop()[1]
        mains.append(max(main, cpu / 2) / read_cpus[-1])
        marks = [f"{name} @{at:.2f}s" for name, at in stages]
        print(f"  {label} run {run + 1}: calamine read {reads[-1]:.2f} s, gated read {safe[-1]:.2f} s, import {elapsed:.2f} s "
              f"({elapsed / reads[-1]:.2f}×); CPU: read {read_cpus[-1]:.2f} s, import {cpu:.2f} s "
              f"({cpu / read_cpus[-1]:.2f}×), of it the main thread {main:.2f} s ({main / read_cpus[-1]:.2f}×); "
              f"load {load_average()}; stages: {', '.join(marks)}")
        if CLOCK is not None:
            print(f"    CPU by part: {CLOCK.line(read_cpus[-1])}")
        if whole:
            with read_whole():
                elapsed, cpu, _, marks = timed_import(engine, survey_id, actor, data)
            main = marks[-1][1]
            wholes.append(elapsed)
            whole_cpus.append(cpu)
            undo_import(engine, survey_id, before)
            print(f"    the same import reading the file whole (as before): {elapsed:.2f} s ({elapsed / reads[-1]:.2f}×); "
                  f"CPU {cpu:.2f} s ({cpu / read_cpus[-1]:.2f}×), of it the main thread {main:.2f} s "
                  f"({main / read_cpus[-1]:.2f}×); load {load_average()}")
    read_s, import_s = statistics.median(reads), statistics.median(imports)
    print(f"  {label}: CPU (process + PostgreSQL backend): import {statistics.median(cpus):.2f} s, read "
          f"{statistics.median(read_cpus):.2f} s → {statistics.median(c / r for c, r in zip(cpus, read_cpus, strict=True)):.2f}× "
          f"(median of each run's ratio; target ≤ 1.5×)")
    print(f"  {label}: wall: import {import_s:.2f} s (median; {len(data) and written['responses']:,} forms, "
          f"{written['scores']:,} scores), calamine read {read_s:.2f} s (median) → {import_s / read_s:.2f}× "
          f"(target ≤ 1.5×); median of each run's ratio "
          f"{statistics.median(i / r for i, r in zip(imports, reads, strict=True)):.2f}×")
    print(f"  {label}: the least a quiet 2-core machine could take, max(the main thread's CPU, all the CPU / 2): "
          f"{statistics.median(mains):.2f}× the read's CPU (median)")
    if whole:
        print(f"  {label}: read whole (as before): wall {statistics.median(wholes):.2f} s → "
              f"{statistics.median(w / r for w, r in zip(wholes, reads, strict=True)):.2f}×, CPU "
              f"{statistics.median(c / r for c, r in zip(whole_cpus, read_cpus, strict=True)):.2f}× "
              f"(medians of each run's ratio)")
    print(f"  {label}: the import's own read (safe-file gate + calamine, no cleaning, no database) "
          f"{statistics.median(safe):.2f} s = {statistics.median(s / r for s, r in zip(safe, reads, strict=True)):.2f}× "
          f"the bare read (median of each run's ratio)")
    return read_s


def databases(args: argparse.Namespace) -> Iterator[tuple[str, str, Engine]]:
    """(label, URL, engine) of each database a run measures: a temporary SQLite file unless ``--pg-only``, the
    PostgreSQL database ``--pg`` (dropped and created again) unless ``--sqlite-only``."""
    if not args.pg_only:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
        yield "SQLite", url, make_engine(url)
    if not args.sqlite_only:
        yield "PostgreSQL", args.pg, make_engine(fresh_postgres(args.pg))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_survey",
                        help="a PostgreSQL database the benchmark may drop and create again")
    parser.add_argument("--runs", type=int, default=3, help="runs of the calamine read and of each import (medians)")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    parser.add_argument("--openpyxl", action="store_true", help="also time a bare openpyxl read (slow)")
    parser.add_argument("--whole-too", action="store_true",
                        help="after each import, the same import reading the file whole (as before it read in pieces)")
    parser.add_argument("--stages", action="store_true",
                        help="also print each import's CPU by part (gate, read, parse, check, write, 已回收 UPDATE)")
    args = parser.parse_args()
    if args.stages:
        global CLOCK
        CLOCK = StageClock()
        CLOCK.install()

    t0 = time.perf_counter()
    data = cached(f"bench_{args.rows}.xlsx", lambda: write_workbook(args.rows))
    real = cached(f"realistic_{args.rows}.xlsx", lambda: realistic_workbook(args.rows))
    print(f"workbooks ({CACHE}): the bench's {args.rows:,} × {len(HEADER)}, {len(data) / 2**20:.1f} MB; "
          f"the realistic one {args.rows:,} × 16, {len(real) / 2**20:.1f} MB; ready in {time.perf_counter() - t0:.1f} s")
    if args.openpyxl:
        t0 = time.perf_counter()
        cells = read_openpyxl(data)
        print(f"bare read of the bench's file, openpyxl read-only: {time.perf_counter() - t0:.2f} s ({cells:,} cells)")

    for label, url, engine in databases(args):
        t0 = time.perf_counter()
        survey_id, actor = build(engine, args.rows)
        print(f"\n== {label}: built {args.rows:,} units and the campaign in {time.perf_counter() - t0:.1f} s")
        read_s = compare("bench file", engine, survey_id, actor, data, args.runs, args.whole_too)
        compare("realistic file", engine, survey_id, actor, real, args.runs, args.whole_too)
        before = last_ids(engine)
        timed_import(engine, survey_id, actor, data)
        reads = []
        with Session(engine) as session:
            project_id = session.scalar(select(Survey.project_id).where(Survey.id == survey_id))
            period = session.scalar(select(Survey.period).where(Survey.id == survey_id))
            for _ in range(5):
                t0 = time.perf_counter()
                counts = kpis.survey_counts(session, project_ids=[project_id], periods=[period])
                reads.append(time.perf_counter() - t0)
        answered = sum(n for _, n in counts.answers.values())
        print(f"  the home page's survey figures (kpis.survey_counts: households, answers by department, 总体满意度) "
              f"over {args.rows:,} forms ({answered:,} answers): {statistics.median(reads) * 1000:.0f} ms (median of 5)")
        undo_import(engine, survey_id, before)
        path = CACHE / f"realistic_{args.rows}.xlsx"
        t0 = time.perf_counter()
        read_calamine(real)
        real_read = time.perf_counter() - t0
        cli_s = cli_import(url, path, SURVEY_TITLE)
        undo_import(engine, survey_id, before)
        print(f"  realistic file by `wuye import surveys` (a process: start, imports, read, import, commit): "
              f"{cli_s:.2f} s, calamine read {real_read:.2f} s → {cli_s / real_read:.2f}×")
        floors, unchecked = [], []
        for _ in range(args.runs):  # interleaved: the write as the import does it, and without its row checks
            floors.append(write_floor(engine, survey_id, args.rows))
            if engine.dialect.name == "postgresql":
                unchecked.append(write_floor(engine, survey_id, args.rows, checks=False))
        floor = statistics.median(floors)
        print(f"  floor — the {args.rows:,} forms with their six scores alone, bulk-written with the table's "
              f"indexes and foreign keys (median): {floor:.2f} s; calamine read + that write = "
              f"{(read_s + floor) / read_s:.2f}× the read")
        if unchecked:
            share = statistics.median(u / f for u, f in zip(unchecked, floors, strict=True))
            print(f"  of that COPY, the household's key check (one statement trigger, models.survey_keys) and the tally's: "
                  f"without them {statistics.median(unchecked):.2f} s (median) = {share:.2f} of the checked COPY "
                  f"(median of each run's ratio)")
        engine.dispose()


if __name__ == "__main__":
    main()
