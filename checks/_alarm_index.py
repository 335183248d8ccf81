"""An index of one region's CloudWatch alarms by the metrics they watch, built once per check run.

A metric alarm watches either one metric (top-level Namespace/MetricName/Dimensions) or a set of
metric queries (`Metrics[].MetricStat.Metric`: metric math, anomaly bands). Composite alarms
watch no metric: they combine other alarms through `AlarmRule`, and their actions make the
alarms they reference page someone. The index resolves that once instead of per endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.domain import Inventory, Kind, Resource
from checks._helpers import items, mapping

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
# Model Monitor namespaces are spelled several ways in AWS docs (catalog section 3).
MONITOR_NAMESPACE = re.compile(r"^/?aws/sagemaker/(endpoints?|modelmonitoring)/.*-metrics?$",
                               re.IGNORECASE)
_ML_NAMESPACE = re.compile(r"^(/?aws/sagemaker(/.*)?|glue)$", re.IGNORECASE)
# ALARM("name"), ALARM(name) or ALARM('arn:...:alarm:name') inside a composite AlarmRule. Only
# ALARM() references make a child page through its parent; OK()/INSUFFICIENT_DATA() do not.
_ALARM_REF = re.compile(r"\bALARM\s*\(\s*(?:\"([^\"]+)\"|'([^']+)'|([^)\s,]+))\s*\)")


def is_ml_namespace(namespace: str | None) -> bool:
    return bool(namespace) and bool(_ML_NAMESPACE.match(namespace or ""))


@dataclass(frozen=True, slots=True)
class MetricRef:
    """One metric an alarm reads."""

    namespace: str
    metric: str
    dimensions: Mapping[str, str]
    # Set on cross-account metric queries; None means the alarm's own account.
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class AlarmInfo:
    resource: Resource
    composite: bool
    metrics: tuple[MetricRef, ...]
    children: tuple[str, ...]
    # Its own actions are enabled and it has at least one ALARM action.
    actioned: bool
    # Actioned itself, or referenced (transitively) by an actioned composite alarm.
    effective: bool

    @property
    def name(self) -> str:
        return self.resource.name

    def threshold(self) -> float | None:
        value = self.resource.get("Threshold")
        return float(value) if isinstance(value, int | float) else None

    def single_metric(self) -> bool:
        """A classic alarm on one metric: its Threshold is in that metric's unit."""
        return not self.composite and bool(self.resource.get("MetricName"))


def _dims(raw: Any) -> dict[str, str]:
    return {d["Name"]: d.get("Value", "") for d in items(raw) if d.get("Name")}


def metric_refs(alarm: Resource) -> tuple[MetricRef, ...]:
    """Every metric the alarm reads, top level and inside metric queries."""
    refs: list[MetricRef] = []
    namespace, metric_name = alarm.get("Namespace"), alarm.get("MetricName")
    if namespace and metric_name:
        refs.append(MetricRef(namespace, metric_name, _dims(alarm.get("Dimensions"))))
    for query in items(alarm.get("Metrics")):
        metric = mapping(mapping(query.get("MetricStat")).get("Metric"))
        if metric.get("MetricName") and metric.get("Namespace"):
            refs.append(
                MetricRef(
                    metric["Namespace"],
                    metric["MetricName"],
                    _dims(metric.get("Dimensions")),
                    query.get("AccountId"),
                )
            )
    return tuple(refs)


def composite_children(alarm: Resource) -> tuple[str, ...]:
    rule = alarm.get("AlarmRule") or ""
    names = []
    for m in _ALARM_REF.finditer(rule):
        ref = next(g for g in m.groups() if g)
        # A child may be named by ARN: arn:aws:cloudwatch:region:account:alarm:NAME
        names.append(ref.split(":alarm:", 1)[1] if ":alarm:" in ref else ref)
    return tuple(names)


def _own_actions(alarm: Resource) -> bool:
    return alarm.get("ActionsEnabled") is True and bool(alarm.get("AlarmActions"))


class AlarmIndex:
    """All alarms of one inventory, with the composite parentage resolved."""

    def __init__(self, alarms: Iterable[Resource], account_id: str) -> None:
        self.account_id = account_id
        raw = {a.name: a for a in alarms}
        children = {
            name: composite_children(a) if a.get("AlarmType") == "CompositeAlarm" else ()
            for name, a in raw.items()
        }
        parents: dict[str, list[str]] = {}
        for parent, kids in children.items():
            for kid in kids:
                parents.setdefault(kid, []).append(parent)
        self._parents = parents
        effective: dict[str, bool] = {}

        def resolve(name: str, seen: frozenset[str]) -> bool:
            # Depth-first up the parent chain; `seen` guards against a cyclic rule.
            if name in effective:
                return effective[name]
            alarm = raw.get(name)
            result = alarm is not None and _own_actions(alarm)
            if not result:
                result = any(
                    resolve(p, seen | {name}) for p in parents.get(name, ()) if p not in seen
                )
            effective[name] = result
            return result

        self.alarms: dict[str, AlarmInfo] = {}
        self._by_metric: dict[tuple[str, str], list[tuple[AlarmInfo, MetricRef]]] = {}
        for name, alarm in raw.items():
            composite = alarm.get("AlarmType") == "CompositeAlarm"
            info = AlarmInfo(
                resource=alarm,
                composite=composite,
                metrics=() if composite else metric_refs(alarm),
                children=children[name],
                actioned=_own_actions(alarm),
                effective=resolve(name, frozenset()),
            )
            self.alarms[name] = info
            for ref in info.metrics:
                self._by_metric.setdefault((ref.namespace, ref.metric), []).append((info, ref))

    @classmethod
    def of(cls, inv: Inventory) -> AlarmIndex:
        return cls(inv.of(Kind.ALARMS), inv.account_id)

    def parents_of(self, name: str) -> list[str]:
        """Composite alarms whose rule references `name` with ALARM()."""
        return list(self._parents.get(name, ()))

    def covering(
        self,
        namespace: str,
        metrics: Iterable[str],
        dimensions: Mapping[str, str],
    ) -> list[AlarmInfo]:
        """Alarms reading any of `metrics` in `namespace` with at least `dimensions` (exact
        values), from this account. Metric queries on another account's metrics do not count."""
        found: dict[str, AlarmInfo] = {}
        for metric in metrics:
            for info, ref in self._by_metric.get((namespace, metric), ()):
                if ref.account_id not in (None, self.account_id):
                    continue
                if all(ref.dimensions.get(k) == v for k, v in dimensions.items()):
                    found[info.name] = info
        return list(found.values())

    def partial(
        self, namespace: str, metrics: Iterable[str], dimensions: Mapping[str, str], missing: str
    ) -> list[AlarmInfo]:
        """Alarms that match `dimensions` but lack the `missing` dimension altogether (e.g. an
        endpoint-level alarm without VariantName, which never receives SageMaker data)."""
        out: dict[str, AlarmInfo] = {}
        for metric in metrics:
            for info, ref in self._by_metric.get((namespace, metric), ()):
                if missing not in ref.dimensions and all(
                    ref.dimensions.get(k) == v for k, v in dimensions.items()
                ):
                    out[info.name] = info
        return list(out.values())

    def matching(self, predicate: Callable[[MetricRef], bool]) -> list[AlarmInfo]:
        """Metric alarms having at least one metric for which `predicate(ref)` is true."""
        return [
            a for a in self.alarms.values() if not a.composite and any(map(predicate, a.metrics))
        ]

    def ml_relevant(self, name: str, _seen: frozenset[str] = frozenset()) -> bool:
        """An ML-namespace metric alarm, or a composite over one (transitively)."""
        info = self.alarms.get(name)
        if info is None:
            return False
        if not info.composite:
            return any(is_ml_namespace(r.namespace) for r in info.metrics)
        return any(
            self.ml_relevant(c, _seen | {name}) for c in info.children if c not in _seen
        )
