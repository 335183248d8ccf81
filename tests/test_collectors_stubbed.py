"""Collector tests with botocore's Stubber and the real-world shapes moto cannot produce."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aioboto3
from botocore.stub import Stubber

from agent.aws.handle import Limits, RegionHandle, ScanContext
from agent.collectors import CollectOptions, sagemaker
from agent.collectors.base import Builder
from agent.domain import GapKind, Inventory, Kind, utcnow
from tests.samples import sample

ACCOUNT, REGION = "111122223333", "us-east-1"


class _OneClient:
    """A session stand-in that hands out one pre-built (stubbed) client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def client(self, service: str, **_: Any) -> Any:
        @asynccontextmanager
        async def cm() -> AsyncIterator[Any]:
            yield self._client

        return cm()


def collect(fn: Any, setup: Callable[[Stubber], None]) -> Inventory:
    async def go() -> Inventory:
        session = aioboto3.Session(
            aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION
        )
        async with session.client("sagemaker", region_name=REGION) as client:
            stub = Stubber(client)
            setup(stub)
            stub.activate()
            ctx = ScanContext(limits=Limits(max_attempts=1))
            async with RegionHandle(ctx, _OneClient(client), ACCOUNT, REGION) as h:
                out = Builder(ACCOUNT, REGION)
                await fn(h, out, CollectOptions())
                stub.assert_no_pending_responses()
                return out.freeze(h, utcnow())

    return asyncio.run(go())


def _training_describe(name: str) -> dict[str, Any]:
    base = sample("sagemaker_describe_training_job_completed_vpc_kms")["response"]
    return {**base, "TrainingJobName": name}


def test_training_jobs_walks_empty_middle_page() -> None:
    """An empty page that still carries NextToken does not end the listing."""
    pages = sample("sagemaker_list_training_jobs_pages")["pages"]
    names = [s["TrainingJobName"] for p in pages for s in p["TrainingJobSummaries"]]

    def setup(stub: Stubber) -> None:
        for page in pages:
            stub.add_response("list_training_jobs", page, None)
        for name in names:
            stub.add_response("describe_training_job", _training_describe(name),
                              {"TrainingJobName": name})

    inv = collect(sagemaker.training_jobs, setup)
    assert sorted(r.name for r in inv.of(Kind.TRAINING_JOBS)) == sorted(names)
    assert len(names) >= 3
    assert inv.complete(Kind.TRAINING_JOBS)


def test_training_jobs_throttled_mid_listing_is_partial() -> None:
    """Throttling on page 2 keeps page 1's jobs but marks the kind incomplete, never complete."""
    pages = sample("sagemaker_list_training_jobs_pages")["pages"]
    throttled = sample("errors_zoo")["errors"]["throttled_list_training_jobs"]
    first = [s["TrainingJobName"] for s in pages[0]["TrainingJobSummaries"]]

    def setup(stub: Stubber) -> None:
        stub.add_response("list_training_jobs", pages[0], None)
        stub.add_client_error(
            "list_training_jobs",
            service_error_code=throttled["Error"]["Code"],
            service_message=throttled["Error"]["Message"],
            http_status_code=400,
        )
        for name in first:
            stub.add_response("describe_training_job", _training_describe(name),
                              {"TrainingJobName": name})

    inv = collect(sagemaker.training_jobs, setup)
    assert sorted(r.name for r in inv.of(Kind.TRAINING_JOBS)) == sorted(first)
    assert not inv.complete(Kind.TRAINING_JOBS)
    assert [g.kind for g in inv.missing([Kind.TRAINING_JOBS])] == [GapKind.THROTTLED]


def test_endpoints_deleted_config_is_gap_not_crash() -> None:
    """An endpoint naming a deleted config is kept; the config is absent with a NOT_FOUND gap."""
    endpoint = sample("sagemaker_describe_endpoint_inservice_multivariant")["response"]
    err = sample("sagemaker_describe_endpoint_config_not_found_error")["error"]

    def setup(stub: Stubber) -> None:
        stub.add_response(
            "list_endpoints",
            {"Endpoints": [{k: endpoint[k] for k in (
                "EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime",
                "EndpointStatus")}]},
            {"MaxResults": 100},
        )
        stub.add_response("describe_endpoint", endpoint, {"EndpointName": endpoint["EndpointName"]})
        stub.add_client_error(
            "describe_endpoint_config",
            service_error_code=err["Error"]["Code"],
            service_message=err["Error"]["Message"],
            http_status_code=400,
        )

    inv = collect(sagemaker.endpoints, setup)
    assert [r.name for r in inv.of(Kind.ENDPOINTS)] == [endpoint["EndpointName"]]
    assert inv.of(Kind.ENDPOINT_CONFIGS) == ()
    assert inv.complete(Kind.ENDPOINT_CONFIGS)
    (g,) = inv.gaps
    assert g.kind is GapKind.NOT_FOUND and g.operation == "DescribeEndpointConfig"
    assert g.resource_arn and "endpoint-config" in g.resource_arn


def test_endpoints_denied_describe_marks_endpoint_incomplete() -> None:
    """A denied DescribeEndpoint keeps the endpoint from the list, flagged incomplete."""
    endpoint = sample("sagemaker_describe_endpoint_inservice_multivariant")["response"]
    denied = sample("errors_zoo")["errors"]["access_denied_sagemaker"]

    def setup(stub: Stubber) -> None:
        stub.add_response(
            "list_endpoints",
            {"Endpoints": [{k: endpoint[k] for k in (
                "EndpointName", "EndpointArn", "CreationTime", "LastModifiedTime",
                "EndpointStatus")}]},
            {"MaxResults": 100},
        )
        stub.add_client_error("describe_endpoint", service_error_code=denied["Error"]["Code"],
                              service_message=denied["Error"]["Message"], http_status_code=400)

    inv = collect(sagemaker.endpoints, setup)
    (ep,) = inv.of(Kind.ENDPOINTS)
    assert ep.incomplete_reason and "access_denied" in ep.incomplete_reason
    assert inv.complete(Kind.ENDPOINTS)  # the listing itself worked


def test_monitoring_schedule_with_named_definition_fetches_it_once() -> None:
    """Two schedules sharing a named job definition describe it once and both carry it."""
    listing = sample("sagemaker_list_monitoring_schedules")["response"]
    described = sample("sagemaker_describe_monitoring_schedule_pending_no_executions")["response"]
    summaries = listing["MonitoringScheduleSummaries"][:2]
    definition = {
        "JobDefinitionArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:data-quality-job-definition/dq",
        "JobDefinitionName": "dq",
        "CreationTime": described["CreationTime"],
        "DataQualityAppSpecification": {"ImageUri": "img"},
        "DataQualityJobInput": {"EndpointInput": {"EndpointName": "ep",
                                                  "LocalPath": "/opt/ml/processing/input"}},
        "DataQualityJobOutputConfig": {"MonitoringOutputs": [{"S3Output": {
            "S3Uri": "s3://b/out", "LocalPath": "/opt/ml/processing/output"}}]},
        "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                           "VolumeSizeInGB": 20}},
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/r",
    }

    def setup(stub: Stubber) -> None:
        stub.add_response("list_monitoring_schedules",
                          {"MonitoringScheduleSummaries": summaries}, {"MaxResults": 100})
        for s in summaries:
            stub.add_response(
                "describe_monitoring_schedule",
                {**described,
                 "MonitoringScheduleName": s["MonitoringScheduleName"],
                 "MonitoringScheduleArn": s["MonitoringScheduleArn"],
                 "MonitoringScheduleConfig": {"MonitoringJobDefinitionName": "dq",
                                              "MonitoringType": "DataQuality"}},
                {"MonitoringScheduleName": s["MonitoringScheduleName"]},
            )
        stub.add_response("describe_data_quality_job_definition", definition,
                          {"JobDefinitionName": "dq"})

    inv = collect(sagemaker.monitoring_schedules, setup)
    got = inv.of(Kind.MONITORING_SCHEDULES)
    assert len(got) == 2
    assert all(r.get("JobDefinition", {}).get("JobDefinitionName") == "dq" for r in got)



def test_metrics_fetch_batches_500_queries_per_call_and_merges_pages() -> None:
    """1001 queries take three GetMetricData calls (500, 500, 1), and a query answered over
    two pages (NextToken) gets both pages' datapoints, with the last page's status."""
    from datetime import UTC, datetime

    from agent.collectors.metrics import MAX_QUERIES, _fetch

    calls: list[int] = []

    class Pages:
        async def pages(self, service: str, operation: str, *_: Any,
                        **params: Any) -> Any:
            batch = params["MetricDataQueries"]
            calls.append(len(batch))
            first = {"Id": batch[0]["Id"], "Timestamps": [1], "Values": [1.0],
                     "StatusCode": "PartialData"}
            yield {"MetricDataResults": [first], "NextToken": "t"}
            yield {"MetricDataResults": [{**first, "Timestamps": [2], "Values": [2.0],
                                          "StatusCode": "Complete"}]}

    queries = [{"Id": f"m{i}"} for i in range(2 * MAX_QUERIES + 1)]
    t = datetime(2026, 1, 1, tzinfo=UTC)
    merged = asyncio.run(_fetch(Pages(), queries, t, t))  # type: ignore[arg-type]
    assert MAX_QUERIES == 500 and calls == [500, 500, 1]
    assert merged["m0"] == {"Timestamps": [1, 2], "Values": [1.0, 2.0], "StatusCode": "Complete"}
