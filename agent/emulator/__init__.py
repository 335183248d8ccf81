"""An embedded AWS emulator for tests, benchmarks and `mllens demo`: moto in server mode, on
127.0.0.1, extended with what moto lacks and with fault injection.

    from agent.emulator import Emulator, FaultRule, throttled

    with Emulator() as emu:                    # free port; Emulator(latency=0.05) slows calls
        sm = emu.client("sagemaker", "us-east-1")   # boto3, endpoint_url=emu.url, test keys
        ...                                    # create resources through the AWS API
        emu.seed.add_monitoring_execution("churn-dq", "CompletedWithViolations")
        emu.faults.add(throttled(service="sagemaker", operation="ListEndpoints", times=2))
        emu.reset()                            # every account and region, and all fault rules

moto's state is process-wide: two emulators in one process share it, and `reset()` on either
clears both. Installing the extensions patches moto's response classes for the whole process.

Accounts: moto serves the account owning the request's access key. Plain keys ("testing")
belong to 123456789012; keys from moto's STS AssumeRole belong to the role's account, so a
second account is `sts.assume_role(RoleArn="arn:aws:iam::111122223333:role/x", ...)`.

What the emulator adds to moto (details and the reasons in GAPS.md):
- SageMaker Model Monitor: Create/Describe/Delete/Start/Stop/ListMonitoringSchedules and
  ListMonitoringExecutions. A schedule is created `Scheduled` (moto creates resources in their
  settled state), with MonitoringType and EndpointName taken from the inline definition or from
  the named job definition, which must exist (ResourceNotFound otherwise).
- SageMaker inference components: Create/Describe/Delete/ListInferenceComponents, on an
  existing endpoint; created `InService`.
- CloudWatch PutCompositeAlarm, and DescribeAlarms with AlarmTypes, paging and every field set.
- Describe answers that keep every field the Create request set; DescribeEndpoint's capture
  summary and shadow variants; paging fixes for Application Auto Scaling, ListModels and Glue.

Seeding API (`emu.seed`, an `agent.emulator.store.Seeder`): what only AWS itself changes. Each
method takes keyword `account_id="123456789012"` and `region="us-east-1"`; an unknown resource
raises `UnknownResource` (a KeyError), an invalid status `ValueError`.
- `set_monitoring_schedule_status(name, status, *, failure_reason=None)`:
  status in Pending | Scheduled | Stopped | Failed.
- `add_monitoring_execution(schedule_name, status, *, scheduled_time=None, failure_reason=None,
  processing_job_arn=None) -> dict`: status in Pending | Completed | CompletedWithViolations |
  InProgress | Failed | Stopping | Stopped; scheduled_time defaults to now. The schedule's
  LastMonitoringExecutionSummary is its execution with the latest ScheduledTime.
- `set_inference_component_status(name, status, *, failure_reason=None)`:
  InService | Creating | Updating | Failed | Deleting.
- `set_endpoint_status(name, status, *, failure_reason=None)`: any EndpointStatus.
- `set_data_capture_status(endpoint_name, status)`: Started | Stopped, what DescribeEndpoint
  reports as DataCaptureConfig.CaptureStatus (default: Started when the config enables capture).
- `set_endpoint_creation_time(name, when)`, `set_notebook_last_modified(name, when)`: backdate
  resources moto creates "now" (idle endpoints, long-running notebooks).
- `add_glue_job_run(job_name, state, *, started_on=None, execution_time=None,
  error_message=None, attempt=0, previous_run_id=None) -> run ID`: a run in any JobRunState
  (moto's own runs always end SUCCEEDED).

Fault injection (`emu.faults`, see `agent.emulator.faults`): `add(FaultRule(...)) -> Fault`
(`.hits` counts the calls it broke), `clear()`, `active`, and `calls`, a Counter of every
"service:Operation" the emulator served. Shorthands: `access_denied`, `throttled`,
`internal_failure`, `expired_token`, each taking the FaultRule matchers as keywords.
"""

from agent.emulator.faults import (
    CallInfo,
    Fault,
    FaultRule,
    Faults,
    access_denied,
    expired_token,
    internal_failure,
    throttled,
)
from agent.emulator.server import Emulator
from agent.emulator.store import Seeder, UnknownResource

__all__ = [
    "CallInfo",
    "Emulator",
    "Fault",
    "FaultRule",
    "Faults",
    "Seeder",
    "UnknownResource",
    "access_denied",
    "expired_token",
    "internal_failure",
    "throttled",
]
