"""Incremental inventory: reuse a record described by an earlier scan when the listing proves
it unchanged, instead of describing it again.

A collector asks `reuse(kind, arn, version)` with the version its listing shows; the cache
answers the stored record only when the stored version is the same. What a collector describes
it offers back with `keep`, and the scan stores those with the account's results (in the same
transaction), so a scan that stops midway leaves the cache as the last finished write left it.

The version of each kind, and when a record is not cached at all, is the collectors' call; the
rules are in docs/performance.md. A record whose describe failed is never kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from agent.domain import Kind, utcnow
from agent.store.inventory import CachedRecord, CacheEntry, decode

# Kinds a collector may reuse: the scan loads only these from the store.
CACHED_KINDS: frozenset[Kind] = frozenset({
    Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS, Kind.MODELS, Kind.TRAINING_JOBS,
    Kind.NOTEBOOK_INSTANCES, Kind.GLUE_JOB_RUNS, Kind.MONITORING_EXECUTIONS,
})


def stamp(value: Any) -> str:
    """A listing's time as a version part: ISO for datetimes, '' when absent."""
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else str(value)


@dataclass
class RegionCache:
    """The cached records of one (account, region), and what this scan keeps for the next.

    `use=False` (`mllens scan --full`) reuses nothing but still keeps what it describes.
    """

    region: str = ""
    known: dict[tuple[str, str], CachedRecord] = field(default_factory=dict)
    use: bool = True
    fresh: list[CacheEntry] = field(default_factory=list)
    reused: Counter[str] = field(default_factory=Counter)
    described: Counter[str] = field(default_factory=Counter)

    def has(self, kind: Kind) -> bool:
        """Whether anything of `kind` is cached (worth a listing to validate it)."""
        return self.use and any(k == kind.value for k, _arn in self.known)

    def reuse(self, kind: Kind, arn: str, version: str, *,
              max_age: timedelta | None = None) -> dict[str, Any] | None:
        """The cached record of `arn` if its version is `version` (and, with `max_age`, it
        was collected recently enough); None means describe it."""
        if not self.use:
            return None
        cached = self.known.pop((kind.value, arn), None)
        if cached is None or cached.version != version:
            return None
        if max_age is not None and utcnow() - cached.collected_at > max_age:
            return None
        try:
            data = decode(cached.doc)
        except ValueError:
            return None  # unreadable (written by a broken build?): describe it again
        self.reused[kind.value] += 1
        # Still stored as is: a reused record keeps its row (its collected_at stays too).
        return data

    def keep(self, kind: Kind, arn: str, name: str, version: str,
             data: Mapping[str, Any]) -> None:
        """A record described now, to store for the next scan."""
        self.described[kind.value] += 1
        self.fresh.append(CacheEntry(self.region, kind.value, arn, name, version, data))
