"""Scan benchmark: mllens against an emulated estate under AWS-like latency and rate limits.

    python bench/scan_bench.py                      # 7,500 resources, 50 ms, default limits
    python bench/scan_bench.py --serial --rescan    # plus concurrency 1, plus a re-scan
    python bench/scan_bench.py --estate training_jobs=100000 --latency-ms 0 --no-rates
    python bench/scan_bench.py --rate sagemaker:ListTrainingJobs=2

The emulator runs as its own process (`python -m agent.emulator serve`), seeded straight into
moto's backends; the scanner runs as `mllens scan`, a child process whose peak RSS is read from
the kernel (wait4). API calls are counted by the emulator, so they are what reached "AWS".

The lower bound is what a perfect scanner making the same useful calls would need:
- rate: every (account, region, operation) bucket drains at its rate once its burst is spent,
  all buckets in parallel: max over buckets of (calls - burst) / rate;
- latency: total calls x latency / the scanner's in-flight bound;
- the issue's reference formula, sum over operations of calls / rate, is reported too (it
  assumes operations cannot overlap, so it is looser).
The bound is the larger of rate and latency; the ratio is measured wall time over it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agent.emulator.ratelimit import RateLimits  # noqa: E402

DEFAULT_ESTATE = (
    "endpoints=1000,endpoint_configs=250,models=250,training_jobs=1000,notebooks=1000,"
    "glue_jobs=1000,alarms=1000"
)


@dataclass
class Run:
    label: str
    wall_s: float
    peak_rss_mb: float
    exit_code: int
    calls: dict[str, int]
    throttled: dict[str, int]
    served: dict[str, int]
    scan_status: str = ""
    results: int = 0
    failed: int = 0
    gaps: int = 0
    bound: dict[str, float] = field(default_factory=dict)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


class EmulatorProcess:
    def __init__(self, args: argparse.Namespace) -> None:
        cmd = [sys.executable, "-m", "agent.emulator", "serve",
               "--latency-ms", str(args.latency_ms), "--jitter-ms", str(args.jitter_ms),
               "--bulk", args.estate, "--accounts", str(args.accounts),
               "--regions", ",".join(args.regions)]
        if not args.no_rates:
            cmd.append("--default-rates")
        for rate in args.rate:
            cmd += ["--rate", rate]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY "):
            self.proc.kill()
            raise SystemExit(f"emulator did not start (exit {self.proc.wait()})")
        self.url = line.split()[1]

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/mllens-emulator/stats", timeout=30) as r:
            return json.loads(r.read())  # type: ignore[no-any-return]

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/mllens-emulator/reset-stats", method="POST")
        urllib.request.urlopen(req, timeout=30).close()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def lower_bound(stats: dict[str, Any], max_in_flight: int) -> dict[str, float]:
    limits = RateLimits(stats["rates"], stats["bursts"])
    rate_bound = 0.0
    per_op: dict[str, int] = {}
    for key, calls in stats["served"].items():
        _account, _region, op = key.split("/", 2)
        per_op[op] = per_op.get(op, 0) + calls
        rule = limits.rule_for(op)
        if rule is not None:
            burst = limits.bursts.get(rule, max(1.0, limits.rates[rule]))
            rate_bound = max(rate_bound, max(0.0, calls - burst) / limits.rates[rule])
    reference = 0.0
    for op, calls in per_op.items():
        rule = limits.rule_for(op)
        if rule is not None:
            reference += calls / limits.rates[rule]
    total = sum(per_op.values())
    latency_bound = total * stats["latency_s"] / max_in_flight
    return {
        "rate_s": round(rate_bound, 2),
        "latency_s": round(latency_bound, 2),
        "bound_s": round(max(rate_bound, latency_bound), 2),
        "reference_sum_s": round(reference, 2),
    }


def run_scan(emu: EmulatorProcess, args: argparse.Namespace, db: str, label: str,
             extra: list[str]) -> Run:
    emu.reset()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": args.regions[0], "MLLENS_LOG_LEVEL": "error"}
    cmd = [str(ROOT / ".venv" / "bin" / "mllens") if (ROOT / ".venv").exists() else "mllens",
           "scan", "--endpoint-url", emu.url, "--db", db, "-o", "json",
           "--output", os.devnull, "--no-progress", "-z"]
    for region in args.regions:
        cmd += ["-r", region]
    if args.accounts > 1:
        # Every seeded account, through the role the seed made in each (the first account is
        # the caller's own, scanned with its own credentials).
        from agent.emulator.__main__ import account_ids
        from agent.emulator.bulk import AUDIT_ROLE

        cmd += ["--account", ",".join(account_ids(args.accounts)), "--role-name", AUDIT_ROLE]
    if args.no_rates:
        # No limits on the server: none on the client either (its ceilings would be the bound).
        from agent.aws.ratelimit import DEFAULT_RATES

        cmd += ["--default-rate", "100000", "--rate",
                ",".join(f"{service}=100000" for service in DEFAULT_RATES)]
    cmd += args.scan_arg + extra
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    stderr = proc.stderr.read() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(f"{label}: mllens exited {code}:\n{stderr[-3000:]}", file=sys.stderr)
    stats = emu.stats()
    run = Run(label, round(wall, 2), round(usage.ru_maxrss / 1024, 1), code, stats["calls"],
              stats["throttled"], stats["served"])
    _read_store(run, db)
    in_flight = _flag(args.scan_arg + extra, "--max-in-flight", 64)
    run.bound = lower_bound(stats, in_flight)
    return run


def _flag(argv: list[str], name: str, default: int) -> int:
    if name in argv:
        return int(argv[argv.index(name) + 1])
    return default


def _read_store(run: Run, db: str) -> None:
    from agent.store import Store

    with Store.open(db, migrate=False) as store:
        scans = store.latest_scans(1)
    if scans:
        scan = scans[0]
        run.scan_status = str(scan.status.value)
        counts = scan.summary.get("status", {})
        run.results = sum(counts.values())
        run.failed = counts.get("FAIL", 0)
        run.gaps = scan.summary.get("gaps", 0)


def report(runs: list[Run], args: argparse.Namespace, resources: int) -> dict[str, Any]:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"mllens scan benchmark: {resources} resources, {args.accounts} account(s), "
              f"{len(args.regions)} region(s), latency {args.latency_ms} ms")
    for col in ("run", "wall s", "bound s", "ratio", "calls", "calls/res", "throttled",
                "peak RSS MB", "results", "gaps", "status"):
        t.add_column(col, justify="right" if col != "run" else "left")
    for r in runs:
        ratio = r.wall_s / r.bound["bound_s"] if r.bound.get("bound_s") else float("nan")
        t.add_row(r.label, f"{r.wall_s:.1f}", f"{r.bound['bound_s']:.1f}", f"{ratio:.2f}",
                  str(r.total_calls), f"{r.total_calls / max(resources, 1):.2f}",
                  str(sum(r.throttled.values())), f"{r.peak_rss_mb:.0f}", str(r.results),
                  str(r.gaps), r.scan_status or f"exit {r.exit_code}")
    console = Console(width=max(Console().width, 150))
    console.print(t)
    ops = Table(title="API calls per operation (first run)")
    for col in ("operation", "calls", "throttled"):
        ops.add_column(col, justify="right" if col != "operation" else "left")
    first = runs[0]
    for op, n in sorted(first.calls.items(), key=lambda kv: -kv[1]):
        ops.add_row(op, str(n), str(first.throttled.get(op, 0)))
    console.print(ops)
    for r in runs:
        console.print(f"{r.label}: bound = max(rate {r.bound['rate_s']} s, latency "
                      f"{r.bound['latency_s']} s); reference sum over operations "
                      f"{r.bound['reference_sum_s']} s", highlight=False)
    if len(runs) > 1:
        base = runs[0]
        for r in runs[1:]:
            console.print(f"{r.label} vs {base.label}: calls {r.total_calls / base.total_calls:.0%}"
                          f", wall {r.wall_s / base.wall_s:.0%}", highlight=False)
    return {"args": vars(args), "resources": resources,
            "runs": [{**asdict(r), "total_calls": r.total_calls} for r in runs]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--estate", default=DEFAULT_ESTATE,
                   help="per (account, region): kind=N,... (see agent/emulator/bulk.py)")
    p.add_argument("--accounts", type=int, default=1)
    p.add_argument("--regions", type=lambda s: [r for r in s.split(",") if r],
                   default=["us-east-1"])
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--jitter-ms", type=float, default=0.0)
    p.add_argument("--no-rates", action="store_true", help="no rate limits at all")
    p.add_argument("--rate", action="append", default=[], metavar="SVC:OP=RATE[:BURST]",
                   help="override one rate (repeatable)")
    p.add_argument("--serial", action="store_true",
                   help="also scan with concurrency 1 (--max-in-flight 1 --per-service 1)")
    p.add_argument("--rescan", action="store_true",
                   help="also re-scan the unchanged estate into the same store")
    p.add_argument("--scan-arg", action="append", default=[],
                   help="extra argument for mllens scan (repeatable), e.g. --scan-arg=--role-name")
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args()

    from agent.emulator.bulk import BulkSpec

    spec = BulkSpec.parse(args.estate, ["x"] * args.accounts, args.regions)
    resources = spec.per_scope * args.accounts * len(args.regions)
    t0 = time.monotonic()
    emu = EmulatorProcess(args)
    print(f"emulator at {emu.url}, {resources} resources seeded in "
          f"{time.monotonic() - t0:.1f}s", flush=True)
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="mllens-bench-") as tmp:
        try:
            db = f"sqlite:///{tmp}/bench.db"
            runs.append(run_scan(emu, args, db, "first scan", []))
            if args.rescan:
                runs.append(run_scan(emu, args, db, "re-scan", []))
            if args.serial:
                runs.append(run_scan(emu, args, f"sqlite:///{tmp}/serial.db", "concurrency 1",
                                     ["--max-in-flight", "1", "--per-service", "1"]))
        finally:
            emu.stop()
    figures = report(runs, args, resources)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))
    return 0 if all(r.exit_code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
