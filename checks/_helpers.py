"""Shared readers for endpoint, monitor and KMS checks: one place that knows the API's shapes.

Every helper reads the raw API record (`Resource.data`) and says "unknown" (None) rather than
guessing when a field is absent, so the checks can keep missing data out of PASS and FAIL.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.domain import Gap, Inventory, Kind, Resource

# Endpoint states in which the endpoint answers requests (catalog 4.1 "serving endpoints").
SERVING = frozenset({"InService", "Updating", "SystemUpdating"})
TRANSITIONAL = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})
EMPTY: Mapping[str, Any] = {}


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one (absent API structures read as empty)."""
    return value if isinstance(value, Mapping) else EMPTY


def items(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of an API list; an absent list reads as empty."""
    if not isinstance(value, list | tuple):
        return []
    return [v for v in value if isinstance(v, Mapping)]


def as_datetime(value: Any) -> datetime | None:
    """An aware datetime, or None. Collectors deliver datetimes; ISO strings are accepted too."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def by_lower_name(resources: Iterable[Resource]) -> dict[str, Resource]:
    # SageMaker names are unique regardless of case (the ARN is lower-cased), so a schedule
    # naming "Churn-API" watches the endpoint "churn-api".
    return {r.name.lower(): r for r in resources}


# --- endpoints, configs and variants -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigLookup:
    """The endpoint config an endpoint names, or why it cannot be read."""

    name: str | None
    config: Resource | None
    problem: str | None
    deleted: bool = False


def endpoint_config(inv: Inventory, ep: Resource) -> ConfigLookup:
    """Resolve the endpoint's config. The collector describes every config an endpoint names, so
    a name absent from a complete config inventory means the config was deleted while the
    endpoint kept serving; a config present with `incomplete_reason` could not be read."""
    name = ep.get("EndpointConfigName")
    if not name:
        return ConfigLookup(None, None, "the endpoint does not report its endpoint config")
    config = inv.by_name(Kind.ENDPOINT_CONFIGS).get(name)
    if config is None:
        if inv.complete(Kind.ENDPOINT_CONFIGS):
            return ConfigLookup(
                name,
                None,
                f"endpoint config {name} no longer exists (deleted while the endpoint serves)",
                deleted=True,
            )
        return ConfigLookup(name, None, f"endpoint config {name} was not collected")
    if config.incomplete_reason:
        return ConfigLookup(
            name, None, f"endpoint config {name} not fully described: {config.incomplete_reason}"
        )
    return ConfigLookup(name, config, None)


def configs_in_use(inv: Inventory) -> Iterator[tuple[Resource, Resource | None, str | None]]:
    """Each endpoint config an endpoint uses, once: (subject, config, problem).

    Checks on endpoint configs iterate endpoints rather than configs (declaring ENDPOINTS as
    their primary kind) so that a config whose describe failed is still seen, and reported
    UNKNOWN on the config, while a config that was deleted is reported UNKNOWN on the endpoint
    naming it. `config` is None exactly when `problem` says why it cannot be judged.
    """
    configs = inv.by_name(Kind.ENDPOINT_CONFIGS)
    seen: set[str] = set()
    for ep in inv.of(Kind.ENDPOINTS):
        lookup = endpoint_config(inv, ep)
        raw = configs.get(lookup.name) if lookup.name else None
        key = f"config:{raw.name}" if raw is not None else f"endpoint:{ep.name}"
        if key in seen:
            continue
        seen.add(key)
        yield (raw if raw is not None else ep), lookup.config, lookup.problem


@dataclass(frozen=True, slots=True)
class Variant:
    """One production or shadow variant, as the endpoint reports it and as its config defines it.

    `live` is the DescribeEndpoint entry (empty when the endpoint does not report it, e.g. while
    Creating); `spec` is the DescribeEndpointConfig entry, None when the config was not read.
    """

    name: str
    shadow: bool
    live: Mapping[str, Any]
    spec: Mapping[str, Any] | None

    @property
    def serverless(self) -> bool:
        return bool(
            self.live.get("CurrentServerlessConfig")
            or self.live.get("DesiredServerlessConfig")
            or (self.spec is not None and self.spec.get("ServerlessConfig"))
        )

    @property
    def instance_type(self) -> str | None:
        return None if self.spec is None else self.spec.get("InstanceType")

    @property
    def inference_components(self) -> bool | None:
        """True when the variant hosts inference components (its config names no model)."""
        if self.spec is None:
            return None
        return not self.spec.get("ModelName") and not self.serverless

    @property
    def instance_count(self) -> int | None:
        for key in ("CurrentInstanceCount", "DesiredInstanceCount"):
            value = self.live.get(key)
            if isinstance(value, int):
                return value
        return None


def variants(ep: Resource, config: Resource | None = None) -> list[Variant]:
    """Production then shadow variants, merged by name from the endpoint and its config."""
    out: list[Variant] = []
    for shadow, key in ((False, "ProductionVariants"), (True, "ShadowProductionVariants")):
        live = {v["VariantName"]: v for v in items(ep.get(key)) if v.get("VariantName")}
        spec = (
            {v["VariantName"]: v for v in items(config.get(key)) if v.get("VariantName")}
            if config is not None
            else {}
        )
        for name in [*live, *(n for n in spec if n not in live)]:
            out.append(
                Variant(
                    name=name,
                    shadow=shadow,
                    live=live.get(name, EMPTY),
                    spec=spec.get(name, EMPTY) if config is not None else None,
                )
            )
    return out


def is_async(ep: Resource, config: Resource | None = None) -> bool:
    return bool(ep.get("AsyncInferenceConfig") or (config and config.get("AsyncInferenceConfig")))


def all_serverless(vs: list[Variant]) -> bool:
    production = [v for v in vs if not v.shadow]
    return bool(production) and all(v.serverless for v in production)


# --- instance storage and KMS ----------------------------------------------------------------

# Families whose instance store is NVMe without a "d" in the family name. Families with a "d"
# attribute (m5d, c6id, g4dn, p4d, p3dn, ...) are recognised by pattern. SageMaker rejects a KMS
# key for these volumes because they are encrypted in hardware; this is a static table because
# ec2:DescribeInstanceTypes is not collected. Keep it current when new families launch.
_NVME_FAMILIES = frozenset(
    {"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "p6", "trn1", "trn1n", "trn2", "dl1"}
)
_FAMILY = re.compile(r"^(?:ml\.)?([a-z]+)(\d+)([a-z-]*?)(?:-[a-z0-9]+)?\.")


def has_local_storage(instance_type: str | None) -> bool | None:
    """True when the ML instance type has NVMe instance storage, None if it cannot be parsed."""
    if not instance_type:
        return None
    m = _FAMILY.match(instance_type)
    if not m:
        return None
    letters, generation, attributes = m.groups()
    family = f"{letters}{generation}{attributes}"
    return family in _NVME_FAMILIES or family.startswith("p6") or "d" in attributes


def _key_ident(key: str) -> str:
    # "arn:aws:kms:r:a:key/ID" -> "ID", "arn:...:alias/x" -> "alias/x", "ID" -> "ID"
    tail = key.rsplit(":", 1)[-1] if key.startswith("arn:") else key
    return tail.removeprefix("key/")


def key_allowed(key: str, allowed: tuple[str, ...]) -> bool:
    """Whether `key` is in the allow-list (empty list = any key), matching IDs and ARNs alike."""
    if not allowed:
        return True
    return _key_ident(key) in {_key_ident(a) for a in allowed}


# --- Model Monitor schedules -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonitorJob:
    """A schedule's job definition, inline or named, read through one shape.

    Named definitions (Describe<Type>JobDefinition, stored by the collector under
    `JobDefinition`) use type-prefixed keys such as `DataQualityBaselineConfig`; inline ones use
    `BaselineConfig`. Reading only the inline shape would misjudge every named definition.
    """

    named: bool
    baseline: Mapping[str, Any]
    network: Mapping[str, Any] | None
    cluster: Mapping[str, Any]
    output_kms_key: str | None
    environment: Mapping[str, Any]
    inputs: tuple[Mapping[str, Any], ...]


def _by_suffix(data: Mapping[str, Any], suffix: str) -> Mapping[str, Any]:
    for key, value in data.items():
        if key.endswith(suffix) and isinstance(value, Mapping):
            return value
    return EMPTY


def monitor_job(schedule: Resource) -> MonitorJob | None:
    """The schedule's job definition, or None when neither form was collected."""
    config = mapping(schedule.get("MonitoringScheduleConfig"))
    inline = config.get("MonitoringJobDefinition")
    if isinstance(inline, Mapping):
        return MonitorJob(
            named=False,
            baseline=mapping(inline.get("BaselineConfig")),
            network=inline.get("NetworkConfig") if "NetworkConfig" in inline else None,
            cluster=mapping(mapping(inline.get("MonitoringResources")).get("ClusterConfig")),
            output_kms_key=mapping(inline.get("MonitoringOutputConfig")).get("KmsKeyId"),
            environment=mapping(inline.get("Environment")),
            inputs=tuple(items(inline.get("MonitoringInputs"))),
        )
    named = schedule.get("JobDefinition")
    if isinstance(named, Mapping):
        return MonitorJob(
            named=True,
            baseline=_by_suffix(named, "BaselineConfig"),
            network=named.get("NetworkConfig") if "NetworkConfig" in named else None,
            cluster=mapping(mapping(named.get("JobResources")).get("ClusterConfig")),
            output_kms_key=_by_suffix(named, "JobOutputConfig").get("KmsKeyId"),
            environment=mapping(_by_suffix(named, "AppSpecification").get("Environment")),
            inputs=(_by_suffix(named, "JobInput"),),
        )
    return None


def monitoring_type(schedule: Resource) -> str | None:
    config = mapping(schedule.get("MonitoringScheduleConfig"))
    return schedule.get("MonitoringType") or config.get("MonitoringType")


@dataclass(frozen=True, slots=True)
class MonitorTarget:
    """What a schedule watches: an endpoint by name, a batch transform job, or unknown."""

    endpoint: str | None
    batch: bool

    @property
    def known(self) -> bool:
        return self.endpoint is not None or self.batch


def monitor_target(schedule: Resource) -> MonitorTarget:
    """Read the target from the schedule, then its inline inputs, then its named definition."""
    if schedule.get("EndpointName"):
        return MonitorTarget(schedule.get("EndpointName"), False)
    job = monitor_job(schedule)
    for job_input in job.inputs if job else ():
        endpoint = mapping(job_input.get("EndpointInput")).get("EndpointName")
        if endpoint:
            return MonitorTarget(endpoint, False)
        if job_input.get("BatchTransformInput"):
            return MonitorTarget(None, True)
    return MonitorTarget(None, False)


def schedules_by_endpoint(schedules: Iterable[Resource]) -> dict[str, list[Resource]]:
    """Schedules indexed by the lower-cased name of the endpoint they watch."""
    out: dict[str, list[Resource]] = {}
    for s in schedules:
        target = monitor_target(s)
        if target.endpoint:
            out.setdefault(target.endpoint.lower(), []).append(s)
    return out


def last_execution(schedule: Resource) -> Mapping[str, Any] | None:
    summary = schedule.get("LastMonitoringExecutionSummary")
    return summary if isinstance(summary, Mapping) else None



# --- optional inventory ----------------------------------------------------------------------


class Coverage(enum.StrEnum):
    """What the scan did about one optional input of a check (`check(optional=...)`)."""

    COLLECTED = "collected"
    # Absent from the inventory and named by no gap: the scan did not ask for it (a hand-built
    # inventory, a service not offered in the region). The check judges without it.
    NOT_ASKED = "not_asked"
    # Asked for and not collected: a gap on the kind in this account and region, or the
    # parent's own record missing or unread. Every verdict that depends on it is UNKNOWN, so a
    # transient failure never turns into a PASS or FAIL that the next clean scan reverses.
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OptionalInput:
    """One optional input as a check sees it: collected, not asked for, or failed and why."""

    coverage: Coverage
    # What was not collected and why; empty when collected. Quote it in the UNKNOWN's reason.
    why: str = ""
    # The parent's record (`optional_record`), when collected.
    record: Resource | None = None

    @property
    def collected(self) -> bool:
        return self.coverage is Coverage.COLLECTED

    @property
    def not_asked(self) -> bool:
        return self.coverage is Coverage.NOT_ASKED

    @property
    def failed(self) -> bool:
        return self.coverage is Coverage.FAILED


def gaps_reason(kind: Kind, gaps: Iterable[Gap]) -> str:
    """"glue_job_runs not collected: glue:ListJobs throttled": the kind and the failed calls."""
    parts = sorted({f"{g.service}:{g.operation} {g.kind.value}" for g in gaps})
    return f"{kind.value} not collected: " + ", ".join(parts)


def optional_kind(inv: Inventory, kind: Kind) -> OptionalInput:
    """Whether the optional `kind` was collected completely, not asked for, or failed (why).

    A kind with a gap is FAILED even when part of it was listed: a partial list is never
    taken for the whole, nor for "judge without it".
    """
    gaps = inv.missing([kind])
    if gaps:
        return OptionalInput(Coverage.FAILED, gaps_reason(kind, gaps))
    if kind not in inv.resources:
        return OptionalInput(Coverage.NOT_ASKED, f"{kind.value} not asked for in this scan")
    return OptionalInput(Coverage.COLLECTED)


def optional_record(inv: Inventory, kind: Kind, name: str) -> OptionalInput:
    """The optional per-parent record of `kind` (metrics, run history) for `name`: collected
    (with the record), not asked for, or failed, whether for the whole kind or this parent."""
    whole = optional_kind(inv, kind)
    if not whole.collected:
        return whole
    record, problem = record_of(inv, kind, name)
    if record is None:
        return OptionalInput(Coverage.FAILED, problem or f"{kind.value} of {name} not read")
    return OptionalInput(Coverage.COLLECTED, record=record)


def record_of(inv: Inventory, kind: Kind, name: str) -> tuple[Resource | None, str | None]:
    """The per-parent record of `kind` (metrics, run history) for `name`, or why there is none.

    These kinds hold one record per parent, even an empty one, so a missing record means the
    parent was not known when that kind was collected, not that it has no data. For a kind the
    check requires (the runner answers for its gaps); optional kinds go through
    `optional_record`.
    """
    record = by_lower_name(inv.of(kind)).get(name.lower())
    if record is None:
        return None, f"no {kind.value} record for {name} (created after it was collected?)"
    if record.incomplete_reason:
        return None, f"{kind.value} of {name} not collected: {record.incomplete_reason}"
    return record, None



