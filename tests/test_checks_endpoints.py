"""Pure tests for endpoint checks: hand-built inventories through the real runner."""

from agent.domain import Kind, Severity, Status
from checks.endpoints import sagemaker_endpoint_unhealthy_status as unhealthy
from tests.factories import gap, inv, res, run, statuses


def test_unhealthy_status_each_state() -> None:
    """InService passes, Failed fails high, RollingBack fails medium, Creating is not applicable."""
    results = run(
        unhealthy,
        inv(
            res(Kind.ENDPOINTS, "ok", EndpointStatus="InService"),
            res(Kind.ENDPOINTS, "bad", EndpointStatus="Failed", FailureReason="boom"),
            res(Kind.ENDPOINTS, "back", EndpointStatus="RollingBack"),
            res(Kind.ENDPOINTS, "new", EndpointStatus="Creating"),
        ),
    )
    assert statuses(results) == {
        "ok": Status.PASS,
        "bad": Status.FAIL,
        "back": Status.FAIL,
        "new": Status.NOT_APPLICABLE,
    }
    sev = {r.resource_arn.rsplit("/", 1)[-1]: r.severity for r in results}
    assert sev["bad"] is Severity.HIGH and sev["back"] is Severity.MEDIUM


def test_unhealthy_status_unknown_when_listing_denied() -> None:
    """A denied ListEndpoints gives one region-level UNKNOWN, never PASS."""
    results = run(unhealthy, inv(gaps=[gap(Kind.ENDPOINTS)]))
    assert [r.status for r in results] == [Status.UNKNOWN]
    assert results[0].resource_kind == "region"


def test_unhealthy_status_unknown_when_describe_failed() -> None:
    """An endpoint whose describe failed is UNKNOWN, even if the list summary looks healthy."""
    results = run(
        unhealthy,
        inv(res(Kind.ENDPOINTS, "x", EndpointStatus="InService", incomplete="throttled")),
    )
    assert statuses(results) == {"x": Status.UNKNOWN}
