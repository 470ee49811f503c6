"""Benchmark of the bulk import (issue 7): 100,000 units with their owners, re-imported, then corrected.

Writes two workbooks the way a new project arrives — 房屋 (项目, 楼栋, 房号, 类型, 状态, 面积, 交房日期) and 业主
(姓名, 手机号, 身份证号, 楼栋, 房号, 关系) — and, on a temporary SQLite file and on the PostgreSQL database
``wuye_bench_bulk_import`` (dropped and recreated), times through the real action ``import_records``:

1. the first import of both files (100 buildings and 100,000 units created, 100,000 owners linked);
2. the same files again — the preview, which reads, checks and compares every row (all 无变化), and the
   confirm, which is refused at once (该批次已导入);
3. the units file with 1 % of the rows changed (area and status): the preview and the real import;

each next to a bare python-calamine read of the same file, and prints the ratios.

    /work/venv/bin/python bench/bulk_import.py [--rows 100000] [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_bulk_import]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import fresh_postgres, migrate  # noqa: E402  (the benchmarks' shared helpers)
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
    t0 = time.perf_counter()
    with Session(engine) as session, session.begin():
        session.info["actor"] = actor
        result = import_records(session, kind=kind, data=data, file_name=name, actor=actor, dry_run=dry_run)
    elapsed = time.perf_counter() - t0
    assert not result.problems or result.counts["error"] == 0, [p.message for p in result.problems[:5]]
    return elapsed, result


def refused_confirm(engine: Engine, actor: Actor, kind: str, data: bytes, name: str) -> float:
    t0 = time.perf_counter()
    try:
        with Session(engine) as session, session.begin():
            import_records(session, kind=kind, data=data, file_name=name, actor=actor)
    except Refused as refused:
        assert "该批次已导入" in refused.message
        return time.perf_counter() - t0
    raise AssertionError("the same file was imported twice")


def line(label: str, elapsed: float, read: float, result) -> str:
    c = result.counts
    return (f"{label:<34} {elapsed:7.2f} s  = {elapsed / read:5.1f}× the bare read   "
            f"新增 {c['new']:,}  更新 {c['update']:,}  无变化 {c['unchanged']:,}  错误 {c['error']:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_bulk_import")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    n = args.rows
    t0 = time.perf_counter()
    units, owners, corrected = units_file(n), owners_file(n), units_file(n, changed=1)
    print(f"workbooks: 房屋 {len(units) / 2**20:.1f} MB, 业主 {len(owners) / 2**20:.1f} MB, "
          f"房屋（1% 更正）{len(corrected) / 2**20:.1f} MB — {n:,} rows each, written in {time.perf_counter() - t0:.1f} s")
    reads = {}
    for name, data in (("units", units), ("owners", owners), ("corrected", corrected)):
        t0 = time.perf_counter()
        read_calamine(data)
        reads[name] = time.perf_counter() - t0
    print(f"bare python-calamine read: 房屋 {reads['units']:.2f} s, 业主 {reads['owners']:.2f} s, "
          f"更正 {reads['corrected']:.2f} s")

    targets = [("SQLite", lambda: make_engine(f"sqlite:///{tempfile.mkdtemp()}/bench.db"))]
    if not args.sqlite_only:
        targets.append(("PostgreSQL", lambda: make_engine(fresh_postgres(args.pg))))
    for label, make in targets:
        engine = make()
        actor = build(engine)
        print(f"\n== {label}")
        elapsed, result = timed(engine, actor, "units", units, "房屋.xlsx")
        print(line("1. import 房屋 (new)", elapsed, reads["units"], result))
        analyze(engine)
        elapsed, result = timed(engine, actor, "customers", owners, "业主.xlsx")
        print(line("1. import 业主 + 房屋关系 (new)", elapsed, reads["owners"], result))
        analyze(engine)
        elapsed, result = timed(engine, actor, "units", units, "房屋.xlsx", dry_run=True)
        print(line("2. same 房屋 file, preview", elapsed, reads["units"], result))
        elapsed, result = timed(engine, actor, "customers", owners, "业主.xlsx", dry_run=True)
        print(line("2. same 业主 file, preview", elapsed, reads["owners"], result))
        print(f"{'2. same file, confirm refused':<34} {refused_confirm(engine, actor, 'units', units, '房屋.xlsx'):7.2f} s"
              "  (该批次已导入)")
        elapsed, result = timed(engine, actor, "units", corrected, "房屋-更正.xlsx", dry_run=True)
        print(line("3. 1 % changed, preview", elapsed, reads["corrected"], result))
        elapsed, result = timed(engine, actor, "units", corrected, "房屋-更正.xlsx")
        print(line("3. 1 % changed, import", elapsed, reads["corrected"], result))
        with Session(engine) as session:
            print(f"   database: {session.scalar(select(func.count()).select_from(Unit)):,} units, "
                  f"{session.scalar(select(func.count()).select_from(Customer)):,} customers, "
                  f"{session.scalar(select(func.count()).select_from(UnitCustomer)):,} links")
        engine.dispose()


if __name__ == "__main__":
    main()
