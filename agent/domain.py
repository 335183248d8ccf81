"""Domain types shared by collectors, checks, the store and the reports.

Everything here is frozen: a snapshot is evidence of what an account looked like at one moment,
and checks must not be able to change it under each other.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


class Status(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NOT_APPLICABLE = "NOT_APPLICABLE"
    # The inputs the check needs were not collected: never guess PASS or FAIL.
    UNKNOWN = "UNKNOWN"


class Standing(enum.StrEnum):
    """Where a finding stands in the work queue: what every view counts as open or muted.

    Open: the check fails and no mute applies at the time of the view. Muted: it fails and a
    mute rule applies then (accepted, still failing, kept and shown). Anything else (passing,
    not applicable, unknown, gone) is neither. `mllens scans`, `trends`, `findings`, every
    report format and the plan all go through `standing`.
    """

    OPEN = "open"
    MUTED = "muted"
    NEITHER = "neither"


def standing(status: str, muted: bool) -> Standing:
    """A finding's standing from its status and whether a mute applies to it now."""
    if status != Status.FAIL:
        return Standing.NEITHER
    return Standing.MUTED if muted else Standing.OPEN


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Pillar(enum.StrEnum):
    OPERATIONAL_EXCELLENCE = "operational_excellence"
    SECURITY = "security"
    RELIABILITY = "reliability"
    PERFORMANCE_EFFICIENCY = "performance_efficiency"
    COST_OPTIMIZATION = "cost_optimization"
    SUSTAINABILITY = "sustainability"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


class Kind(enum.StrEnum):
    """An inventory kind: what one collector fills and what a check may declare it needs."""

    ENDPOINTS = "endpoints"
    ENDPOINT_CONFIGS = "endpoint_configs"
    INFERENCE_COMPONENTS = "inference_components"
    MODELS = "models"
    TRAINING_JOBS = "training_jobs"
    MONITORING_SCHEDULES = "monitoring_schedules"
    NOTEBOOK_INSTANCES = "notebook_instances"
    MODEL_PACKAGE_GROUPS = "model_package_groups"
    SCALABLE_TARGETS = "scalable_targets"
    SCALING_POLICIES = "scaling_policies"
    SCHEDULED_ACTIONS = "scheduled_actions"
    ALARMS = "alarms"
    GLUE_JOBS = "glue_jobs"
    GLUE_SECURITY_CONFIGURATIONS = "glue_security_configurations"
    GLUE_CATALOG_ENCRYPTION = "glue_catalog_encryption"
    # Added for the full catalog (issue 6): usage, history, registry and tags.
    ENDPOINT_METRICS = "endpoint_metrics"  # one record per endpoint: CloudWatch series
    MODEL_PACKAGES = "model_packages"
    NOTEBOOK_LIFECYCLE_CONFIGS = "notebook_lifecycle_configs"
    MONITORING_EXECUTIONS = "monitoring_executions"  # one record per schedule: last N runs
    GLUE_JOB_RUNS = "glue_job_runs"  # one record per job: its last N runs
    TAGS = "tags"  # one record per tagged resource ARN
    # Objectives as code (issue 6): one record per endpoint an objective may select.
    OBJECTIVE_METRICS = "objective_metrics"


# A training job in one of these statuses is over: its record no longer changes (but for its
# warm pool), so the checks judge it as finished and the inventory may keep it.
FINISHED_TRAINING_STATUSES = frozenset({"Completed", "Failed", "Stopped"})


class GapKind(enum.StrEnum):
    """Why something could not be collected. Stored with every gap, so coverage can be explained."""

    ACCESS_DENIED = "access_denied"
    THROTTLED = "throttled"
    NOT_FOUND = "not_found"  # a resource vanished or a referenced one does not exist
    REGION_DISABLED = "region_disabled"
    INVALID_CREDENTIALS = "invalid_credentials"
    EXPIRED_CREDENTIALS = "expired_credentials"
    ASSUME_ROLE_FAILED = "assume_role_failed"
    SERVICE_ERROR = "service_error"  # 5xx or an error the service does not document
    TIMEOUT = "timeout"
    NETWORK = "network"
    UNSUPPORTED = "unsupported"  # the API or service does not exist in this region/emulator
    CLIENT_ERROR = "client_error"  # any other 4xx
    INTERNAL = "internal"  # a bug on our side while parsing; recorded rather than crashing


@dataclass(frozen=True, slots=True)
class Gap:
    """One thing the scan could not see. Absence is data: every gap is stored."""

    account_id: str
    region: str
    service: str
    operation: str
    kind: GapKind
    message: str
    # The inventory kinds this gap makes incomplete. Empty for a gap on a single resource.
    kinds: tuple[Kind, ...] = ()
    resource_arn: str | None = None
    observed_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class Resource:
    """One inventoried resource: the API's own record (list merged with describe), UTC datetimes.

    `data` is the raw record because the lens needs dozens of optional fields whose absence means
    "unknown", and the raw record is also what a finding's evidence quotes.
    """

    kind: Kind
    arn: str
    name: str
    account_id: str
    region: str
    data: Mapping[str, Any]
    # Set when the describe call behind this record failed: only the list summary is known.
    incomplete_reason: str | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def freeze(data: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(data))


@dataclass(frozen=True, slots=True)
class Inventory:
    """What one account held in one region, plus what could not be collected there.

    Checks are evaluated over one Inventory at a time: every ML Lens check is regional, and
    cross-resource joins (endpoint x alarm x monitor) never cross a region.
    """

    account_id: str
    region: str
    collected_at: datetime
    resources: Mapping[Kind, tuple[Resource, ...]]
    gaps: tuple[Gap, ...] = ()

    def of(self, kind: Kind) -> tuple[Resource, ...]:
        return self.resources.get(kind, ())

    def by_name(self, kind: Kind) -> dict[str, Resource]:
        return {r.name: r for r in self.of(kind)}

    def missing(self, kinds: Iterable[Kind]) -> list[Gap]:
        """The gaps that leave any of `kinds` incomplete in this account and region."""
        wanted = set(kinds)
        return [g for g in self.gaps if wanted.intersection(g.kinds)]

    def complete(self, kind: Kind) -> bool:
        return not self.missing([kind])

    def region_arn(self, service: str = "sagemaker") -> str:
        """A pseudo-ARN naming the whole region, for findings about the region itself."""
        return f"arn:aws:{service}:{self.region}:{self.account_id}:region"


@dataclass(frozen=True, slots=True)
class Result:
    """What a check says about one resource (or sub-resource such as a variant)."""

    check_id: str
    status: Status
    resource_arn: str
    reason: str
    account_id: str
    region: str
    severity: Severity
    pillar: Pillar
    resource_kind: str = ""
    sub_resource: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    observed_at: datetime = field(default_factory=utcnow)

    @property
    def key(self) -> str:
        """Stable identity of the finding across scans."""
        return finding_key(
            self.check_id, self.account_id, self.region, self.resource_arn, self.sub_resource
        )


def finding_key(
    check_id: str, account_id: str, region: str, resource_arn: str, sub_resource: str = ""
) -> str:
    raw = "|".join((check_id, account_id, region, resource_arn, sub_resource))
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()
