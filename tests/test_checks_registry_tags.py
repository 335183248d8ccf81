"""Model packages behind endpoints (EP-18), notebook auto-stop (NB-07) and cost-allocation
tags (X-02)."""

from __future__ import annotations

from datetime import timedelta

from agent.domain import Inventory, Kind, Resource, Severity, Status
from checks import model_packages, notebooks, tags
from tests.contract_build import (
    cfg,
    ep,
    lifecycle,
    model,
    notebook,
    package,
    package_arn,
    tags_of,
    training,
)
from tests.factories import NOW, inv, run, statuses

EP18 = model_packages.sagemaker_endpoint_serving_unapproved_model_package
NB07 = notebooks.sagemaker_notebook_idle_no_autostop
X02 = tags.ml_cost_allocation_tags_missing


def _served(*packages: Resource, reference: str = package_arn("churn", 2)) -> Inventory:
    return inv(ep(), cfg(), model(package=reference), *packages,
               kinds=(Kind.INFERENCE_COMPONENTS, Kind.MODEL_PACKAGES))


def test_unapproved_package_statuses_and_rollout_lag() -> None:
    """Pending approval fails at base severity; an approved but superseded version fails low;
    an unversioned package has no approval workflow; a package missing from the registry of
    this account is UNKNOWN."""
    pending = run(EP18, _served(package("churn", 2, "PendingManualApproval")))
    assert [(r.status, r.severity) for r in pending] == [(Status.FAIL, Severity.MEDIUM)]
    lag = run(EP18, _served(package("churn", 2, "Approved"),
                            package("churn", 3, "Approved"), package("churn", 4, "Rejected")))
    assert [(r.status, r.severity) for r in lag] == [(Status.FAIL, Severity.LOW)]
    assert lag[0].evidence["packages"][0]["newest_approved"] == "churn/3"
    unversioned = _served(reference="arn:aws:sagemaker:us-east-1:111122223333:"
                                    "model-package/marketplace-pkg")
    assert statuses(run(EP18, unversioned)) == {"ep": Status.NOT_APPLICABLE}
    assert statuses(run(EP18, _served())) == {"ep": Status.UNKNOWN}


def test_notebook_autostop_lifecycle_states() -> None:
    """A config without auto-stop, or one that no longer exists, fails a long-running
    notebook; a stopped notebook passes; a young one passes until notebook_idle_days."""
    week = NOW - timedelta(days=7)
    named = notebook(NotebookInstanceLifecycleConfigName="lc", LastModifiedTime=week)
    assert statuses(run(NB07, inv(named, lifecycle(autostop=False)))) == {"nb": Status.FAIL}
    assert statuses(run(NB07, inv(named, kinds=(Kind.NOTEBOOK_LIFECYCLE_CONFIGS,)))) == {
        "nb": Status.FAIL}
    stopped = notebook(NotebookInstanceStatus="Stopped", LastModifiedTime=week)
    assert statuses(run(NB07, inv(stopped, kinds=(Kind.NOTEBOOK_LIFECYCLE_CONFIGS,)))) == {
        "nb": Status.PASS}
    young = notebook(LastModifiedTime=NOW - timedelta(days=2))
    only = inv(young, kinds=(Kind.NOTEBOOK_LIFECYCLE_CONFIGS,))
    assert statuses(run(NB07, only)) == {"nb": Status.PASS}
    assert statuses(run(NB07, only, notebook_idle_days=1)) == {"nb": Status.FAIL}


def test_cost_tags_required_keys_any_or_all() -> None:
    """With required keys, one of them passes by default and all are needed with
    require_all_tag_keys; keys compare without case; values never reach the evidence."""
    endpoint = ep()
    tagged = inv(endpoint, tags_of(endpoint, Project="churn", owner="ml-team@example.com"))
    wanted = ("project", "cost-center")
    assert statuses(run(X02, tagged, required_tag_keys=wanted)) == {"ep": Status.PASS}
    [strict] = run(X02, tagged, required_tag_keys=wanted, require_all_tag_keys=True)
    assert strict.status is Status.FAIL and strict.evidence["missing"] == ["cost-center"]
    assert "ml-team@example.com" not in repr(strict.evidence)
    untagged = inv(endpoint, kinds=(Kind.TAGS,))
    assert statuses(run(X02, untagged)) == {"ep": Status.FAIL}


def test_cost_tags_split_by_kind_keeps_other_kinds_judged() -> None:
    """A denied training-job listing makes only the training X-02 check UNKNOWN; the
    endpoint one still judges endpoints."""
    from tests.factories import gap

    endpoint = ep()
    estate = inv(endpoint, tags_of(endpoint, project="churn"),
                 gaps=[gap(Kind.TRAINING_JOBS)])
    assert statuses(run(X02, estate)) == {"ep": Status.PASS}
    training_check = tags.ml_cost_allocation_tags_missing_training
    assert statuses(run(training_check, estate)) == {estate.region_arn(): Status.UNKNOWN}
    assert training().kind is Kind.TRAINING_JOBS
