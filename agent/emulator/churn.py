"""Changing the demo organisation's estate between scans, as a team's week would: fixes,
regressions and deletions.

Each change goes through the AWS APIs (boto3 against the emulator, as the account itself), like
the seed. moto has no UpdateNotebookInstance or Glue UpdateJob, so a "fix" replaces a resource
with a better-built one of the same name: the same ARN, so the same findings, which resolve.

`demo_steps(org)` is what `mllens demo` applies between its scans, in order.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.emulator.org import Clients, OrgEstate, clients_for
from agent.emulator.seed import KMS, ROLE, VPC
from agent.emulator.server import Emulator

Step = tuple[str, Callable[[Emulator], None]]


def fix_glue_export_job(c: Clients, region: str) -> None:
    """Rebuild `clickstream-export` without the secret in its arguments, with retries, a
    timeout, an encrypting security configuration and a current Glue version."""
    glue = c["glue"]
    glue.delete_job(JobName="clickstream-export")
    glue.create_job(
        Name="clickstream-export",
        Role=ROLE,
        Command={"Name": "glueetl", "ScriptLocation": f"s3://ml-etl-{region}/export.py",
                 "PythonVersion": "3"},
        DefaultArguments={"--enable-continuous-cloudwatch-log": "true",
                          "--enable-metrics": "true",
                          "--job-bookmark-option": "job-bookmark-enable"},
        MaxRetries=2,
        Timeout=120,
        GlueVersion="4.0",
        WorkerType="G.1X",
        NumberOfWorkers=4,
        SecurityConfiguration="ml-etl-kms",
    )


def harden_sandbox_notebook(c: Clients, region: str) -> None:
    """Replace `intern-sandbox` with a notebook in the VPC, without root or direct internet."""
    sm = c["sagemaker"]
    sm.stop_notebook_instance(NotebookInstanceName="intern-sandbox")
    sm.delete_notebook_instance(NotebookInstanceName="intern-sandbox")
    sm.create_notebook_instance(
        NotebookInstanceName="intern-sandbox",
        InstanceType="ml.t3.medium",
        RoleArn=ROLE,
        SubnetId=VPC["Subnets"][0],
        SecurityGroupIds=VPC["SecurityGroupIds"],
        KmsKeyId=KMS.format(region=region),
        DirectInternetAccess="Disabled",
        RootAccess="Disabled",
        PlatformIdentifier="notebook-al2023-v1",
    )


def delete_orphan_alarm(c: Clients, _region: str) -> None:
    """Remove the alarm left behind by an endpoint deleted long ago."""
    c["cloudwatch"].delete_alarms(AlarmNames=["old-ranker-latency"])


def open_experiment_notebook(c: Clients, _region: str) -> None:
    """Someone starts a quick experiment: a notebook with root and direct internet access."""
    c["sagemaker"].create_notebook_instance(
        NotebookInstanceName="quick-experiment",
        InstanceType="ml.t2.medium",
        RoleArn=ROLE,
        DirectInternetAccess="Enabled",
        RootAccess="Enabled",
    )


def drop_latency_alarms(c: Clients, _region: str) -> None:
    """A clean-up script deletes the fraud detector's latency alarms by mistake."""
    c["cloudwatch"].delete_alarms(AlarmNames=[f"fraud-detector-{v}-ModelLatency"
                                              for v in ("primary", "shadow-v8")])


def delete_endpoint(name: str) -> Callable[[Clients, str], None]:
    def change(c: Clients, _region: str) -> None:
        c["sagemaker"].delete_endpoint(EndpointName=name)

    return change


def in_account(
    emu: Emulator, account_id: str, regions: tuple[str, ...],
    *changes: Callable[[Clients, str], None],
) -> None:
    """Apply `changes` in each region of one account, with that account's own clients."""
    for region in regions:
        c = clients_for(emu, account_id, region)
        for change in changes:
            change(c, region)


def demo_steps(org: OrgEstate) -> tuple[Step, ...]:
    """Two rounds of change for the demo organisation.

    The second deletes ml-prod's legacy endpoint in both regions: where the audit role can read
    everything (us-east-1) its findings become GONE and resolve; in eu-west-1, where an SCP
    hides the alarms, the alarm checks' findings cannot be judged, so they stay as they were.
    """
    mgmt, prod, research = org.management, org.id("ml-prod"), org.id("ml-research")
    first = org.regions[:1]  # ml-research never enabled the other region

    def fixes(emu: Emulator) -> None:
        in_account(emu, research, first, fix_glue_export_job, harden_sandbox_notebook)
        in_account(emu, mgmt, org.regions, delete_orphan_alarm)

    def regressions(emu: Emulator) -> None:
        in_account(emu, research, first, open_experiment_notebook)
        in_account(emu, mgmt, first, drop_latency_alarms)
        in_account(emu, prod, org.regions, delete_endpoint("forecast-legacy"))

    return (
        ("ml-research fixes its Glue export job and hardens the intern notebook; the "
         "management account deletes an orphaned alarm", fixes),
        ("a root-enabled experiment notebook appears in ml-research, the fraud detector's "
         "latency alarms are deleted by mistake, and ml-prod deletes its legacy endpoint",
         regressions),
    )
