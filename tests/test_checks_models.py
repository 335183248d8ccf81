"""Pure tests for model and model-registry checks through the real runner."""

from __future__ import annotations

from typing import Any

from agent.domain import Kind, Resource, Status
from checks import models as mc
from tests.factories import ACCOUNT, gap, inv, res, run, statuses
from tests.samples import sample

OWN_ECR = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/inference-image:1"
DLC_ECR = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-gpu"


def vpc_model(**overrides: Any) -> Resource:
    data = {**sample("sagemaker_describe_model_single_container_vpc")["response"], **overrides}
    return res(Kind.MODELS, data["ModelName"], **data)


def model(name: str, **data: Any) -> Resource:
    return res(Kind.MODELS, name, **data)


def test_network_isolation_states() -> None:
    """True passes, False fails, an unreported flag is UNKNOWN."""
    results = run(
        mc.sagemaker_model_network_isolation_disabled,
        inv(vpc_model(), model("open", EnableNetworkIsolation=False), model("old")),
    )
    assert statuses(results) == {
        "churn-model-v7": Status.PASS, "open": Status.FAIL, "old": Status.UNKNOWN}


def test_not_in_vpc() -> None:
    """Subnets pass; absent VpcConfig or empty Subnets fail."""
    results = run(
        mc.sagemaker_model_not_in_vpc,
        inv(vpc_model(), model("public"),
            model("empty", VpcConfig={"Subnets": [], "SecurityGroupIds": ["sg-1"]})),
    )
    assert statuses(results) == {
        "churn-model-v7": Status.PASS, "public": Status.FAIL, "empty": Status.FAIL}


def test_image_registry_own_account_vpc_and_foreign() -> None:
    """Own-account ECR and VPC registries pass; another account fails unless approved."""
    chk = mc.sagemaker_model_image_not_private_registry
    inventory = inv(
        vpc_model(),
        model("dlc", PrimaryContainer={"Image": DLC_ECR}),
        model("private", Containers=[
            {"Image": OWN_ECR},
            {"Image": "registry.corp.example/model:3",
             "ImageConfig": {"RepositoryAccessMode": "Vpc"}},
        ]),
        model("hub", Containers=[{"Image": OWN_ECR}, {"Image": "docker.io/library/nginx"}]),
        model("from-package", PrimaryContainer={"ModelPackageName": "arn:pkg"}),
    )
    assert statuses(run(chk, inventory)) == {
        "churn-model-v7": Status.PASS,
        "dlc": Status.FAIL,
        "private": Status.PASS,
        "hub": Status.FAIL,
        "from-package": Status.UNKNOWN,
    }
    approved = run(chk, inventory, approved_registry_accounts=("763104351884",))
    assert statuses(approved)["dlc"] is Status.PASS


def test_model_checks_unknown_when_describe_failed() -> None:
    """A model whose describe failed is UNKNOWN in every model check."""
    for chk in mc.CHECKS[:3]:
        results = run(chk, inv(model("m", incomplete="sagemaker:DescribeModel access_denied")))
        assert statuses(results) == {"m": Status.UNKNOWN}, chk.id


def test_registry_not_used_region_verdicts() -> None:
    """Serving without groups fails, with a group passes, and nothing served is N/A."""
    chk = mc.sagemaker_model_registry_not_used
    serving = res(Kind.ENDPOINTS, "ep", EndpointStatus="InService")
    group = res(Kind.MODEL_PACKAGE_GROUPS, "churn")
    none = run(chk, inv(serving, kinds=[Kind.MODEL_PACKAGE_GROUPS]))
    some = run(chk, inv(serving, group))
    idle = run(chk, inv(res(Kind.ENDPOINTS, "new", EndpointStatus="Creating"), group))
    for results, expected in ((none, Status.FAIL), (some, Status.PASS),
                              (idle, Status.NOT_APPLICABLE)):
        assert [(r.status, r.resource_kind) for r in results] == [(expected, "region")]
        assert results[0].resource_arn.endswith(":region")


def test_registry_not_used_unknown_when_inputs_denied() -> None:
    """A denied group or endpoint listing gives exactly one region UNKNOWN, never a verdict."""
    groups_denied = run(mc.sagemaker_model_registry_not_used,
                        inv(res(Kind.ENDPOINTS, "ep", EndpointStatus="InService"),
                            gaps=[gap(Kind.MODEL_PACKAGE_GROUPS)]))
    assert [(r.status, r.resource_kind) for r in groups_denied] == [(Status.UNKNOWN, "region")]
    endpoints_denied = run(mc.sagemaker_model_registry_not_used,
                           inv(res(Kind.MODEL_PACKAGE_GROUPS, "g"), gaps=[gap(Kind.ENDPOINTS)]))
    assert [(r.status, r.resource_kind) for r in endpoints_denied] == [(Status.UNKNOWN, "region")]


def test_image_registry_dual_stack_own_account() -> None:
    """An own-account image pulled through the ECR dual-stack host passes."""
    image = f"{ACCOUNT}.dkr-ecr.us-east-1.on.aws/inference-image:2"
    results = run(mc.sagemaker_model_image_not_private_registry,
                  inv(model("ds", PrimaryContainer={"Image": image})))
    assert statuses(results) == {"ds": Status.PASS}
