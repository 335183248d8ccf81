"""Evidence for a workload from the store: scope, latest scan per place, UNKNOWN and GONE."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agent.domain import Pillar, Result, Severity, Status
from agent.store import Store
from agent.wa.evidence import EvidenceError, Scope, load_evidence

A, B = "111122223333", "444455556666"
EU, US = "eu-west-1", "us-east-1"
X, Y = "check_x", "check_y"


def _r(check: str, status: Status, name: str, account: str = A, region: str = EU,
       severity: Severity = Severity.MEDIUM, **evidence: Any) -> Result:
    return Result(check_id=check, status=status,
                  resource_arn=f"arn:aws:sagemaker:{region}:{account}:endpoint/{name}",
                  reason=f"{status} {name}", account_id=account, region=region,
                  severity=severity, pillar=Pillar.RELIABILITY, resource_kind="endpoints",
                  evidence=evidence)


def _scan(store: Store, results: list[Result],
          complete: set[tuple[str, str]] | None = None) -> int:
    scan_id = store.start_scan({})
    for account in sorted({r.account_id for r in results}):
        store.write_account(scan_id, account, [r for r in results if r.account_id == account],
                            [], [], [], complete or set())
    store.finish_scan(scan_id, "complete", 0, {})
    return scan_id


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    with Store.open(sqlite_url) as s:
        yield s


def test_load_evidence_counts_in_scope_on_both_engines(store: Store) -> None:
    """Counts per check, worst failing resource first, and nothing from other accounts."""
    _scan(store, [_r(X, Status.PASS, "a"), _r(X, Status.FAIL, "b"),
                  _r(X, Status.FAIL, "c", severity=Severity.CRITICAL),
                  _r(Y, Status.NOT_APPLICABLE, "a"), _r(X, Status.FAIL, "z", account=B)])
    ev = load_evidence(store, Scope((A,)))
    x = ev.by_check[X]
    assert (x.passed, x.failed, x.unknown) == (1, 2, 0)
    assert [f.resource for f in x.failing] == ["endpoint/c", "endpoint/b"]
    assert ev.by_check[Y].not_applicable == 1 and not ev.by_check[Y].passes
    assert ev.findings == 4 and len(ev.scans) == 1


def test_load_evidence_latest_scan_per_place(sqlite_store: Store) -> None:
    """Each (account, region) gives what its latest scan said; a check that scan did not run is
    no evidence there, and a region the latest scan skipped keeps its own latest scan."""
    first = _scan(sqlite_store, [_r(X, Status.FAIL, "a"), _r(Y, Status.PASS, "a"),
                                 _r(X, Status.PASS, "u", region=US)])
    second = _scan(sqlite_store, [_r(Y, Status.FAIL, "a")])
    ev = load_evidence(sqlite_store, Scope((A,)))
    assert ev.by_check[Y].failed == 1 and ev.by_check[Y].passed == 0
    # X in eu-west-1 was last seen by the first scan, X in us-east-1 is that region's latest.
    assert (ev.by_check[X].passed, ev.by_check[X].failed) == (1, 0)
    assert [s.id for s in ev.scans] == [second, first]


def test_load_evidence_unknown_after_known_counts_unknown(sqlite_store: Store) -> None:
    """A finding whose latest observation is UNKNOWN is UNKNOWN, not its last known PASS."""
    _scan(sqlite_store, [_r(X, Status.PASS, "a")])
    _scan(sqlite_store, [_r(X, Status.UNKNOWN, "a")])
    x = load_evidence(sqlite_store, Scope((A,))).by_check[X]
    assert (x.passed, x.unknown) == (0, 1) and not x.passes


def test_load_evidence_gone_is_not_evidence(sqlite_store: Store) -> None:
    """A finding a complete scan no longer reports (GONE) is not counted."""
    _scan(sqlite_store, [_r(X, Status.FAIL, "a"), _r(Y, Status.PASS, "a")])
    _scan(sqlite_store, [_r(Y, Status.PASS, "a")], complete={(EU, X), (EU, Y)})
    ev = load_evidence(sqlite_store, Scope((A,)))
    assert X not in ev.by_check and ev.by_check[Y].passed == 1


def test_load_evidence_region_filter(sqlite_store: Store) -> None:
    """With regions in scope, findings of other regions are not counted."""
    _scan(sqlite_store, [_r(X, Status.FAIL, "a"), _r(X, Status.PASS, "u", region=US)])
    x = load_evidence(sqlite_store, Scope((A,), (US,))).by_check[X]
    assert (x.passed, x.failed) == (1, 0)


def test_load_evidence_tags_select_when_findings_carry_them(sqlite_store: Store) -> None:
    """--tag keeps only findings whose evidence carries the tag; others are not guessed in."""
    _scan(sqlite_store, [
        _r(X, Status.FAIL, "a", Tags={"workload": "fraud"}),
        _r(X, Status.FAIL, "b", Tags=[{"Key": "workload", "Value": "ads"}]),
        _r(X, Status.PASS, "c"),
    ])
    x = load_evidence(sqlite_store, Scope((A,), (), (("workload", "fraud"),))).by_check[X]
    assert (x.passed, x.failed) == (0, 1) and x.failing[0].resource == "endpoint/a"


def test_load_evidence_tags_without_tagged_findings_fails(sqlite_store: Store) -> None:
    """--tag over findings that carry no tags stops with a message instead of matching none."""
    _scan(sqlite_store, [_r(X, Status.FAIL, "a")])
    with pytest.raises(EvidenceError, match="carry no resource tags"):
        load_evidence(sqlite_store, Scope((A,), (), (("workload", "fraud"),)))


def test_load_evidence_empty_scope_fails(sqlite_store: Store) -> None:
    """No findings for the scope is an error that says to scan, not an empty evidence."""
    _scan(sqlite_store, [_r(X, Status.FAIL, "a", account=B)])
    with pytest.raises(EvidenceError, match="run `mllens scan`"):
        load_evidence(sqlite_store, Scope((A,)))
