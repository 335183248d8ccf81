"""The findings that are evidence for one workload: its scope, the latest scan of each place.

Scope: the accounts (and regions, and tags where findings carry them) that belong to the
workload, so one workload's evidence is never another's. Within the scope, each (account, region)
contributes what the latest scan that reached it reported: a finding last seen by an older scan
was not reported the last time mllens looked there (its check was not run, or its resource is
gone while the scan could not say so) and is not evidence. GONE findings are not evidence.

A finding whose latest observation was UNKNOWN counts as UNKNOWN, even though the store keeps its
last known status: evidence must say what mllens knows now.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from agent.domain import Status
from agent.store.rows import FindingRow, FindingStatus, ScanRow

# Keys under which a finding's evidence may carry its resource's tags (a dict, or the AWS list of
# {"Key", "Value"}). Today's collectors read no tags; tag selection refuses to run without them.
TAG_KEYS = ("Tags", "tags", "ResourceTags")


class EvidenceError(Exception):
    """The store cannot give evidence for this scope; the message says what to do."""


class FindingSource(Protocol):
    """What evidence needs from `agent.store.Store`."""

    def findings(self, scan_id: int | None = None, *, account_id: str | None = None) -> list[
        FindingRow
    ]: ...

    def scan(self, uid_or_id: int | str) -> ScanRow | None: ...


@dataclass(frozen=True, slots=True)
class Scope:
    accounts: tuple[str, ...]
    regions: tuple[str, ...] = ()  # empty: every region of the accounts
    tags: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        regions = ", ".join(self.regions) if self.regions else "all regions"
        out = f"accounts {', '.join(self.accounts)}; {regions}"
        if self.tags:
            out += "; tags " + ", ".join(f"{k}={v}" for k, v in self.tags)
        return out


@dataclass(frozen=True, slots=True)
class ScanRef:
    id: int
    uid: str
    started_at: datetime

    @property
    def short(self) -> str:
        return self.uid[:8]


@dataclass(frozen=True, slots=True)
class Failing:
    check_id: str
    account_id: str
    region: str
    resource: str  # short name: the ARN's resource part, plus the sub-resource
    severity_rank: int


@dataclass(frozen=True, slots=True)
class CheckEvidence:
    check_id: str
    passed: int = 0
    failed: int = 0
    unknown: int = 0
    not_applicable: int = 0
    failing: tuple[Failing, ...] = ()  # worst first

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.unknown + self.not_applicable

    @property
    def passes(self) -> bool:
        """At least one PASS, and neither FAIL nor UNKNOWN, in the scope."""
        return self.passed > 0 and self.failed == 0 and self.unknown == 0


@dataclass(frozen=True, slots=True)
class ChoiceEvidence:
    """The evidence of every check mapped to one choice (checks without findings included)."""

    checks: tuple[CheckEvidence, ...]

    def _sum(self, attr: str) -> int:
        return sum(getattr(c, attr) for c in self.checks)

    @property
    def passed(self) -> int:
        return self._sum("passed")

    @property
    def failed(self) -> int:
        return self._sum("failed")

    @property
    def unknown(self) -> int:
        return self._sum("unknown")

    @property
    def not_applicable(self) -> int:
        return self._sum("not_applicable")

    @property
    def has_findings(self) -> bool:
        return any(c.total for c in self.checks)

    @property
    def passing(self) -> bool:
        """Every mapped check passes: the only evidence on which mllens may select a choice."""
        return bool(self.checks) and all(c.passes for c in self.checks)

    def failing(self) -> list[Failing]:
        return sorted(
            (f for c in self.checks for f in c.failing),
            key=lambda f: (-f.severity_rank, f.resource, f.check_id),
        )


@dataclass(frozen=True)
class Evidence:
    scope: Scope
    by_check: Mapping[str, CheckEvidence]
    scans: tuple[ScanRef, ...]  # newest first
    findings: int

    def for_checks(self, check_ids: Iterable[str]) -> ChoiceEvidence:
        return ChoiceEvidence(
            tuple(self.by_check.get(c) or CheckEvidence(c) for c in sorted(set(check_ids)))
        )


def short_resource(arn: str, sub: str = "") -> str:
    """`endpoint/ep-1` for an ARN, plus `[variant]`: enough to find it, short enough for notes."""
    name = arn.split(":", 5)[-1] if arn.startswith("arn:") else arn
    return f"{name}[{sub}]" if sub else name


def finding_tags(evidence: Mapping[str, Any]) -> dict[str, str] | None:
    for key in TAG_KEYS:
        raw = evidence.get(key)
        if isinstance(raw, Mapping):
            return {str(k): str(v) for k, v in raw.items()}
        if isinstance(raw, list):
            return {
                str(t.get("Key")): str(t.get("Value", ""))
                for t in raw
                if isinstance(t, Mapping) and "Key" in t
            }
    return None


def effective_status(row: FindingRow) -> Status | None:
    """What the latest observation said; None for GONE (not evidence)."""
    if row.status == FindingStatus.GONE:
        return None
    if row.unknown_since_scan_id is not None:
        return Status.UNKNOWN
    return Status(row.status.value)


def select_rows(rows: Sequence[FindingRow], scope: Scope) -> list[FindingRow]:
    """The rows in scope, each (account, region) as its latest scan reported it."""
    wanted_accounts = set(scope.accounts)
    wanted_regions = set(scope.regions)
    rows = [
        r for r in rows
        if r.account_id in wanted_accounts
        and (not wanted_regions or r.region in wanted_regions)
        and effective_status(r) is not None
    ]
    latest: dict[tuple[str, str], int] = {}
    for r in rows:
        place = (r.account_id, r.region)
        latest[place] = max(latest.get(place, 0), r.last_seen_scan_id or 0)
    rows = [r for r in rows if (r.last_seen_scan_id or 0) == latest[(r.account_id, r.region)]]
    if scope.tags:
        tagged = [(r, finding_tags(r.evidence)) for r in rows]
        if rows and all(t is None for _, t in tagged):
            raise EvidenceError(
                "--tag cannot select: the findings in scope carry no resource tags (mllens scans "
                "do not collect tags yet); narrow the scope with --account and --region instead"
            )
        rows = [
            r for r, t in tagged if t is not None and all(t.get(k) == v for k, v in scope.tags)
        ]
    return rows


def summarise(rows: Iterable[FindingRow]) -> dict[str, CheckEvidence]:
    counts: dict[str, Counter[Status]] = {}
    failing: dict[str, list[Failing]] = {}
    for r in rows:
        status = effective_status(r)
        if status is None:
            continue
        counts.setdefault(r.check_id, Counter())[status] += 1
        if status is Status.FAIL:
            failing.setdefault(r.check_id, []).append(
                Failing(r.check_id, r.account_id, r.region,
                        short_resource(r.resource_arn, r.sub_resource), r.severity.rank)
            )
    out = {}
    for check_id, c in counts.items():
        worst = sorted(failing.get(check_id, ()), key=lambda f: (-f.severity_rank, f.resource))
        out[check_id] = CheckEvidence(
            check_id=check_id,
            passed=c[Status.PASS],
            failed=c[Status.FAIL],
            unknown=c[Status.UNKNOWN],
            not_applicable=c[Status.NOT_APPLICABLE],
            failing=tuple(worst),
        )
    return out


def load_evidence(store: FindingSource, scope: Scope) -> Evidence:
    """The evidence for `scope` from the store's findings; EvidenceError when there is none."""
    if not scope.accounts:
        raise EvidenceError("no accounts in scope")
    rows: list[FindingRow] = []
    for account in scope.accounts:
        rows.extend(store.findings(account_id=account))
    chosen = select_rows(rows, scope)
    if not chosen:
        raise EvidenceError(
            f"the store holds no findings for {scope.describe()}: run `mllens scan` for them "
            "first (with the same --db), or check --account/--region"
        )
    scans = []
    for scan_id in sorted({r.last_seen_scan_id or 0 for r in chosen}, reverse=True):
        row = store.scan(scan_id)
        if row is not None:
            scans.append(ScanRef(row.id, row.uid, row.started_at))
    return Evidence(scope, summarise(chosen), tuple(scans), len(chosen))
