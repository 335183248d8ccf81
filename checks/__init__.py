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
        endpoint_usage,
        endpoints,
        glue,
        glue_runs,
        instances,
        model_packages,
        models,
        monitoring,
        monitoring_executions,
        monitoring_jobs,
        notebooks,
        objective_cost,
        objectives,
        tags,
        training,
    )

    return (
        *endpoints.CHECKS,
        *endpoint_capacity.CHECKS, *endpoint_data.CHECKS, *endpoint_models.CHECKS,
        *monitoring.CHECKS, *monitoring_executions.CHECKS, *monitoring_jobs.CHECKS,
        *alarm_coverage.CHECKS, *alarms.CHECKS,
        *training.CHECKS, *notebooks.CHECKS, *models.CHECKS, *glue.CHECKS, *instances.CHECKS,
        # Catalog completion (issue 6).
        *endpoint_usage.CHECKS, *model_packages.CHECKS, *glue_runs.CHECKS, *tags.CHECKS,
        # Objectives as code (issue 6): targets the team sets for its own workloads.
        *objectives.CHECKS, *objective_cost.CHECKS,
    )


def by_id() -> dict[str, Check]:
    return {c.id: c for c in all_checks()}
