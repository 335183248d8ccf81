"""Checks on SageMaker notebook instances (catalog NB-01..NB-07).

DescribeNotebookInstance marks no field required. Where botocore documents the value a notebook
gets when the setting was not chosen (internet access, root access, IMDS version), an absent
field is read as that default: records from before an option existed ran with the default.
Where the record carries a field only when it was set (SubnetId, KmsKeyId), absence means not
set. Where neither holds (the platform, whose default changed over time), absence is UNKNOWN.
Notebooks being deleted or in Failed state are NOT_APPLICABLE.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import as_datetime, items
from checks.base import AT_LEAST_0, Verdict, check, failed, not_applicable, passed, unknown

_OUT_OF_SCOPE = ("Deleting", "Failed")


def _in_scope(inv: Inventory) -> Iterator[tuple[Resource, Verdict | None]]:
    """Each notebook, with a NOT_APPLICABLE verdict when its status puts it out of scope."""
    for nb in inv.of(Kind.NOTEBOOK_INSTANCES):
        status = nb.get("NotebookInstanceStatus")
        if status in _OUT_OF_SCOPE:
            yield nb, not_applicable(nb, f"notebook is {status}", NotebookInstanceStatus=status)
        else:
            yield nb, None


def _enabled_disabled(
    nb: Resource, field: str, *, default_note: str, enabled: str, disabled: str
) -> Verdict:
    value = nb.get(field)
    ev: dict[str, Any] = {field: value}
    if value == "Disabled":
        return passed(nb, disabled, **ev)
    if value == "Enabled":
        return failed(nb, enabled, **ev)
    if value is None:
        return failed(nb, f"{enabled} ({default_note})", **ev)
    return unknown(nb, f"unexpected {field} value {value!r}", **ev)


_RECREATE = "Settings fixed at creation need a new notebook instance: recreate it and move data."


@check(
    title="SageMaker notebook instance has direct internet access",
    severity=Severity.HIGH,
    effort="rearchitect",
    lens=("MLSEC03-BP02", "MLSEC04-BP01"),
    needs=(Kind.NOTEBOOK_INSTANCES,),
    remediation=(
        "Recreate the notebook in a private subnet with DirectInternetAccess=Disabled and reach "
        "AWS services through VPC endpoints (or a NAT gateway you control). " + _RECREATE
    ),
)
def sagemaker_notebook_direct_internet_access(inv: Inventory) -> Iterator[Verdict]:
    """PASS when DirectInternetAccess is Disabled; FAIL when Enabled, or absent: the API
    documents notebooks as internet-enabled by default, and Disabled requires a SubnetId.

    A notebook with direct internet access can send data out past VPC controls.
    """
    for nb, na in _in_scope(inv):
        note = "absent, the documented default is Enabled"
        if not nb.get("SubnetId"):
            note += "; without a SubnetId it cannot be Disabled"
        yield na or _enabled_disabled(
            nb, "DirectInternetAccess", default_note=note,
            enabled="notebook has direct internet access",
            disabled="direct internet access is disabled",
        )


@check(
    title="SageMaker notebook instance gives users root access",
    severity=Severity.HIGH,
    effort="config",
    lens=("MLSEC03-BP01", "MLSEC04-BP01"),
    needs=(Kind.NOTEBOOK_INSTANCES,),
    remediation=(
        "Stop the notebook, set RootAccess=Disabled with UpdateNotebookInstance and start it; "
        "move setup steps that need root into a lifecycle configuration."
    ),
)
def sagemaker_notebook_root_access_enabled(inv: Inventory) -> Iterator[Verdict]:
    """PASS when RootAccess is Disabled; FAIL when Enabled, or absent (botocore: "The default
    value is Enabled").

    Root lets any notebook user change the instance, install software and read every file on it.
    """
    for nb, na in _in_scope(inv):
        yield na or _enabled_disabled(
            nb, "RootAccess", default_note="absent, the documented default is Enabled",
            enabled="notebook users have root access", disabled="root access is disabled",
        )


@check(
    title="SageMaker notebook instance is not in a VPC",
    severity=Severity.HIGH,
    effort="rearchitect",
    lens=("MLSEC03-BP02",),
    needs=(Kind.NOTEBOOK_INSTANCES,),
    remediation="Recreate the notebook with a SubnetId and security groups. " + _RECREATE,
)
def sagemaker_notebook_not_in_vpc(
    inv: Inventory, *, allowed_subnet_ids: tuple[str, ...] = ()
) -> Iterator[Verdict]:
    """PASS when the notebook reports a SubnetId (in `allowed_subnet_ids` when that is set).
    FAIL when SubnetId is absent (the record carries it only for VPC notebooks) or outside the
    allowed list.

    A notebook outside your VPC is outside your security groups, endpoint policies and logs.
    """
    for nb, na in _in_scope(inv):
        subnet = nb.get("SubnetId")
        ev = {"SubnetId": subnet, "SecurityGroups": list(nb.get("SecurityGroups") or ())}
        if na:
            yield na
        elif not subnet:
            yield failed(nb, "notebook is not attached to a VPC subnet", **ev)
        elif allowed_subnet_ids and subnet not in allowed_subnet_ids:
            yield failed(nb, f"subnet {subnet} is not in the allowed list", **ev)
        else:
            yield passed(nb, "notebook runs in a VPC subnet", **ev)


@check(
    title="SageMaker notebook storage volume is not encrypted with a customer KMS key",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLSEC03-BP02",),
    needs=(Kind.NOTEBOOK_INSTANCES,),
    remediation="Recreate the notebook with KmsKeyId set to a customer managed key. " + _RECREATE,
)
def sagemaker_notebook_kms_missing(
    inv: Inventory, *, allowed_kms_key_arns: tuple[str, ...] = ()
) -> Iterator[Verdict]:
    """PASS when KmsKeyId is set (and in `allowed_kms_key_arns` when that is set). FAIL when it
    is absent or empty: the record carries it only when a key was chosen.

    The notebook's volume is always EBS (VolumeSizeInGB), so unlike training volumes there is no
    local-storage exception. A customer key makes access to notebook data auditable and
    revocable.
    """
    for nb, na in _in_scope(inv):
        key = nb.get("KmsKeyId")
        if na:
            yield na
        elif not key:
            yield failed(nb, "no customer KMS key on the notebook volume", KmsKeyId=key)
        elif allowed_kms_key_arns and key not in allowed_kms_key_arns:
            yield failed(nb, "notebook KMS key is not in the allowed list", KmsKeyId=key)
        else:
            yield passed(nb, "notebook volume uses a customer KMS key", KmsKeyId=key)


@check(
    title="SageMaker notebook instance runs on an unsupported platform",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLSEC04-BP01",),
    needs=(Kind.NOTEBOOK_INSTANCES,),
    remediation=(
        "Create a notebook on a supported platform (e.g. notebook-al2023-v1), move the work "
        "over and delete the old one."
    ),
)
def sagemaker_notebook_platform_unsupported(
    inv: Inventory, *, supported_platforms: tuple[str, ...] = ("notebook-al2023-v1",)
) -> Iterator[Verdict]:
    """PASS when PlatformIdentifier is in `supported_platforms`; FAIL otherwise. UNKNOWN when
    absent: the default platform has changed over time, so an old record's is not knowable.

    Unsupported platforms stop receiving security patches.
    """
    for nb, na in _in_scope(inv):
        platform = nb.get("PlatformIdentifier")
        if na:
            yield na
        elif platform is None:
            yield unknown(nb, "notebook does not report its platform", PlatformIdentifier=None)
        elif platform in supported_platforms:
            yield passed(nb, f"platform {platform} is supported", PlatformIdentifier=platform)
        else:
            yield failed(nb, f"platform {platform} is not in the supported list",
                         PlatformIdentifier=platform)


@check(
    title="SageMaker notebook instance allows IMDSv1",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLSEC04-BP01", "MLSEC03-BP01"),
    needs=(Kind.NOTEBOOK_INSTANCES,),
    remediation=(
        "Set InstanceMetadataServiceConfiguration.MinimumInstanceMetadataServiceVersion=2 with "
        "UpdateNotebookInstance."
    ),
)
def sagemaker_notebook_imdsv1_allowed(inv: Inventory) -> Iterator[Verdict]:
    """PASS when MinimumInstanceMetadataServiceVersion is "2". FAIL when it is "1", or absent
    (botocore: when not set at creation "it defaults to IMDSv1", i.e. v1 and v2 allowed).

    IMDSv1 lets a server-side request forgery in notebook code steal the instance role's
    credentials.
    """
    for nb, na in _in_scope(inv):
        imds = nb.get("InstanceMetadataServiceConfiguration") or {}
        version = imds.get("MinimumInstanceMetadataServiceVersion")
        if na:
            yield na
        elif version == "2":
            yield passed(nb, "only IMDSv2 is allowed", MinimumInstanceMetadataServiceVersion="2")
        elif version is None:
            yield failed(nb, "IMDSv1 is allowed (not set; the documented default is IMDSv1)",
                         MinimumInstanceMetadataServiceVersion=None)
        else:
            yield failed(nb, "IMDSv1 is allowed", MinimumInstanceMetadataServiceVersion=version)


def _autostop(inv: Inventory, nb: Resource) -> tuple[bool | None, str, dict[str, Any]]:
    """(has auto-stop?, why, evidence) from the notebook's lifecycle configuration."""
    name = nb.get("NotebookInstanceLifecycleConfigName")
    ev: dict[str, Any] = {"NotebookInstanceLifecycleConfigName": name}
    if not name:
        return False, "no lifecycle configuration", ev
    config = inv.by_name(Kind.NOTEBOOK_LIFECYCLE_CONFIGS).get(name)
    if config is None:
        return False, f"lifecycle configuration {name} no longer exists", ev
    if config.incomplete_reason:
        return None, f"lifecycle configuration {name} not read: {config.incomplete_reason}", ev
    scripts = items(config.get("OnStart"))
    ev["OnStart"] = [{k: s.get(k) for k in ("AutoStop", "Signals", "Bytes")} for s in scripts]
    if any(s.get("AutoStop") for s in scripts):
        return True, f"lifecycle configuration {name} runs an idle auto-stop on start", ev
    if any(s.get("AutoStop") is None for s in scripts):
        return None, f"an OnStart script of {name} could not be decoded", ev
    return False, f"lifecycle configuration {name} has no idle auto-stop in OnStart", ev


@check(
    title="Long-running SageMaker notebook instance has no idle auto-stop",
    severity=Severity.LOW,
    effort="config",
    lens=("MLCOST04-BP08", "MLSUS03-BP01", "MLCOST04-BP02"),
    needs=(Kind.NOTEBOOK_INSTANCES, Kind.NOTEBOOK_LIFECYCLE_CONFIGS),
    remediation=(
        "Attach a lifecycle configuration whose OnStart script installs an idle auto-stop "
        "(for example AWS's published autostop.py with IDLE_TIME), or stop notebooks on a "
        "schedule; stop notebooks nobody uses."
    ),
)
def sagemaker_notebook_idle_no_autostop(
    inv: Inventory, *, notebook_idle_days: Annotated[int, AT_LEAST_0] = 3
) -> Iterator[Verdict]:
    """PASS when the notebook's lifecycle configuration installs an idle auto-stop on start
    (its OnStart script mentions autostop/idle or stops the notebook itself: a heuristic), or
    the notebook is Stopped, or InService for less than `notebook_idle_days`. FAIL when it has
    been InService since LastModifiedTime (which moves on each start, stop or update) for
    `notebook_idle_days` or more with no such script, including when its lifecycle
    configuration no longer exists. NOT_APPLICABLE while Pending, Stopping, Updating,
    Deleting or Failed. UNKNOWN when the lifecycle configuration could not be read or
    decoded, or an InService notebook does not report LastModifiedTime. Script contents are
    never stored: the collector keeps only whether one looks like an auto-stop.

    A notebook left running over a weekend bills for every idle hour: the lens asks to stop
    resources when they are not in use.
    """
    for nb in inv.of(Kind.NOTEBOOK_INSTANCES):
        status = nb.get("NotebookInstanceStatus")
        if status not in ("InService", "Stopped"):
            yield not_applicable(nb, f"notebook is {status or 'in an unreported state'}",
                                 NotebookInstanceStatus=status)
            continue
        has, why, ev = _autostop(inv, nb)
        ev["NotebookInstanceStatus"] = status
        if has:
            yield passed(nb, why, **ev)
            continue
        if status == "Stopped":
            yield passed(nb, f"notebook is stopped ({why})", **ev)
            continue
        if has is None:
            yield unknown(nb, why, **ev)
            continue
        since = as_datetime(nb.get("LastModifiedTime"))
        if since is None:
            yield unknown(nb, f"{why}, and how long it has run is not reported", **ev)
            continue
        running = inv.collected_at - since
        ev["running_hours"] = int(running.total_seconds() // 3600)
        if running < timedelta(days=notebook_idle_days):
            yield passed(nb, f"{why}, but running for only {ev['running_hours']} h", **ev)
        else:
            yield failed(nb, f"running for {running.days} day(s) with {why}", **ev)


CHECKS = (
    sagemaker_notebook_direct_internet_access,
    sagemaker_notebook_root_access_enabled,
    sagemaker_notebook_not_in_vpc,
    sagemaker_notebook_kms_missing,
    sagemaker_notebook_platform_unsupported,
    sagemaker_notebook_imdsv1_allowed,
    sagemaker_notebook_idle_no_autostop,
)
