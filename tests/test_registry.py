"""The explicit wiring holds: every check defined is listed, and every kind a check needs has a
collector that fills it."""

from __future__ import annotations

import importlib
import pkgutil

import checks
from agent.collectors import COLLECTORS
from agent.domain import Kind
from checks import all_checks
from checks.base import Check


def _defined_checks() -> dict[str, Check]:
    found: dict[str, Check] = {}
    for info in pkgutil.iter_modules(checks.__path__):
        module = importlib.import_module(f"checks.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Check):
                found[value.id] = value
    return found


def test_registry_lists_every_defined_check() -> None:
    """A check defined in any module of `checks` but missing from all_checks() is forgotten."""
    listed = {c.id for c in all_checks()}
    forgotten = sorted(set(_defined_checks()) - listed)
    assert not forgotten, f"defined but not wired into checks.all_checks(): {forgotten}"


def test_registry_check_ids_are_unique_function_names() -> None:
    """IDs are unique and equal the function name, so a finding's check_id is stable."""
    ids = [c.id for c in all_checks()]
    assert len(ids) == len(set(ids))
    assert all(c.id == c.fn.__name__ for c in all_checks())


def test_registry_every_needed_kind_has_a_collector() -> None:
    """A check needing a kind no collector fills would be UNKNOWN forever."""
    filled = {k for c in COLLECTORS for k in c.kinds}
    needed = {k for c in all_checks() for k in c.needs}
    assert needed <= filled, sorted(k.value for k in needed - filled)
    assert filled <= set(Kind)


def test_registry_collector_actions_are_iam_action_names() -> None:
    """Collector actions read as `service:Operation`, the form an IAM policy takes."""
    for c in COLLECTORS:
        assert c.actions, c.name
        for action in c.actions:
            service, _, operation = action.partition(":")
            assert service and operation[:1].isupper(), action
