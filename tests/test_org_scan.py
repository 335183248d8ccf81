"""Organisation scans against a moto server: every fault AWS throws is a gap of its kind, UNKNOWN
covers exactly the missing scope, and results elsewhere match a clean scan of the same estate.

One module-scoped organisation (management account plus five members, two regions). A clean
scan runs first, then the same estate is scanned with faults injected at the HTTP level:

- no-role:  has no audit role (AssumeRole is refused)
- bravo:    cloudwatch:DescribeAlarms denied in us-east-1; eu-west-1 rejects its credentials
- charlie:  eu-west-1 not enabled; its role sessions expire every few calls
- delta:    ListEndpoints throttled past the retries and Glue GetJobs answering 500 in us-east-1;
            a model deleted between list and describe, and GetSecurityConfigurations timing
            out, in eu-west-1
- echo:     its audit role is deleted between the two scans
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aioboto3
import pytest
from dateutil.tz import tzlocal

from agent.aws.assume import RoleCredentials, assume_with, role_arn, session_with
from agent.aws.handle import Limits, RegionHandle, ScanContext
from agent.cli.coverage_cmd import build
from agent.collectors import COLLECTORS, CollectOptions
from agent.domain import GapKind, Kind, Status, utcnow
from agent.emulator import Emulator, FaultRule, access_denied, internal_failure, throttled
from agent.emulator.bulk import BulkSpec, seed_bulk
from agent.emulator.faults import expiring_sessions
from agent.emulator.org import (
    EXTERNAL_ID,
    MANAGEMENT,
    MemberSpec,
    OrgEstate,
    clients_for,
    production_estate,
    research_estate,
    seed_organization,
)
from agent.scan import ScanOutcome, ScanRequest, run_scan
from agent.store import FindingStatus, Store
from agent.targets import TargetSpec
from checks import all_checks

pytestmark = pytest.mark.emulator

REGIONS = ("us-east-1", "eu-west-1")
EAST, WEST = REGIONS
ALL_KINDS = frozenset(Kind)
# Fast, but with the shape of production limits: few retries, short timeouts, no rate waits.
LIMITS = Limits(max_attempts=2, call_timeout=30.0, per_service=2, rates={}, default_rate=1000.0)


def both_estates(emu: Emulator, c: dict[str, Any], account_id: str, region: str) -> None:
    production_estate(emu, c, account_id, region)
    research_estate(emu, c, account_id, region)


MEMBERS = (
    MemberSpec("no-role", research_estate, audit_role=False),
    MemberSpec("bravo", production_estate),
    MemberSpec("charlie", research_estate),
    MemberSpec("delta", both_estates),
    MemberSpec("echo", production_estate),
)


def session() -> Any:
    return aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=EAST)


def request(emu: Emulator, *, full: bool = False, **targets: Any) -> ScanRequest:
    spec = {"organization": True, "role_name": "MLLensAudit", "external_id": EXTERNAL_ID,
            "regions": REGIONS, **targets}
    return ScanRequest(checks=all_checks(), targets=TargetSpec(**spec), endpoint_url=emu.url,
                       limits=LIMITS, collect=CollectOptions(full=full))


@dataclass
class Scans:
    org: OrgEstate
    store: Store
    clean: ScanOutcome
    faulted: ScanOutcome
    faults: dict[str, Any]
    deleted_model_arn: str
    assume_calls: tuple[int, int]


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scans]:
    db = tmp_path_factory.mktemp("org") / "mllens.db"
    with Emulator() as emu, Store.open(f"sqlite:///{db}") as store:
        emu.reset()  # moto's state is process-wide: start from an empty cloud
        org = seed_organization(emu, MEMBERS, REGIONS, management_estate=False)
        clean = asyncio.run(run_scan(request(emu), store, session))
        bravo, charlie, delta, echo = (org.id(n) for n in ("bravo", "charlie", "delta", "echo"))

        clients_for(emu, echo, EAST)["iam"].delete_role_policy(RoleName="MLLensAudit",
                                                               PolicyName="mllens-read")
        clients_for(emu, echo, EAST)["iam"].delete_role(RoleName="MLLensAudit")
        delta_west = clients_for(emu, delta, WEST)["sagemaker"]
        deleted = delta_west.describe_model(ModelName="archived-baseline")["ModelArn"]

        def delete_model(_call: Any) -> None:
            delta_west.delete_model(ModelName="archived-baseline")

        faults = {
            "denied": emu.faults.add(access_denied(account=bravo, region=EAST,
                                                   service="monitoring",
                                                   operation="DescribeAlarms")),
            "throttled": emu.faults.add(throttled(account=delta, region=EAST,
                                                  operation="ListEndpoints")),
            "5xx": emu.faults.add(internal_failure(account=delta, region=EAST,
                                                   operation="GetJobs")),
            "deleted": emu.faults.add(FaultRule(account=delta, region=WEST,
                                                operation="DescribeModel", times=1,
                                                hook=delete_model)),
            # Well above the calls one region has in flight (per_service=2 x 5 services), so a
            # renewed key outlives the retries of the calls the old key failed, as an hour-long
            # STS session does; the scan still makes several times this many calls.
            "expiring": emu.faults.add(expiring_sessions(charlie, calls=30)),
        }
        emu.faults.disable_region(charlie, WEST)
        emu.faults.reject_region(bravo, WEST)
        # --full: the faults hit describe calls, which a re-scan would otherwise skip.
        faulted = asyncio.run(run_scan(request(emu, full=True), store, session))
        yield Scans(org, store, clean, faulted, faults, deleted,
                    (clean.calls_by_operation["sts:AssumeRole"],
                     faulted.calls_by_operation["sts:AssumeRole"]))
        emu.reset()


def missing_kinds(s: Scans) -> dict[tuple[str, str], frozenset[Kind]]:
    """What the injected faults leave uncollected, per (account, region): the expectation."""
    o = s.org
    return {
        (o.id("bravo"), EAST): frozenset({Kind.ALARMS}),
        (o.id("bravo"), WEST): ALL_KINDS,
        (o.id("delta"), EAST): frozenset({Kind.ENDPOINTS, Kind.ENDPOINT_CONFIGS, Kind.GLUE_JOBS}),
    }


def account(outcome: ScanOutcome, account_id: str) -> Any:
    return next(a for a in outcome.accounts if a.account_id == account_id)


def gaps_of(outcome: ScanOutcome, account_id: str, region: str | None = None) -> list[Any]:
    return [g for g in outcome.gaps
            if g.account_id == account_id and (region is None or g.region == region)]


def coverage_of(outcome: ScanOutcome, account_id: str) -> dict[tuple[str, str], str]:
    return {(r, k): st for a, r, k, st, _why in outcome.coverage() if a == account_id}


def test_org_scan_unaffected_scopes_match_clean_scan(scans: Scans) -> None:
    """Outside the faulted scopes every result equals the clean scan's; inside them only the
    checks needing a missing kind change, and they change to UNKNOWN."""
    needs = {c.id: frozenset(c.needs) for c in all_checks()}
    missing = missing_kinds(scans)
    clean = {r.key: r for r in scans.clean.results}
    skipped_accounts = {scans.org.id("no-role"), scans.org.id("echo")}
    compared = unknown = 0
    for r in scans.faulted.results:
        if r.account_id in skipped_accounts:
            continue
        lost = missing.get((r.account_id, r.region), frozenset())
        if needs[r.check_id] & lost:
            assert r.status is Status.UNKNOWN, r
            unknown += 1
            continue
        before = clean.get(r.key)
        assert before is not None, f"result not in the clean scan: {r}"
        assert r.status is before.status, (r, before)
        compared += 1
    assert compared > 100 and unknown > 10
    # Nothing of the clean scan vanished from a scope that was collected completely.
    faulted_keys = {r.key for r in scans.faulted.results}
    charlie_west = (scans.org.id("charlie"), WEST)
    for key, r in clean.items():
        scope = (r.account_id, r.region)
        if (r.account_id in skipped_accounts or scope in missing or scope == charlie_west
                or r.resource_arn == scans.deleted_model_arn):
            continue
        assert key in faulted_keys, f"lost from a complete scope: {r}"


def test_org_scan_member_without_role_is_an_account_gap(scans: Scans) -> None:
    """A member whose role cannot be assumed gets one account-level assume_role_failed gap."""
    no_role = scans.org.id("no-role")
    acct = account(scans.faulted, no_role)
    assert acct.state == "failed"
    [gap] = gaps_of(scans.faulted, no_role)
    assert gap.kind is GapKind.ASSUME_ROLE_FAILED and gap.region == "*"
    assert "MLLensAudit" in gap.message and set(gap.kinds) == ALL_KINDS
    assert coverage_of(scans.faulted, no_role) == {("*", "account"): "failed"}
    assert not acct.results


def test_org_scan_lost_role_keeps_previous_findings_open_unverified(scans: Scans) -> None:
    """A member scanned before but not assumable now keeps its open findings open, marked
    unverified by this scan, and none is resolved."""
    echo = scans.org.id("echo")
    before = [r for r in scans.clean.results if r.account_id == echo]
    assert any(r.status is Status.FAIL for r in before)
    acct = account(scans.faulted, echo)
    assert acct.state == "failed"
    assert {r.key for r in acct.results} == {r.key for r in before}
    assert all(r.status is Status.UNKNOWN for r in acct.results)
    stored = scans.store.findings(account_id=echo)
    failed_before = {r.key for r in before if r.status is Status.FAIL}
    for f in stored:
        if f.key in failed_before:
            assert f.status is FindingStatus.FAIL and f.resolved_at is None
            assert f.unknown_since_scan_id == scans.faulted.scan_id


def test_org_scan_denied_api_is_unknown_in_that_account_only(scans: Scans) -> None:
    """DescribeAlarms denied in one account and region: an access_denied gap there, and alarm
    checks still answer elsewhere."""
    bravo = scans.org.id("bravo")
    [gap] = gaps_of(scans.faulted, bravo, EAST)
    assert (gap.operation, gap.kind, gap.kinds) == ("DescribeAlarms", GapKind.ACCESS_DENIED,
                                                    (Kind.ALARMS,))
    assert coverage_of(scans.faulted, bravo)[(EAST, "alarms")] == "failed"
    alarm_checks = {c.id for c in all_checks() if Kind.ALARMS in c.needs}
    elsewhere = [r for r in scans.faulted.results if r.check_id in alarm_checks
                 and r.account_id in (scans.org.id("delta"), MANAGEMENT)
                 and r.status is not Status.UNKNOWN]
    assert elsewhere
    assert scans.faults["denied"].hits >= 1


def test_org_scan_region_rejecting_credentials_fails_that_region(scans: Scans) -> None:
    """A region that rejects the credentials: every collector there records invalid
    credentials, every result there is UNKNOWN, the other region is unaffected."""
    bravo = scans.org.id("bravo")
    west = gaps_of(scans.faulted, bravo, WEST)
    assert west and {g.kind for g in west} == {GapKind.INVALID_CREDENTIALS}
    results = [r for r in scans.faulted.results if (r.account_id, r.region) == (bravo, WEST)]
    assert results and all(r.status is Status.UNKNOWN for r in results)
    matrix = build(scans.faulted.coverage())
    assert {c.label for c in matrix.cells[bravo][WEST].values()} == {"failed"}
    assert {c.label for c in matrix.cells[bravo][EAST].values()} >= {"scanned"}


def test_org_scan_disabled_region_is_skipped_not_failed(scans: Scans) -> None:
    """A region the account never enabled is skipped with the reason: no calls, no gaps, no
    results, and its findings from earlier scans are left alone."""
    charlie = scans.org.id("charlie")
    assert not [g for g in gaps_of(scans.faulted, charlie) if g.region == WEST]
    assert not [r for r in scans.faulted.results if (r.account_id, r.region) == (charlie, WEST)]
    rows = [(st, why) for a, r, k, st, why in scans.faulted.coverage()
            if a == charlie and r == WEST]
    assert rows == [("skipped", "not enabled in this account (opt-in status: not-opted-in)")]
    west_findings = [f for f in scans.store.findings(account_id=charlie) if f.region == WEST]
    assert west_findings and all(f.status is not FindingStatus.GONE for f in west_findings)


def test_org_scan_expired_credentials_are_renewed(scans: Scans) -> None:
    """Role sessions that expire mid-scan are re-assumed and the account is complete."""
    charlie = scans.org.id("charlie")
    assert scans.faults["expiring"].hits >= 1
    assert account(scans.faulted, charlie).state == "complete"
    assert not [g for g in gaps_of(scans.faulted, charlie)
                if g.kind is GapKind.EXPIRED_CREDENTIALS]
    clean_assumes, faulted_assumes = scans.assume_calls
    # Every member asks once in both scans (echo's refused call counts too); charlie more.
    assert faulted_assumes > clean_assumes


def test_org_scan_throttled_listing_is_a_gap_not_zero(scans: Scans) -> None:
    """ListEndpoints throttled past the retries: a throttled gap, endpoint checks UNKNOWN for
    the region, never 'no endpoints'."""
    delta = scans.org.id("delta")
    gaps = [g for g in gaps_of(scans.faulted, delta, EAST) if g.operation == "ListEndpoints"]
    assert [g.kind for g in gaps if Kind.ENDPOINTS in g.kinds] == [GapKind.THROTTLED]
    assert {g.kind for g in gaps} == {GapKind.THROTTLED}
    # Every collector listing endpoints there (endpoints, endpoint metrics) gave up after
    # exactly max_attempts tries.
    hits = scans.faults["throttled"].hits
    assert hits >= LIMITS.max_attempts and hits % LIMITS.max_attempts == 0
    assert coverage_of(scans.faulted, delta)[(EAST, "endpoints")] == "failed"
    endpoint_results = [r for r in scans.faulted.results if (r.account_id, r.region) ==
                        (delta, EAST) and r.resource_kind in ("endpoint", "region")
                        and Kind.ENDPOINTS in _needs(r.check_id)]
    assert endpoint_results and all(r.status is Status.UNKNOWN for r in endpoint_results)


def test_org_scan_server_error_is_classified(scans: Scans) -> None:
    """A 5xx (after botocore's retries) becomes a service_error gap on the Glue jobs."""
    delta = scans.org.id("delta")
    by_op = {g.operation: g for g in gaps_of(scans.faulted, delta)}
    assert by_op["GetJobs"].kind is GapKind.SERVICE_ERROR and by_op["GetJobs"].region == EAST
    assert by_op["GetJobs"].kinds == (Kind.GLUE_JOBS,)
    assert scans.faults["5xx"].hits == LIMITS.max_attempts


def test_call_past_its_timeout_is_a_timeout_gap() -> None:
    """A call slower than the call timeout becomes a timeout gap on the kinds it would fill.

    On its own (one call, short timeout), so a loaded machine cannot time out other calls.
    """
    from agent.collectors import glue
    from agent.collectors.base import Builder, CollectOptions

    with Emulator() as emu:
        emu.faults.add(FaultRule(operation="GetSecurityConfigurations", delay=1.5, times=1))

        async def go() -> Any:
            ctx = ScanContext(limits=Limits(call_timeout=0.5, max_attempts=1), endpoint_url=emu.url)
            async with RegionHandle(ctx, session(), MANAGEMENT, EAST) as h:
                out = Builder(MANAGEMENT, EAST)
                await glue.glue_security_configurations(h, out, CollectOptions())
                return out.freeze(h, utcnow())

        inv = asyncio.run(go())
    [gap] = inv.gaps
    assert gap.kind is GapKind.TIMEOUT and gap.operation == "GetSecurityConfigurations"
    assert not inv.complete(Kind.GLUE_SECURITY_CONFIGURATIONS)


def test_org_scan_resource_deleted_mid_scan_is_dropped(scans: Scans) -> None:
    """A model deleted between list and describe: a not_found gap naming it, no result for it,
    and the models inventory still complete."""
    delta = scans.org.id("delta")
    [gap] = [g for g in gaps_of(scans.faulted, delta, WEST) if g.operation == "DescribeModel"]
    assert gap.kind is GapKind.NOT_FOUND and gap.resource_arn == scans.deleted_model_arn
    assert not gap.kinds
    assert not [r for r in scans.faulted.results if r.resource_arn == scans.deleted_model_arn]
    assert coverage_of(scans.faulted, delta)[(WEST, "models")] == "complete"


def test_org_scan_resolves_nothing_for_missing_data(scans: Scans) -> None:
    """The faulted scan resolves no finding except those of the model really deleted."""
    resolved = [f for s in (scans.store.findings(),) for f in s
                if f.resolved_scan_id == scans.faulted.scan_id
                or (f.status is FindingStatus.GONE and f.last_seen_scan_id != scans.faulted.scan_id
                    and f.resource_arn != scans.deleted_model_arn)]
    assert [f for f in resolved if f.resource_arn != scans.deleted_model_arn] == []
    gone = [f for f in scans.store.findings() if f.status is FindingStatus.GONE]
    assert gone and {f.resource_arn for f in gone} == {scans.deleted_model_arn}


def test_org_scan_skips_nothing_silently(scans: Scans) -> None:
    """Every member appears in the coverage with an account row, and the scan is partial."""
    accounts = {a for a, r, k, _st, _w in scans.faulted.coverage() if (r, k) == ("*", "account")}
    assert accounts == {MANAGEMENT, *scans.org.accounts.values()}
    assert scans.faulted.status == "partial" and scans.clean.status == "partial"


def _needs(check_id: str) -> frozenset[Kind]:
    return next(frozenset(c.needs) for c in all_checks() if c.id == check_id)


def test_role_credentials_refresh_before_expiry(tmp_path: Path) -> None:
    """Keys within botocore's refresh window are re-assumed before use: a scan longer than the
    role session keeps working, and calls land in the member account."""
    with Emulator() as emu:
        emu.reset()
        org = seed_organization(emu, (MemberSpec("solo", None),), (EAST,),
                                management_estate=False)
        solo = org.id("solo")
        clock = [utcnow().astimezone(tzlocal())]

        async def go() -> tuple[str, str, int, str]:
            ctx = ScanContext(limits=LIMITS, endpoint_url=emu.url)
            async with RegionHandle(ctx, session(), MANAGEMENT, EAST) as caller:
                creds = RoleCredentials(
                    assume_with(caller, role_arn("aws", solo, "MLLensAudit"), "mllens",
                                EXTERNAL_ID),
                    time_fetcher=lambda: clock[0],
                )
                await creds.start()
                first = (await creds.get_frozen_credentials()).access_key
                clock[0] += timedelta(minutes=50)  # a one-hour session, ten minutes left
                second = (await creds.get_frozen_credentials()).access_key
                clock[0] = utcnow().astimezone(tzlocal())  # the new session is fresh again
                async with RegionHandle(ctx, session_with(creds, EAST), solo, EAST,
                                        creds) as h:
                    ident = await h.call("sts", "GetCallerIdentity")
                return first, second, creds.generation, ident["Account"]

        first, second, generation, who = asyncio.run(go())
    assert first != second and generation == 2
    assert who == solo


def test_partial_listing_keeps_pages_and_records_partial(tmp_path: Path) -> None:
    """A listing throttled on its second page keeps the first page's resources, records the
    kind as partial and answers UNKNOWN for its checks (never as the whole inventory)."""
    with Emulator() as emu, Store.open(f"sqlite:///{tmp_path / 'p.db'}") as store:
        emu.reset()
        org = seed_organization(emu, (MemberSpec("big", None),), (EAST,),
                                management_estate=False)
        big = org.id("big")
        seed_bulk(BulkSpec(counts={"models": 120}, accounts=(big,), regions=(EAST,)))
        emu.faults.add(throttled(account=big, operation="ListModels", after=1))
        checks = tuple(c for c in all_checks() if set(c.needs) == {Kind.MODELS})
        assert checks
        req = ScanRequest(checks=checks, endpoint_url=emu.url, limits=LIMITS,
                          targets=TargetSpec(accounts=(big,), role_name="MLLensAudit",
                                             external_id=EXTERNAL_ID, regions=(EAST,)))
        out = asyncio.run(run_scan(req, store, session))
        cov = coverage_of(out, big)
        assert cov[(EAST, "models")] == "partial"
        assert len(store.resources(account_id=big, kind="models")) == 100
        statuses = {r.status for r in out.results}
        assert statuses == {Status.UNKNOWN}


def test_collectors_name_their_service() -> None:
    """Every collector's first IAM action names the service the coverage matrix groups by."""
    from agent.scan import service_of
    from agent.targets import SERVICES

    assert {service_of(c) for c in COLLECTORS} <= set(SERVICES)
