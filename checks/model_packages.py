"""EP-18: what an endpoint serves, traced to the Model Registry and its approval status.

A variant's model (from the endpoint config, or from its inference components) names a model
package in a container's ModelPackageName: a versioned package ARN
(`.../model-package/<group>/<version>`), an unversioned package ARN, or a bare name. Versioned
packages carry an approval status and belong to a group whose newest Approved version is what
a pipeline should be serving.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import SERVING, endpoint_config, items, mapping, variants
from checks.base import Verdict, check, failed, not_applicable, passed, unknown
from checks.endpoint_models import _served_models

_UNAPPROVED = ("Rejected", "PendingManualApproval")


@dataclass(frozen=True, slots=True)
class _Served:
    model: str
    reference: str


def _references(inv: Inventory, ep: Resource, config: Resource) -> tuple[list[_Served], str | None]:
    """Every (model, package reference) the endpoint's production variants serve."""
    models = inv.by_name(Kind.MODELS)
    out: list[_Served] = []
    for v in variants(ep, config):
        if v.shadow:
            continue
        names, problem = _served_models(inv, ep, v)
        if problem:
            return out, problem
        for name in names:
            model = models.get(name)
            if model is None or model.incomplete_reason:
                return out, f"model {name} was not read"
            for c in [mapping(model.get("PrimaryContainer")), *items(model.get("Containers"))]:
                if c.get("ModelPackageName"):
                    out.append(_Served(name, str(c["ModelPackageName"])))
    return out, None


def _versioned(reference: str) -> tuple[str, str] | None:
    """(group, version) for a versioned package ARN, else None."""
    if not reference.startswith("arn:"):
        return None
    path = reference.split(":", 5)[-1].split("/")
    if len(path) == 3 and path[0] == "model-package" and path[2].isdigit():
        return path[1], path[2]
    return None


def _judge(
    served: _Served, packages: Mapping[str, Resource], account: str
) -> tuple[str, Severity | None, str, dict[str, Any]]:
    """(status word, severity override, reason, evidence) for one served package."""
    ref = served.reference
    ev: dict[str, Any] = {"model": served.model, "package": ref}
    pkg = packages.get(ref.lower())
    if pkg is None:
        owner = ref.split(":")[4] if ref.startswith("arn:") and ref.count(":") >= 5 else account
        if _versioned(ref) is None:
            return "na", None, "unversioned package: no approval workflow", ev
        if owner != account:
            return "unknown", None, (f"package in account {owner}: cross-account registries "
                                     "are not read"), ev
        return "unknown", None, f"package {ref} is not in the registry (deleted?)", ev
    status = pkg.get("ModelApprovalStatus")
    ev.update(ModelApprovalStatus=status, ModelPackageStatus=pkg.get("ModelPackageStatus"))
    if status in _UNAPPROVED:
        return "fail", None, f"serves package {pkg.name}, which is {status}", ev
    if status != "Approved":
        return "unknown", None, f"package {pkg.name} reports approval {status!r}", ev
    group = pkg.get("ModelPackageGroupName")
    approved = [p for p in packages.values() if p.get("ModelPackageGroupName") == group
                and p.get("ModelApprovalStatus") == "Approved"
                and isinstance(p.get("ModelPackageVersion"), int)]
    newest = max(approved, key=lambda p: p.get("ModelPackageVersion") or 0, default=pkg)
    ev["newest_approved"] = newest.name
    if newest.arn.lower() != pkg.arn.lower():
        return "lag", Severity.LOW, (f"serves {pkg.name}, but {newest.name} is the newest "
                                     "approved version"), ev
    return "pass", None, f"serves the newest approved version {pkg.name}", ev


_RANK = {"fail": 4, "unknown": 3, "lag": 2, "pass": 1, "na": 0}


@check(
    title="SageMaker endpoint serves a model package that is not approved",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLREL04-BP01", "MLREL03-BP01", "MLSEC04-BP01"),
    needs=(Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS, Kind.MODELS, Kind.MODEL_PACKAGES,
           Kind.INFERENCE_COMPONENTS),
    remediation=(
        "Deploy only from Approved model package versions: let the pipeline's deploy step "
        "require ModelApprovalStatus=Approved (an EventBridge rule on approval changes can "
        "trigger it), roll back to the last approved version, and roll out new approvals."
    ),
)
def sagemaker_endpoint_serving_unapproved_model_package(inv: Inventory) -> Iterator[Verdict]:
    """PASS when every model package a serving endpoint's production variants are built from
    is Approved and the newest Approved version of its group. FAIL (medium, raised for
    production-tagged endpoints) when one is Rejected or PendingManualApproval; FAIL (low)
    when an Approved version is served while a newer one is approved (rollout lag).
    NOT_APPLICABLE for endpoints not serving, and for endpoints whose models reference no
    package or only unversioned ones (no approval workflow; an unregistered model is
    sagemaker_endpoint_not_reproducible's finding). UNKNOWN when a model or config cannot be
    read, or a package is in another account (cross-account registries are not read) or no
    longer in the registry.

    Serving an unapproved model bypasses the review the registry exists for: the lens asks
    that endpoint changes go through a pipeline with traceable, approved artifacts.
    """
    packages = {p.arn.lower(): p for p in inv.of(Kind.MODEL_PACKAGES)}
    for p in inv.of(Kind.MODEL_PACKAGES):
        packages.setdefault(p.name.lower(), p)
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status not in SERVING:
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}")
            continue
        lookup = endpoint_config(inv, ep)
        if lookup.config is None:
            yield unknown(ep, lookup.problem or "endpoint config unreadable")
            continue
        served, problem = _references(inv, ep, lookup.config)
        if problem:
            yield unknown(ep, problem)
            continue
        if not served:
            yield not_applicable(ep, "its models reference no model package")
            continue
        judged = [_judge(s, packages, inv.account_id) for s in served]
        worst = max(judged, key=lambda j: _RANK[j[0]])
        evidence: dict[str, Any] = {"packages": [j[3] for j in judged]}
        word, severity, reason, _ = worst
        if word == "fail":
            yield failed(ep, reason, **evidence)
        elif word == "unknown":
            yield unknown(ep, reason, **evidence)
        elif word == "lag":
            yield failed(ep, reason, severity=severity, **evidence)
        elif word == "pass":
            yield passed(ep, "; ".join(j[2] for j in judged if j[0] == "pass"), **evidence)
        else:
            yield not_applicable(ep, reason, **evidence)


CHECKS = (sagemaker_endpoint_serving_unapproved_model_package,)
