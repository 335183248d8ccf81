"""The catalog's documentation, generated from the checks' own metadata.

`render_checks()` gives docs/checks.md and `render_coverage()` docs/coverage.md; `mllens checks
docs` writes both and `--check` fails when they are stale (tests/test_docs.py runs it).

Coverage rule, per lens practice: **automated** when at least one check maps to it as its
primary (first) practice, i.e. the check was designed to answer that practice; **partly
automated** when checks map to it only as a secondary practice, i.e. they give evidence on one
facet of it while the rest needs a person; **needs a human** when no check maps to it (process,
people and design practices that live configuration cannot show).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from agent.domain import Pillar
from checks.base import Check
from checks.lens import PRACTICES, Practice
from checks.options import SeverityPolicy

AUTOMATED, PARTIAL, HUMAN = "automated", "partly automated", "needs a human"

# Section 4 of the research catalog (../shared/lens-catalog.md): every entry and the checks
# that implement it. are split by resource kind (see checks.instances and
# checks.tags for why); nothing in section 4 is left out.
CATALOG: dict[str, tuple[str, ...]] = {
    "EP-01": ("sagemaker_endpoint_unhealthy_status",),
    "EP-02": ("sagemaker_endpoint_stuck_in_transition",),
    "EP-03": ("sagemaker_endpoint_single_instance_no_autoscaling",),
    "EP-04": ("sagemaker_endpoint_config_initial_instance_count_le_1",),
    "EP-05": ("sagemaker_endpoint_autoscaling_misconfigured",),
    "EP-06": ("sagemaker_endpoint_config_kms_key_missing",),
    "EP-07": ("sagemaker_endpoint_data_capture_disabled",),
    "EP-08": ("sagemaker_endpoint_data_capture_not_active",),
    "EP-09": ("sagemaker_endpoint_data_capture_unencrypted",),
    "EP-10": ("sagemaker_endpoint_no_model_monitor",),
    "EP-11": ("sagemaker_endpoint_monitor_without_data_capture",),
    "EP-12": ("sagemaker_endpoint_no_error_alarm",),
    "EP-13": ("sagemaker_endpoint_no_latency_alarm",),
    "EP-14": ("sagemaker_endpoint_no_auto_rollback",),
    "EP-15": ("sagemaker_endpoint_idle",),
    "EP-16": ("sagemaker_endpoint_underutilized",),
    "EP-17": ("sagemaker_endpoint_not_reproducible",),
    "EP-18": ("sagemaker_endpoint_serving_unapproved_model_package",),
    "EP-19": ("sagemaker_endpoint_consolidation_candidate",),
    "MD-01": ("sagemaker_model_network_isolation_disabled",),
    "MD-02": ("sagemaker_model_not_in_vpc",),
    "MD-03": ("sagemaker_model_image_not_private_registry",),
    "MM-01": ("model_monitor_schedule_not_active",),
    "MM-02": ("model_monitor_last_execution_failed",),
    "MM-03": ("model_monitor_violations_detected",),
    "MM-04": ("model_monitor_execution_stale",),
    "MM-05": ("model_monitor_schedule_orphaned",),
    "MM-06": ("model_monitor_no_baseline",),
    "MM-07": ("model_monitor_network_isolation_disabled",),
    "MM-08": ("model_monitor_intercontainer_encryption_disabled",),
    "MM-09": ("model_monitor_encryption_at_rest_missing",),
    "MM-10": ("model_monitor_metrics_not_alarmed",),
    "TR-01": ("sagemaker_training_network_isolation_disabled",),
    "TR-02": ("sagemaker_training_not_in_vpc",),
    "TR-03": ("sagemaker_training_intercontainer_encryption_disabled",),
    "TR-04": ("sagemaker_training_encryption_at_rest_missing",),
    "TR-05": ("sagemaker_training_no_managed_spot",),
    "TR-06": ("sagemaker_training_spot_without_checkpointing",),
    "TR-07": ("sagemaker_training_debug_profiling_disabled",),
    "TR-08": ("sagemaker_training_no_lineage_tracking",),
    "TR-09": ("sagemaker_training_warm_pool_waste",),
    "TR-10": ("sagemaker_training_high_failure_rate",),
    "NB-01": ("sagemaker_notebook_direct_internet_access",),
    "NB-02": ("sagemaker_notebook_root_access_enabled",),
    "NB-03": ("sagemaker_notebook_not_in_vpc",),
    "NB-04": ("sagemaker_notebook_kms_missing",),
    "NB-05": ("sagemaker_notebook_platform_unsupported",),
    "NB-06": ("sagemaker_notebook_imdsv1_allowed",),
    "NB-07": ("sagemaker_notebook_idle_no_autostop",),
    "RG-01": ("sagemaker_model_registry_not_used",),
    "GL-01": ("glue_job_no_security_configuration",),
    "GL-02": ("glue_security_configuration_weak",),
    "GL-03": ("glue_job_continuous_logging_disabled",),
    "GL-04": ("glue_job_metrics_disabled",),
    "GL-05": ("glue_job_bookmarks_disabled",),
    "GL-06": ("glue_job_no_retries",),
    "GL-07": ("glue_job_timeout_unset_or_excessive",),
    "GL-08": ("glue_job_unsupported_version",),
    "GL-09": ("glue_job_last_run_failed",),
    "GL-10": ("glue_job_secrets_in_arguments",),
    "GL-11": ("glue_data_catalog_encryption_disabled",),
    "GL-12": ("glue_job_cost_controls_missing",),
    "CW-01": ("cloudwatch_alarm_no_actions",),
    "CW-02": ("cloudwatch_alarm_actions_disabled",),
    "CW-03": ("cloudwatch_alarm_stuck_insufficient_data",),
    "CW-04": ("cloudwatch_alarm_orphaned_ml_target",),
    "X-01": ("ml_previous_generation_instance_types",
             "ml_previous_generation_instance_types_training",
             "ml_previous_generation_instance_types_notebook",
             "ml_previous_generation_instance_types_monitoring"),
    "X-02": ("ml_cost_allocation_tags_missing",
             "ml_cost_allocation_tags_missing_endpoint_config",
             "ml_cost_allocation_tags_missing_model",
             "ml_cost_allocation_tags_missing_training",
             "ml_cost_allocation_tags_missing_notebook",
             "ml_cost_allocation_tags_missing_monitoring",
             "ml_cost_allocation_tags_missing_glue"),
}

# Checks beyond section 4, by the issue scope that added them: they judge targets the team
# declares itself ([objectives] in the settings), which no catalog entry could list.
BEYOND_CATALOG: dict[str, tuple[str, ...]] = {
    "Objectives as code": (
        "sagemaker_endpoint_objective_latency_p99_exceeded",
        "sagemaker_endpoint_objective_error_rate_exceeded",
        "sagemaker_endpoint_objective_invocations_below_floor",
        "sagemaker_endpoint_objective_monthly_cost_exceeded",
    ),
}

# Where a check decides less than its catalog entry describes, and why. Kept here, next to
# the mapping, so the generated docs state it; each item is also in the check's docstring.
NARROWER = (
    ("EP-05", "the prod-only rule (MinCapacity < 2 on production) is not applied: the tags "
     "of scalable targets are not collected"),
    ("EP-12, EP-13, MM-10", "alarms in central monitoring accounts (`alarm_account_ids`) are "
     "not read: such variants are UNKNOWN rather than FAIL"),
    ("EP-16", "vCPU counts come from the instance size name and GPU counts from a table of "
     "GPU families (no `ec2:DescribeInstanceTypes`); unknown types are UNKNOWN"),
    ("GL-11", "Glue connections are not collected, so the 'high when a connection exists' "
     "rule is not applied"),
    ("X-02", "the catalog's 'cache and sample if throttled' is not done: a failed tag "
     "collection makes the tag checks UNKNOWN"),
    ("GL-12", "the FLEX execution-class rule is not applied"),
    ("RG-01", "a package group is taken as use; approval of packages is judged per endpoint "
     "by EP-18 instead"),
)


def _type_name(t: Any) -> str:
    return t.__name__ if isinstance(t, type) else str(t).replace("typing.", "")


def _params(check: Check) -> list[str]:
    return [f"`{p.name}: {_type_name(p.type)} = {p.default!r}`"
            + (f" ({p.range})" if p.range is not None else "") for p in check.params]


def _lens(practices: Iterable[Practice]) -> str:
    return ", ".join(f"{p.id} ({p.legacy_id})" for p in practices)


def _ordered(checks: Iterable[Check]) -> list[Check]:
    pillars = list(Pillar)
    return sorted(checks, key=lambda c: (pillars.index(c.pillar), c.id))


def _policy_lines() -> list[str]:
    policy = SeverityPolicy()
    up = "; ".join(s.describe() for s in policy.raise_when)
    down = "; ".join(s.describe() for s in policy.lower_when)
    return [
        "## Severity by environment",
        "",
        "Every finding's severity is the check's (or the finding's own, where a check grades "
        "its findings) moved by one policy, applied by the runner to all checks: raised one "
        f"level when the resource has {up}, lowered one level when it has {down} (keys and "
        "values compared without case; raising wins when both match; critical and info are "
        "the ends). The finding's evidence records `severity_adjustment` with the base and "
        "adjusted severity and the tag. When tags could not be collected the base severity "
        "stands and the evidence says why. Findings on the region itself, and on resource "
        "types whose tags are not collected (auto scaling targets, Glue security "
        "configurations, model package groups), keep their base severity. The policy is a "
        "frozen "
        "`checks.options.SeverityPolicy` passed to `checks.runner.evaluate` (through "
        "`ScanRequest.evaluation`), so a config file can set the selectors.",
        "",
    ]


def render_checks(checks: Sequence[Check]) -> str:
    ordered = _ordered(checks)
    lines = [
        "# Check catalog",
        "",
        "<!-- Generated by `mllens checks docs` from the checks' metadata: do not edit. -->",
        "",
        f"{len(ordered)} checks. Each is a pure function over one region's inventory; the "
        "runner answers UNKNOWN wherever an inventory the check needs could not be collected "
        "(never PASS or FAIL on missing data). An input marked (optional) is one the check "
        "can do without: it is judged without it only when the scan did not ask for it; when "
        "it was asked for and not collected, every verdict it could change is UNKNOWN, naming "
        "what failed. Lens practices are listed as current ID "
        "(legacy ID); the first is the primary practice, which decides the pillar. "
        "Parameters are keyword arguments with typed defaults. Lens coverage per practice is "
        "in [coverage.md](coverage.md).",
        "",
        "| Pillar | Checks |",
        "|---|---|",
    ]
    for pillar in Pillar:
        n = sum(1 for c in ordered if c.pillar is pillar)
        lines.append(f"| {pillar.label} | {n} |")
    lines += ["", *_policy_lines()]
    for pillar in Pillar:
        lines += [f"## {pillar.label}", ""]
        for c in (c for c in ordered if c.pillar is pillar):
            lines += _check_section(c)
    return "\n".join(lines).rstrip() + "\n"


def _check_section(c: Check) -> list[str]:
    needs = ", ".join(f"`{k.value}`" + (" (optional)" if k in c.optional else "")
                      for k in c.needs)
    out = [
        f"### `{c.id}`",
        "",
        f"**{c.title}**",
        "",
        f"- Severity: {c.severity.value}; effort to fix: {c.effort.label}",
        f"- Lens: {_lens(c.lens)}",
        f"- Needs: {needs}" + (" (judged per region)" if c.region_level else ""),
        "- Parameters: " + (", ".join(_params(c)) or "none"),
        *([f"- From the settings: `[{'], ['.join(c.options)}]` (see "
           f"[objectives.md](objectives.md))"] if c.options else []),
        f"- Remediation: {c.remediation}",
        "",
        inspect.cleandoc(c.description),
        "",
    ]
    return out


@dataclass(frozen=True, slots=True)
class PracticeCoverage:
    practice: Practice
    primary: tuple[str, ...]
    secondary: tuple[str, ...]

    @property
    def status(self) -> str:
        if self.primary:
            return AUTOMATED
        return PARTIAL if self.secondary else HUMAN


def coverage(checks: Sequence[Check]) -> list[PracticeCoverage]:
    """Every lens practice with the checks mapping to it, in lens order."""
    out = []
    for practice in PRACTICES.values():
        primary = sorted(c.id for c in checks if c.lens[0].id == practice.id)
        secondary = sorted(c.id for c in checks
                           if practice.id in c.lens_ids[1:] and c.id not in primary)
        out.append(PracticeCoverage(practice, tuple(primary), tuple(secondary)))
    return out


def coverage_summary(rows: Sequence[PracticeCoverage]) -> dict[Pillar, dict[str, int]]:
    summary: dict[Pillar, dict[str, int]] = {p: {AUTOMATED: 0, PARTIAL: 0, HUMAN: 0}
                                             for p in Pillar}
    for row in rows:
        summary[row.practice.pillar][row.status] += 1
    return summary


def render_coverage(checks: Sequence[Check]) -> str:
    rows = coverage(checks)
    summary = coverage_summary(rows)
    total = {s: sum(v[s] for v in summary.values()) for s in (AUTOMATED, PARTIAL, HUMAN)}
    lines = [
        "# ML Lens coverage",
        "",
        "<!-- Generated by `mllens checks docs` from the checks' metadata: do not edit. -->",
        "",
        f"Of the {len(rows)} best practices of the Well-Architected Machine Learning Lens, "
        f"{total[AUTOMATED]} are automated, {total[PARTIAL]} partly automated and "
        f"{total[HUMAN]} need a human answer.",
        "",
        "- **automated**: at least one check maps to the practice as its primary practice "
        "(the check was designed to answer it);",
        "- **partly automated**: checks map to it only as a secondary practice (they show one "
        "facet of it; the rest needs a person);",
        "- **needs a human**: no check maps to it (process, people and design practices that "
        "live configuration cannot show).",
        "",
        "| Pillar | Automated | Partly automated | Needs a human |",
        "|---|---|---|---|",
    ]
    for pillar, counts in summary.items():
        lines.append(f"| {pillar.label} | {counts[AUTOMATED]} | {counts[PARTIAL]} | "
                     f"{counts[HUMAN]} |")
    lines.append(f"| **Total** | {total[AUTOMATED]} | {total[PARTIAL]} | {total[HUMAN]} |")
    lines.append("")
    for pillar in Pillar:
        lines += [f"## {pillar.label}", "",
                  "| Practice | Legacy | Title | Status | Checks |",
                  "|---|---|---|---|---|"]
        for row in (r for r in rows if r.practice.pillar is pillar):
            named = "; ".join(
                f"{label}: " + ", ".join(f"`{c}`" for c in ids)
                for label, ids in (("primary", row.primary), ("secondary", row.secondary))
                if ids)
            lines.append(f"| {row.practice.id} | {row.practice.legacy_id} | "
                         f"{row.practice.title} | {row.status} | {named or '-'} |")
        lines.append("")
    lines += [
        "## The research catalog, section 4",
        "",
        "Every entry of section 4 of the check catalog is implemented; none is left out. "
        "X-01 and X-02 are split into one check per resource kind, so that a collection gap "
        "on one kind makes only that kind's findings UNKNOWN.",
        "",
        "| Catalog | Checks |",
        "|---|---|",
        *(f"| {ref} | {', '.join(f'`{c}`' for c in ids)} |" for ref, ids in CATALOG.items()),
        "",
        "Where a check decides less than its catalog entry describes:",
        "",
        *(f"- {ref}: {why}." for ref, why in NARROWER),
        "",
        "Checks beyond the catalog, judging targets the team declares in the settings "
        "(`[objectives]`, see [objectives.md](objectives.md)):",
        "",
        "| Scope | Checks |",
        "|---|---|",
        *(f"| {scope} | {', '.join(f'`{c}`' for c in ids)} |"
          for scope, ids in BEYOND_CATALOG.items()),
    ]
    return "\n".join(lines).rstrip() + "\n"
