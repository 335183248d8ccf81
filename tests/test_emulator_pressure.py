"""The benchmark's emulator pieces: token buckets, the latency/rate-limit middleware, bulk seeding
and the standalone emulator process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from agent.aws.errors import classify
from agent.domain import GapKind
from agent.emulator.bulk import AUDIT_ROLE, BulkSpec, seed_bulk
from agent.emulator.faults import WsgiApp
from agent.emulator.ratelimit import (
    Latency,
    PressureMiddleware,
    RateLimits,
    TokenBucket,
    parse_rate,
)
from agent.emulator.server import Emulator
from agent.emulator.shapes import validate_output

pytestmark = pytest.mark.emulator
ROOT = Path(__file__).resolve().parent.parent
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_token_bucket_spends_burst_then_refills_at_rate() -> None:
    """A full bucket gives `burst` calls at once, then one call per 1/rate seconds."""
    clock = Clock()
    bucket = TokenBucket(rate=2.0, burst=3.0, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.t += 0.49
    assert not bucket.take()
    clock.t += 0.02
    assert bucket.take() and not bucket.take()
    clock.t += 100
    assert sum(bucket.take() for _ in range(10)) == 3


def test_parse_rate_accepts_patterns_and_refuses_nonsense() -> None:
    """Rates read as service:Operation=RATE[:BURST]; malformed ones are a ValueError."""
    assert parse_rate("sagemaker:ListTrainingJobs=2") == ("sagemaker:ListTrainingJobs", 2.0, None)
    assert parse_rate("sagemaker:Describe*=20:40") == ("sagemaker:Describe*", 20.0, 40.0)
    for bad in ("sagemaker=2", "sagemaker:X", "sagemaker:X=fast", "sagemaker:X=0", "s:X=1:0"):
        with pytest.raises(ValueError):
            parse_rate(bad)


def test_rate_limits_pick_the_most_specific_pattern() -> None:
    """An exact operation beats a prefix, a longer prefix beats a shorter one."""
    limits = RateLimits({"sagemaker:*": 1, "sagemaker:Describe*": 2,
                         "sagemaker:DescribeEndpoint": 3})
    assert limits.rule_for("sagemaker:DescribeEndpoint") == "sagemaker:DescribeEndpoint"
    assert limits.rule_for("sagemaker:DescribeModel") == "sagemaker:Describe*"
    assert limits.rule_for("sagemaker:ListModels") == "sagemaker:*"
    assert limits.rule_for("glue:GetJobs") is None


@pytest.fixture(scope="module")
def pressured() -> Iterator[tuple[Emulator, dict[str, PressureMiddleware]]]:
    made: dict[str, PressureMiddleware] = {}

    def wrap(app: WsgiApp) -> WsgiApp:
        made["mw"] = PressureMiddleware(
            app, Latency(), RateLimits({"sagemaker:ListEndpoints": 0.01,
                                        "cloudwatch:DescribeAlarms": 0.01})
        )
        return made["mw"]

    with Emulator(wrap=wrap) as emu:
        yield emu, made


def test_pressure_throttles_per_operation_in_both_protocols(
    pressured: tuple[Emulator, dict[str, PressureMiddleware]],
) -> None:
    """Over-limit calls get the throttling error of their protocol, which we classify as
    throttled; other operations and other regions have their own buckets."""
    emu, made = pressured
    sm = emu.client("sagemaker", config=NO_RETRY)
    cw = emu.client("cloudwatch", config=NO_RETRY)
    sm.list_endpoints()
    cw.describe_alarms()
    for call, code in ((sm.list_endpoints, "ThrottlingException"),
                       (cw.describe_alarms, "Throttling")):
        with pytest.raises(ClientError) as exc:
            call()
        assert exc.value.response["Error"]["Code"] == code
        assert classify(exc.value).kind is GapKind.THROTTLED
    sm.list_models()  # unlimited
    emu.client("sagemaker", "eu-west-1", config=NO_RETRY).list_endpoints()  # its own bucket
    stats = made["mw"].stats()
    assert stats["throttled"] == {"sagemaker:ListEndpoints": 1, "cloudwatch:DescribeAlarms": 1}
    assert stats["calls"]["sagemaker:ListEndpoints"] == 3
    assert stats["served"]["123456789012/us-east-1/sagemaker:ListEndpoints"] == 1
    assert stats["served"]["123456789012/eu-west-1/sagemaker:ListEndpoints"] == 1


def test_bulk_seed_creates_valid_records_in_every_account() -> None:
    """Bulk records list and describe like API-created ones, in each requested account."""
    emu = Emulator().start()
    emu.reset()
    spec = BulkSpec.parse("endpoints=3,models=2,training_jobs=5,notebooks=2,glue_jobs=2,"
                          "alarms=2,endpoint_configs=1", ["123456789012", "210987654321"],
                          ["us-east-1"])
    assert seed_bulk(spec) == 2 * spec.per_scope == 2 * 23
    sm = emu.client("sagemaker")
    assert len(sm.list_endpoints()["Endpoints"]) == 3
    assert len(sm.list_models()["Models"]) == 3 + 2 + 0
    assert len(sm.list_endpoint_configs()["EndpointConfigs"]) == 3 + 1
    jobs = sm.list_training_jobs()["TrainingJobSummaries"]
    assert len(jobs) == 5
    for op, kw in (("DescribeTrainingJob", {"TrainingJobName": jobs[0]["TrainingJobName"]}),
                   ("DescribeEndpoint", {"EndpointName": "endpoint-000000"}),
                   ("DescribeEndpointConfig", {"EndpointConfigName": "ep-config-000001"}),
                   ("DescribeNotebookInstance", {"NotebookInstanceName": "notebook-000000"})):
        answer = getattr(sm, {"DescribeTrainingJob": "describe_training_job",
                              "DescribeEndpoint": "describe_endpoint",
                              "DescribeEndpointConfig": "describe_endpoint_config",
                              "DescribeNotebookInstance": "describe_notebook_instance"}[op])(**kw)
        assert validate_output("sagemaker", op, answer) == [], op
    assert len(emu.client("glue").get_jobs()["Jobs"]) == 2
    assert len(emu.client("cloudwatch").describe_alarms()["MetricAlarms"]) == 2
    # Several accounts: the first can assume the audit role in the second and sees its estate.
    creds = emu.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::210987654321:role/{AUDIT_ROLE}", RoleSessionName="bench",
    )["Credentials"]
    other = emu.client("sagemaker", aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    assert len(other.list_endpoints()["Endpoints"]) == 3
    emu.stop()
    with pytest.raises(ValueError, match="unknown kinds"):
        BulkSpec.parse("gpus=3", ["1"], ["r"])


def test_emulator_process_serves_stats_and_stops_on_sigterm() -> None:
    """`python -m agent.emulator serve` prints READY, counts calls, resets, exits 0 on SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent.emulator", "serve", "--bulk", "notebooks=2",
         "--rate", "sagemaker:List*=100"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY http://127.0.0.1:"), line
        url = line.split()[1]
        import boto3

        sm = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=url,
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        assert len(sm.list_notebook_instances()["NotebookInstances"]) == 2
        with urllib.request.urlopen(f"{url}/mllens-emulator/stats") as r:
            stats = json.loads(r.read())
        assert stats["calls"] == {"sagemaker:ListNotebookInstances": 1}
        assert stats["resources"] == 2 and stats["rates"] == {"sagemaker:List*": 100.0}
        urllib.request.urlopen(urllib.request.Request(
            f"{url}/mllens-emulator/reset-stats", method="POST")).close()
        with urllib.request.urlopen(f"{url}/mllens-emulator/stats") as r:
            assert json.loads(r.read())["calls"] == {}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_emulator_process_refuses_a_bad_rate_in_one_line() -> None:
    """A malformed --rate is a one-line error and exit code 2, before anything starts."""
    proc = subprocess.run(
        [sys.executable, "-m", "agent.emulator", "serve", "--rate", "sagemaker=fast"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "sagemaker=fast" in proc.stderr
