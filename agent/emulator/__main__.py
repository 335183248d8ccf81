"""`python -m agent.emulator serve`: the emulator as a process of its own.

Benchmarks run the emulator outside the scanner's process, so the scanner's wall time and
memory are its own. The process prints one line `READY <url>` on stdout once it serves, then
serves until SIGTERM or SIGINT. Besides the AWS APIs it answers:

- `GET /mllens-emulator/stats`: `{"calls": {...}, "throttled": {...}, "resources": N}`, calls
  per `service:Operation` as they reached the server, and what the rate limits refused;
- `POST /mllens-emulator/reset-stats`: zero the counters (between two scans).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from agent.emulator.bulk import KINDS, BulkSpec, seed_bulk
from agent.emulator.faults import StartResponse, WsgiApp
from agent.emulator.ratelimit import (
    DEFAULT_RATES,
    Latency,
    PressureMiddleware,
    RateLimits,
    parse_rate,
)


class _Control:
    """Answers /mllens-emulator/*; everything else goes to the emulator."""

    def __init__(self, app: WsgiApp, pressure: PressureMiddleware, resources: int) -> None:
        self.app = app
        self.pressure = pressure
        self.resources = resources

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/mllens-emulator/"):
            return self.app(environ, start_response)
        if path == "/mllens-emulator/stats":
            body = json.dumps({**self.pressure.stats(), "resources": self.resources}).encode()
        elif path == "/mllens-emulator/reset-stats" and environ.get("REQUEST_METHOD") == "POST":
            self.pressure.reset_stats()
            body = b"{}"
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "unknown control path"}']
        start_response("200 OK", [("Content-Type", "application/json"),
                                  ("Content-Length", str(len(body)))])
        return [body]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m agent.emulator", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the emulator until SIGTERM")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=0, help="0: a free port (default)")
    s.add_argument("--latency-ms", type=float, default=0.0, help="added to every call")
    s.add_argument("--jitter-ms", type=float, default=0.0,
                   help="plus a uniform random 0..J ms per call")
    s.add_argument("--rate", action="append", default=[], metavar="SVC:OP=RATE[:BURST]",
                   help="a token bucket per (account, region, operation); OP may end in '*'; "
                   "repeatable; overrides the defaults for that pattern")
    s.add_argument("--default-rates", action="store_true",
                   help="apply the built-in AWS-like rates (see agent/emulator/ratelimit.py)")
    s.add_argument("--bulk", default="", metavar="KIND=N,...",
                   help=f"seed a synthetic estate; kinds: {', '.join(KINDS)}, or all=N")
    s.add_argument("--accounts", type=int, default=1, help="accounts to seed --bulk into")
    s.add_argument("--regions", default="us-east-1", help="comma-separated regions for --bulk")
    s.add_argument("--demo", action="store_true", help="seed the demo estate instead")
    return p


def _limits(args: argparse.Namespace) -> RateLimits | None:
    rates: dict[str, float] = dict(DEFAULT_RATES) if args.default_rates else {}
    bursts: dict[str, float] = {}
    for text in args.rate:
        pattern, rate, burst = parse_rate(text)
        rates[pattern] = rate
        if burst is not None:
            bursts[pattern] = burst
    return RateLimits(rates, bursts) if rates else None


def account_ids(n: int) -> tuple[str, ...]:
    """moto's default account first, then synthetic ones (12 digits, distinct)."""
    return ("123456789012", *(f"{200000000000 + i:012d}" for i in range(1, n)))


def serve(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        limits = _limits(args)
        regions = tuple(r.strip() for r in args.regions.split(",") if r.strip())
        spec = BulkSpec.parse(args.bulk, account_ids(args.accounts), regions)
    except ValueError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2

    from agent.emulator.server import Emulator

    pressure: PressureMiddleware | None = None
    holder: dict[str, _Control] = {}

    def wrap(app: WsgiApp) -> WsgiApp:
        nonlocal pressure
        pressure = PressureMiddleware(
            app, Latency(args.latency_ms / 1000, args.jitter_ms / 1000), limits
        )
        holder["control"] = _Control(pressure, pressure, 0)
        return holder["control"]

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Emulator(host=args.host, port=args.port, wrap=wrap) as emu:
        created = seed_bulk(spec) if spec.counts else 0
        if args.demo:
            from agent.emulator.seed import seed_demo

            seed_demo(emu)
        holder["control"].resources = created
        print(f"READY {emu.url}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
