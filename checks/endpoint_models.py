"""Checks on what SageMaker endpoints serve: reproducible artifacts, consolidation candidates."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Annotated, Any

from agent.domain import Inventory, Kind, Resource, Severity, Status
from checks._helpers import (
    SERVING,
    OptionalInput,
    Variant,
    all_serverless,
    as_datetime,
    endpoint_config,
    is_async,
    items,
    mapping,
    optional_kind,
    variants,
)
from checks._metrics import endpoint_metrics, incomplete, series, values
from checks.base import (
    AT_LEAST_0,
    AT_LEAST_1,
    Range,
    Verdict,
    check,
    failed,
    not_applicable,
    passed,
    unknown,
)


def _image_is_floating(image: str) -> bool:
    """True for an image named by no tag or by `latest`; digests and version tags are pinned
    enough to rebuild the endpoint (SageMaker records the resolved digest at deploy time)."""
    if "@sha256:" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    return ":" not in last or last.rsplit(":", 1)[1] == "latest"


def _model_issues(
    inv: Inventory, model_name: str, models: Mapping[str, Resource]
) -> tuple[str | None, str | None, bool | None]:
    """(deleted reason, unknown reason, registered?) for one model the endpoint serves."""
    model = models.get(model_name)
    if model is None:
        if inv.complete(Kind.MODELS):
            return f"model {model_name} no longer exists", None, None
        return None, f"model {model_name} was not collected", None
    if model.incomplete_reason:
        return None, f"model {model_name} not fully described: {model.incomplete_reason}", None
    containers = [mapping(model.get("PrimaryContainer")), *items(model.get("Containers"))]
    return None, None, any(c.get("ModelPackageName") for c in containers)


def _served_models(inv: Inventory, ep: Resource, v: Variant) -> tuple[list[str], str | None]:
    """Model names behind a variant; for inference-component variants, through the components."""
    if v.spec is not None and v.spec.get("ModelName"):
        return [v.spec["ModelName"]], None
    names: list[str] = []
    for ic in inv.of(Kind.INFERENCE_COMPONENTS):
        if ic.get("EndpointName") != ep.name or ic.get("VariantName") != v.name:
            continue
        model = mapping(ic.get("Specification")).get("ModelName")
        if not model:
            # ListInferenceComponents does not name the model; DescribeInferenceComponent does.
            return names, f"the model of inference component {ic.name} is not collected"
        names.append(model)
    return names, None


@check(
    title="SageMaker endpoint cannot be reproduced from registered, existing artifacts",
    severity=Severity.MEDIUM,
    effort="rearchitect",
    lens=("MLOPS03-BP02", "MLREL05-BP02", "MLOPS02-BP04"),
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS, Kind.MODELS, Kind.INFERENCE_COMPONENTS),
    remediation=(
        "Recreate the endpoint config and models from your pipeline so every artifact the "
        "endpoint serves exists again; register models in a Model Registry package group and "
        "deploy from the package; pin container images by version or digest, never ':latest'."
    ),
)
def sagemaker_endpoint_not_reproducible(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the serving endpoint's config and every model it serves still exist, some
    container of each model references a model package (Model Registry, JumpStart or
    Marketplace), and no deployed image is untagged or tagged `latest`. FAIL (medium) when the
    config or a model was deleted; FAIL (low) for unregistered models or floating images.
    UNKNOWN when a needed config or model could not be read, including the models of
    inference components (ListInferenceComponents does not name them). Endpoints not serving
    are NOT_APPLICABLE.

    A deleted config or model means the running endpoint can be neither audited nor rebuilt:
    the lens asks for version-controlled, traceable artifacts behind every deployment.
    """
    models = inv.by_name(Kind.MODELS)
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status not in SERVING:
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}",
                                 EndpointStatus=status)
            continue
        lookup = endpoint_config(inv, ep)
        if lookup.deleted:
            yield failed(ep, lookup.problem or "endpoint config deleted",
                         EndpointConfigName=lookup.name)
            continue
        if lookup.config is None:
            yield unknown(ep, lookup.problem or "endpoint config unreadable",
                          EndpointConfigName=lookup.name)
            continue
        deleted: list[str] = []
        unknowns: list[str] = []
        unregistered: list[str] = []
        floating: list[str] = []
        for v in variants(ep, lookup.config):
            names, problem = _served_models(inv, ep, v)
            if problem:
                unknowns.append(problem)
            for name in names:
                gone, why, registered = _model_issues(inv, name, models)
                if gone:
                    deleted.append(gone)
                elif why:
                    unknowns.append(why)
                elif registered is False:
                    unregistered.append(name)
            floating += [
                f"{v.name}: {img['SpecifiedImage']}"
                for img in items(v.live.get("DeployedImages"))
                if img.get("SpecifiedImage") and _image_is_floating(img["SpecifiedImage"])
            ]
        evidence: dict[str, Any] = {
            "EndpointConfigName": lookup.name,
            "deleted": deleted,
            "unreadable": unknowns,
            "unregistered_models": sorted(set(unregistered)),
            "floating_images": floating,
        }
        if deleted:
            yield failed(ep, "; ".join(deleted), **evidence)
        elif unknowns:
            yield unknown(ep, "; ".join(unknowns), **evidence)
        elif unregistered or floating:
            parts = []
            if unregistered:
                parts.append(f"model(s) {', '.join(sorted(set(unregistered)))} are not "
                             "registered as model packages")
            if floating:
                parts.append("image(s) are untagged or tagged latest")
            yield failed(ep, "; ".join(parts), severity=Severity.LOW, **evidence)
        else:
            yield passed(ep, "config and models exist, models are registered, images pinned",
                         **evidence)


_ACCELERATED = frozenset({"g", "gr", "p", "inf", "trn", "dl"})


def _repository(image: str) -> str:
    """The image repository without tag or digest."""
    image = image.split("@", 1)[0]
    head, _, last = image.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def _accelerated(v: Variant) -> bool | None:
    """GPU/accelerator hardware or not; None when the instance type is not known."""
    if v.spec is not None and v.spec.get("AcceleratorType"):
        return True
    m = re.match(r"^ml\.([a-z]+)\d", v.instance_type or "")
    return None if m is None else m.group(1) in _ACCELERATED


@check(
    title="Lightly used single-model SageMaker endpoints could share one endpoint",
    severity=Severity.INFO,
    effort="rearchitect",
    lens=("MLSUS05-BP04", "MLCOST05-BP01"),
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS, Kind.MODELS),
    optional=(Kind.ENDPOINT_METRICS,),
    remediation=(
        "Confirm each endpoint's traffic is low (CloudWatch Invocations), then host the models "
        "on one multi-model endpoint or as inference components on a shared endpoint, keeping "
        "separate endpoints only where tenancy or security boundaries require them."
    ),
)
def sagemaker_endpoint_consolidation_candidate(
    inv: Inventory,
    *,
    consolidation_min_endpoints: Annotated[int, Range(ge=2)] = 3,
    idle_lookback_days: Annotated[int, AT_LEAST_1] = 14,
    idle_min_age_days: Annotated[int, AT_LEAST_0] = 14,
) -> Iterator[Verdict]:
    """FAIL (info) for each InService real-time endpoint that belongs to a group of at least
    `consolidation_min_endpoints` endpoints which each run one single-model variant on a single
    instance, from the same image repository and on the same kind of hardware (CPU or
    accelerator): they are candidates for a multi-model endpoint or inference components.
    PASS for endpoints outside such a group, or scaled to more than one instance.
    NOT_APPLICABLE for endpoints not InService, serverless, asynchronous, multi-variant,
    multi-model, multi-container or inference-component endpoints (already shared or out of
    scope). UNKNOWN when the config or model cannot be read.

    When the scan asked for endpoint metrics, a candidate must also average under one
    invocation per minute over `idle_lookback_days` (busier ones PASS), endpoints younger than
    `idle_min_age_days` are NOT_APPLICABLE, and one whose traffic is not known (its metrics,
    or the whole kind, not collected, or CloudWatch not answering in full) is UNKNOWN. A
    group then FAILs only when its measured members reach the minimum; when members of
    unknown traffic could make up the difference, the others are UNKNOWN rather than PASS.
    Only when metrics were not asked for is the catalog's traffic test approximated by "one
    instance is enough", and the evidence says so. A heuristic either way, hence info
    severity.
    Every idle instance costs energy and money; the lens suggests consolidating models.
    """
    metrics = optional_kind(inv, Kind.ENDPOINT_METRICS)
    models = inv.by_name(Kind.MODELS)
    groups: dict[tuple[str, bool], list[Resource]] = {}
    # Candidates whose traffic is not known, by group: they may belong to it or not.
    pending: dict[tuple[str, bool], int] = {}
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status != "InService":
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}")
            continue
        lookup = endpoint_config(inv, ep)
        if lookup.config is None:
            yield unknown(ep, lookup.problem or "endpoint config unreadable")
            continue
        vs = [v for v in variants(ep, lookup.config) if not v.shadow]
        if is_async(ep, lookup.config) or all_serverless(vs):
            yield not_applicable(ep, "asynchronous or serverless endpoints are billed by use")
            continue
        if len(vs) != 1 or vs[0].inference_components:
            yield not_applicable(ep, "endpoint already hosts several variants or components",
                                 variants=[v.name for v in vs])
            continue
        v = vs[0]
        model = models.get(v.spec.get("ModelName", "") if v.spec else "")
        if model is None or model.incomplete_reason:
            yield unknown(ep, f"model {v.spec.get('ModelName') if v.spec else None} not readable")
            continue
        primary = mapping(model.get("PrimaryContainer"))
        if primary.get("Mode") == "MultiModel" or len(items(model.get("Containers"))) > 1:
            yield not_applicable(ep, "endpoint already serves several models")
            continue
        count = v.instance_count
        if count is None:
            yield unknown(ep, "current instance count is not reported", variant=v.name)
            continue
        if count > 1:
            yield passed(ep, f"variant {v.name} needs {count} instances", instances=count)
            continue
        images = [i.get("SpecifiedImage") for i in items(v.live.get("DeployedImages"))]
        image = next((i for i in images if i), None) or primary.get("Image")
        accelerated = _accelerated(v)
        if not image or accelerated is None:
            yield unknown(ep, "the serving image or instance type is not reported",
                          image=image, InstanceType=v.instance_type)
            continue
        key = (_repository(image), accelerated)
        if not metrics.not_asked:
            verdict = _traffic_verdict(inv, ep, v.name, metrics, idle_lookback_days,
                                       idle_min_age_days)
            if verdict is not None:
                if verdict.status is Status.UNKNOWN:
                    pending[key] = pending.get(key, 0) + 1
                yield verdict
                continue
        groups.setdefault(key, []).append(ep)
    for (repo, accelerated), members in groups.items():
        names = sorted(m.name for m in members)
        unmeasured = pending.get((repo, accelerated), 0)
        for ep in members:
            evidence: dict[str, Any] = {
                "repository": repo, "accelerated": accelerated, "group": names,
                "traffic": ("not measured (endpoint metrics not asked for)" if metrics.not_asked
                            else f"under 1 invocation/minute over {idle_lookback_days} days"),
            }
            if unmeasured:
                evidence["traffic_unknown"] = unmeasured
            if len(members) >= consolidation_min_endpoints:
                yield failed(ep, f"{len(members)} single-instance endpoints run {repo} on "
                             f"{'accelerated' if accelerated else 'CPU'} instances and could "
                             "share one endpoint", **evidence)
            elif len(members) + unmeasured >= consolidation_min_endpoints:
                yield unknown(ep, f"{len(members)} low-traffic single-instance endpoint(s) run "
                              f"{repo}, and {unmeasured} more whose traffic is not known could "
                              f"make {consolidation_min_endpoints}", **evidence)
            else:
                yield passed(ep, f"only {len(members)} single-instance endpoint(s) run {repo}",
                             **evidence)


def _traffic_verdict(
    inv: Inventory, ep: Resource, variant: str, metrics: OptionalInput, lookback_days: int,
    min_age_days: int,
) -> Verdict | None:
    """A verdict when traffic rules the endpoint out or is not known; None when it is a
    low-traffic candidate. `metrics` is the metrics kind, asked for (collected or failed)."""
    created = as_datetime(ep.get("CreationTime"))
    if created is not None and inv.collected_at - created < timedelta(days=min_age_days):
        # Decided by age alone: holds whether or not the metrics were collected.
        return not_applicable(ep, f"younger than idle_min_age_days={min_age_days}")
    if metrics.failed:
        return unknown(ep, f"traffic not measured: {metrics.why}")
    record, window, problem = endpoint_metrics(inv, ep.name, lookback_days)
    if record is None or window is None:
        return unknown(ep, problem or "metrics unreadable")
    found = series(record, "Invocations", variant)
    broken = incomplete(found)
    if broken:
        return unknown(ep, "CloudWatch did not answer in full: " + "; ".join(broken))
    per_minute = sum(values(found, window)) / (window.days * 24 * 60)
    if per_minute >= 1:
        return passed(ep, f"busy: {per_minute:.1f} invocations per minute",
                      invocations_per_minute=round(per_minute, 2))
    return None


CHECKS = (
    sagemaker_endpoint_not_reproducible,
    sagemaker_endpoint_consolidation_candidate,
)
