"""The Python CPU one page of the console costs (issue 15: list pages under load are bound by the app's cores).

On PostgreSQL, ``bench/load.py``'s data set at a small size (the demo data set plus a project of ``--units``
units × 12 months of bills; its 客服主管 of both projects), built once into ``--pg`` (``--build`` rebuilds).
Through Starlette's TestClient, logged in as that user, each page — the home page, the bill list, the
work-order list — is asked ``--requests`` times; the figure is the median process CPU time of one request
(``time.process_time``: every thread of this process, not the database server's). ``--profile PAGE`` prints a
cProfile of ten requests of that page instead.

To compare two checkouts of the code on the same data, interleaved (A, B, A, B, …):

    python bench/page_cpu.py [--pg postgresql://postgres@127.0.0.1:5432/wuye_bench_page_cpu] [--build]
                             [--units 2000] [--requests 40] [--code DIR] [--compare DIR_A DIR_B --rounds 3]
                             [--profile bills]

``--code DIR`` imports the application from DIR (a checkout, e.g. ``git archive`` of main) instead of this one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAGES = {"home": "/admin/", "bills": "/admin/bill/list", "orders": "/admin/work-order/list",
         "orders_search": "/admin/work-order/list?search=业主", "bills_search": "/admin/bill/list?search=业主"}
SECRET = "bench-secret-" + "z" * 40


def measure(args: argparse.Namespace) -> dict[str, float]:
    import cProfile
    import pstats

    from starlette.testclient import TestClient

    import actions  # noqa: F401  (audit hook)
    from admin.app import create_app, freeze_startup_objects
    from models.db import make_engine

    # isort: split
    # after the application: these put this checkout on sys.path, too late to shadow ``--code``
    import load  # bench/load.py: the data set and its user
    from common import login

    engine = make_engine(args.pg)
    app = create_app(engine, secret_key=SECRET, run_jobs="worker")
    freeze_startup_objects()  # as ``wuye serve``'s workers do
    out = {}
    with TestClient(app, base_url="http://127.0.0.1") as client:
        login(client, load.USER, load.PASSWORD)
        for path in PAGES.values():  # warm: templates compiled, caches filled, pool connected
            for _ in range(3):
                assert client.get(path).status_code == 200, path
        if args.profile:
            # cProfile sees one thread: the request's work moved off the event loop runs on it, inline
            import anyio.to_thread

            async def inline(func, *fargs, **_kw):
                return func(*fargs)

            anyio.to_thread.run_sync = inline
            profiler = cProfile.Profile()
            app.middleware_stack = profiled(app.middleware_stack or app.build_middleware_stack(), profiler)
            for _ in range(10):
                client.get(PAGES[args.profile])
            stats = pstats.Stats(profiler).sort_stats(args.sort)
            stats.print_stats(60)
            if args.callers:
                stats.print_callers(args.callers)
            return out
        samples: dict[str, list[float]] = {name: [] for name in PAGES}
        for _ in range(args.requests):
            for name, path in PAGES.items():
                cpu = time.process_time()
                response = client.get(path)
                samples[name].append(time.process_time() - cpu)
                assert response.status_code == 200, (path, response.status_code)
        out = {name: statistics.median(times) * 1000 for name, times in samples.items()}
    engine.dispose()
    return out


def profiled(asgi, profiler):
    async def app(scope, receive, send):
        profiler.enable()
        try:
            await asgi(scope, receive, send)
        finally:
            profiler.disable()

    return app


def compare(args: argparse.Namespace) -> None:
    results: dict[str, list[dict[str, float]]] = {code: [] for code in args.compare}
    for round_ in range(args.rounds):
        for code in args.compare:
            loadavg = open("/proc/loadavg").read().split()[:3]
            run = subprocess.run([sys.executable, __file__, "--pg", args.pg, "--requests", str(args.requests),
                                  "--code", code, "--json"], capture_output=True, text=True)
            if run.returncode:
                sys.exit(run.stderr)
            figures = json.loads(run.stdout.strip().splitlines()[-1])
            results[code].append(figures)
            print(f"round {round_ + 1} {code}: " + ", ".join(f"{k} {v:.1f} ms" for k, v in figures.items())
                  + f"  (load {' '.join(loadavg)})", flush=True)
    a, b = args.compare
    print("\nmedian CPU ms per request over the rounds (A → B, ratio B/A):")
    for name in PAGES:
        ma = statistics.median(r[name] for r in results[a])
        mb = statistics.median(r[name] for r in results[b])
        print(f"  {name:6} {ma:7.1f} → {mb:7.1f}  ({mb / ma:.2f}×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/wuye_bench_page_cpu")
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--units", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--code", help="the checkout to import the application from")
    parser.add_argument("--compare", nargs=2, metavar=("DIR_A", "DIR_B"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=sorted(PAGES))
    parser.add_argument("--sort", default="cumulative", help="the profile's order (pstats keys)")
    parser.add_argument("--callers", help="with --profile: who calls the functions matching this")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    code = str(Path(args.code).resolve()) if args.code else str(HERE.parent)
    # bench/ of this checkout (the data set, the helpers) after the application's code, which comes first
    sys.path[:0] = [code, str(HERE)]
    os.chdir(code)
    if args.build:
        import actions  # noqa: F401  (the application first, from ``code``)

        # isort: split
        import load

        load.build(args.pg, args.units)
    if args.compare:
        compare(args)
        return
    figures = measure(args)
    if args.json:
        print(json.dumps(figures))
    elif figures:
        print(", ".join(f"{k} {v:.1f} ms" for k, v in figures.items()) + f"  (load {os.getloadavg()})")


if __name__ == "__main__":
    main()
