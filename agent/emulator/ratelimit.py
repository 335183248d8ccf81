"""AWS-like pressure in front of the emulator: per-call latency and per-operation rate limits.

AWS throttles each API per (account, region, operation) with a token bucket and answers an
over-limit call at once with a throttling error; every call, throttled or not, costs a network
round trip. This middleware reproduces both so a benchmark measures a scanner against the
limits it will meet, not against moto's own speed.

The default rates are stand-ins: CloudWatch documents DescribeAlarms at 9 TPS and GetMetricData
at 50 TPS; SageMaker, Glue and Application Auto Scaling publish no per-operation figures, so the
defaults below are round numbers in the range users report. Every rate can be set by flag.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.emulator.faults import CallInfo, StartResponse, WsgiApp, error_response, identify

# "service:Operation" (or "service:Prefix*") -> calls per second. Matched most specific first.
DEFAULT_RATES: Mapping[str, float] = {
    "cloudwatch:DescribeAlarms": 9.0,
    "cloudwatch:GetMetricData": 50.0,
    "cloudwatch:ListMetrics": 25.0,
    "sagemaker:List*": 10.0,
    "sagemaker:Describe*": 20.0,
    "glue:Get*": 10.0,
    "application-autoscaling:Describe*": 10.0,
    "sts:*": 50.0,
    "organizations:*": 5.0,
    "tagging:*": 10.0,
}

# What each protocol's services answer when throttling (botocore retries both).
_THROTTLE_CODE = {"json": "ThrottlingException", "query": "Throttling", "other": "Throttling"}
_ALIASES = {"monitoring": "cloudwatch"}


@dataclass
class TokenBucket:
    """`rate` tokens a second, holding at most `burst`; starts full, as AWS's buckets do."""

    rate: float
    burst: float
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a bucket needs a positive rate and a burst of at least 1")
        self._tokens = self.burst
        self._at = self.clock()

    def take(self) -> bool:
        now = self.clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


def parse_rate(text: str) -> tuple[str, float, float | None]:
    """`service:Operation=RATE[:BURST]` (Operation may end in `*`) -> (pattern, rate, burst)."""
    pattern, sep, value = text.partition("=")
    if not sep or ":" not in pattern:
        raise ValueError(f"rate {text!r} is not service:Operation=RATE[:BURST]")
    rate_text, _, burst_text = value.partition(":")
    try:
        rate = float(rate_text)
        burst = float(burst_text) if burst_text else None
    except ValueError:
        raise ValueError(f"rate {text!r}: RATE and BURST must be numbers") from None
    if rate <= 0 or (burst is not None and burst < 1):
        raise ValueError(f"rate {text!r}: RATE must be > 0 and BURST >= 1")
    return pattern.strip(), rate, burst


@dataclass(frozen=True)
class Latency:
    """Fixed `base` seconds, plus uniform jitter of up to `jitter` seconds when set."""

    base: float = 0.0
    jitter: float = 0.0

    def sample(self, rng: random.Random) -> float:
        return self.base + (rng.uniform(0, self.jitter) if self.jitter > 0 else 0.0)


class RateLimits:
    """Buckets per (account, region, operation), created on first use from the rate table."""

    def __init__(
        self,
        rates: Mapping[str, float],
        bursts: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rates = dict(rates)
        self.bursts = dict(bursts or {})
        self.clock = clock
        self._buckets: dict[tuple[str, str, str], TokenBucket | None] = {}
        self._lock = threading.Lock()

    def rule_for(self, key: str) -> str | None:
        """The most specific pattern matching `service:Operation`, or None (unlimited)."""
        if key in self.rates:
            return key
        service = key.split(":", 1)[0]
        prefixes = [p for p in self.rates if p.endswith("*") and p.startswith(f"{service}:")]
        matching = [p for p in prefixes if key.startswith(p[:-1])]
        return max(matching, key=len) if matching else None

    def allow(self, call: CallInfo) -> bool:
        key = f"{_ALIASES.get(call.service, call.service)}:{call.operation}"
        bucket_key = (call.account, call.region, key)
        with self._lock:
            if bucket_key not in self._buckets:
                rule = self.rule_for(key)
                self._buckets[bucket_key] = (
                    None
                    if rule is None
                    else TokenBucket(
                        self.rates[rule], self.bursts.get(rule, max(1.0, self.rates[rule])),
                        self.clock,
                    )
                )
            bucket = self._buckets[bucket_key]
            return bucket is None or bucket.take()


class PressureMiddleware:
    """WSGI middleware: sleep a sampled latency, then answer over-limit calls with throttling.

    It sits in front of the fault middleware, so `throttled` counts only what the limits
    refused, and the fault middleware's call counter still sees every call that got through.
    """

    def __init__(
        self,
        app: WsgiApp,
        latency: Latency | None = None,
        limits: RateLimits | None = None,
        seed: int = 0,
    ) -> None:
        self.app = app
        self.latency = latency or Latency()
        self.limits = limits
        self.calls: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        # "account/region/service:Operation" -> calls that got through: what the lower bound of
        # a benchmark is computed from, bucket by bucket.
        self.served: Counter[str] = Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(("/moto-api", "/mllens-emulator")):
            return self.app(environ, start_response)
        call = identify(environ)
        with self._lock:
            delay = self.latency.sample(self._rng)
            if call is not None:
                self.calls[call.key] += 1
        if delay > 0:
            time.sleep(delay)
        if call is not None and self.limits is not None and not self.limits.allow(call):
            with self._lock:
                self.throttled[call.key] += 1
            code = _THROTTLE_CODE.get(call.protocol, "Throttling")
            status, headers, body = error_response(call.protocol, code, "Rate exceeded", 400)
            start_response(status, headers)
            return [body]
        if call is not None:
            with self._lock:
                self.served[f"{call.account}/{call.region}/{call.key}"] += 1
        return self.app(environ, start_response)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "throttled": dict(self.throttled),
                "served": dict(self.served),
                "rates": dict(self.limits.rates) if self.limits else {},
                "bursts": {
                    p: self.limits.bursts.get(p, max(1.0, r)) for p, r in self.limits.rates.items()
                } if self.limits else {},
                "latency_s": self.latency.base + self.latency.jitter / 2,
            }

    def reset_stats(self) -> None:
        with self._lock:
            self.calls.clear()
            self.throttled.clear()
            self.served.clear()
