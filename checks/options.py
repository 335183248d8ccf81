"""Options that shape how results are evaluated, as frozen values a config file can build.

The severity policy (catalog 4.1, parameter `prod_selector`) applies to every result. A
finding on a resource tagged as production is raised one severity level, one tagged as dev or
test lowered one level. It is applied once, by the runner, after every check has spoken, so no
check carries its own "high (prod)" logic; the adjustment and the tag that caused it are
written into the finding's evidence.

The objectives (`checks._objectives`) are read by the objective checks only: a check names the
options it takes in `@check(options=...)` and the runner passes them as keyword arguments.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from agent.domain import Kind, Severity
from checks._objectives import NO_OBJECTIVES, Objectives

_ORDER = (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)


@dataclass(frozen=True, slots=True)
class TagSelector:
    """Matches a resource whose tag `key` has one of `values`.

    Keys and values are compared without case by default: teams write `Environment=Prod` as
    often as `environment=prod`, and a selector that silently misses them would hide the
    adjustment it exists for.
    """

    key: str
    values: frozenset[str]
    case_sensitive: bool = False

    @classmethod
    def of(cls, key: str, values: Iterable[str], *, case_sensitive: bool = False) -> TagSelector:
        return cls(key, frozenset(values), case_sensitive)

    def match(self, tags: Mapping[str, str]) -> tuple[str, str] | None:
        """The (key, value) tag that satisfies the selector, or None."""
        fold = (lambda s: s) if self.case_sensitive else str.casefold
        wanted = {fold(v) for v in self.values}
        for key, value in sorted(tags.items()):
            if fold(key) == fold(self.key) and fold(str(value)) in wanted:
                return key, value
        return None

    def describe(self) -> str:
        return f"tag {self.key} in {{{', '.join(sorted(self.values))}}}"


@dataclass(frozen=True, slots=True)
class SeverityPolicy:
    """Raise severity one level on production resources and lower it on dev/test ones.

    When a resource matches both (e.g. `environment=prod` and `stage=dev`), raising wins: a
    finding is never made quieter on a resource that might be production.
    """

    enabled: bool = True
    raise_when: tuple[TagSelector, ...] = (
        TagSelector.of("environment", ("prod", "production")),
    )
    lower_when: tuple[TagSelector, ...] = (TagSelector.of("environment", ("dev", "test")),)

    def adjust(
        self, severity: Severity, tags: Mapping[str, str]
    ) -> tuple[Severity, str, tuple[str, str] | None]:
        """(new severity, "raised" | "lowered" | "none", the tag that decided it)."""
        for direction, selectors, step in (
            ("raised", self.raise_when, 1),
            ("lowered", self.lower_when, -1),
        ):
            for selector in selectors:
                tag = selector.match(tags)
                if tag is not None:
                    return shift(severity, step), direction, tag
        return severity, "none", None


def shift(severity: Severity, step: int) -> Severity:
    """`severity` moved `step` levels, clamped to info..critical."""
    index = _ORDER.index(severity) + step
    return _ORDER[max(0, min(index, len(_ORDER) - 1))]


@dataclass(frozen=True, slots=True)
class EvaluationOptions:
    """Everything `checks.runner.evaluate` takes besides the checks, inventory and params."""

    severity: SeverityPolicy = field(default_factory=SeverityPolicy)
    # Per-workload targets ([objectives] in the settings); none by default.
    objectives: Objectives = NO_OBJECTIVES

    @property
    def needs(self) -> frozenset[Kind]:
        """Inventory the options read, which a scan must collect even if no check needs it."""
        return frozenset({Kind.TAGS}) if self.severity.enabled else frozenset()

    @property
    def unneeded(self) -> frozenset[Kind]:
        """Inventory checks declare that these options make pointless to collect. Without
        objectives the objective checks select no endpoint, so their metrics are not read
        (nor reported as collected: a scan that read nothing must still say so)."""
        if self.objectives.configured:
            return frozenset()
        return frozenset({Kind.OBJECTIVE_METRICS})
