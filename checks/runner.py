"""Evaluate checks over an inventory: metadata, UNKNOWN for missing inputs, crash containment."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import structlog

from agent.domain import Gap, Inventory, Result, Status, utcnow
from checks._tags import TagIndex
from checks.base import Check, Verdict
from checks.options import EvaluationOptions, SeverityPolicy

log = structlog.get_logger(__name__)


def _gap_reason(gaps: list[Gap]) -> str:
    parts = sorted({f"{g.service}:{g.operation} {g.kind.value}" for g in gaps})
    return "inventory not collected: " + ", ".join(parts)


def evaluate(
    checks: Iterable[Check],
    inventory: Inventory,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    options: EvaluationOptions | None = None,
) -> Iterator[Result]:
    """Run each check over one region's inventory.

    Where a kind the check requires could not be collected, the check is not run: every
    resource of its primary kind that is known gets UNKNOWN, and so does the region itself when
    the primary listing is what failed. A resource whose own describe failed gets UNKNOWN from
    every check that reports on its kind. Gaps in a check's optional kinds are not answered
    here but by the check body, verdict by verdict (see `Check.optional`), since only it knows
    which verdicts they could change. Anything a check raises becomes one UNKNOWN for the
    region. Each result then goes through the severity policy of `options` (default: raise
    for production tags, lower for dev/test), the one place severity depends on tags. A check
    that names options (`@check(options=("objectives",))`) gets those fields of `options` as
    keyword arguments.
    """
    params = params or {}
    options = options or EvaluationOptions()
    tags = TagIndex.of(inventory) if options.severity.enabled else TagIndex("absent")
    now = utcnow()
    for chk in checks:
        # Options the check takes (the objectives) come from the scan, over any parameter.
        args = {**params.get(chk.id, {}), **chk.option_values(options)}
        for result in _evaluate_one(chk, inventory, args, now):
            yield apply_severity_policy(result, options.severity, tags)


def apply_severity_policy(result: Result, policy: SeverityPolicy, tags: TagIndex) -> Result:
    """Move the result's severity by the resource's environment tag, noting why in evidence.

    Results on the region itself have no tags and pass unchanged; so do results on resource
    types the tag collection does not cover, and every result of an inventory where tags were
    not asked for. Where tags were asked for but not collected, the
    base severity stands and the evidence says the policy could not be applied.
    """
    if not policy.enabled or tags.state == "absent" or result.resource_kind == "region":
        return result
    if tags.state == "complete" and not tags.covers(result.resource_arn):
        # A type the tag collection does not cover (auto scaling targets, Glue security
        # configurations...): the base severity stands, as for any untagged resource.
        return result
    found, why_not = tags.lookup(result.resource_arn)
    if found is None:
        note: dict[str, Any] = {"base": result.severity.value, "adjusted": result.severity.value,
                                "direction": "none", "reason": why_not}
        return dataclasses.replace(result, evidence={**result.evidence,
                                                     "severity_adjustment": note})
    severity, direction, tag = policy.adjust(result.severity, found)
    if tag is None:
        return result
    note = {
        "base": result.severity.value,
        "adjusted": severity.value,
        "direction": direction,
        "matched_tag": {tag[0]: tag[1]},
    }
    evidence = {**result.evidence, "severity_adjustment": note}
    # The environment tag also goes where report consumers look for a resource's tags (the
    # remediation plan counts production resources from evidence `tags`).
    evidence.setdefault("tags", {tag[0]: tag[1]})
    return dataclasses.replace(result, severity=severity, evidence=evidence)


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
    gaps = inv.missing(chk.required)
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
