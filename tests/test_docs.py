"""Generated catalog docs: current in the repository, complete against the research catalog,
and the `mllens checks docs/coverage/list` commands that produce them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

from agent.cli.main import app
from checks import all_checks
from checks.docs import (
    AUTOMATED,
    BEYOND_CATALOG,
    CATALOG,
    HUMAN,
    PARTIAL,
    coverage,
    render_checks,
    render_coverage,
)
from checks.instances import PREV_GEN_FAMILIES

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    """The CLI configures structlog onto CliRunner's stream, closed after each invoke: put the
    previous configuration back so later tests in this process do not log into it."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def test_docs_checks_and_coverage_md_are_current() -> None:
    """docs/checks.md and docs/coverage.md equal what the checks' metadata renders today."""
    for name, render in (("checks.md", render_checks), ("coverage.md", render_coverage)):
        assert (DOCS / name).read_text(encoding="utf-8") == render(all_checks()), (
            f"docs/{name} is stale: run 'mllens checks docs'")


def test_docs_research_catalog_section_4_is_fully_implemented() -> None:
    """All 68 entries of catalog section 4 map to existing checks, and every check is one of
    them or listed beyond the catalog (objectives), so nothing is left out or undocumented."""
    ids = {c.id for c in all_checks()}
    mapped = [c for checks in CATALOG.values() for c in checks]
    beyond = [c for checks in BEYOND_CATALOG.values() for c in checks]
    assert len(CATALOG) == 68
    assert sorted(set(mapped + beyond) - ids) == []
    assert sorted(ids - set(mapped) - set(beyond)) == []
    assert len(mapped + beyond) == len(set(mapped + beyond))


def test_docs_coverage_rule_primary_secondary_none() -> None:
    """A practice some check maps first is automated, one mapped only later is partly
    automated, one mapped by none needs a human; all 105 practices are listed."""
    rows = {r.practice.id: r for r in coverage(all_checks())}
    assert len(rows) == 105
    assert rows["MLREL02-BP02"].status == AUTOMATED
    assert "glue_job_last_run_failed" in rows["MLREL02-BP02"].primary
    assert rows["MLOPS02-BP04"].status == PARTIAL and not rows["MLOPS02-BP04"].primary
    # "Monitor model adherence to business requirements": what the objective checks answer.
    assert rows["MLOPS01-BP03"].status == AUTOMATED
    assert "sagemaker_endpoint_objective_error_rate_exceeded" in rows["MLOPS01-BP03"].primary
    assert rows["MLOPS01-BP01"].status == HUMAN
    assert {r.status for r in rows.values()} == {AUTOMATED, PARTIAL, HUMAN}


def test_checks_docs_command_writes_then_detects_staleness(tmp_path: Path) -> None:
    """`checks docs -o DIR` writes both files; `--check` passes on them and fails, naming the
    file, once one is edited by hand."""
    runner = CliRunner()
    wrote = runner.invoke(app, ["checks", "docs", "-o", str(tmp_path)])
    assert wrote.exit_code == 0, wrote.output
    assert (tmp_path / "checks.md").read_text() == render_checks(all_checks())
    assert runner.invoke(app, ["checks", "docs", "-o", str(tmp_path), "--check"]).exit_code == 0
    (tmp_path / "coverage.md").write_text("hand edited\n")
    stale = runner.invoke(app, ["checks", "docs", "-o", str(tmp_path), "--check"])
    assert stale.exit_code == 1 and "coverage.md" in stale.output
    assert (tmp_path / "coverage.md").read_text() == "hand edited\n"


def test_checks_coverage_and_list_json_come_from_metadata() -> None:
    """`checks coverage -f json` lists every practice with its status; `checks list -f json`
    carries parameters with defaults and types, and optional inventory."""
    runner = CliRunner()
    cov = json.loads(runner.invoke(app, ["checks", "coverage", "-f", "json"]).output)
    assert len(cov) == 105 and {c["status"] for c in cov} == {AUTOMATED, PARTIAL, HUMAN}
    listed = {c["id"]: c for c in json.loads(
        runner.invoke(app, ["checks", "list", "-f", "json"]).output)}
    idle = listed["sagemaker_endpoint_idle"]
    assert idle["parameters"] == {"idle_lookback_days": 14, "idle_min_age_days": 14}
    assert idle["parameter_types"] == {"idle_lookback_days": "int", "idle_min_age_days": "int"}
    assert listed["sagemaker_endpoint_underutilized"]["optional_needs"] == [
        "scalable_targets", "models"]
    bad = runner.invoke(app, ["checks", "coverage", "-f", "yaml"])
    assert bad.exit_code == 2


# Catalog section 4.2: every tunable parameter, its default, and the checks that take it.
CATALOG_PARAMETERS = {
    "transition_timeout_minutes": (60, ["sagemaker_endpoint_stuck_in_transition"]),
    "system_update_timeout_minutes": (240, ["sagemaker_endpoint_stuck_in_transition"]),
    "idle_lookback_days": (14, ["sagemaker_endpoint_idle", "sagemaker_endpoint_underutilized",
                                "sagemaker_endpoint_consolidation_candidate"]),
    "idle_min_age_days": (14, ["sagemaker_endpoint_idle", "sagemaker_endpoint_underutilized",
                               "sagemaker_endpoint_consolidation_candidate"]),
    "cpu_util_threshold": (10.0, ["sagemaker_endpoint_underutilized"]),
    "min_sampling_pct": (5.0, ["sagemaker_endpoint_data_capture_not_active"]),
    "monitor_grace_days": (7, ["sagemaker_endpoint_no_model_monitor"]),
    "consecutive_failures": (1, ["model_monitor_last_execution_failed"]),
    "violation_streak": (3, ["model_monitor_violations_detected"]),
    "insufficient_data_days": (7, ["cloudwatch_alarm_stuck_insufficient_data"]),
    "alarm_account_ids": ((), ["sagemaker_endpoint_no_error_alarm",
                               "sagemaker_endpoint_no_latency_alarm",
                               "model_monitor_metrics_not_alarmed"]),
    "training_lookback_days": (90, ["sagemaker_training_high_failure_rate"]),
    "spot_min_runtime_s": (3600, ["sagemaker_training_no_managed_spot",
                                  "sagemaker_training_spot_without_checkpointing"]),
    "min_jobs": (5, ["sagemaker_training_high_failure_rate"]),
    "failure_rate": (0.3, ["sagemaker_training_high_failure_rate"]),
    "notebook_idle_days": (3, ["sagemaker_notebook_idle_no_autostop"]),
    "supported_platforms": (("notebook-al2023-v1",), ["sagemaker_notebook_platform_unsupported"]),
    "glue_lookback_days": (30, ["glue_job_bookmarks_disabled",
                                "glue_job_timeout_unset_or_excessive",
                                "glue_job_last_run_failed"]),
    "glue_last_runs": (10, ["glue_job_last_run_failed"]),
    "glue_timeout_floor_min": (60, ["glue_job_timeout_unset_or_excessive"]),
    "min_glue_version": ("3.0", ["glue_job_unsupported_version"]),
    "autoscale_min_workers": (10, ["glue_job_cost_controls_missing"]),
    "required_tag_keys": ((), list(CATALOG["X-02"])),
    "prev_gen_families": (PREV_GEN_FAMILIES, list(CATALOG["X-01"])),
    "allowed_kms_key_arns": ((), ["sagemaker_endpoint_config_kms_key_missing",
                                  "sagemaker_endpoint_data_capture_unencrypted",
                                  "sagemaker_notebook_kms_missing",
                                  "sagemaker_training_encryption_at_rest_missing",
                                  "model_monitor_encryption_at_rest_missing"]),
}


def test_docs_catalog_parameters_are_typed_defaults_on_their_checks() -> None:
    """Every catalog 4.2 parameter is a keyword argument with that default, typed like it."""
    from checks import by_id

    catalog = by_id()
    for name, (default, check_ids) in CATALOG_PARAMETERS.items():
        for check_id in check_ids:
            params = {p.name: p for p in catalog[check_id].params}
            assert name in params, f"{check_id} lacks {name}"
            assert params[name].default == default, (check_id, name)
            assert isinstance(default, params[name].type.__origin__ if hasattr(
                params[name].type, "__origin__") else params[name].type), (check_id, name)
