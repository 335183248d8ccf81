"""Pure tests for X-01 (previous-generation instance types) and the instance-type helpers."""

from __future__ import annotations

from typing import Any

from agent.domain import Kind, Resource, Status
from checks import instances as ic
from tests.factories import gap, inv, res, run, statuses
from tests.samples import sample


def test_parse_and_local_storage() -> None:
    """Families parse with their attributes; local NVMe is found by the "d" or the list."""
    g4dn = ic.parse("ml.g4dn.xlarge")
    assert g4dn is not None and (g4dn.family, g4dn.base) == ("ml.g4dn", "ml.g4")
    assert ic.parse("m5.xlarge") is None and ic.parse(None) is None
    stores = {t: ic.has_local_storage(p) for t in ("ml.g4dn.xlarge", "ml.m5d.large",
                                                    "ml.g5.2xlarge", "ml.m5.xlarge",
                                                    "ml.p6-b200.48xlarge")
              if (p := ic.parse(t))}
    assert stores == {"ml.g4dn.xlarge": True, "ml.m5d.large": True, "ml.g5.2xlarge": True,
                      "ml.m5.xlarge": False, "ml.p6-b200.48xlarge": True}


def test_previous_generation_matches_family_and_base() -> None:
    """ml.p3 covers ml.p3dn; ml.eia accelerators are old; current families are not."""
    old = ic.previous_generation(
        ["ml.p3dn.24xlarge", "ml.eia2.medium", "ml.m5.xlarge", None, "bogus"],
        ic.PREV_GEN_FAMILIES)
    assert old == ["ml.p3dn.24xlarge", "ml.eia2.medium"]


def config(**overrides: Any) -> Resource:
    data = {**sample("sagemaker_describe_endpoint_config_provisioned_multivariant")["response"],
            **overrides}
    return res(Kind.ENDPOINT_CONFIGS, data["EndpointConfigName"], **data)


def test_endpoint_config_variants_each_judged() -> None:
    """Each variant gets its own finding; serverless variants are N/A; untyped ones UNKNOWN."""
    variants = [
        {"VariantName": "old", "InstanceType": "ml.c4.xlarge", "InitialInstanceCount": 1},
        {"VariantName": "new", "InstanceType": "ml.c7i.xlarge", "InitialInstanceCount": 1},
        {"VariantName": "ei", "InstanceType": "ml.m5.large", "AcceleratorType": "ml.eia1.medium"},
        {"VariantName": "sls", "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}},
        {"VariantName": "blank"},
    ]
    results = run(ic.ml_previous_generation_instance_types,
                  inv(res(Kind.ENDPOINT_CONFIGS, "cfg", ProductionVariants=variants)))
    assert statuses(results) == {
        "cfg/old": Status.FAIL, "cfg/new": Status.PASS, "cfg/ei": Status.FAIL,
        "cfg/sls": Status.NOT_APPLICABLE, "cfg/blank": Status.UNKNOWN,
    }
    ei = next(r for r in results if r.sub_resource == "ei")
    assert ei.evidence["previous_generation"] == ["ml.eia1.medium"]
    assert "ml.inf2" in ei.evidence["suggested"]


def test_endpoint_config_sample_and_parameter() -> None:
    """The sample's variants pass by default and fail once their family is listed as old."""
    cfg = config()  # two ml.m5.xlarge variants
    default = run(ic.ml_previous_generation_instance_types, inv(cfg))
    assert statuses(default) == {"churn-realtime-ab-cfg-v7/variant-a": Status.PASS,
                                 "churn-realtime-ab-cfg-v7/variant-b": Status.PASS}
    listed = run(ic.ml_previous_generation_instance_types, inv(cfg), prev_gen_families=("ml.m5",))
    assert {r.status for r in listed} == {Status.FAIL}


def test_endpoint_config_unknown_when_listing_denied() -> None:
    """A denied endpoint listing leaves endpoint configs uncollected: region UNKNOWN."""
    results = run(ic.ml_previous_generation_instance_types,
                  inv(gaps=[gap(Kind.ENDPOINT_CONFIGS)]))
    assert [(r.status, r.resource_kind) for r in results] == [(Status.UNKNOWN, "region")]


def test_notebook_instance_types() -> None:
    """The legacy ml.t2 notebook fails, the ml.t3 one passes, Failed is N/A, no type UNKNOWN."""
    def nb(sample_name: str) -> Resource:
        data = sample(sample_name)["response"]
        return res(Kind.NOTEBOOK_INSTANCES, data["NotebookInstanceName"], **data)

    results = run(ic.ml_previous_generation_instance_types_notebook, inv(
        nb("sagemaker_describe_notebook_instance_legacy_sparse"),
        nb("sagemaker_describe_notebook_instance_hardened"),
        res(Kind.NOTEBOOK_INSTANCES, "dead", NotebookInstanceStatus="Failed",
            InstanceType="ml.t2.medium"),
        res(Kind.NOTEBOOK_INSTANCES, "blank", NotebookInstanceStatus="Stopped"),
    ))
    assert statuses(results) == {"legacy-nb-2": Status.FAIL, "team-a-nb": Status.PASS,
                                 "dead": Status.NOT_APPLICABLE, "blank": Status.UNKNOWN}


def test_monitoring_cluster_inline_and_named_definitions() -> None:
    """Inline and named job definitions are both read; a schedule without a cluster is UNKNOWN."""
    inline = sample("sagemaker_describe_monitoring_schedule_inline_violations")["response"]
    named = {"MonitoringScheduleConfig": {"MonitoringJobDefinitionName": "dq-def"},
             "JobDefinition": {"JobResources": {"ClusterConfig": {
                 "InstanceType": "ml.m4.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 20}}}}
    results = run(ic.ml_previous_generation_instance_types_monitoring, inv(
        res(Kind.MONITORING_SCHEDULES, "inline", **inline),
        res(Kind.MONITORING_SCHEDULES, "named", **named),
        res(Kind.MONITORING_SCHEDULES, "bare", MonitoringScheduleConfig={}),
    ))
    # The inline sample runs ml.m5.xlarge; the named definition runs ml.m4.xlarge.
    assert statuses(results) == {"inline": Status.PASS, "named": Status.FAIL,
                                 "bare": Status.UNKNOWN}
    strict = run(ic.ml_previous_generation_instance_types_monitoring,
                 inv(res(Kind.MONITORING_SCHEDULES, "inline", **inline)),
                 prev_gen_families=("ml.m5",))
    assert statuses(strict) == {"inline": Status.FAIL}
