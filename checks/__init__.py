"""The check catalog. Explicit wiring: a module lists its checks in CHECKS, and this module lists
the modules; tests/test_registry.py fails when a check is defined but not listed."""

from __future__ import annotations

from checks.base import Check


def all_checks() -> tuple[Check, ...]:
    from checks import (
        alarm_coverage,
        alarms,
        endpoint_capacity,
        endpoint_data,
        endpoint_models,
        endpoints,
        glue,
        instances,
        models,
        monitoring,
        monitoring_executions,
        monitoring_jobs,
        notebooks,
        training,
    )

    return (
        *endpoints.CHECKS,
        *endpoint_capacity.CHECKS, *endpoint_data.CHECKS, *endpoint_models.CHECKS,
        *monitoring.CHECKS, *monitoring_executions.CHECKS, *monitoring_jobs.CHECKS,
        *alarm_coverage.CHECKS, *alarms.CHECKS,
        *training.CHECKS, *notebooks.CHECKS, *models.CHECKS, *glue.CHECKS, *instances.CHECKS,
    )


def by_id() -> dict[str, Check]:
    return {c.id: c for c in all_checks()}
