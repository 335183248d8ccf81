"""Checks on SageMaker models (MD-01..MD-03) and on the use of the model registry (RG-01).

Every collected model is evaluated, not only the ones an endpoint serves: the serving link for
inference-component endpoints is not collected, so "in use" cannot be decided reliably.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from agent.domain import Inventory, Kind, Severity, Status
from checks.base import Verdict, check, failed, passed, unknown

# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/repo, or the dual-stack
# <account>.dkr-ecr.<region>.on.aws/repo.
_ECR = re.compile(
    r"^(?P<account>\d{12})\.dkr[.-]ecr(-fips)?\.[a-z0-9-]+\.(amazonaws\.com(\.cn)?|on\.aws)/"
)
_SERVING = ("InService", "Updating", "SystemUpdating")


@check(
    title="SageMaker model container runs without network isolation",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLSEC03-BP02", "MLSEC04-BP01"),
    needs=(Kind.MODELS,),
    remediation=(
        "Recreate the model with EnableNetworkIsolation=True and point the endpoint config at it; "
        "package everything the container needs into the image or model artifact."
    ),
)
def sagemaker_model_network_isolation_disabled(inv: Inventory) -> Iterator[Verdict]:
    """PASS when EnableNetworkIsolation is True; FAIL when False. UNKNOWN when the record omits
    it (not required by botocore, no documented default).

    An isolated inference container cannot leak request data or fetch code at run time.
    """
    for m in inv.of(Kind.MODELS):
        value = m.get("EnableNetworkIsolation")
        if value is True:
            yield passed(m, "network isolation is enabled", EnableNetworkIsolation=True)
        elif value is False:
            yield failed(m, "model container has network access", EnableNetworkIsolation=False)
        else:
            yield unknown(m, "the model record does not report EnableNetworkIsolation",
                          EnableNetworkIsolation=None)


@check(
    title="SageMaker model does not run in a VPC",
    severity=Severity.MEDIUM,
    effort="rearchitect",
    lens=("MLSEC03-BP02", "MLSEC06-BP01"),
    needs=(Kind.MODELS,),
    remediation=(
        "Recreate the model with VpcConfig (private subnets, restrictive security groups, "
        "S3/ECR VPC endpoints). Serverless endpoints need a VPC-capable option first."
    ),
)
def sagemaker_model_not_in_vpc(inv: Inventory) -> Iterator[Verdict]:
    """PASS when VpcConfig lists at least one subnet. FAIL when VpcConfig is absent (the record
    carries it only for models created with one) or lists no subnet.

    Containers outside your VPC reach the model artifacts and any backend outside your network
    controls.
    """
    for m in inv.of(Kind.MODELS):
        subnets = list((m.get("VpcConfig") or {}).get("Subnets") or ())
        if subnets:
            yield passed(m, "model runs in a VPC", Subnets=subnets)
        else:
            yield failed(m, "model does not run in a VPC", Subnets=subnets)


def _containers(model: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    primary = model.get("PrimaryContainer")
    return [primary] if primary else list(model.get("Containers") or ())


@check(
    title="SageMaker model image comes from an unapproved registry",
    severity=Severity.LOW,
    effort="redeploy",
    lens=("MLSEC04-BP01", "MLOPS04-BP02"),
    needs=(Kind.MODELS,),
    remediation=(
        "Copy approved images into an ECR repository in your own account (or a private registry "
        "reached through the VPC) and recreate the model from there; list other trusted "
        "registry accounts, such as AWS Deep Learning Containers, in approved_registry_accounts."
    ),
)
def sagemaker_model_image_not_private_registry(
    inv: Inventory, *, approved_registry_accounts: tuple[str, ...] = ()
) -> Iterator[Verdict]:
    """PASS when every container image is either pulled from a private registry in your VPC
    (ImageConfig.RepositoryAccessMode = Vpc) or from ECR in the model's own account or an account
    in `approved_registry_accounts`. FAIL when any image comes from another registry. UNKNOWN
    when a container reports no image (e.g. a model built from a model package) or the model
    reports no container.

    Security Hub's SageMaker.16 fails every ECR-hosted ("Platform") image, which is nearly all
    models; the useful question is whether the registry is one you control or trust.
    """
    for m in inv.of(Kind.MODELS):
        containers = _containers(m.data)
        trusted = {m.account_id, *approved_registry_accounts}
        bad, missing, seen = [], 0, []
        for c in containers:
            image = c.get("Image")
            mode = (c.get("ImageConfig") or {}).get("RepositoryAccessMode") or "Platform"
            if not image:
                missing += 1
                continue
            seen.append({"Image": image, "RepositoryAccessMode": mode})
            ecr = _ECR.match(image)
            if mode != "Vpc" and not (ecr and ecr["account"] in trusted):
                bad.append(image)
        if bad:
            yield failed(m, f"image(s) from an unapproved registry: {', '.join(bad)}",
                         containers=seen)
        elif missing or not containers:
            yield unknown(m, "a container reports no image", containers=seen)
        else:
            yield passed(m, "all images come from approved registries", containers=seen)


@check(
    title="SageMaker Model Registry is not used in a region that serves models",
    severity=Severity.LOW,
    effort="rearchitect",
    lens=("MLOPS03-BP02", "MLREL05-BP02", "MLREL04-BP01"),
    needs=(Kind.MODEL_PACKAGE_GROUPS, Kind.ENDPOINTS),
    remediation=(
        "Register trained models as versions in a model package group, approve them there, "
        "and deploy approved versions from a pipeline."
    ),
    region_level=True,
)
def sagemaker_model_registry_not_used(inv: Inventory) -> Iterator[Verdict]:
    """For a region with at least one serving endpoint (InService, Updating, SystemUpdating):
    PASS when at least one model package group exists, FAIL when none does. NOT_APPLICABLE where
    nothing is served. Reported on the region. A group is taken as use: the approval of the
    packages endpoints serve is judged by sagemaker_endpoint_serving_unapproved_model_package,
    and groups shared from other accounts are not collected.

    Without a registry there is no versioned, approved model to roll back to.
    """
    serving = [e.name for e in inv.of(Kind.ENDPOINTS) if e.get("EndpointStatus") in _SERVING]
    groups = [g.name for g in inv.of(Kind.MODEL_PACKAGE_GROUPS)]
    ev: dict[str, Any] = {"serving_endpoints": len(serving), "model_package_groups": len(groups)}
    if not serving:
        status, reason = Status.NOT_APPLICABLE, "no serving endpoint in the region"
    elif groups:
        status, reason = Status.PASS, f"{len(groups)} model package group(s) exist"
    else:
        status, reason = Status.FAIL, f"{len(serving)} endpoint(s) serve, no model package group"
    yield Verdict(status, inv.region_arn(), reason, "region", evidence=ev)


CHECKS = (
    sagemaker_model_network_isolation_disabled,
    sagemaker_model_not_in_vpc,
    sagemaker_model_image_not_private_registry,
    sagemaker_model_registry_not_used,
)
