"""Benchmark the findings history: size, write time and query time over a synthetic history.

    python bench/history_bench.py                       # SQLite and PostgreSQL, defaults below
    python bench/history_bench.py --engines sqlite --findings 2000 --scans 10
    python bench/history_bench.py --postgres-url postgresql+psycopg://me@db:5432/scratch

Writes `--scans` daily scans of a synthetic estate (`bench/estate.py`: `--findings` finding
identities over `--accounts` accounts, `--churn` of them changing each day) through the
real `Store.write_account`, then reports, per engine:

- database size after the first and after the last scan (SQLite: the file after a WAL
  checkpoint; PostgreSQL: tables, indexes and TOAST in the benchmark's own schema, dead row
  versions included). Between two days PostgreSQL's autovacuum has hours to run; the
  benchmark does what it would do in that time (`--vacuum auto`, see `autovacuum`), or
  nothing at all (`--vacuum none`, the worst case);
- write time per scan (first, median, last);
- the time of a trend (per day, by pillar), a diff and an as-of query over the last week
  versus over the whole history (median of `--repeat` runs).

Targets (issue 4): size after the last scan <= 1.5x the size after the first; write time
follows the churn, not the history length (last ~ median); whole-history query <= 2x the
one-week query. The exit code is 0 either way: this is a measurement, not a test.
PostgreSQL runs in a fresh schema that is dropped afterwards (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text
from sqlalchemy.engine import make_url

from agent.mutes import MuteRule, MuteSet
from agent.store import Store, StoreError
from bench.estate import Estate
from checks import all_checks

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


@dataclass
class Figures:
    engine: str
    findings: int
    accounts: int
    scans: int
    churn: float
    changed_per_scan: float = 0.0
    size_first: int = 0
    size_last: int = 0
    write_s: list[float] = field(default_factory=list)
    queries: dict[str, dict[str, float]] = field(default_factory=dict)
    tables_first: dict[str, int] = field(default_factory=dict)
    tables_last: dict[str, int] = field(default_factory=dict)
    vacuum: str = "n/a"
    vacuums: list[str] = field(default_factory=list)

    @property
    def size_ratio(self) -> float:
        return self.size_last / self.size_first if self.size_first else 0.0


class Clock:
    """The store's clock, moved by the benchmark: scan N happens on day N."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def bench_mutes() -> MuteSet:
    """A small mute file, as a team would keep: so matching is part of the write time."""
    return MuteSet((
        MuteRule("sandbox accounts are torn down nightly", account="10000000000[0-4]"),
        MuteRule("accepted until the platform migration", check="glue_job_*",
                 expires=START + timedelta(days=14)),
        MuteRule("dev resources", tags={"env": "dev"}, check="sagemaker_endpoint_*autoscaling*"),
    ), "bench")


def run(url: str, engine: str, args: argparse.Namespace, size: Callable[[Store], int],
        tables: Callable[[Store], dict[str, int]],
        between_days: Callable[[Store], list[str]] | None = None) -> Figures:
    fig = Figures(engine, args.findings, args.accounts, args.scans, args.churn)
    estate = Estate(args.findings, args.accounts, seed=args.seed)
    checks = all_checks()
    mutes = bench_mutes()
    clock = Clock()
    store = Store.open(url, clock=clock)
    changed = []
    try:
        for day in range(args.scans):
            clock.now = START + timedelta(days=day)
            if day:
                changed.append(estate.churn(args.churn))
            # What a scan hands the store, built before the clock starts: only the store's
            # work is timed.
            accounts = [
                (a.account_id, list(estate.results(a, clock.now)), estate.gaps(a, clock.now),
                 estate.resources(a), estate.coverage(a), estate.complete_scopes(a, checks))
                for a in estate.accounts
            ]
            began = time.perf_counter()
            scan_id = store.start_scan({"benchmark": True, "day": day})
            for account_id, results, gaps, resources, coverage, scopes in accounts:
                store.write_account(scan_id, account_id, results, gaps, resources, coverage,
                                    scopes, mutes=mutes)
            store.finish_scan(scan_id, "complete", 0, {})
            fig.write_s.append(time.perf_counter() - began)
            if day == 0:
                fig.size_first, fig.tables_first = size(store), tables(store)
            if between_days is not None:
                fig.vacuums.extend(f"day {day + 1}: {t}" for t in between_days(store))
            progress(f"{engine}: scan {day + 1}/{args.scans} written in "
                     f"{fig.write_s[-1]:.2f}s")
        fig.size_last, fig.tables_last = size(store), tables(store)
        fig.changed_per_scan = statistics.mean(changed) if changed else 0.0
        fig.queries = queries(store, clock.now, args.repeat)
    finally:
        store.close()
    return fig


def queries(store: Store, now: datetime, repeat: int) -> dict[str, dict[str, float]]:
    """Each query over the last 7 days and over the whole history; median seconds."""
    scans = store.latest_finished(10_000)  # newest first
    latest, first = scans[0], scans[-1]
    week_ago = now - timedelta(days=7)
    week_scan = next(s for s in scans if s.started_at <= week_ago)

    def timed(fn: Callable[[], Any]) -> float:
        runs = []
        for _ in range(repeat):
            began = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - began)
        return statistics.median(runs)

    out = {
        "trend": {
            "week": timed(lambda: store.trends(by="pillar", per="day", since=week_ago)),
            "whole": timed(lambda: store.trends(by="pillar", per="day")),
        },
        "diff": {
            "week": timed(lambda: store.diff(week_scan.id, latest.id)),
            "whole": timed(lambda: store.diff(first.id, latest.id)),
        },
        # The state as of a past scan is replayed from the history: a week back, and back to
        # the very first scan.
        "as_of": {
            "week": timed(lambda: store.findings(week_scan.id, status="FAIL")),
            "whole": timed(lambda: store.findings(first.id, status="FAIL")),
        },
    }
    for q in out.values():
        q["ratio"] = q["whole"] / q["week"] if q["week"] else 0.0
    return out


# -- engines -----------------------------------------------------------------------------------


def run_sqlite(args: argparse.Namespace) -> Figures:
    folder = Path(args.sqlite_dir or tempfile.mkdtemp(prefix="mllens-bench-"))
    path = folder / f"history-{uuid.uuid4().hex[:8]}.db"

    def size(store: Store) -> int:
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        wal = path.with_name(path.name + "-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)

    def tables(store: Store) -> dict[str, int]:
        with store.engine.connect() as conn:
            try:
                rows = conn.exec_driver_sql(
                    "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"
                ).all()
            except Exception:  # dbstat is a compile-time option of SQLite
                return {}
        return {name: int(n) for name, n in rows}

    try:
        return run(f"sqlite:///{path}", "sqlite", args, size, tables)
    finally:
        if not args.keep:
            for suffix in ("", "-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)


def run_postgres(args: argparse.Namespace) -> Figures:
    import psycopg

    base = make_url(args.postgres_url)
    libpq = base.set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"mllens_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(libpq, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL at {base.render_as_string()}: "
                         f"{' '.join(str(exc).split())}") from None
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )
    sizes = text(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
    )

    def tables(store: Store) -> dict[str, int]:
        with store.engine.connect() as conn:
            return {name: int(n) for name, n in conn.execute(sizes)}

    def size(store: Store) -> int:
        return sum(tables(store).values())

    try:
        fig = run(url, "postgres", args, size, tables,
                  autovacuum if args.vacuum == "auto" else None)
        fig.vacuum = args.vacuum
        return fig
    finally:
        if not args.keep:
            with psycopg.connect(libpq, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


_DUE = text(
    "SELECT s.relname, s.n_dead_tup, s.n_live_tup, c.reloptions, "
    "current_setting('autovacuum_vacuum_threshold')::int, "
    "current_setting('autovacuum_vacuum_scale_factor')::float "
    "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema()"
)


def autovacuum(store: Store) -> list[str]:
    """VACUUM what autovacuum would have vacuumed in the day between two daily scans.

    The benchmark writes thirty days in a minute, so autovacuum (which wakes every minute, and
    may be off on a test server) never gets the time it has in production. Each table is
    vacuumed when its dead row versions pass autovacuum's own threshold for it: the server's
    setting or the table's storage parameter (`findings` sets its scale factor to 0.05).
    """
    store.engine.dispose()  # backends flush their statistics when they exit
    due = []
    with store.engine.connect() as conn:
        for name, dead, live, options, base, scale in conn.execute(_DUE):
            for option in options or ():
                key, _, value = option.partition("=")
                if key == "autovacuum_vacuum_scale_factor":
                    scale = float(value)
                elif key == "autovacuum_vacuum_threshold":
                    base = int(value)
            if dead > base + scale * live:
                due.append(name)
    if due:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in due:
                conn.execute(text(f'VACUUM "{name}"'))
    return due


# -- output ------------------------------------------------------------------------------------


def progress(message: str) -> None:
    if sys.stderr.isatty():
        print(f"\r{message:<70}", end="", file=sys.stderr, flush=True)


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def report(fig: Figures) -> str:
    w = fig.write_s
    vacuum = {"auto": ", autovacuum emulated between days", "none": ", never vacuumed"}.get(
        fig.vacuum, "")
    lines = [
        f"== {fig.engine}: {fig.findings} findings, {fig.accounts} accounts, {fig.scans} daily "
        f"scans, {fig.churn:.0%} churn (~{fig.changed_per_scan:.0f} findings changed per "
        f"day){vacuum}",
        f"size after 1 scan   {mib(fig.size_first)}",
        f"size after {fig.scans} scans {mib(fig.size_last)}  ({fig.size_ratio:.2f}x, target <= "
        f"1.5x) {'OK' if fig.size_ratio <= 1.5 else 'MISSED'}",
        f"write per scan      first {w[0]:.2f}s, median {statistics.median(w):.2f}s, "
        f"last {w[-1]:.2f}s",
    ]
    if fig.vacuums:
        lines.append(f"vacuumed            {len(fig.vacuums)} times ({', '.join(fig.vacuums)})")
    for name, q in fig.queries.items():
        ok = "OK" if q["ratio"] <= 2 else "MISSED"
        lines.append(f"{name:<8} one week {q['week'] * 1000:7.1f} ms, whole history "
                     f"{q['whole'] * 1000:7.1f} ms  ({q['ratio']:.2f}x, target <= 2x) {ok}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--findings", type=int, default=10_000, help="finding identities (10000)")
    p.add_argument("--accounts", type=int, default=50, help="accounts (50)")
    p.add_argument("--scans", type=int, default=30, help="daily scans (30)")
    p.add_argument("--churn", type=float, default=0.03, help="share changing per day (0.03)")
    p.add_argument("--seed", type=int, default=20261201)
    p.add_argument("--engines", default="sqlite,postgres", help="sqlite, postgres or both")
    p.add_argument("--postgres-url", default=os.environ.get("MLLENS_BENCH_PG_URL", DEFAULT_PG),
                   help=f"server for the PostgreSQL run (default {DEFAULT_PG})")
    p.add_argument("--sqlite-dir", help="where the SQLite file goes (a temporary directory)")
    p.add_argument("--repeat", type=int, default=5, help="runs per query timing (5)")
    p.add_argument("--vacuum", choices=("auto", "none"), default="auto",
                   help="PostgreSQL: emulate autovacuum between days (auto, the default) or "
                   "never vacuum (none, the worst case)")
    p.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    p.add_argument("--tables", action="store_true", help="also print sizes per table")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    if args.scans < 8:
        p.error("--scans must be at least 8 (the queries compare one week with the whole)")
    runners = {"sqlite": run_sqlite, "postgres": run_postgres}
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in runners]
    if unknown:
        p.error(f"unknown engine {unknown[0]!r}; use sqlite and/or postgres")
    results = []
    for engine in engines:
        try:
            fig = runners[engine](args)
        except StoreError as exc:
            print(f"{engine}: skipped: {exc}", file=sys.stderr)
            continue
        progress("")
        results.append(fig)
        if not args.json:
            print(report(fig), flush=True)
            if args.tables:
                for name in sorted(fig.tables_last, key=lambda n: -fig.tables_last[n]):
                    print(f"    {name:<45} {mib(fig.tables_first.get(name, 0)):>10} -> "
                          f"{mib(fig.tables_last[name]):>10}")
    if args.json:
        print(json.dumps([asdict(f) | {"size_ratio": f.size_ratio} for f in results], indent=2))
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
