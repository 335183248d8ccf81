"""Checks on SageMaker endpoints, their configs and variants."""

from __future__ import annotations

from collections.abc import Iterator

from agent.domain import Inventory, Kind, Severity
from checks.base import Verdict, check, failed, not_applicable, passed

SERVING = frozenset({"InService", "Updating", "SystemUpdating"})
TRANSITIONAL = frozenset({"Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"})


@check(
    title="SageMaker endpoint is in a failed or out-of-service state",
    severity=Severity.HIGH,
    lens=("MLREL05-BP02", "MLOPS06-BP02"),
    needs=(Kind.ENDPOINTS,),
    remediation=(
        "Read FailureReason, fix the model or config, and redeploy through your pipeline; "
        "delete endpoints left OutOfService on purpose or mute them with a reason."
    ),
)
def sagemaker_endpoint_unhealthy_status(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the endpoint is InService. FAIL when it is Failed, UpdateRollbackFailed or
    OutOfService (high), or RollingBack (medium: its last update failed). Endpoints in other
    transitions are NOT_APPLICABLE here; the stuck-in-transition check owns them.

    A failed endpoint serves nothing, and one stuck after a failed rollback cannot be updated:
    the lens asks for endpoints that can be recovered to a known version.
    """
    for ep in inv.of(Kind.ENDPOINTS):
        status = ep.get("EndpointStatus")
        if status == "InService":
            yield passed(ep, "endpoint is InService", EndpointStatus=status)
        elif status in ("Failed", "UpdateRollbackFailed", "OutOfService"):
            yield failed(
                ep,
                f"endpoint is {status}",
                EndpointStatus=status,
                FailureReason=ep.get("FailureReason"),
            )
        elif status == "RollingBack":
            yield failed(
                ep,
                "endpoint is rolling back a failed update",
                severity=Severity.MEDIUM,
                EndpointStatus=status,
                FailureReason=ep.get("FailureReason"),
            )
        else:
            yield not_applicable(ep, f"endpoint is {status or 'in an unreported state'}",
                                 EndpointStatus=status)


CHECKS = (sagemaker_endpoint_unhealthy_status,)
