"""Least privilege, proven: the shipped IAM policies equal what the code declares, cover every
call a full emulator scan makes, and grant nothing the code never calls."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aioboto3
import pytest
import structlog
from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource
from typer.testing import CliRunner

from agent.cli.main import app
from agent.collectors import COLLECTORS
from agent.emulator import Emulator
from agent.emulator.seed import DEMO_REGIONS, ROLE, seed_demo
from agent.iam import (
    PolicyInputs,
    Principal,
    all_grants,
    granted,
    iam_action,
    iam_prefix,
    policies,
    policy,
    render,
)
from agent.scan import ScanRequest, run_scan
from agent.store import Store
from checks import all_checks

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "deploy" / "iam"
MONITORED = "fraud-detector"  # an in-service endpoint of the demo estate in us-east-1


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """CliRunner runs the CLI callback, which binds structlog to a stream CliRunner closes
    afterwards; later in-process logging would write to it. Start and end with defaults."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def _named_job_definitions(emu: Emulator) -> None:
    """One schedule per monitoring type that names a separate job definition."""
    sm = emu.client("sagemaker", DEMO_REGIONS[0])
    endpoint = {"EndpointName": MONITORED, "LocalPath": "/opt/ml/processing/input"}
    output = {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://b/out",
                                                  "LocalPath": "/opt/ml/processing/out"}}]}
    resources = {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                   "VolumeSizeInGB": 20}}
    common: dict[str, Any] = {"JobResources": resources, "RoleArn": ROLE}
    sm.create_data_quality_job_definition(
        JobDefinitionName="iam-dq", DataQualityAppSpecification={"ImageUri": "img"},
        DataQualityJobInput={"EndpointInput": endpoint}, DataQualityJobOutputConfig=output,
        **common)
    sm.create_model_quality_job_definition(
        JobDefinitionName="iam-mq",
        ModelQualityAppSpecification={"ImageUri": "img", "ProblemType": "BinaryClassification"},
        ModelQualityJobInput={"EndpointInput": {**endpoint, "ProbabilityAttribute": "p"},
                              "GroundTruthS3Input": {"S3Uri": "s3://b/gt"}},
        ModelQualityJobOutputConfig=output, **common)
    sm.create_model_bias_job_definition(
        JobDefinitionName="iam-mb",
        ModelBiasAppSpecification={"ImageUri": "img", "ConfigUri": "s3://b/bias.json"},
        ModelBiasJobInput={"EndpointInput": endpoint, "GroundTruthS3Input": {"S3Uri": "s3://b/g"}},
        ModelBiasJobOutputConfig=output, **common)
    sm.create_model_explainability_job_definition(
        JobDefinitionName="iam-me",
        ModelExplainabilityAppSpecification={"ImageUri": "img", "ConfigUri": "s3://b/shap.json"},
        ModelExplainabilityJobInput={"EndpointInput": endpoint},
        ModelExplainabilityJobOutputConfig=output, **common)
    for kind, name in (("DataQuality", "iam-dq"), ("ModelQuality", "iam-mq"),
                       ("ModelBias", "iam-mb"), ("ModelExplainability", "iam-me")):
        sm.create_monitoring_schedule(
            MonitoringScheduleName=f"{name}-schedule",
            MonitoringScheduleConfig={
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinitionName": name, "MonitoringType": kind,
            },
        )


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Counter[str]]:
    """Every `service:Operation` one full scan (all checks, demo regions) makes."""
    structlog.reset_defaults()
    with Emulator() as emu:
        emu.reset()  # moto's state is process-wide: start from an empty cloud
        seed_demo(emu)
        _named_job_definitions(emu)
        store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('iam') / 'iam.db'}")
        req = ScanRequest(regions=DEMO_REGIONS, checks=all_checks(), endpoint_url=emu.url)

        def session() -> Any:
            return aioboto3.Session(aws_access_key_id="testing",
                                    aws_secret_access_key="testing",
                                    region_name=DEMO_REGIONS[0])

        outcome = asyncio.run(run_scan(req, store, session))
        store.close()
        yield outcome.calls_by_operation


def _iam_catalog() -> dict[str, set[str]]:
    """IAM's service prefixes and their actions, lower-cased, as cfn-lint ships them."""
    data = load_resource(AdditionalSpecs, "Policies.json")
    return {prefix: set(entry.get("Actions", {})) for prefix, entry in data.items()}


def test_iam_shipped_files_equal_generated() -> None:
    """deploy/iam/ holds exactly what `mllens iam-policy` generates from the code today."""
    generated = policies()
    shipped = {p.name: p.read_text() for p in SHIPPED.glob("*.json")}
    assert set(shipped) == set(generated)
    for name, doc in generated.items():
        assert shipped[name] == render(doc), (
            f"deploy/iam/{name} is stale: run `mllens iam-policy --out-dir deploy/iam`"
        )


def test_iam_every_call_of_a_full_scan_is_granted(calls: Counter[str]) -> None:
    """Each operation the scan called maps to an IAM action the audit role policy allows."""
    allowed = granted(policy(Principal.AUDIT))
    assert len(calls) >= 20, calls
    missing = sorted({iam_action(c) for c in calls} - allowed)
    assert not missing, f"called but not granted: {missing}"


def test_iam_every_grant_is_called_or_justified(calls: Counter[str]) -> None:
    """Each granted action is called by the full scan, or says when it is called and is not."""
    called = {iam_action(c) for c in calls}
    for g in all_grants():
        if g.conditional:
            assert g.action not in called, (
                f"{g.action} is called by the full scan: drop its condition ({g.conditional})"
            )
        else:
            assert g.action in called, f"{g.action} ({g.caller}) is granted but never called"


def test_iam_full_scan_calls_every_collector_action(calls: Counter[str]) -> None:
    """The scanned estate exercises every action every collector declares."""
    called = {iam_action(c) for c in calls}
    declared = {a for c in COLLECTORS for a in c.actions}
    assert declared <= called, sorted(declared - called)


def test_iam_every_service_a_full_scan_calls_can_be_rate_limited(calls: Counter[str]) -> None:
    """The clients the scan called are all in the list --rate and limits.rate_limits accept,
    by the same names the rate limiter keys its buckets by."""
    from agent.iam import rate_limited_services

    called = {c.split(":", 1)[0] for c in calls}
    assert called <= set(rate_limited_services()), sorted(called - set(rate_limited_services()))


def test_iam_actions_exist_in_iam(calls: Counter[str]) -> None:
    """Every granted action, and every call mapped to IAM, is a real IAM action name."""
    catalog = _iam_catalog()
    inputs = PolicyInputs(sns_topic_arn="arn:aws:sns:us-east-1:111122223333:t")
    everything = granted(policy(Principal.AUDIT, inputs)) | granted(
        policy(Principal.SCANNER, inputs)
    )
    for action in sorted(everything | {iam_action(c) for c in calls}):
        prefix, name = action.split(":", 1)
        assert prefix in catalog, f"{action}: no IAM service prefix {prefix!r}"
        assert name.lower() in catalog[prefix], f"{action}: not an IAM action"


def test_iam_prefix_is_not_the_signing_name_for_cloudwatch() -> None:
    """CloudWatch signs as `monitoring` but IAM calls it `cloudwatch`; the others agree."""
    import botocore.session

    session = botocore.session.get_session()
    assert session.get_service_model("cloudwatch").signing_name == "monitoring"
    assert iam_prefix("cloudwatch") == "cloudwatch"
    assert session.get_service_model("sagemaker").endpoint_prefix == "api.sagemaker"
    for client in ("sagemaker", "glue", "application-autoscaling", "sts", "sns",
                   "organizations"):
        assert iam_prefix(client) == client


def test_iam_audit_policy_is_read_only() -> None:
    """The member-account role may only describe, list and get."""
    for action in granted(policy(Principal.AUDIT)):
        verb = action.split(":", 1)[1]
        assert verb.startswith(("Describe", "List", "Get")), action


def test_iam_scanner_policy_publishes_only_with_a_topic() -> None:
    """sns:Publish appears only when a topic is given, and only on that topic."""
    assert "sns:Publish" not in granted(policy(Principal.SCANNER))
    topic = "arn:aws:sns:eu-west-1:111122223333:mllens"
    doc = policy(Principal.SCANNER, PolicyInputs(sns_topic_arn=topic, role_name="audit-x"))
    by_action = {a: st["Resource"] for st in doc["Statement"] for a in st["Action"]}
    assert by_action["sns:Publish"] == topic
    assert by_action["sts:AssumeRole"] == "arn:aws:iam::*:role/audit-x"


def test_iam_policy_cli_prints_and_writes_the_documents(tmp_path: Path) -> None:
    """`mllens iam-policy` prints every document, one with --role, or writes the shipped files."""
    runner = CliRunner()
    both = runner.invoke(app, ["iam-policy"])
    assert both.exit_code == 0
    assert json.loads(both.stdout) == {"audit": policy(Principal.AUDIT),
                                       "scanner": policy(Principal.SCANNER),
                                       "wa-sync": policy(Principal.WA_SYNC)}
    audit = runner.invoke(app, ["iam-policy", "--role", "audit"])
    assert json.loads(audit.stdout) == policy(Principal.AUDIT)
    written = runner.invoke(app, ["iam-policy", "--out-dir", str(tmp_path)])
    assert written.exit_code == 0
    for shipped in SHIPPED.glob("*.json"):
        assert (tmp_path / shipped.name).read_text() == shipped.read_text()


def test_iam_policy_cli_reads_role_and_topic_from_config(tmp_path: Path) -> None:
    """--config takes the audit role name and SNS topic from the settings file."""
    conf = tmp_path / "mllens.toml"
    conf.write_text('[targets]\nrole_name = "ml-audit"\n[notifications]\n'
                    'sns_topic_arn = "arn:aws-us-gov:sns:us-gov-west-1:111122223333:t"\n')
    got = CliRunner().invoke(app, ["iam-policy", "--role", "scanner", "--config", str(conf),
                                   "--partition", "aws-us-gov"])
    assert got.exit_code == 0, got.stderr
    resources = {st["Sid"]: st["Resource"] for st in json.loads(got.stdout)["Statement"]}
    assert resources["AssumeAuditRole"] == "arn:aws-us-gov:iam::*:role/ml-audit"
    assert resources["PublishFindingsSummary"].endswith(":t")


@pytest.mark.parametrize("args", [["--role", "admin"], ["--role-name", "bad name!"],
                                  ["--sns-topic-arn", "arn:aws:sqs:us-east-1:1:q"],
                                  ["--partition", "aws-mars"]])
def test_iam_policy_cli_bad_option_is_usage_error(args: list[str]) -> None:
    """A bad role, role name, topic or partition is a one-line error with exit code 2."""
    got = CliRunner().invoke(app, ["iam-policy", *args], env={"NO_COLOR": "1"})
    assert got.exit_code == 2
    assert got.stderr.startswith("mllens: ") and got.stdout == ""
