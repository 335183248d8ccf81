"""The check catalog. Explicit wiring: a module lists its checks in CHECKS, and this module lists
the modules; tests/test_registry.py fails when a check is defined but not listed."""

from __future__ import annotations

from checks.base import Check


def all_checks() -> tuple[Check, ...]:
    from checks import endpoints

    return (*endpoints.CHECKS,)


def by_id() -> dict[str, Check]:
    return {c.id: c for c in all_checks()}
