"""Tiny inline factories for pure check tests: build an Inventory by hand, no AWS, no mocks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from agent.domain import Gap, GapKind, Inventory, Kind, Resource, Result, Status, freeze
from checks.base import Check
from checks.runner import evaluate

ACCOUNT = "111122223333"
REGION = "us-east-1"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

_ARN_PREFIX = {
    Kind.ENDPOINTS: "sagemaker", Kind.ENDPOINT_CONFIGS: "sagemaker", Kind.MODELS: "sagemaker",
    Kind.TRAINING_JOBS: "sagemaker", Kind.MONITORING_SCHEDULES: "sagemaker",
    Kind.NOTEBOOK_INSTANCES: "sagemaker", Kind.MODEL_PACKAGE_GROUPS: "sagemaker",
    Kind.INFERENCE_COMPONENTS: "sagemaker", Kind.ALARMS: "cloudwatch",
    Kind.SCALABLE_TARGETS: "application-autoscaling",
    Kind.SCALING_POLICIES: "application-autoscaling",
    Kind.SCHEDULED_ACTIONS: "application-autoscaling", Kind.GLUE_JOBS: "glue",
    Kind.GLUE_SECURITY_CONFIGURATIONS: "glue", Kind.GLUE_CATALOG_ENCRYPTION: "glue",
    Kind.ENDPOINT_METRICS: "sagemaker", Kind.MODEL_PACKAGES: "sagemaker",
    Kind.NOTEBOOK_LIFECYCLE_CONFIGS: "sagemaker", Kind.MONITORING_EXECUTIONS: "sagemaker",
    Kind.GLUE_JOB_RUNS: "glue", Kind.TAGS: "tag", Kind.OBJECTIVE_METRICS: "sagemaker",
}


def res(kind: Kind, name: str, *, incomplete: str | None = None, **data: Any) -> Resource:
    """A resource record shaped like the API's answer (pass the API's own field names)."""
    arn = f"arn:aws:{_ARN_PREFIX[kind]}:{REGION}:{ACCOUNT}:{kind.value}/{name}"
    return Resource(kind, arn, name, ACCOUNT, REGION, freeze(data), incomplete)


def inv(*resources: Resource, gaps: Iterable[Gap] = (), kinds: Iterable[Kind] = ()) -> Inventory:
    """An inventory where every kind in `kinds` and every kind of `resources` was collected."""
    by_kind: dict[Kind, list[Resource]] = {k: [] for k in kinds}
    for r in resources:
        by_kind.setdefault(r.kind, []).append(r)
    return Inventory(ACCOUNT, REGION, NOW, {k: tuple(v) for k, v in by_kind.items()}, tuple(gaps))


def gap(*kinds: Kind, kind: GapKind = GapKind.ACCESS_DENIED, operation: str = "List") -> Gap:
    return Gap(ACCOUNT, REGION, "sagemaker", operation, kind, "denied", kinds=kinds)


def run(check: Check, inventory: Inventory, **params: Any) -> list[Result]:
    """Evaluate one check through the real runner (metadata, UNKNOWN handling included)."""
    return list(evaluate([check], inventory, {check.id: params} if params else None))


def statuses(results: Iterable[Result]) -> dict[str, Status]:
    """{resource name or sub-resource: status} for compact assertions."""
    out = {}
    for r in results:
        name = r.resource_arn.rsplit("/", 1)[-1] if "/" in r.resource_arn else r.resource_arn
        out[f"{name}/{r.sub_resource}" if r.sub_resource else name] = r.status
    return out
