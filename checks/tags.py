"""X-02: cost-allocation tags on ML resources, one check per resource kind.

As with X-01 (see `checks.instances`), the runner answers UNKNOWN per check for the check's
primary kind, so one check over seven kinds would let a denied ListTrainingJobs silence the
verdict on endpoints. `ml_cost_allocation_tags_missing` (the catalog's ID) judges endpoints;
the `_endpoint_config`, `_model`, `_training`, `_notebook`, `_monitoring` and `_glue` checks
judge the other kinds. All share `required_tag_keys` and `require_all_tag_keys`. Tags come
from the TAGS kind (see `agent.collectors.tags`): when it could not be collected every
resource is UNKNOWN, never "untagged".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from agent.domain import Inventory, Kind, Severity
from checks._tags import TagIndex
from checks.base import Check, CheckFn, Verdict, check, failed, not_applicable, passed, unknown

# The status field of each kind, and the values in which the resource is on its way out.
_STATUS = {
    Kind.ENDPOINTS: ("EndpointStatus", ("Deleting",)),
    Kind.NOTEBOOK_INSTANCES: ("NotebookInstanceStatus", ("Deleting",)),
    Kind.TRAINING_JOBS: ("TrainingJobStatus", ("Deleting",)),
}


def _x02(kind: Kind) -> Callable[[CheckFn], Check]:
    return check(
        title="ML resource has no cost-allocation tags",
        severity=Severity.LOW,
        effort="config",
        lens=("MLCOST04-BP12", "MLCOST06-BP01"),
        needs=(kind, Kind.TAGS),
        remediation=(
            "Tag ML resources at creation (project, owner, environment, cost-center), "
            "activate those keys as cost allocation tags in the Billing console, and enforce "
            "them with a tag policy or an SCP on the Create* calls."
        ),
    )


def _judge(
    inv: Inventory, kind: Kind, required: tuple[str, ...], require_all: bool
) -> Iterator[Verdict]:
    tags = TagIndex.of(inv)
    status_field, leaving = _STATUS.get(kind, ("", ()))
    wanted = {k.casefold(): k for k in required}
    for res in inv.of(kind):
        if status_field and res.get(status_field) in leaving:
            yield not_applicable(res, f"resource is {res.get(status_field)}")
            continue
        found, why_not = tags.lookup(res.arn)
        if found is None:
            yield unknown(res, why_not or "tags unknown")
            continue
        # System tags (aws:...) are set by AWS, not by the team, and allocate no cost.
        keys = sorted(k for k in found if not k.lower().startswith("aws:"))
        evidence: dict[str, Any] = {"tag_keys": keys, "required_tag_keys": list(required)}
        present = [wanted[k.casefold()] for k in keys if k.casefold() in wanted]
        if not required:
            ok, what = bool(keys), "no user tags (only aws: system tags, or none)"
        elif require_all:
            missing = sorted(set(required) - set(present))
            evidence["missing"] = missing
            ok, what = not missing, f"missing tag key(s) {', '.join(missing)}"
        else:
            ok, what = bool(present), f"none of the tag keys {', '.join(required)}"
        if ok:
            yield passed(res, f"tagged with {', '.join(present or keys)}", **evidence)
        else:
            yield failed(res, what, **evidence)


_RULE = """

    All seven X-02 checks share the rule: PASS when the resource carries a user tag (any key
    not starting with `aws:`), or, when `required_tag_keys` is set, one of those keys (all of
    them with `require_all_tag_keys`); keys are compared without case. FAIL otherwise.
    UNKNOWN when tags could not be collected for it. The check's evidence lists tag keys,
    never values (the severity policy adds only the environment tag it acted on).

    Untagged ML spend cannot be attributed to a team or project: the lens asks for tagging
    and budgets to track costs.
"""


def _rule(fn: CheckFn) -> CheckFn:
    """Append the shared rule to a check's one-line docstring (what PASS means)."""
    fn.__doc__ = (fn.__doc__ or "") + _RULE
    return fn


@_x02(Kind.ENDPOINTS)
@_rule
def ml_cost_allocation_tags_missing(
    inv: Inventory, *, required_tag_keys: tuple[str, ...] = (), require_all_tag_keys: bool = False
) -> Iterator[Verdict]:
    """Endpoints (the catalog's X-02; endpoints being deleted are NOT_APPLICABLE)."""
    yield from _judge(inv, Kind.ENDPOINTS, required_tag_keys, require_all_tag_keys)


@_x02(Kind.ENDPOINT_CONFIGS)
@_rule
def ml_cost_allocation_tags_missing_endpoint_config(
    inv: Inventory, *, required_tag_keys: tuple[str, ...] = (), require_all_tag_keys: bool = False
) -> Iterator[Verdict]:
    """Endpoint configs in use by an endpoint."""
    yield from _judge(inv, Kind.ENDPOINT_CONFIGS, required_tag_keys, require_all_tag_keys)


@_x02(Kind.MODELS)
@_rule
def ml_cost_allocation_tags_missing_model(
    inv: Inventory, *, required_tag_keys: tuple[str, ...] = (), require_all_tag_keys: bool = False
) -> Iterator[Verdict]:
    """Models."""
    yield from _judge(inv, Kind.MODELS, required_tag_keys, require_all_tag_keys)


@_x02(Kind.TRAINING_JOBS)
@_rule
def ml_cost_allocation_tags_missing_training(
    inv: Inventory, *, required_tag_keys: tuple[str, ...] = (), require_all_tag_keys: bool = False
) -> Iterator[Verdict]:
    """Training jobs in the training lookback window."""
    yield from _judge(inv, Kind.TRAINING_JOBS, required_tag_keys, require_all_tag_keys)


@_x02(Kind.NOTEBOOK_INSTANCES)
@_rule
def ml_cost_allocation_tags_missing_notebook(
    inv: Inventory, *, required_tag_keys: tuple[str, ...] = (), require_all_tag_keys: bool = False
) -> Iterator[Verdict]:
    """Notebook instances (those being deleted are NOT_APPLICABLE)."""
    yield from _judge(inv, Kind.NOTEBOOK_INSTANCES, required_tag_keys, require_all_tag_keys)


@_x02(Kind.MONITORING_SCHEDULES)
@_rule
def ml_cost_allocation_tags_missing_monitoring(
    inv: Inventory, *, required_tag_keys: tuple[str, ...] = (), require_all_tag_keys: bool = False
) -> Iterator[Verdict]:
    """Model Monitor schedules."""
    yield from _judge(inv, Kind.MONITORING_SCHEDULES, required_tag_keys, require_all_tag_keys)


@_x02(Kind.GLUE_JOBS)
@_rule
def ml_cost_allocation_tags_missing_glue(
    inv: Inventory, *, required_tag_keys: tuple[str, ...] = (), require_all_tag_keys: bool = False
) -> Iterator[Verdict]:
    """Glue jobs."""
    yield from _judge(inv, Kind.GLUE_JOBS, required_tag_keys, require_all_tag_keys)


CHECKS = (
    ml_cost_allocation_tags_missing,
    ml_cost_allocation_tags_missing_endpoint_config,
    ml_cost_allocation_tags_missing_model,
    ml_cost_allocation_tags_missing_training,
    ml_cost_allocation_tags_missing_notebook,
    ml_cost_allocation_tags_missing_monitoring,
    ml_cost_allocation_tags_missing_glue,
)
