"""Evaluate checks over an inventory: metadata, UNKNOWN for missing inputs, crash containment."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import structlog

from agent.domain import Gap, Inventory, Result, Status, utcnow
from checks.base import Check, Verdict

log = structlog.get_logger(__name__)


def _gap_reason(gaps: list[Gap]) -> str:
    parts = sorted({f"{g.service}:{g.operation} {g.kind.value}" for g in gaps})
    return "inventory not collected: " + ", ".join(parts)


def evaluate(
    checks: Iterable[Check],
    inventory: Inventory,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> Iterator[Result]:
    """Run each check over one region's inventory.

    Where a kind the check needs could not be collected, the check is not run: every resource of
    its primary kind that is known gets UNKNOWN, and so does the region itself when the primary
    listing is what failed. A resource whose own describe failed gets UNKNOWN from every check
    that reports on its kind. Anything a check raises becomes one UNKNOWN for the region.
    """
    params = params or {}
    now = utcnow()
    for chk in checks:
        yield from _evaluate_one(chk, inventory, params.get(chk.id, {}), now)


def _result(chk: Check, inv: Inventory, v: Verdict, now: Any) -> Result:
    return Result(
        check_id=chk.id,
        status=v.status,
        resource_arn=v.resource_arn,
        reason=v.reason,
        account_id=inv.account_id,
        region=inv.region,
        severity=v.severity or chk.severity,
        pillar=chk.pillar,
        resource_kind=v.resource_kind or chk.primary_kind.value,
        sub_resource=v.sub_resource,
        evidence=v.evidence,
        observed_at=now,
    )


def _region_unknown(chk: Check, inv: Inventory, reason: str, now: Any) -> Result:
    return _result(
        chk,
        inv,
        Verdict(Status.UNKNOWN, inv.region_arn(), reason, resource_kind="region"),
        now,
    )


def _evaluate_one(
    chk: Check, inv: Inventory, params: Mapping[str, Any], now: Any
) -> Iterator[Result]:
    gaps = inv.missing(chk.needs)
    primary = inv.of(chk.primary_kind)
    if gaps:
        reason = _gap_reason(gaps)
        if chk.region_level or not inv.complete(chk.primary_kind):
            yield _region_unknown(chk, inv, reason, now)
        if chk.region_level:
            return
        for res in primary:
            yield _result(
                chk,
                inv,
                Verdict(Status.UNKNOWN, res.arn, reason, resource_kind=res.kind.value),
                now,
            )
        return

    # Resources whose describe failed are answered here, and hidden from the check body, so a
    # check never mistakes a field that was not read for a field that is off.
    partial = [r for r in primary if r.incomplete_reason]
    for res in partial:
        yield _result(
            chk,
            inv,
            Verdict(
                Status.UNKNOWN,
                res.arn,
                f"resource not fully described: {res.incomplete_reason}",
                resource_kind=res.kind.value,
            ),
            now,
        )
    view = inv
    if partial:
        resources = dict(inv.resources)
        resources[chk.primary_kind] = tuple(r for r in primary if not r.incomplete_reason)
        view = Inventory(inv.account_id, inv.region, inv.collected_at, resources, inv.gaps)

    try:
        verdicts = list(chk(view, **params))
    except Exception as exc:  # boundary: a check crash becomes UNKNOWN, never a lost scan
        log.exception("check_crashed", check=chk.id, account=inv.account_id, region=inv.region)
        yield _region_unknown(chk, inv, f"check error: {type(exc).__name__}: {exc}", now)
        return
    for v in verdicts:
        yield _result(chk, inv, v, now)
