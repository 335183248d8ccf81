"""Pure tests for what endpoints serve: reproducibility (EP-17) and consolidation (EP-19)."""

from __future__ import annotations

from typing import Any

from agent.domain import Kind, Resource, Severity, Status
from checks.endpoint_models import sagemaker_endpoint_consolidation_candidate as consolidate
from checks.endpoint_models import sagemaker_endpoint_not_reproducible as reproducible
from tests.factories import gap, inv, res, run, statuses
from tests.samples import sample

IMAGE = "111122223333.dkr.ecr.us-east-1.amazonaws.com/sklearn-inference"


def endpoint(name: str, config: str, *variants: dict[str, Any], status: str = "InService",
             **data: Any) -> Resource:
    live = list(variants) or [{"VariantName": "AllTraffic", "CurrentInstanceCount": 1,
                               "DeployedImages": [{"SpecifiedImage": f"{IMAGE}:1.2"}]}]
    return res(Kind.ENDPOINTS, name, EndpointName=name, EndpointStatus=status,
               EndpointConfigName=config, ProductionVariants=live, **data)


def config(name: str, *variants: dict[str, Any], **data: Any) -> Resource:
    specs = list(variants) or [{"VariantName": "AllTraffic", "ModelName": f"{name}-model",
                                "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}]
    return res(Kind.ENDPOINT_CONFIGS, name, EndpointConfigName=name, ProductionVariants=specs,
               **data)


def model(name: str, registered: bool = True, **container: Any) -> Resource:
    primary = {"Image": f"{IMAGE}:1.2", **container}
    if registered:
        primary["ModelPackageName"] = f"arn:aws:sagemaker:us-east-1:1:model-package/{name}/1"
    return res(Kind.MODELS, name, ModelName=name, PrimaryContainer=primary)


# --- EP-17 ------------------------------------------------------------------------------------

def test_not_reproducible_sample_endpoint_with_registered_models_passes() -> None:
    """The multi-variant samples pass when both models exist and are registered."""
    ep = sample("sagemaker_describe_endpoint_inservice_multivariant")["response"]
    cfg = sample("sagemaker_describe_endpoint_config_provisioned_multivariant")["response"]
    results = run(reproducible, inv(
        res(Kind.ENDPOINTS, ep["EndpointName"], **ep),
        res(Kind.ENDPOINT_CONFIGS, cfg["EndpointConfigName"], **cfg),
        model("churn-model-v7"), model("churn-model-v8"),
        kinds=[Kind.INFERENCE_COMPONENTS],
    ))
    assert statuses(results) == {"Churn-Realtime-AB": Status.PASS}


def test_not_reproducible_deleted_config_fails_medium() -> None:
    """A config absent from a complete inventory was deleted: the endpoint cannot be rebuilt."""
    results = run(reproducible, inv(endpoint("ep", "gone-cfg"),
                                    kinds=[Kind.ENDPOINT_CONFIGS, Kind.MODELS,
                                           Kind.INFERENCE_COMPONENTS]))
    assert statuses(results) == {"ep": Status.FAIL}
    assert results[0].severity is Severity.MEDIUM
    assert "gone-cfg" in results[0].reason


def test_not_reproducible_deleted_model_fails_and_unreadable_config_is_unknown() -> None:
    """A deleted model fails medium; a config whose describe failed is UNKNOWN."""
    results = run(reproducible, inv(
        endpoint("lost-model", "cfg-a"), config("cfg-a"),
        endpoint("denied", "cfg-b"),
        res(Kind.ENDPOINT_CONFIGS, "cfg-b", incomplete="sagemaker:DescribeEndpointConfig "
            "access_denied", EndpointConfigName="cfg-b"),
        kinds=[Kind.MODELS, Kind.INFERENCE_COMPONENTS],
    ))
    assert statuses(results) == {"lost-model": Status.FAIL, "denied": Status.UNKNOWN}
    assert "cfg-a-model no longer exists" in results[0].reason


def test_not_reproducible_unregistered_model_and_latest_image_fail_low() -> None:
    """Unregistered models and ':latest' images are low findings; version tags are pinned."""
    latest = {"VariantName": "AllTraffic", "CurrentInstanceCount": 1,
              "DeployedImages": [{"SpecifiedImage": f"{IMAGE}:latest"}]}
    results = run(reproducible, inv(
        endpoint("unregistered", "cfg-u"), config("cfg-u"), model("cfg-u-model", False),
        endpoint("floating", "cfg-f", latest), config("cfg-f"), model("cfg-f-model"),
        kinds=[Kind.INFERENCE_COMPONENTS],
    ))
    assert statuses(results) == {"unregistered": Status.FAIL, "floating": Status.FAIL}
    assert {r.severity for r in results} == {Severity.LOW}
    by_name = {r.resource_arn.rsplit("/", 1)[1]: r for r in results}
    assert by_name["unregistered"].evidence["unregistered_models"] == ["cfg-u-model"]
    assert by_name["floating"].evidence["floating_images"] == [f"AllTraffic: {IMAGE}:latest"]


def test_not_reproducible_inference_components_models_not_collected() -> None:
    """Variants without ModelName resolve through components; unnamed models are UNKNOWN."""
    ic_variant = {"VariantName": "AllTraffic", "InstanceType": "ml.g5.2xlarge",
                  "InitialInstanceCount": 1}
    results = run(reproducible, inv(
        endpoint("ic-ep", "ic-cfg"), config("ic-cfg", ic_variant),
        res(Kind.INFERENCE_COMPONENTS, "comp-1", EndpointName="ic-ep", VariantName="AllTraffic"),
        endpoint("ic-described", "ic-cfg"),
        res(Kind.INFERENCE_COMPONENTS, "comp-2", EndpointName="ic-described",
            VariantName="AllTraffic", Specification={"ModelName": "llm"}),
        model("llm"),
    ))
    assert statuses(results) == {"ic-ep": Status.UNKNOWN, "ic-described": Status.PASS}


def test_not_reproducible_not_serving_is_not_applicable_and_gap_is_unknown() -> None:
    """Failed endpoints are out of scope; a denied ListModels makes the check UNKNOWN."""
    assert statuses(run(reproducible, inv(endpoint("dead", "c", status="Failed")))) == {
        "dead": Status.NOT_APPLICABLE}
    results = run(reproducible, inv(endpoint("ep", "c"), config("c"), gaps=[gap(Kind.MODELS)]))
    assert statuses(results) == {"ep": Status.UNKNOWN}


# --- EP-19 ------------------------------------------------------------------------------------

def _single(name: str, image: str = IMAGE, instance: str = "ml.m5.large",
            count: int = 1) -> list[Resource]:
    live = {"VariantName": "AllTraffic", "CurrentInstanceCount": count,
            "DeployedImages": [{"SpecifiedImage": f"{image}:1.2"}]}
    spec = {"VariantName": "AllTraffic", "ModelName": f"{name}-model", "InstanceType": instance,
            "InitialInstanceCount": 1}
    return [endpoint(name, f"{name}-cfg", live), config(f"{name}-cfg", spec),
            model(f"{name}-model")]


def test_consolidation_group_of_three_fails_info() -> None:
    """Three single-instance CPU endpoints on one image repository are candidates."""
    results = run(consolidate, inv(*_single("a"), *_single("b"), *_single("c"),
                                   *_single("gpu", instance="ml.g5.xlarge"),
                                   *_single("busy", count=4)))
    assert statuses(results) == {"a": Status.FAIL, "b": Status.FAIL, "c": Status.FAIL,
                                 "gpu": Status.PASS, "busy": Status.PASS}
    fail = next(r for r in results if r.status is Status.FAIL)
    assert fail.severity is Severity.INFO
    assert fail.evidence["group"] == ["a", "b", "c"]


def test_consolidation_threshold_param_and_scope() -> None:
    """Two similar endpoints pass by default, fail with a threshold of 2; serverless is N/A."""
    serverless = [
        endpoint("sls", "sls-cfg", {"VariantName": "AllTraffic",
                                    "CurrentServerlessConfig": {"MemorySizeInMB": 2048}}),
        config("sls-cfg", {"VariantName": "AllTraffic", "ModelName": "m",
                           "ServerlessConfig": {"MemorySizeInMB": 2048}}),
    ]
    inventory = inv(*_single("a"), *_single("b"), *serverless)
    assert statuses(run(consolidate, inventory)) == {
        "a": Status.PASS, "b": Status.PASS, "sls": Status.NOT_APPLICABLE}
    assert statuses(run(consolidate, inventory, consolidation_min_endpoints=2))["a"] is Status.FAIL


def test_consolidation_multi_model_and_missing_model() -> None:
    """A multi-model endpoint is already consolidated; an unreadable model is UNKNOWN."""
    mme = _single("mme")
    mme[2] = model("mme-model", Mode="MultiModel")
    lost = _single("lost")[:2]
    results = run(consolidate, inv(*mme, *lost))
    assert statuses(results) == {"mme": Status.NOT_APPLICABLE, "lost": Status.UNKNOWN}
