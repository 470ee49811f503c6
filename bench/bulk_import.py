"""Benchmark of the bulk import (issue 7): 100,000 units with their owners, re-imported, then corrected.

Writes two workbooks the way a new project arrives — 房屋 (项目, 楼栋, 房号, 类型, 状态, 面积, 交房日期) and 业主
(姓名, 手机号, 身份证号, 楼栋, 房号, 关系) — and, on a temporary SQLite file and on the PostgreSQL database
``wuye_bench_bulk_import`` (dropped and recreated), times through the real action ``import_records``:

1. the first import of both files (100 buildings and 100,000 units created, 100,000 owners linked);
2. the same files again — the preview, which reads, checks and compares every row (all 无变化), and the
   confirm, which is refused at once (该批次已导入);
3. the units file with 1 % of the rows changed (area and status): the preview and the real import;

each next to a bare python-calamine read of the same file, and prints the ratios: of wall time, and of CPU time
(this process's, plus the PostgreSQL backend's when the server runs on this machine) to the read's CPU time —
on a shared machine the CPU ratio is the one that compares runs.

``--floors`` also prints, for the 业主 file, what its import cannot avoid (issue 17), each against the bare read:
the read through the safe-file gate (``read_book``, what every import reads first); that read plus the units it
links to and one raw write of the same 100,000 customers and links (rolled back: executemany on SQLite, COPY on
PostgreSQL — the write floor of the first import); and that read plus one raw read of the units, customers and
links an unchanged file is compared with (the preview's floor before issue 17's data versions), and — what a
recognised file's preview cannot avoid — the read through the gate plus parsing and cleaning. ``--stages`` prints the CPU each part of the
业主 import and preview spends (functions wrapped in place, no profiler): a new project's file is checked and written
by column (``check by column``, ``write by column``), any other row by row. ``--cache DIR`` keeps the workbooks
(writing them takes minutes on a loaded machine).

    /work/venv/bin/python bench/bulk_import.py [--rows 100000] [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_bulk_import]
                                               [--sqlite-only | --pg-only] [--floors] [--stages] [--cache DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib
import io
import sys
import tempfile
import time
from collections import Counter
from itertools import chain
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import backend_cpu, fresh_postgres, load_average, migrate  # noqa: E402  (the benchmarks' shared helpers)
from survey_import import analyze, building_name, read_calamine, room_no  # noqa: E402

import actions  # noqa: E402,F401  (audit hook)
from actions.actor import Actor  # noqa: E402
from actions.bulk_import import import_records  # noqa: E402
from actions.errors import Refused  # noqa: E402
from actions.spreadsheets.clean import id_check_digit  # noqa: E402
from models import Branch, Customer, Project, Unit, UnitCustomer, User  # noqa: E402
from models.db import make_engine  # noqa: E402

PROJECT = "基准小区"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = "伟强磊军洋勇杰涛明超华平芳娜敏静丽艳娟霞"


def id_number(i: int) -> str:
    """A valid, distinct resident ID for person ``i``: birth date and sequence number together are unique."""
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=i % 18000)
    first17 = f"310104{birth:%Y%m%d}{i // 18000:03d}"
    return first17 + id_check_digit(first17)


def write(header: list[str], rows) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("导入")
    ws.append(header)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def units_file(n: int, changed: int = 0) -> bytes:
    """房屋; the first ``changed`` rows of every hundred-row block have another area and status."""
    def row(i: int) -> list:
        touched = changed and i % 100 < changed
        return [PROJECT, building_name(i), room_no(i), "住宅", "已入住" if touched else "已交房",
                95 if touched else 89.5, dt.date(2024, 3, 5)]

    return write(["项目", "楼栋", "房号", "房屋类型", "房屋状态", "建筑面积(㎡)", "交房日期"], (row(i) for i in range(n)))


def owners_file(n: int) -> bytes:
    return write(
        ["项目", "姓名", "手机号", "身份证号", "楼栋", "房号", "关系"],
        ([PROJECT, SURNAMES[i % 20] + GIVEN[i // 20 % 20] + GIVEN[i // 400 % 20], f"139{i:08d}", id_number(i),
          building_name(i), room_no(i), "业主"] for i in range(n)),
    )


def build(engine: Engine) -> Actor:
    migrate(engine)
    with Session(engine) as session, session.begin():
        project = Project(name=PROJECT, branch=Branch(name="基准分公司"))
        user = User(username="importer", display_name="导入员", password_hash="-")
        session.add_all([project, user])
        session.flush()
        return Actor(user_id=user.id, name="导入员", project_ids=frozenset({project.id}), source="bench")


def timed(engine: Engine, actor: Actor, kind: str, data: bytes, name: str, *, dry_run: bool = False):
    """(wall seconds, CPU seconds of this process and the database backend, result) of one import."""
    t0, c0 = time.perf_counter(), time.process_time()
    with Session(engine) as session, session.begin():
        session.info["actor"] = actor
        b0 = backend_cpu(session)
        if STAGES is not None:
            STAGES.session, STAGES.spent = session, Counter()
        result = import_records(session, kind=kind, data=data, file_name=name, actor=actor, dry_run=dry_run)
        cpu = time.process_time() - c0 + backend_cpu(session) - b0
        if STAGES is not None:
            STAGES.session = None
    elapsed = time.perf_counter() - t0
    assert not result.problems or result.counts["error"] == 0, [p.message for p in result.problems[:5]]
    return elapsed, cpu, result


def refused_confirm(engine: Engine, actor: Actor, kind: str, data: bytes, name: str) -> float:
    t0 = time.perf_counter()
    try:
        with Session(engine) as session, session.begin():
            import_records(session, kind=kind, data=data, file_name=name, actor=actor)
    except Refused as refused:
        assert "该批次已导入" in refused.message
        return time.perf_counter() - t0
    raise AssertionError("the same file was imported twice")


# module → {function or Class.method: label}: the parts of the 业主 import ``--stages`` times.
STAGE_PARTS = {
    "actions.spreadsheets.pipeline": {"read_book": "read (gate + calamine)", "parse": "parse + clean",
                                      "_check_repeats": "repeats"},
    "actions.spreadsheets.records": {"RecordImporter._projects": "check: projects",
                                     "RecordImporter.recognise": "recognised (same file, same data versions)",
                                     "UnitRefs.ids": "units looked up"},
    "actions.bulk_import": {
        "CustomerImporter.check_columns": "check by column", "CustomerImporter.write_columns": "write by column",
        "CustomerImporter.check": "check", "CustomerImporter.resolve": "check: units",
        "CustomerImporter.find": "check: customers read", "CustomerImporter._check_links": "check: links",
        "CustomerImporter.write": "write",
        "CustomerImporter.write_new": "write: customers", "insert_rows": "write: rows (all)",
        "insert_columns": "write: rows (all)",
    },
}


class Stages:
    """``--stages``: the CPU (this process + the PostgreSQL backend) each part of the 业主 import spends, each
    function of ``STAGE_PARTS`` wrapped in place; nested parts are counted in their callers too."""

    def __init__(self) -> None:
        self.session: Session | None = None
        self.spent: Counter[str] = Counter()
        for module, parts in STAGE_PARTS.items():
            for path, label in parts.items():
                *outer, name = path.split(".")
                owner = functools.reduce(getattr, outer, importlib.import_module(module))
                setattr(owner, name, self._timed(getattr(owner, name), label))

    def _cpu(self) -> float:
        # a few calls an import: the parts are whole stages, none called once per row (each asks the backend's pid)
        return time.process_time() + (backend_cpu(self.session) if self.session is not None else 0.0)

    def _timed(self, fn, label: str):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            start = self._cpu()
            try:
                return fn(*args, **kwargs)
            finally:
                self.spent[label] += self._cpu() - start
        return timed

    def line(self, read_cpu: float) -> str:
        return "; ".join(f"{label} {s:.2f} s ({s / read_cpu:.2f}×)" for label, s in self.spent.items())


STAGES: Stages | None = None


def sqlite_values(conn, table: str, columns: str, rows: list[tuple]) -> None:
    """``rows`` in multi-row ``VALUES`` statements of up to 32,000 parameters: on a table with an FTS5 index (the
    customers' name) executemany costs 3–4× as much, FTS5 flushing its pending terms after every statement."""
    width = len(rows[0])
    one = "(" + ", ".join("?" * width) + ")"
    per = 32_000 // width
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(chunk))}",
                             tuple(chain.from_iterable(chunk)))


def floors(engine: Engine, owners: bytes, n: int, read_cpu: float) -> None:
    """What the 业主 import and its preview cannot avoid, in CPU seconds against the bare read (see the docstring)."""

    from actions.spreadsheets.reader import read_book

    with Session(engine) as session:
        conn = session.connection()
        pg = engine.dialect.name == "postgresql"
        project_id = conn.exec_driver_sql("SELECT id FROM project").scalar()
        now = dt.datetime.now(dt.UTC)
        stamp = now if pg else now.isoformat()
        customers = [(project_id, SURNAMES[i % 20] + GIVEN[i // 20 % 20] + GIVEN[i // 400 % 20], "person", f"139{i:08d}",
                      id_number(i), False, "", "", stamp, stamp, 1) for i in range(n)]
        columns = "project_id, name, kind, phone, id_number, vip, emergency_contact, note, created_at, updated_at, version"
        link_columns = "project_id, unit_id, customer_id, relation, is_primary, version"
        units = "SELECT u.id, b.name, u.room_no FROM unit u JOIN building b ON b.id = u.building_id"

        def cpu() -> float:
            return time.process_time() + backend_cpu(session)

        c0 = cpu()
        read_book(owners, "业主.xlsx")
        gate = cpu() - c0
        c0 = cpu()
        read_calamine(owners)
        unit_ids = [u[0] for u in conn.exec_driver_sql(units).all()]
        if pg:
            raw = conn.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(f"COPY customer ({columns}) FROM STDIN") as copy:
                for row in customers:
                    copy.write_row(row)
        else:
            sqlite_values(conn, "customer", columns, customers)
        first = conn.exec_driver_sql("SELECT min(id) FROM customer").scalar()
        links = [(project_id, unit_ids[i], first + i, "owner", True, 1) for i in range(n)]
        if pg:
            with raw.cursor() as cursor, cursor.copy(f"COPY unit_customer ({link_columns}) FROM STDIN") as copy:
                for row in links:
                    copy.write_row(row)
        else:
            sqlite_values(conn, "unit_customer", link_columns, links)
        write = cpu() - c0
        session.rollback()
    print(f"   floors (CPU, 业主): read through the gate {gate:.2f} s = {gate / read_cpu:.2f}×; read + units read + raw "
          f"write of {n:,} customers and links {write:.2f} s = {write / read_cpu:.2f}× (first import)   "
          f"load {load_average()}")
    columnar = columnar_floor(engine, owners)
    print("   floor (CPU, 业主, columnar: the file kept as columns from the read to the INSERT, no row object): "
          + "; ".join(f"{label} {s:.2f} s = {s / read_cpu:.2f}×" for label, s in columnar.items())
          + f"   load {load_average()}")


def columnar_floor(engine: Engine, owners: bytes) -> dict[str, float]:
    """What the first 业主 import would cost with no per-row Python at all, in CPU seconds by stage (cumulative
    last): the read through the gate, each column cleaned (``clean_column``), the units resolved column by column
    (``UnitRefs.ids``), then the import's own writes of the customers (RETURNING their ids) and the links, through
    ``insert_columns`` (rolled back). No check beyond those: the least a columnar pipeline could spend."""
    from itertools import zip_longest

    from actions.bulk_import import CustomerImporter
    from actions.spreadsheets.bulk import insert_columns
    from actions.spreadsheets.header import find_header
    from actions.spreadsheets.pipeline import _collector_paused, clean_column
    from actions.spreadsheets.reader import read_book
    from actions.spreadsheets.records import UnitRefs

    spent: dict[str, float] = {}
    with Session(engine) as session, _collector_paused():
        project_id = session.connection().exec_driver_sql("SELECT id FROM project").scalar()
        c0 = time.process_time()
        sheet = read_book(owners, "业主.xlsx").sheets[0]
        spent["read through the gate"] = time.process_time() - c0
        c1 = time.process_time()
        fields = CustomerImporter(session, None).fields()
        header = find_header(sheet.rows, fields)
        columns = list(zip_longest(*sheet.rows[header.data_start:], fillvalue=""))
        cleaned = {f.key: clean_column(f.clean, columns[header.columns[f.key]]) for f in fields if f.key in header.columns}
        spent["clean"] = time.process_time() - c1
        c1 = time.process_time()
        refs = UnitRefs(session, {project_id})
        units = refs.ids(project_id, cleaned["building"], cleaned["room_no"])
        spent["units"] = time.process_time() - c1
        c1 = time.process_time()
        n = len(units)
        importer = CustomerImporter(session, None)
        made = insert_columns(session, Customer.__table__, ["project_id", *importer.columns.values()], [
            [project_id] * n, *(cleaned[k] if k in cleaned else [importer._defaults.get(k)] * n for k in importer.columns)
        ], returning=["id"])
        insert_columns(session, UnitCustomer.__table__, ["project_id", "unit_id", "customer_id", "relation", "is_primary"],
                       [[project_id] * n, units, [i for (i,) in made], cleaned["relation"], [True] * n])
        spent["write"] = time.process_time() - c1
        spent["in all"] = time.process_time() - c0
        session.rollback()
    return spent


def preview_floor(engine: Engine, owners: bytes, read_cpu: float) -> None:
    """Once the file is imported: the bare read plus one raw read of the units, customers and links an unchanged
    file is compared with."""
    with Session(engine) as session:
        conn = session.connection()
        c0 = time.process_time() + backend_cpu(session)
        read_calamine(owners)
        conn.exec_driver_sql("SELECT u.id, b.name, u.room_no, u.collector_id FROM unit u "
                             "JOIN building b ON b.id = u.building_id").all()
        conn.exec_driver_sql("SELECT id, project_id, id_number, phone, name, kind FROM customer").all()
        conn.exec_driver_sql("SELECT id, unit_id, customer_id, relation FROM unit_customer").all()
        compared = time.process_time() + backend_cpu(session) - c0
    print(f"   floor (CPU, 业主 preview): read + raw read of the units, customers and links compared {compared:.2f} s = "
          f"{compared / read_cpu:.2f}×   load {load_average()}")
    # Since the file is recognised by the projects' data versions (issue 17), the preview reads nothing of them:
    # what it cannot avoid is reading the file through the gate and cleaning its cells for the rows it shows.
    from actions.bulk_import import CustomerImporter
    from actions.spreadsheets.pipeline import _collector_paused, parse
    from actions.spreadsheets.reader import read_book

    with Session(engine) as session, _collector_paused():  # as the import parses
        c0 = time.process_time()
        parse(read_book(owners, "业主.xlsx"), CustomerImporter(session, None).fields())
        cleaned = time.process_time() - c0
    print(f"   floor (CPU, 业主 preview of a recognised file): read through the gate + parse and clean {cleaned:.2f} s = "
          f"{cleaned / read_cpu:.2f}×   load {load_average()}")


def line(label: str, elapsed: float, cpu: float, result, read: tuple[float, float]) -> str:
    c = result.counts
    return (f"{label:<34} {elapsed:7.2f} s = {elapsed / read[0]:5.1f}× the bare read; CPU {cpu:6.2f} s = "
            f"{cpu / read[1]:5.1f}×   新增 {c['new']:,}  更新 {c['update']:,}  无变化 {c['unchanged']:,}  错误 {c['error']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_bulk_import")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--pg-only", action="store_true")
    parser.add_argument("--floors", action="store_true", help="what the 业主 import and preview cannot avoid")
    parser.add_argument("--stages", action="store_true", help="the CPU each part of the 业主 import spends")
    parser.add_argument("--cache", type=Path, help="a directory keeping the workbooks between runs")
    args = parser.parse_args()
    n = args.rows
    global STAGES
    if args.stages:
        STAGES = Stages()
    t0 = time.perf_counter()

    def made(name: str, make) -> bytes:
        if args.cache is None:
            return make()
        path = args.cache / f"{name}-{n}.xlsx"
        if not path.exists():
            args.cache.mkdir(parents=True, exist_ok=True)
            path.write_bytes(make())
        return path.read_bytes()

    units, owners = made("units", lambda: units_file(n)), made("owners", lambda: owners_file(n))
    corrected = made("corrected", lambda: units_file(n, changed=1))
    print(f"workbooks: 房屋 {len(units) / 2**20:.1f} MB, 业主 {len(owners) / 2**20:.1f} MB, "
          f"房屋（1% 更正）{len(corrected) / 2**20:.1f} MB — {n:,} rows each, written in {time.perf_counter() - t0:.1f} s")
    reads = {}
    for name, data in (("units", units), ("owners", owners), ("corrected", corrected)):
        times = []
        for _ in range(3):  # the best of three: the machine is shared
            t0, c0 = time.perf_counter(), time.process_time()
            read_calamine(data)
            times.append((time.perf_counter() - t0, time.process_time() - c0))
        reads[name] = (min(t for t, _ in times), min(c for _, c in times))
    print(f"bare python-calamine read (wall / CPU): 房屋 {reads['units'][0]:.2f} / {reads['units'][1]:.2f} s, "
          f"业主 {reads['owners'][0]:.2f} / {reads['owners'][1]:.2f} s, "
          f"更正 {reads['corrected'][0]:.2f} / {reads['corrected'][1]:.2f} s   load {load_average()}")

    targets = [] if args.pg_only else [("SQLite", lambda: make_engine(f"sqlite:///{tempfile.mkdtemp()}/bench.db"))]
    if not args.sqlite_only:
        targets.append(("PostgreSQL", lambda: make_engine(fresh_postgres(args.pg))))
    for label, make in targets:
        engine = make()
        actor = build(engine)
        print(f"\n== {label}")
        print(line("1. import 房屋 (new)", *timed(engine, actor, "units", units, "房屋.xlsx"), reads["units"]))
        analyze(engine)
        if args.floors:
            floors(engine, owners, n, reads["owners"][1])
        print(line("1. import 业主 + 房屋关系 (new)", *timed(engine, actor, "customers", owners, "业主.xlsx"),
                   reads["owners"]))
        if STAGES is not None:
            print(f"   stages: {STAGES.line(reads['owners'][1])}")
        analyze(engine)
        if args.floors:
            preview_floor(engine, owners, reads["owners"][1])
        print(line("2. same 房屋 file, preview", *timed(engine, actor, "units", units, "房屋.xlsx", dry_run=True),
                   reads["units"]))
        print(line("2. same 业主 file, preview", *timed(engine, actor, "customers", owners, "业主.xlsx", dry_run=True),
                   reads["owners"]))
        if STAGES is not None:
            print(f"   stages: {STAGES.line(reads['owners'][1])}")
        print(f"{'2. same file, confirm refused':<34} {refused_confirm(engine, actor, 'units', units, '房屋.xlsx'):7.2f} s"
              "  (该批次已导入)")
        print(line("3. 1 % changed, preview", *timed(engine, actor, "units", corrected, "房屋-更正.xlsx", dry_run=True),
                   reads["corrected"]))
        print(line("3. 1 % changed, import", *timed(engine, actor, "units", corrected, "房屋-更正.xlsx"),
                   reads["corrected"]))
        with Session(engine) as session:
            print(f"   database: {session.scalar(select(func.count()).select_from(Unit)):,} units, "
                  f"{session.scalar(select(func.count()).select_from(Customer)):,} customers, "
                  f"{session.scalar(select(func.count()).select_from(UnitCustomer)):,} links")
        engine.dispose()


if __name__ == "__main__":
    main()
