"""Peak memory of the agent's scan (results dropped once each account is written) against the
same scan keeping every result, over an emulated estate of N accounts.

    python bench/agent_memory.py --accounts 10          # 2,000 resources per account
    python bench/agent_memory.py --accounts 20 --estate endpoints=100,training_jobs=400

The emulator runs as its own process (as in scan_bench.py, without latency or limits); each
scan runs in a child process (`--child`), whose peak RSS the kernel reports.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ESTATE = ("endpoints=250,endpoint_configs=50,models=50,training_jobs=500,notebooks=400,"
          "glue_jobs=400,alarms=350")


def child(url: str, accounts: int, keep: bool, db: str) -> None:
    import aioboto3

    from agent.aws.handle import Limits
    from agent.emulator.__main__ import account_ids
    from agent.emulator.bulk import AUDIT_ROLE
    from agent.logs import configure
    from agent.scan import ScanRequest, run_scan
    from agent.store import Store
    from agent.targets import TargetSpec
    from checks import all_checks

    configure("error", json=True)
    spec = TargetSpec(accounts=account_ids(accounts), regions=("us-east-1",),
                      role_name=AUDIT_ROLE if accounts > 1 else None)
    req = ScanRequest(checks=all_checks(), targets=spec, endpoint_url=url, keep_results=keep,
                      limits=Limits(rates={}, default_rate=100000.0))
    started = time.monotonic()
    with Store.open(f"sqlite:///{db}") as store:
        out = asyncio.run(run_scan(req, store, lambda: aioboto3.Session(region_name="us-east-1")))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{accounts} account(s), keep_results={keep}: {out.status}, {out.result_count} "
          f"results, {time.monotonic() - started:.1f} s, peak RSS {rss:.0f} MB", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", type=int, default=10)
    p.add_argument("--estate", default=ESTATE, help="per account: kind=N,...")
    p.add_argument("--child", nargs=4, metavar=("URL", "N", "KEEP", "DB"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        url, n, keep, db = args.child
        child(url, int(n), keep == "keep", db)
        return 0
    from bench.scan_bench import EmulatorProcess

    emu_args = argparse.Namespace(latency_ms=0.0, jitter_ms=0.0, estate=args.estate,
                                  accounts=args.accounts, regions=["us-east-1"], no_rates=True,
                                  rate=[])
    emu = EmulatorProcess(emu_args)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    try:
        with tempfile.TemporaryDirectory(prefix="mllens-agent-mem-") as tmp:
            for n, keep in ((1, "keep"), (args.accounts, "keep"), (args.accounts, "drop")):
                subprocess.run([sys.executable, __file__, "--child", emu.url, str(n), keep,
                                f"{tmp}/{n}-{keep}.db"], env=env, check=True)
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
