"""Acceptance (issue 6): a metric-based check and the objective checks pass and fail against
CloudWatch metrics put into the emulator, read by the real collectors through a real handle."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.collectors import CollectOptions
from agent.config import load_settings, scan_request
from agent.domain import Inventory, Kind, Result, Status
from agent.emulator import Emulator, throttled
from agent.scan import run_scan
from agent.store import Store
from checks import all_checks, by_id
from checks.options import EvaluationOptions
from checks.runner import evaluate
from tests.contract_objectives import goal, options
from tests.test_emulator_catalog import NOW, collect, endpoint

pytestmark = pytest.mark.emulator

DAYS = 7
OBJECTIVES = options(
    goal("api", endpoint="*-api", p99_latency_ms=200.0, max_5xx_rate_pct=1.0,
         min_invocations_per_day=500, max_monthly_cost_usd=300.0),
    days=DAYS,
)
COLLECT = CollectOptions(objective_window_days=DAYS, objective_endpoints=("*-api",))
OBJECTIVE_CHECKS = ("sagemaker_endpoint_objective_latency_p99_exceeded",
                    "sagemaker_endpoint_objective_error_rate_exceeded",
                    "sagemaker_endpoint_objective_invocations_below_floor",
                    "sagemaker_endpoint_objective_monthly_cost_exceeded")


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(autouse=True)
def clean(emu: Emulator) -> Iterator[None]:
    emu.reset()
    yield


def put_traffic(emu: Emulator, name: str, *, calls: float, errors: float,
                latencies_ms: list[float]) -> None:
    """Hourly Invocations and 5XX sums over the whole window, and raw ModelLatency samples
    (microseconds, as SageMaker publishes them)."""
    dims = [{"Name": "EndpointName", "Value": name}, {"Name": "VariantName",
                                                      "Value": "AllTraffic"}]
    data: list[dict[str, Any]] = [
        {"MetricName": metric, "Dimensions": dims, "Value": value,
         "Timestamp": NOW - timedelta(hours=h + 1)}
        for h in range(DAYS * 24 - 1) for metric, value in (("Invocations", calls),
                                                            ("Invocation5XXErrors", errors))]
    data.append({"MetricName": "ModelLatency", "Dimensions": dims,
                 "Values": [ms * 1000 for ms in latencies_ms],
                 "Timestamp": NOW - timedelta(hours=3)})
    cw = emu.client("cloudwatch")
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[i:i + 1000])


def results(inventory: Inventory, check_ids: tuple[str, ...],
            opts: EvaluationOptions) -> dict[tuple[str, str], Result]:
    return {(r.check_id.removeprefix("sagemaker_endpoint_"),
             r.resource_arn.rsplit("/", 1)[-1]): r
            for r in evaluate([by_id()[c] for c in check_ids], inventory, None, opts)}


def test_idle_and_objective_checks_pass_and_fail_on_emulator_metrics(emu: Emulator) -> None:
    """A healthy endpoint passes the idle check and every objective; a slow, failing one
    misses its p99 latency and 5XX objectives; an unused one fails the idle check and the
    invocations floor, and has no latency to judge (UNKNOWN)."""
    for name in ("fast-api", "slow-api", "unused-api"):
        endpoint(emu, name, age_days=30)
    put_traffic(emu, "fast-api", calls=30.0, errors=0.0,
                latencies_ms=[50.0 + i for i in range(100)])  # p99 = 148 ms
    put_traffic(emu, "slow-api", calls=30.0, errors=3.0,
                latencies_ms=[200.0 + i for i in range(100)])  # p99 = 298 ms, 10 % 5XX
    inventory = collect(emu, "endpoints", "endpoint_metrics", "objective_metrics", opts=COLLECT)
    assert inventory.gaps == ()
    got = results(inventory, ("sagemaker_endpoint_idle", *OBJECTIVE_CHECKS), OBJECTIVES)
    status = {key: r.status for key, r in got.items()}
    assert status == {
        ("idle", "fast-api"): Status.PASS,
        ("idle", "slow-api"): Status.PASS,
        ("idle", "unused-api"): Status.FAIL,
        ("objective_latency_p99_exceeded", "fast-api"): Status.PASS,
        ("objective_latency_p99_exceeded", "slow-api"): Status.FAIL,
        ("objective_latency_p99_exceeded", "unused-api"): Status.UNKNOWN,
        ("objective_error_rate_exceeded", "fast-api"): Status.PASS,
        ("objective_error_rate_exceeded", "slow-api"): Status.FAIL,
        ("objective_error_rate_exceeded", "unused-api"): Status.UNKNOWN,
        ("objective_invocations_below_floor", "fast-api"): Status.PASS,
        ("objective_invocations_below_floor", "slow-api"): Status.PASS,
        ("objective_invocations_below_floor", "unused-api"): Status.FAIL,
        # One ml.m5.xlarge: 0.23 USD/h x 730 h = 167.90 USD a month, under 300.
        ("objective_monthly_cost_exceeded", "fast-api"): Status.PASS,
        ("objective_monthly_cost_exceeded", "slow-api"): Status.PASS,
        ("objective_monthly_cost_exceeded", "unused-api"): Status.PASS,
    }
    slow = got[("objective_latency_p99_exceeded", "slow-api")]
    assert (slow.evidence["p99_ms"], slow.evidence["target_ms"]) == (298.0, 200.0)
    assert "298.0 ms" in slow.reason and "200 ms" in slow.reason
    assert got[("objective_latency_p99_exceeded", "fast-api")].evidence["p99_ms"] == 148.0
    errors = got[("objective_error_rate_exceeded", "slow-api")]
    assert errors.evidence["rate_pct"] == 10.0 and "10.0%" in errors.reason
    assert got[("objective_monthly_cost_exceeded", "fast-api")].evidence["estimate_usd"] == 167.9


def test_objective_metrics_failure_is_a_gap_and_checks_say_unknown(emu: Emulator) -> None:
    """A throttled GetMetricData leaves the objective metrics uncollected: the objective
    checks that read them say UNKNOWN, never PASS or FAIL; the cost check needs no metrics."""
    endpoint(emu, "fast-api", age_days=30)
    put_traffic(emu, "fast-api", calls=30.0, errors=0.0, latencies_ms=[50.0])
    emu.faults.add(throttled(service="monitoring", operation="GetMetricData"))
    inventory = collect(emu, "endpoints", "objective_metrics", opts=COLLECT)
    assert not inventory.complete(Kind.OBJECTIVE_METRICS)
    status = {k: r.status for k, r in results(inventory, OBJECTIVE_CHECKS, OBJECTIVES).items()}
    assert status == {
        ("objective_latency_p99_exceeded", "fast-api"): Status.UNKNOWN,
        ("objective_error_rate_exceeded", "fast-api"): Status.UNKNOWN,
        ("objective_invocations_below_floor", "fast-api"): Status.UNKNOWN,
        ("objective_monthly_cost_exceeded", "fast-api"): Status.PASS,
    }


def test_objective_metrics_read_nothing_without_objectives(emu: Emulator) -> None:
    """Without objectives the collector calls nothing (a denied CloudWatch leaves no gap)
    and only endpoints an objective's glob matches get a record when there are some."""
    endpoint(emu, "fast-api", age_days=30)
    endpoint(emu, "batch-scorer", age_days=30)
    emu.faults.add(throttled(service="monitoring", operation="ListMetrics"))
    idle = collect(emu, "objective_metrics")
    assert idle.gaps == () and idle.complete(Kind.OBJECTIVE_METRICS)
    assert idle.of(Kind.OBJECTIVE_METRICS) == ()
    emu.faults.clear()
    inventory = collect(emu, "objective_metrics", opts=COLLECT)
    [record] = inventory.of(Kind.OBJECTIVE_METRICS)
    assert record.name == "fast-api" and record.data["Window"]["Days"] == DAYS


def test_emulator_answers_percentiles_in_both_apis(emu: Emulator) -> None:
    """GetMetricData with Stat p99 and GetMetricStatistics with ExtendedStatistics answer the
    nearest-rank percentile of the samples, in botocore's shapes (moto alone fails or omits)."""
    cw = emu.client("cloudwatch")
    dims = [{"Name": "EndpointName", "Value": "e"}, {"Name": "VariantName", "Value": "v"}]
    cw.put_metric_data(Namespace="AWS/SageMaker", MetricData=[{
        "MetricName": "ModelLatency", "Dimensions": dims,
        "Values": [float(v) for v in range(1, 201)], "Timestamp": NOW - timedelta(hours=1)}])
    start, end = NOW - timedelta(days=1), NOW
    metric = {"Namespace": "AWS/SageMaker", "MetricName": "ModelLatency", "Dimensions": dims}
    answer = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
        {"Id": "p", "MetricStat": {"Metric": metric, "Period": 86400, "Stat": "p99"}},
        {"Id": "s", "MetricStat": {"Metric": metric, "Period": 86400, "Stat": "Sum"}}])
    by_id_ = {r["Id"]: r for r in answer["MetricDataResults"]}
    assert by_id_["p"]["Values"] == [198.0] and by_id_["s"]["Values"] == [20100.0]
    stats = cw.get_metric_statistics(StartTime=start, EndTime=end, Period=86400,
                                     ExtendedStatistics=["p50", "p99.5"], **metric)
    [point] = stats["Datapoints"]
    assert point["ExtendedStatistics"] == {"p50": 100.0, "p99.5": 199.0}


def test_scan_from_settings_judges_objectives_end_to_end(emu: Emulator, tmp_path: Path) -> None:
    """[objectives] in a settings file reach a scan through scan_request: the scan reads the
    objective metrics for the selected endpoints and stores the verdicts; without objectives
    the same scan reads none and every endpoint is NOT_APPLICABLE."""
    import aioboto3

    endpoint(emu, "slow-api", age_days=30)
    endpoint(emu, "other", age_days=30)
    put_traffic(emu, "slow-api", calls=30.0, errors=0.0, latencies_ms=[400.0] * 10)
    common = ('[targets]\nregions = ["us-east-1"]\n[checks]\nenabled = '
              '["sagemaker_endpoint_objective_latency_p99_exceeded"]\n')
    settings, without = tmp_path / "mllens.toml", tmp_path / "plain.toml"
    settings.write_text(common + '[[objectives.workloads]]\nname = "api"\nendpoint = '
                        '"*-api"\np99_latency_ms = 250\n')
    without.write_text(common)
    catalog = all_checks()

    def scan(path: Path) -> Any:
        req = scan_request(load_settings(path, catalog), catalog, endpoint_url=emu.url)
        store = Store.open(f"sqlite:///{tmp_path / 'scan.db'}")
        try:
            return asyncio.run(run_scan(req, store, lambda: aioboto3.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing",
                region_name="us-east-1")))
        finally:
            store.close()

    outcome = scan(settings)
    got = {r.resource_arn.rsplit("/", 1)[-1]: r for r in outcome.results}
    assert {n: r.status for n, r in got.items()} == {"slow-api": Status.FAIL,
                                                     "other": Status.NOT_APPLICABLE}
    assert got["slow-api"].evidence["p99_ms"] == 400.0
    assert outcome.calls_by_operation["cloudwatch:GetMetricData"] >= 1
    plain = scan(without)
    assert {r.status for r in plain.results} == {Status.NOT_APPLICABLE}
    assert plain.calls_by_operation["cloudwatch:GetMetricData"] == 0
