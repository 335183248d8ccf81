"""What a scan is asked for and what it gives back: the request, the outcomes, the sink the
finished accounts go to, progress reporting, and what every account of one scan shares."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from agent.aws.handle import Limits, RegionHandle, ScanContext
from agent.collectors import CollectOptions
from agent.domain import Gap, Resource, Result, Status
from agent.store.inventory import CachedRecord, CacheWrite
from agent.targets import Caller, TargetSpec
from checks.base import Check
from checks.options import EvaluationOptions

ALL_REGIONS = "*"  # the region of account-level coverage rows and gaps
ACCOUNT_ROW = "account"
REGION_ROW = "region"
NOTHING_READ = "the scan read nothing: every account, region or API it needed was skipped or failed"
NOTHING_TO_SCAN = "nothing to scan: every requested region was skipped"
REGION_LIST_ROW = "regions"
PSEUDO_KINDS = frozenset({ACCOUNT_ROW, REGION_ROW, REGION_LIST_ROW})

CoverageItem = tuple[str, str, str, str]


class ScanError(Exception):
    """The scan as a whole could not run (no credentials, no account identity): exit code 1."""


class AlreadyScanned(Exception):
    """The targets were scanned since `ScanRequest.fresh_since`; nothing was started."""

    def __init__(self, scan: Any) -> None:
        super().__init__(f"scan {scan.id} ({scan.uid[:8]}) already covered these targets")
        self.scan = scan




class Progress(Protocol):
    def account_started(self, account_id: str, name: str) -> None: ...
    def region_started(self, account_id: str, region: str, collectors: int) -> None: ...
    def collector_done(self, account_id: str, region: str, collector: str, count: int) -> None: ...
    def region_done(self, account_id: str, region: str) -> None: ...
    def account_done(self, account_id: str, state: str, reason: str) -> None: ...


class NoProgress:
    def account_started(self, account_id: str, name: str) -> None:
        pass

    def region_started(self, account_id: str, region: str, collectors: int) -> None:
        pass

    def collector_done(self, account_id: str, region: str, collector: str, count: int) -> None:
        pass

    def region_done(self, account_id: str, region: str) -> None:
        pass

    def account_done(self, account_id: str, state: str, reason: str) -> None:
        pass


@dataclass(frozen=True)
class ScanRequest:
    checks: tuple[Check, ...]
    # Shorthand kept for callers that only pick regions; `targets.regions` wins when both are set.
    regions: tuple[str, ...] = ()
    targets: TargetSpec = field(default_factory=TargetSpec)
    profile: str | None = None
    endpoint_url: str | None = None
    limits: Limits = field(default_factory=Limits)
    collect: CollectOptions = field(default_factory=CollectOptions)
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    evaluation: EvaluationOptions = field(default_factory=EvaluationOptions)
    # False: each account's results are dropped once it is written (the outcome keeps their
    # counts). For callers that read the findings back from the store, as the agent does:
    # then nothing holds the organisation's results until the scan ends.
    keep_results: bool = True
    # With `targets.shard`: the run every shard of one sharded scan names (a schedule time,
    # a Step Functions execution name ...); the shards join one scan under it.
    run_id: str | None = None
    # Skip the scan (AlreadyScanned) when a complete or partial scan of the same targets
    # started at or after this time: another agent has done this run's work.
    fresh_since: datetime | None = None

    @property
    def collect_options(self) -> CollectOptions:
        """`collect`, with what the objectives need read (window, endpoint globs) taken from
        `evaluation`: the objectives are given once, so collection and checks cannot differ."""
        objectives = self.evaluation.objectives
        if not objectives.configured:
            return self.collect
        return replace(self.collect, objective_window_days=objectives.window_days,
                       objective_endpoints=objectives.endpoint_globs())

    @property
    def spec(self) -> TargetSpec:
        if self.targets.regions or not self.regions:
            return self.targets
        return replace(self.targets, regions=tuple(self.regions))

    def scope(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "regions": list(spec.regions),
            "checks": [c.id for c in self.checks],
            "endpoint_url": self.endpoint_url,
            "profile": self.profile,
            "organization": spec.discovers,
            "ou_ids": list(spec.ou_ids),
            "include": list(spec.include),
            "exclude": list(spec.exclude),
            "role_name": spec.role_name,
            "session_name": spec.session_name,
            **({"shard": str(spec.shard), "run_id": self.run_id} if spec.shard else {}),
        }


@dataclass
class AccountOutcome:
    account_id: str
    results: list[Result]
    gaps: list[Gap]
    resources: int
    name: str = ""
    # complete | partial | failed | skipped: the account's coverage row state.
    state: str = "complete"
    reason: str = ""
    coverage: list[CoverageItem] = field(default_factory=list)
    # Set when no requested region could be scanned here because none is enabled or offered
    # (not a failure: there is nothing to read); says which and why.
    nothing_to_scan: str = ""
    # The results' counts, kept when the results themselves are dropped (`keep_results`).
    tally: Tally | None = None

    def counted(self) -> Tally:
        return self.tally if self.tally is not None else Tally.of(self.results)


@dataclass
class Tally:
    """Result counts: per pillar and status, failures per severity, per status."""

    by_pillar: dict[str, Counter[str]] = field(default_factory=dict)
    failed_by_severity: Counter[str] = field(default_factory=Counter)
    status: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, results: Iterable[Result]) -> Tally:
        t = cls()
        for r in results:
            t.by_pillar.setdefault(r.pillar.value, Counter())[r.status.value] += 1
            t.status[r.status.value] += 1
            if r.status is Status.FAIL:
                t.failed_by_severity[r.severity.value] += 1
        return t

    def add(self, other: Tally) -> None:
        for pillar, counts in other.by_pillar.items():
            self.by_pillar.setdefault(pillar, Counter()).update(counts)
        self.failed_by_severity.update(other.failed_by_severity)
        self.status.update(other.status)

    @property
    def results(self) -> int:
        return sum(self.status.values())


@dataclass
class ScanOutcome:
    uid: str
    scan_id: int | None
    status: str
    started_at: datetime
    finished_at: datetime
    accounts: list[AccountOutcome]
    api_calls: int
    calls_by_operation: Counter[str]
    # Sharded scans: this shard, and the whole scan's status after it (running until the
    # last shard finishes). `status` is the shard's own.
    shard: str | None = None
    run_status: str | None = None
    # Why a scan that read nothing is not a failure (`nothing_to_scan`), else empty.
    note: str = ""

    @property
    def results(self) -> list[Result]:
        """Every result, of the accounts whose results were kept (`keep_results`)."""
        return [r for a in self.accounts for r in a.results]

    @property
    def result_count(self) -> int:
        return sum(a.counted().results for a in self.accounts)

    @property
    def gaps(self) -> list[Gap]:
        return [g for a in self.accounts for g in a.gaps]

    def coverage(self) -> list[tuple[str, str, str, str, str]]:
        """(account, region, kind, state, reason) rows, as written to the store."""
        return [(a.account_id, *row) for a in self.accounts for row in a.coverage]


class Sink(Protocol):
    """Where finished accounts go: the store in production."""

    def start_scan(
        self, scope: dict[str, Any], *, uid: str | None = None, target_key: str | None = None
    ) -> int: ...

    def join_run(
        self, run_key: str, shard: int, count: int, scope: dict[str, Any], *, uid: str,
        target_key: str,
    ) -> int: ...

    def finish_shard(
        self, scan_id: int, shard: int, status: str, api_calls: int, summary: dict[str, Any],
        error: str | None = None, *, scope: dict[str, Any] | None = None,
    ) -> Any: ...

    def latest_of_targets(self, target_key: str, since: datetime) -> Any: ...

    def write_account(
        self,
        scan_id: int,
        account_id: str,
        results: Sequence[Result],
        gaps: Sequence[Gap],
        resources: Sequence[Resource],
        coverage: Sequence[CoverageItem],
        complete_scopes: set[tuple[str, str]],
        *,
        cache: CacheWrite | None = None,
    ) -> Any: ...

    def cached_inventory(
        self, account_id: str, region: str, kinds: Iterable[str]
    ) -> Mapping[tuple[str, str], CachedRecord]: ...

    def finish_scan(
        self,
        scan_id: int,
        status: str,
        api_calls: int,
        summary: dict[str, Any],
        error: str | None = None,
    ) -> None: ...

    def findings(self, scan_id: int | None = None, *, account_id: str | None = None) -> Any: ...



@dataclass
class Env:
    """What every account of one scan shares."""

    ctx: ScanContext
    req: ScanRequest
    spec: TargetSpec
    base: Any
    caller: Caller
    caller_handle: RegionHandle
    home: str
    progress: Progress
    sink: Sink
    loader: Any = None  # botocore's model loader, shared by every account's session


