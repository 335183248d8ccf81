"""Pure tests for endpoint capacity: single instances (EP-03), initial counts (EP-04) and
Application Auto Scaling targets (EP-05)."""

from __future__ import annotations

from typing import Any

from agent.domain import Kind, Resource, Severity, Status
from checks.endpoint_capacity import INSTANCE_DIMENSION
from checks.endpoint_capacity import sagemaker_endpoint_autoscaling_misconfigured as misconfigured
from checks.endpoint_capacity import sagemaker_endpoint_config_initial_instance_count_le_1 as le_1
from checks.endpoint_capacity import sagemaker_endpoint_single_instance_no_autoscaling as single
from tests.factories import gap, inv, res, run, statuses
from tests.samples import sample

CONCURRENCY = "sagemaker:variant:DesiredProvisionedConcurrency"
AAS = (Kind.SCALABLE_TARGETS, Kind.SCALING_POLICIES, Kind.SCHEDULED_ACTIONS)


def endpoint(name: str, *variants: dict[str, Any], status: str = "InService",
             **data: Any) -> Resource:
    return res(Kind.ENDPOINTS, name, EndpointName=name, EndpointStatus=status,
               EndpointConfigName=f"{name}-cfg", ProductionVariants=list(variants), **data)


def variant(name: str = "AllTraffic", count: int | None = 1, **data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"VariantName": name, **data}
    if count is not None:
        out["CurrentInstanceCount"] = count
    return out


def target(ep: str, var: str = "AllTraffic", min_c: int = 1, max_c: int = 4,
           dimension: str = INSTANCE_DIMENSION, **data: Any) -> Resource:
    rid = f"endpoint/{ep}/variant/{var}"
    return res(Kind.SCALABLE_TARGETS, f"{rid}", ResourceId=rid, ScalableDimension=dimension,
               MinCapacity=min_c, MaxCapacity=max_c, **data)


def policy(ep: str, var: str = "AllTraffic", name: str = "tt",
           kind: str = "TargetTrackingScaling", dimension: str = INSTANCE_DIMENSION,
           **data: Any) -> Resource:
    return res(Kind.SCALING_POLICIES, name, PolicyName=name, PolicyType=kind,
               ResourceId=f"endpoint/{ep}/variant/{var}", ScalableDimension=dimension, **data)


# --- EP-03 ------------------------------------------------------------------------------------

def test_single_instance_sample_variants() -> None:
    """In the multi-variant sample, variant-a (2 instances) passes and variant-b (1) fails."""
    data = sample("sagemaker_describe_endpoint_inservice_multivariant")["response"]
    results = run(single, inv(res(Kind.ENDPOINTS, data["EndpointName"], **data), kinds=AAS))
    assert statuses(results) == {"Churn-Realtime-AB/variant-a": Status.PASS,
                                 "Churn-Realtime-AB/variant-b": Status.FAIL}


def test_single_instance_target_matches_mixed_case_endpoint_name() -> None:
    """A target on endpoint/Churn-Realtime-AB/variant/variant-b rescues the sample's variant-b."""
    data = sample("sagemaker_describe_endpoint_inservice_multivariant")["response"]
    results = run(single, inv(res(Kind.ENDPOINTS, data["EndpointName"], **data),
                              target("Churn-Realtime-AB", "variant-b"),
                              policy("Churn-Realtime-AB", "variant-b")))
    assert statuses(results)["Churn-Realtime-AB/variant-b"] is Status.PASS


def test_single_instance_autoscaling_rescues_only_with_policy_and_room() -> None:
    """A target with MaxCapacity 4 and a policy passes; no policy, max 1 or suspended fails."""
    results = run(single, inv(
        endpoint("scaled", variant()), target("scaled"), policy("scaled"),
        endpoint("no-policy", variant()), target("no-policy"),
        endpoint("capped", variant()), target("capped", max_c=1), policy("capped"),
        endpoint("frozen", variant()),
        target("frozen", SuspendedState={"DynamicScalingOutSuspended": True}), policy("frozen"),
        endpoint("timed", variant()), target("timed"),
        res(Kind.SCHEDULED_ACTIONS, "morning", ResourceId="endpoint/timed/variant/AllTraffic",
            ScalableDimension=INSTANCE_DIMENSION),
    ))
    assert statuses(results) == {
        "scaled/AllTraffic": Status.PASS, "no-policy/AllTraffic": Status.FAIL,
        "capped/AllTraffic": Status.FAIL, "frozen/AllTraffic": Status.FAIL,
        "timed/AllTraffic": Status.PASS,
    }


def test_single_instance_serverless_shadow_managed_and_unknown() -> None:
    """Serverless and shadow variants are N/A, managed scaling passes, no count is UNKNOWN."""
    results = run(single, inv(
        endpoint("sls", variant(count=None, CurrentServerlessConfig={"MemorySizeInMB": 2048})),
        endpoint("shadowed", variant("prod", 2),
                 ShadowProductionVariants=[variant("candidate", 1)]),
        endpoint("ic", variant(ManagedInstanceScaling={"Status": "ENABLED",
                                                       "MinInstanceCount": 1,
                                                       "MaxInstanceCount": 4})),
        endpoint("mystery", variant(count=None)),
        endpoint("booting", status="Creating"),
        kinds=AAS,
    ))
    assert statuses(results) == {
        "sls/AllTraffic": Status.NOT_APPLICABLE,
        "shadowed/prod": Status.PASS,
        "shadowed/candidate": Status.NOT_APPLICABLE,
        "ic/AllTraffic": Status.PASS,
        "mystery/AllTraffic": Status.UNKNOWN,
        "booting": Status.NOT_APPLICABLE,
    }


def test_single_instance_async_scaled_to_zero_passes_with_note() -> None:
    """An async endpoint at zero instances that can scale out passes, saying why."""
    results = run(single, inv(
        endpoint("queue", variant(count=0), AsyncInferenceConfig={"OutputConfig": {}}),
        target("queue", min_c=0, max_c=3), policy("queue"),
    ))
    assert statuses(results) == {"queue/AllTraffic": Status.PASS}
    assert "scaling to zero" in results[0].reason


def test_single_instance_unknown_when_autoscaling_denied() -> None:
    """AccessDenied on Application Auto Scaling is UNKNOWN, never FAIL."""
    results = run(single, inv(endpoint("ep", variant()), gaps=[gap(Kind.SCALABLE_TARGETS)]))
    assert statuses(results) == {"ep": Status.UNKNOWN}


# --- EP-04 ------------------------------------------------------------------------------------

def test_initial_count_sample_configs() -> None:
    """Provisioned sample: variant-a (2) passes, variant-b (1) fails, once although two
    endpoints share the config; the serverless sample is N/A."""
    prov = sample("sagemaker_describe_endpoint_config_provisioned_multivariant")["response"]
    sls = sample("sagemaker_describe_endpoint_config_serverless")["response"]
    results = run(le_1, inv(
        res(Kind.ENDPOINTS, "ab", EndpointConfigName=prov["EndpointConfigName"]),
        res(Kind.ENDPOINTS, "ab-copy", EndpointConfigName=prov["EndpointConfigName"]),
        res(Kind.ENDPOINTS, "docs", EndpointConfigName=sls["EndpointConfigName"]),
        res(Kind.ENDPOINT_CONFIGS, prov["EndpointConfigName"], **prov),
        res(Kind.ENDPOINT_CONFIGS, sls["EndpointConfigName"], **sls),
    ))
    assert statuses(results) == {
        "churn-realtime-ab-cfg-v7/variant-a": Status.PASS,
        "churn-realtime-ab-cfg-v7/variant-b": Status.FAIL,
        "doc-classifier-sls-cfg/AllTraffic": Status.NOT_APPLICABLE,
    }
    assert len(results) == 3


def test_initial_count_deleted_config_unknown_and_static_note() -> None:
    """A deleted config makes its endpoint UNKNOWN; auto scaling at >= 2 is noted on the FAIL."""
    cfg = res(Kind.ENDPOINT_CONFIGS, "ep-cfg", ProductionVariants=[
        {"VariantName": "AllTraffic", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    results = run(le_1, inv(
        endpoint("ep", variant()), cfg, target("ep", min_c=2),
        endpoint("orphan", variant()),
    ))
    assert statuses(results) == {"orphan": Status.UNKNOWN, "ep-cfg/AllTraffic": Status.FAIL}
    fail = next(r for r in results if r.status is Status.FAIL)
    assert "static setting only" in fail.reason
    assert "no longer exists" in next(r for r in results if r.status is Status.UNKNOWN).reason


def test_initial_count_incomplete_config_is_unknown_via_runner() -> None:
    """A config whose describe failed is UNKNOWN, not judged from the missing fields."""
    results = run(le_1, inv(endpoint("ep", variant()),
                            res(Kind.ENDPOINT_CONFIGS, "ep-cfg", incomplete="throttled")))
    assert statuses(results) == {"ep-cfg": Status.UNKNOWN}
    assert "not fully described" in results[0].reason


# --- EP-05 ------------------------------------------------------------------------------------

def _ep05(*resources: Resource) -> dict[str, Status]:
    results = run(misconfigured, inv(endpoint("ep", variant(), variant("b")), *resources,
                                     kinds=[*AAS, Kind.ALARMS, Kind.INFERENCE_COMPONENTS]))
    return {r.resource_arn.rsplit("/", 1)[-1] if "variant" not in r.resource_arn
            else r.resource_arn.split("variant/")[-1]: r.status for r in results}


def test_autoscaling_healthy_target_passes() -> None:
    """A target with room and a target-tracking policy passes."""
    assert _ep05(target("ep"), policy("ep")) == {"AllTraffic": Status.PASS}


def test_autoscaling_problems_and_severity() -> None:
    """No policy and suspension are medium; Max == Min and DisableScaleIn are low."""
    results = run(misconfigured, inv(
        endpoint("ep", variant("a"), variant("b"), variant("c"), variant("d")),
        target("ep", "a"),
        target("ep", "b", SuspendedState={"DynamicScalingInSuspended": True}), policy("ep", "b"),
        target("ep", "c", min_c=2, max_c=2), policy("ep", "c", name="pc"),
        target("ep", "d"),
        policy("ep", "d", name="pd",
               TargetTrackingScalingPolicyConfiguration={"DisableScaleIn": True}),
        kinds=[Kind.ALARMS, Kind.INFERENCE_COMPONENTS, Kind.SCHEDULED_ACTIONS],
    ))
    by_variant = {r.resource_arn.split("variant/")[-1]: r for r in results}
    assert {v: r.status for v, r in by_variant.items()} == {
        "a": Status.FAIL, "b": Status.FAIL, "c": Status.FAIL, "d": Status.FAIL}
    assert by_variant["a"].severity is Severity.MEDIUM
    assert by_variant["b"].severity is Severity.MEDIUM
    assert by_variant["c"].severity is Severity.LOW
    assert by_variant["d"].severity is Severity.LOW


def test_autoscaling_orphans_and_deleted_step_alarm() -> None:
    """Targets of a deleted endpoint or variant are low orphans; a missing step alarm fails."""
    step = policy("ep", name="step", kind="StepScaling",
                  Alarms=[{"AlarmName": "ep-high"}, {"AlarmName": "ep-gone"}])
    results = run(misconfigured, inv(
        endpoint("ep", variant()), target("ep"), step,
        res(Kind.ALARMS, "ep-high", AlarmType="MetricAlarm"),
        target("deleted-ep"), target("ep", "old-variant"),
        kinds=[Kind.INFERENCE_COMPONENTS, Kind.SCHEDULED_ACTIONS],
    ))
    by_id = {r.evidence["ResourceId"]: r for r in results}
    assert {k: r.status for k, r in by_id.items()} == {
        "endpoint/ep/variant/AllTraffic": Status.FAIL,
        "endpoint/deleted-ep/variant/AllTraffic": Status.FAIL,
        "endpoint/ep/variant/old-variant": Status.FAIL,
    }
    assert "ep-gone" in by_id["endpoint/ep/variant/AllTraffic"].reason
    assert by_id["endpoint/deleted-ep/variant/AllTraffic"].severity is Severity.LOW


def test_autoscaling_serverless_concurrency_and_components() -> None:
    """Provisioned-concurrency targets skip the Max == Min rule; component targets resolve."""
    results = run(misconfigured, inv(
        endpoint("sls", variant(count=None, CurrentServerlessConfig={"MemorySizeInMB": 1024})),
        target("sls", min_c=2, max_c=2, dimension=CONCURRENCY),
        policy("sls", dimension=CONCURRENCY),
        res(Kind.SCALABLE_TARGETS, "inference-component/comp",
            ResourceId="inference-component/comp",
            ScalableDimension="sagemaker:inference-component:DesiredCopyCount",
            MinCapacity=1, MaxCapacity=4),
        res(Kind.SCALING_POLICIES, "copies", ResourceId="inference-component/comp",
            ScalableDimension="sagemaker:inference-component:DesiredCopyCount",
            PolicyType="TargetTrackingScaling"),
        res(Kind.INFERENCE_COMPONENTS, "comp", EndpointName="x", VariantName="AllTraffic"),
        kinds=[Kind.ALARMS, Kind.SCHEDULED_ACTIONS],
    ))
    assert [r.status for r in results] == [Status.PASS, Status.PASS]


def test_autoscaling_unknown_when_endpoint_describe_failed() -> None:
    """A target whose endpoint could not be described cannot be called an orphan."""
    results = run(misconfigured, inv(
        res(Kind.ENDPOINTS, "ep", incomplete="throttled", EndpointStatus="InService"),
        target("ep"), policy("ep"),
        kinds=[Kind.ALARMS, Kind.INFERENCE_COMPONENTS, Kind.SCHEDULED_ACTIONS],
    ))
    assert [r.status for r in results] == [Status.UNKNOWN]
