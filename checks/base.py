"""The check contract: a pure function over one region's inventory, with metadata on a decorator.

A check yields `Verdict`s; the runner (`checks.runner`) turns them into `Result`s carrying the
check's metadata, and answers UNKNOWN by itself wherever the inventory the check needs is
missing, so a check body never has to reason about collection failures of whole kinds.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

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


class Effort(enum.StrEnum):
    """How much work fixing a check's finding takes; `mllens plan` weighs actions by it."""

    # Change a setting, flag or argument in place (or add/delete a small resource such as an
    # alarm): no redeployment, no data moved.
    CONFIG = "config"
    # Recreate or redeploy the resource (new endpoint config, model, job definition, notebook)
    # or change the code that launches it.
    REDEPLOY = "redeploy"
    # Change the design: networking, pipelines, registries, consolidation.
    REARCHITECT = "rearchitect"

    @property
    def label(self) -> str:
        return _EFFORT_LABEL[self]

    @property
    def cost(self) -> int:
        """Relative cost of the work, doubling per class (config 1, redeploy 2, rearchitect 4)."""
        return _EFFORT_COST[self]


_EFFORT_LABEL = {
    Effort.CONFIG: "config flag",
    Effort.REDEPLOY: "redeploy",
    Effort.REARCHITECT: "re-architecture",
}
_EFFORT_COST = {Effort.CONFIG: 1, Effort.REDEPLOY: 2, Effort.REARCHITECT: 4}
# What a check that does not say gets: the middle class, so an unrated check neither jumps the
# queue as a quick win nor sinks as a redesign.
DEFAULT_EFFORT = Effort.REDEPLOY


@dataclass(frozen=True, slots=True)
class Range:
    """The values a numeric parameter can mean something with, declared on the parameter:
    `spot_min_runtime_s: Annotated[int, Range(ge=0)] = 3600`. The settings refuse any other
    value, naming the parameter, before a scan starts."""

    ge: float | None = None
    le: float | None = None

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        return (self.ge is None or value >= self.ge) and (self.le is None or value <= self.le)

    def __str__(self) -> str:
        if self.ge is not None and self.le is not None:
            return f"{self.ge:g} to {self.le:g}"
        return f">= {self.ge:g}" if self.ge is not None else f"<= {self.le:g}"


# The domains most parameters have.
AT_LEAST_0 = Range(ge=0)  # a duration or a count that may be zero
AT_LEAST_1 = Range(ge=1)  # a count of at least one, or a window of at least one unit
FRACTION = Range(ge=0, le=1)  # a ratio
PERCENT = Range(ge=0, le=100)  # a percentage


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: Any
    default: Any
    # The values the parameter can take (numeric parameters); None: any of its type.
    range: Range | None = None


@dataclass(frozen=True)
class Check:
    """A check function plus what a user and the runner need to know about it."""

    fn: CheckFn
    id: str
    title: str
    severity: Severity
    lens: tuple[Practice, ...]
    # Every kind the check reads (so the scan collects it), the primary kind first.
    needs: tuple[Kind, ...]
    remediation: str
    description: str
    params: tuple[Param, ...]
    # The check judges the region as a whole (e.g. "the registry is not used here"): when its
    # inputs are missing the region itself is UNKNOWN, not each resource of the primary kind.
    region_level: bool = False
    effort: Effort = DEFAULT_EFFORT
    # Kinds in `needs` the check can do without: the runner does not answer UNKNOWN for their
    # gaps, the body does, verdict by verdict. It reads them through
    # `checks._helpers.optional_kind` / `optional_record`: judged without them only when the
    # scan did not ask for them (saying so in the evidence); when they were asked for and not
    # collected, each verdict they could change is UNKNOWN, naming what failed, and only the
    # verdicts they cannot change are given.
    optional: tuple[Kind, ...] = ()
    # Fields of `checks.options.EvaluationOptions` the runner passes as keyword arguments of
    # the same name (e.g. the objectives). They come from the scan, not from check parameters.
    options: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[Kind, ...]:
        """The kinds whose collection gaps make the check UNKNOWN (the runner's rule)."""
        return tuple(k for k in self.needs if k not in self.optional)

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

    def option_values(self, options: Any) -> dict[str, Any]:
        """The keyword arguments this check takes from an `EvaluationOptions`."""
        return {name: getattr(options, name) for name in self.options}


def check(
    *,
    title: str,
    severity: Severity,
    lens: tuple[str, ...],
    needs: tuple[Kind, ...],
    remediation: str,
    region_level: bool = False,
    effort: Effort | str = DEFAULT_EFFORT,
    optional: tuple[Kind, ...] = (),
    options: tuple[str, ...] = (),
) -> Callable[[CheckFn], Check]:
    """Declare a check. The function name is the check ID; its docstring says what PASS means.

    Parameters are the function's keyword-only arguments with typed defaults, so the config file
    can be validated against them before a scan starts. `effort` is the work a fix takes
    (config, redeploy or rearchitect; see `Effort`). `optional` kinds are collected for the
    check (they are added to `needs`) but their gaps are the body's to handle: "not asked for"
    means judge without them, "asked for and failed" means UNKNOWN wherever they could change
    the verdict (see `checks._helpers.OptionalInput`). `options` names
    keyword-only arguments the runner fills from the scan's `EvaluationOptions` (same name);
    they are not parameters, so the config file cannot set them per check.
    """
    try:
        effort_class = Effort(effort)
    except ValueError:
        raise TypeError(
            f"unknown effort {effort!r}; use one of {', '.join(e.value for e in Effort)}"
        ) from None

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
        if needs[0] in optional:
            raise TypeError(f"check {fn.__name__}: its primary kind cannot be optional")
        _check_options(fn, options)
        return Check(
            fn=fn,
            id=fn.__name__,
            title=title,
            severity=severity,
            lens=tuple(PRACTICES[i] for i in lens),
            needs=(*needs, *(k for k in optional if k not in needs)),
            remediation=remediation,
            description=inspect.cleandoc(fn.__doc__),
            params=_params(fn, skip=options),
            region_level=region_level,
            effort=effort_class,
            optional=optional,
            options=options,
        )

    return wrap


def _check_options(fn: CheckFn, options: tuple[str, ...]) -> None:
    from checks.options import EvaluationOptions

    known = EvaluationOptions.__dataclass_fields__
    signature = inspect.signature(fn).parameters
    for name in options:
        if name not in known:
            raise TypeError(f"check {fn.__name__}: {name!r} is not an EvaluationOptions field")
        p = signature.get(name)
        if p is None or p.kind is not inspect.Parameter.KEYWORD_ONLY or (
                p.default is inspect.Parameter.empty):
            raise TypeError(f"check {fn.__name__}: option {name} must be a keyword-only "
                            "argument with a default")


def _params(fn: CheckFn, skip: tuple[str, ...] = ()) -> tuple[Param, ...]:
    out = []
    hints = inspect.get_annotations(fn, eval_str=True)
    for p in inspect.signature(fn).parameters.values():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY or p.name in skip:
            continue
        if p.default is inspect.Parameter.empty:
            raise TypeError(f"check {fn.__name__}: parameter {p.name} needs a default")
        hint = hints.get(p.name, type(p.default))
        ranges = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Range)]
        kind = get_args(hint)[0] if ranges else hint
        if ranges and kind not in (int, float):
            raise TypeError(f"check {fn.__name__}: parameter {p.name} has a range but is not "
                            "a number")
        if ranges and p.default not in ranges[0]:
            raise TypeError(f"check {fn.__name__}: parameter {p.name} defaults to {p.default!r}, "
                            f"outside its range {ranges[0]}")
        out.append(Param(p.name, kind, p.default, ranges[0] if ranges else None))
    return tuple(out)
