"""The check contract: a pure function over one region's inventory, with metadata on a decorator.

A check yields `Verdict`s; the runner (`checks.runner`) turns them into `Result`s carrying the
check's metadata, and answers UNKNOWN by itself wherever the inventory the check needs is
missing, so a check body never has to reason about collection failures of whole kinds.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.domain import Inventory, Kind, Pillar, Resource, Severity, Status
from checks.lens import PRACTICES, Practice


@dataclass(frozen=True, slots=True)
class Verdict:
    status: Status
    resource_arn: str
    reason: str
    resource_kind: str = ""
    sub_resource: str = ""
    evidence: Mapping[str, Any] = field(default_factory=dict)
    # Overrides the check's base severity for this finding (e.g. high for Failed, low for Pending).
    severity: Severity | None = None


def _verdict(
    status: Status,
    resource: Resource,
    reason: str,
    *,
    sub: str = "",
    severity: Severity | None = None,
    **evidence: Any,
) -> Verdict:
    return Verdict(
        status=status,
        resource_arn=resource.arn,
        reason=reason,
        resource_kind=resource.kind.value,
        sub_resource=sub,
        evidence=evidence,
        severity=severity,
    )


def passed(resource: Resource, reason: str, *, sub: str = "", **evidence: Any) -> Verdict:
    return _verdict(Status.PASS, resource, reason, sub=sub, **evidence)


def failed(
    resource: Resource,
    reason: str,
    *,
    sub: str = "",
    severity: Severity | None = None,
    **evidence: Any,
) -> Verdict:
    return _verdict(Status.FAIL, resource, reason, sub=sub, severity=severity, **evidence)


def not_applicable(resource: Resource, reason: str, *, sub: str = "", **evidence: Any) -> Verdict:
    return _verdict(Status.NOT_APPLICABLE, resource, reason, sub=sub, **evidence)


def unknown(resource: Resource, reason: str, *, sub: str = "", **evidence: Any) -> Verdict:
    return _verdict(Status.UNKNOWN, resource, reason, sub=sub, **evidence)


CheckFn = Callable[..., Iterator[Verdict]]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: Any
    default: Any


@dataclass(frozen=True)
class Check:
    """A check function plus what a user and the runner need to know about it."""

    fn: CheckFn
    id: str
    title: str
    severity: Severity
    lens: tuple[Practice, ...]
    needs: tuple[Kind, ...]
    remediation: str
    description: str
    params: tuple[Param, ...]
    # The check judges the region as a whole (e.g. "the registry is not used here"): when its
    # inputs are missing the region itself is UNKNOWN, not each resource of the primary kind.
    region_level: bool = False

    @property
    def pillar(self) -> Pillar:
        """The pillar of the primary (first) lens practice."""
        return self.lens[0].pillar

    @property
    def primary_kind(self) -> Kind:
        return self.needs[0]

    @property
    def lens_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.lens)

    @property
    def legacy_lens_ids(self) -> tuple[str, ...]:
        return tuple(p.legacy_id for p in self.lens)

    def __call__(self, inventory: Inventory, **params: Any) -> Iterator[Verdict]:
        return self.fn(inventory, **params)


def check(
    *,
    title: str,
    severity: Severity,
    lens: tuple[str, ...],
    needs: tuple[Kind, ...],
    remediation: str,
    region_level: bool = False,
) -> Callable[[CheckFn], Check]:
    """Declare a check. The function name is the check ID; its docstring says what PASS means.

    Parameters are the function's keyword-only arguments with typed defaults, so the config file
    can be validated against them before a scan starts.
    """

    def wrap(fn: CheckFn) -> Check:
        if not fn.__doc__:
            raise TypeError(f"check {fn.__name__} needs a docstring saying what PASS means")
        if not lens:
            raise TypeError(f"check {fn.__name__} must map to at least one lens practice")
        if not needs:
            raise TypeError(f"check {fn.__name__} must declare the inventory it needs")
        unknown_ids = [i for i in lens if i not in PRACTICES]
        if unknown_ids:
            raise TypeError(f"check {fn.__name__}: unknown lens practice IDs {unknown_ids}")
        return Check(
            fn=fn,
            id=fn.__name__,
            title=title,
            severity=severity,
            lens=tuple(PRACTICES[i] for i in lens),
            needs=needs,
            remediation=remediation,
            description=inspect.cleandoc(fn.__doc__),
            params=_params(fn),
            region_level=region_level,
        )

    return wrap


def _params(fn: CheckFn) -> tuple[Param, ...]:
    out = []
    hints = inspect.get_annotations(fn, eval_str=True)
    for p in inspect.signature(fn).parameters.values():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        if p.default is inspect.Parameter.empty:
            raise TypeError(f"check {fn.__name__}: parameter {p.name} needs a default")
        out.append(Param(p.name, hints.get(p.name, type(p.default)), p.default))
    return tuple(out)
