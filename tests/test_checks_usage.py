"""Usage checks on endpoint metrics: idle (EP-15), under-used (EP-16), consolidation (EP-19)."""

from __future__ import annotations

from agent.domain import Kind, Severity, Status
from checks import endpoint_models, endpoint_usage
from checks._metrics import gpus, hardware, percentile, vcpus
from tests.contract_build import cfg, ep, hourly, metrics, model, series, target
from tests.factories import inv, run, statuses

IDLE = endpoint_usage.sagemaker_endpoint_idle
UNDER = endpoint_usage.sagemaker_endpoint_underutilized


def test_instance_hardware_from_type_names() -> None:
    """vCPUs follow EC2 size names, GPUs come from the family table, Neuron is told apart."""
    assert [vcpus(t) for t in ("ml.m5.large", "ml.c5.9xlarge", "ml.t3.medium",
                               "ml.m5.xlarge", "ml.g5.metal")] == [2, 36, 2, 4, None]
    assert [gpus(t) for t in ("ml.g5.xlarge", "ml.g5.12xlarge", "ml.p4d.24xlarge",
                              "ml.m5.large")] == [1, 4, 8, None]
    assert [hardware(t) for t in ("ml.inf2.xlarge", "ml.g4dn.xlarge", "ml.c7g.large",
                                  "bogus")] == ["neuron", "gpu", "cpu", None]
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == 4.0 and percentile([5.0], 50) == 5.0


def test_idle_old_invocations_outside_the_window_do_not_count() -> None:
    """Only datapoints inside idle_lookback_days count; a window longer than what was
    collected is UNKNOWN, not idle."""
    old = series("Invocations", [0.0, 0.0, 0.0, 9.0], period=86400)  # 9 calls, 4 days ago
    inventory = inv(ep(), cfg(), metrics("ep", old))
    assert statuses(run(IDLE, inventory, idle_lookback_days=3)) == {"ep": Status.FAIL}
    assert statuses(run(IDLE, inventory, idle_lookback_days=5)) == {"ep": Status.PASS}
    assert statuses(run(IDLE, inventory, idle_lookback_days=30)) == {"ep": Status.UNKNOWN}


def test_idle_async_serverless_and_partial_answers() -> None:
    """Async endpoints publish no Invocations (UNKNOWN), serverless ones bill per use (N/A),
    and a series CloudWatch answered partially is UNKNOWN."""
    async_cfg = cfg(AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://b/o"}})
    serverless = cfg(variants=[{"VariantName": "AllTraffic", "ModelName": "m",
                                "ServerlessConfig": {"MemorySizeInMB": 2048}}])
    partial = metrics("ep", series("Invocations", [], period=86400, status="PartialData"))
    assert statuses(run(IDLE, inv(ep(), async_cfg, metrics()))) == {"ep": Status.UNKNOWN}
    assert statuses(run(IDLE, inv(ep(), serverless, metrics()))) == {
        "ep": Status.NOT_APPLICABLE}
    assert statuses(run(IDLE, inv(ep(), cfg(), partial))) == {"ep": Status.UNKNOWN}


def test_idle_gap_on_metrics_is_unknown_and_cpu_idle_is_medium() -> None:
    """A gap on the metrics kind makes every endpoint UNKNOWN; a CPU instance idles at the
    base severity with the instance-hours in evidence."""
    from tests.factories import gap

    denied = inv(ep(), cfg(), gaps=[gap(Kind.ENDPOINT_METRICS)])
    assert statuses(run(IDLE, denied)) == {"ep": Status.UNKNOWN}
    [idle] = run(IDLE, inv(ep(count=2), cfg(), metrics()))
    assert (idle.status, idle.severity) == (Status.FAIL, Severity.MEDIUM)
    assert idle.evidence["instance_hours"] == 2 * 14 * 24


def test_underutilized_gpu_needs_both_cpu_and_gpu_idle() -> None:
    """On a GPU instance, a busy GPU keeps the variant PASS even with idle CPUs."""
    gpu_cfg = cfg(instance="ml.g5.xlarge")
    busy_gpu = metrics("ep", hourly("CPUUtilization", 4.0), hourly("GPUUtilization", 80.0))
    idle_gpu = metrics("ep", hourly("CPUUtilization", 4.0), hourly("GPUUtilization", 2.0))
    assert statuses(run(UNDER, inv(ep(), gpu_cfg, busy_gpu))) == {"ep/AllTraffic": Status.PASS}
    assert statuses(run(UNDER, inv(ep(), gpu_cfg, idle_gpu))) == {"ep/AllTraffic": Status.FAIL}


def test_underutilized_min_capacity_and_threshold_param() -> None:
    """Three instances held at MinCapacity 3 are reported as a too-high minimum; the
    threshold parameter moves the line; too few datapoints are UNKNOWN."""
    low = metrics("ep", hourly("CPUUtilization", 20.0))  # 20 / 2 vCPUs = 10 %
    held = inv(ep(count=3), cfg(count=3), low, target(MinCapacity=3, MaxCapacity=6))
    [result] = run(UNDER, held, cpu_util_threshold=15.0)
    assert result.status is Status.FAIL and "MinCapacity" in result.reason
    assert statuses(run(UNDER, held, cpu_util_threshold=10.0)) == {
        "ep/AllTraffic": Status.PASS}
    sparse = inv(ep(), cfg(), metrics("ep", hourly("CPUUtilization", 1.0, hours=5)))
    assert statuses(run(UNDER, sparse)) == {"ep/AllTraffic": Status.UNKNOWN}


def test_underutilized_multi_model_counts_memory() -> None:
    """A multi-model endpoint with busy memory is in use, whatever its CPU."""
    mme = model(PrimaryContainer={"Image": "img", "Mode": "MultiModel"})
    found = metrics("ep", hourly("CPUUtilization", 2.0), hourly("MemoryUtilization", 70.0))
    assert statuses(run(UNDER, inv(ep(), cfg(), mme, found))) == {"ep/AllTraffic": Status.PASS}
    [single] = run(UNDER, inv(ep(), cfg(), found))
    assert single.status is Status.FAIL and "note" in single.evidence


def test_consolidation_uses_traffic_when_metrics_are_collected() -> None:
    """With metrics, a busy endpoint leaves the group (PASS) and the rest drop below the
    group size; without metrics the instance-count heuristic groups all three."""
    endpoints = [ep(f"ep{i}", config=f"c{i}") for i in range(3)]
    configs = [cfg(f"c{i}") for i in range(3)]
    busy = metrics("ep0", series("Invocations", [30000.0] * 14, period=86400))
    quiet = [metrics(f"ep{i}") for i in (1, 2)]
    check = endpoint_models.sagemaker_endpoint_consolidation_candidate
    assert statuses(run(check, inv(*endpoints, *configs, model()))) == {
        f"ep{i}": Status.FAIL for i in range(3)}
    assert statuses(run(check, inv(*endpoints, *configs, model(), busy, *quiet))) == {
        "ep0": Status.PASS, "ep1": Status.PASS, "ep2": Status.PASS}
