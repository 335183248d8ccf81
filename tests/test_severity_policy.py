"""The severity policy: one level up for production tags, one down for dev/test, applied by the
runner to every check's results, with the reason in the evidence."""

from __future__ import annotations

from agent.domain import Inventory, Kind, Result, Severity, Status
from checks import endpoints
from checks.options import EvaluationOptions, SeverityPolicy, TagSelector, shift
from checks.runner import evaluate
from tests.contract_build import ep, glue_job, tags_of
from tests.factories import gap, inv

UNHEALTHY = endpoints.sagemaker_endpoint_unhealthy_status  # base severity high


def _one(inventory: Inventory, options: EvaluationOptions | None = None) -> Result:
    [result] = evaluate([UNHEALTHY], inventory, options=options)
    return result


def test_shift_clamps_at_the_ends() -> None:
    """critical cannot rise and info cannot fall."""
    assert shift(Severity.CRITICAL, 1) is Severity.CRITICAL
    assert shift(Severity.INFO, -1) is Severity.INFO
    assert shift(Severity.MEDIUM, 1) is Severity.HIGH
    assert shift(Severity.MEDIUM, -1) is Severity.LOW


def test_production_raises_and_dev_lowers_with_evidence() -> None:
    """environment=Prod (any case) raises high to critical, environment=dev lowers it to
    medium; both record the base, the result and the tag."""
    failed = ep(status="Failed")
    prod = _one(inv(failed, tags_of(failed, Environment="Prod")))
    assert prod.severity is Severity.CRITICAL
    note = prod.evidence["severity_adjustment"]
    assert note["base"] == "high" and note["direction"] == "raised"
    assert note["matched_tag"] == {"Environment": "Prod"}
    dev = _one(inv(failed, tags_of(failed, environment="dev")))
    assert dev.severity is Severity.MEDIUM
    assert dev.evidence["severity_adjustment"]["direction"] == "lowered"


def test_untagged_and_absent_tags_leave_severity_alone() -> None:
    """No matching tag: no change and no note; tags not asked for: no note either."""
    failed = ep(status="Failed")
    plain = _one(inv(failed, tags_of(failed, project="churn")))
    assert plain.severity is Severity.HIGH
    assert "severity_adjustment" not in plain.evidence
    bare = _one(inv(failed))
    assert "severity_adjustment" not in bare.evidence


def test_failed_tag_collection_keeps_base_and_says_why() -> None:
    """When tags could not be collected, severity stays at base and the evidence says so."""
    failed = ep(status="Failed")
    result = _one(inv(failed, gaps=[gap(Kind.TAGS)]))
    assert result.severity is Severity.HIGH
    assert "tags not collected" in result.evidence["severity_adjustment"]["reason"]


def test_configurable_selector_conflicts_and_disabled_policy() -> None:
    """A custom selector replaces the default; raising wins over lowering on one resource;
    a disabled policy changes nothing."""
    failed = ep(status="Failed")
    custom = EvaluationOptions(SeverityPolicy(
        raise_when=(TagSelector.of("tier", ["critical"]),),
        lower_when=(TagSelector.of("stage", ["sandbox"]),)))
    both = inv(failed, tags_of(failed, tier="critical", stage="sandbox"))
    assert _one(both, custom).severity is Severity.CRITICAL
    default_ignores = inv(failed, tags_of(failed, tier="critical"))
    assert _one(default_ignores).severity is Severity.HIGH
    off = EvaluationOptions(SeverityPolicy(enabled=False))
    prod = inv(failed, tags_of(failed, environment="production"))
    assert _one(prod, off).severity is Severity.HIGH
    assert EvaluationOptions().needs == {Kind.TAGS} and off.needs == frozenset()


def test_policy_applies_to_region_results_never_and_to_other_checks_too() -> None:
    """Region-level results carry no tags; a Glue job tagged dev is lowered like an endpoint."""
    from checks import glue

    job = glue_job(SecurityConfiguration=None)
    inventory = inv(job, tags_of(job, environment="test"),
                    kinds=(Kind.GLUE_SECURITY_CONFIGURATIONS,))
    [result] = evaluate([glue.glue_job_no_security_configuration], inventory)
    assert (result.status, result.severity) == (Status.FAIL, Severity.MEDIUM)
    denied = inv(job, tags_of(job, environment="prod"), gaps=[gap(Kind.GLUE_JOBS)])
    region = [r for r in evaluate([glue.glue_job_no_security_configuration], denied)
              if r.resource_kind == "region"]
    assert region and all("severity_adjustment" not in r.evidence for r in region)
