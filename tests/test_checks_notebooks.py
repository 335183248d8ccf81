"""Pure tests for notebook-instance checks: the hardened and legacy samples through the runner."""

from __future__ import annotations

from typing import Any

from agent.domain import Kind, Resource, Status
from checks import notebooks as nbc
from tests.factories import gap, inv, res, run, statuses
from tests.samples import sample


def notebook(name: str, **overrides: Any) -> Resource:
    data = {**sample(name)["response"], **overrides}
    return res(Kind.NOTEBOOK_INSTANCES, data["NotebookInstanceName"], **data)


def hardened(**overrides: Any) -> Resource:
    return notebook("sagemaker_describe_notebook_instance_hardened", **overrides)


def legacy(**overrides: Any) -> Resource:
    return notebook("sagemaker_describe_notebook_instance_legacy_sparse", **overrides)


def nb(name: str, **data: Any) -> Resource:
    data.setdefault("NotebookInstanceStatus", "InService")
    return res(Kind.NOTEBOOK_INSTANCES, name, **data)


def test_direct_internet_access_states() -> None:
    """Disabled passes, Enabled fails, absent fails on the documented default; Failed is N/A."""
    results = run(
        nbc.sagemaker_notebook_direct_internet_access,
        inv(hardened(), legacy(), nb("open", DirectInternetAccess="Enabled"),
            nb("broken", NotebookInstanceStatus="Failed", DirectInternetAccess="Enabled")),
    )
    assert statuses(results) == {
        "team-a-nb": Status.PASS,
        "legacy-nb-2": Status.FAIL,
        "open": Status.FAIL,
        "broken": Status.NOT_APPLICABLE,
    }
    reason = next(r.reason for r in results if r.resource_arn.endswith("legacy-nb-2"))
    assert "default" in reason and "SubnetId" in reason


def test_direct_internet_access_unknown_when_describe_failed() -> None:
    """A notebook whose describe failed is UNKNOWN even though its summary says nothing bad."""
    results = run(nbc.sagemaker_notebook_direct_internet_access,
                  inv(nb("x", incomplete="sagemaker:DescribeNotebookInstance throttled")))
    assert statuses(results) == {"x": Status.UNKNOWN}


def test_direct_internet_access_unexpected_value_is_unknown() -> None:
    """A value outside Enabled/Disabled is reported as UNKNOWN, not guessed."""
    results = run(nbc.sagemaker_notebook_direct_internet_access,
                  inv(nb("odd", DirectInternetAccess="Partial")))
    assert statuses(results) == {"odd": Status.UNKNOWN}


def test_root_access_states() -> None:
    """Disabled passes; Enabled and absent (default Enabled) fail; Deleting is N/A."""
    results = run(
        nbc.sagemaker_notebook_root_access_enabled,
        inv(hardened(), legacy(), nb("root", RootAccess="Enabled"),
            nb("gone", NotebookInstanceStatus="Deleting")),
    )
    assert statuses(results) == {
        "team-a-nb": Status.PASS,
        "legacy-nb-2": Status.FAIL,
        "root": Status.FAIL,
        "gone": Status.NOT_APPLICABLE,
    }


def test_not_in_vpc_and_subnet_allow_list() -> None:
    """A SubnetId passes; none fails; an allow-list fails subnets outside it."""
    chk = nbc.sagemaker_notebook_not_in_vpc
    assert statuses(run(chk, inv(hardened(), legacy()))) == {
        "team-a-nb": Status.PASS, "legacy-nb-2": Status.FAIL}
    assert statuses(run(chk, inv(hardened()), allowed_subnet_ids=("subnet-other",))) == {
        "team-a-nb": Status.FAIL}
    assert statuses(run(chk, inv(hardened()), allowed_subnet_ids=("subnet-0aaaaaaaaaaaaaaa1",))
                    ) == {"team-a-nb": Status.PASS}


def test_kms_missing_and_allow_list() -> None:
    """A key passes, none fails, and a key outside the allow-list fails."""
    chk = nbc.sagemaker_notebook_kms_missing
    assert statuses(run(chk, inv(hardened(), legacy(), nb("empty", KmsKeyId="")))) == {
        "team-a-nb": Status.PASS, "legacy-nb-2": Status.FAIL, "empty": Status.FAIL}
    assert statuses(run(chk, inv(hardened()), allowed_kms_key_arns=("arn:other",))) == {
        "team-a-nb": Status.FAIL}


def test_platform_unsupported() -> None:
    """AL2 fails under the default list, AL2023 passes, an unreported platform is UNKNOWN."""
    chk = nbc.sagemaker_notebook_platform_unsupported
    current = nb("new", PlatformIdentifier="notebook-al2023-v1")
    results = run(chk, inv(hardened(), legacy(), current))
    assert statuses(results) == {
        "team-a-nb": Status.FAIL,
        "legacy-nb-2": Status.UNKNOWN,
        "new": Status.PASS,
    }
    widened = run(chk, inv(hardened()), supported_platforms=("notebook-al2-v3",))
    assert statuses(widened) == {"team-a-nb": Status.PASS}


def test_imdsv1_allowed() -> None:
    """Version 2 passes; version 1 and an absent setting (default IMDSv1) fail."""
    results = run(
        nbc.sagemaker_notebook_imdsv1_allowed,
        inv(hardened(), legacy(),
            nb("v1", InstanceMetadataServiceConfiguration={
                "MinimumInstanceMetadataServiceVersion": "1"})),
    )
    assert statuses(results) == {
        "team-a-nb": Status.PASS,
        "legacy-nb-2": Status.FAIL,
        "v1": Status.FAIL,
    }


def test_notebook_checks_unknown_when_listing_denied() -> None:
    """Every notebook check answers one region UNKNOWN when ListNotebookInstances was denied."""
    for chk in nbc.CHECKS:
        results = run(chk, inv(gaps=[gap(Kind.NOTEBOOK_INSTANCES)]))
        assert [(r.status, r.resource_kind) for r in results] == [(Status.UNKNOWN, "region")]
