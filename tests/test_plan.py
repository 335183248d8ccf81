"""`mllens plan` ranking: severity x (1 + log2(blast radius)) / effort cost, hand-computed."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from agent.domain import Kind, Severity
from agent.reports import plan, plan_render
from agent.reports.model import Finding
from checks import all_checks
from checks.base import Check, Effort, check
from tests.report_data import MUTE, arn, finding


def _check(name: str, severity: Severity, effort: str) -> Check:
    def fn(inv):  # type: ignore[no-untyped-def]
        yield from ()

    fn.__name__ = name
    fn.__doc__ = "PASS never: a check made for plan tests."
    return check(title=f"title of {name}", severity=severity, effort=effort,
                 lens=("MLSEC03-BP02",), needs=(Kind.ENDPOINTS,),
                 remediation=f"fix {name}")(fn)


CATALOG = {c.id: c for c in (
    _check("crit_config", Severity.CRITICAL, "config"),
    _check("high_redeploy", Severity.HIGH, "redeploy"),
    _check("medium_config", Severity.MEDIUM, "config"),
    _check("low_rearchitect", Severity.LOW, "rearchitect"),
    _check("info_config", Severity.INFO, "config"),
)}


def _f(check_id: str, resource: str, status: str = "FAIL", **changes: object) -> Finding:
    """A finding of one of the test checks (built on a real one, then re-labelled)."""
    base = finding("sagemaker_endpoint_unhealthy_status", status, resource, **changes)
    return replace(base, check_id=check_id, severity=CATALOG[check_id].severity)


def _open(check_id: str, n: int, prod: int = 0, status: str = "FAIL") -> list[Finding]:
    out = []
    for i in range(n):
        tags = [{"Key": "Environment", "Value": "Production" if i < prod else "dev"}]
        out.append(_f(check_id, arn("endpoint", f"{check_id}-{i}"), status,
                      evidence={"Tags": tags}))
    return out


def test_plan_ranks_by_hand_computed_score() -> None:
    """Scores: critical/1 res/config 8*1/1 = 8; high/4/redeploy 4*3/2 = 6; medium/3 with one
    production (blast 4)/config 2*3/1 = 6 (tie: high first); low/16/rearchitect 1*5/4 = 1.25;
    info/1/config 0.5."""
    findings = [*_open("info_config", 1), *_open("low_rearchitect", 16),
                *_open("medium_config", 3, prod=1), *_open("high_redeploy", 4),
                *_open("crit_config", 1)]
    result = plan.build(findings, CATALOG)
    got = [(a.rank, a.check_id, a.score, len(a.resources), len(a.production))
           for a in result.actions]
    assert got == [
        (1, "crit_config", 8.0, 1, 0),
        (2, "high_redeploy", 6.0, 4, 0),
        (3, "medium_config", 6.0, 3, 1),
        (4, "low_rearchitect", 1.25, 16, 0),
        (5, "info_config", 0.5, 1, 0),
    ]
    assert result.actions[0].remediation == "fix crit_config"
    assert result.actions[0].lens[0].id == "MLSEC03-BP02"


def test_plan_score_formula() -> None:
    """The formula itself, for a blast radius that is not a power of two."""
    assert plan.score(Severity.HIGH, 3, 0, Effort.REDEPLOY) == pytest.approx(
        4 * (1 + math.log2(3)) / 2)


def test_plan_groups_findings_of_one_check_and_skips_what_is_not_open() -> None:
    """Sub-resource findings of one resource count it once; PASS/GONE are dropped; UNKNOWN
    findings are counted as not verified."""
    res = arn("endpoint", "ep-1")
    findings = [
        _f("high_redeploy", res, sub_resource="v1"),
        _f("high_redeploy", res, sub_resource="v2"),
        *_open("crit_config", 2, status="PASS"),
        *_open("crit_config", 1, status="GONE"),
        *_open("medium_config", 3, status="UNKNOWN"),
    ]
    result = plan.build(findings, CATALOG)
    assert [(a.check_id, len(a.resources), len(a.findings)) for a in result.actions] == [
        ("high_redeploy", 1, 2)]
    assert result.unknown == {"medium_config": 3}


def test_plan_production_tags_from_evidence_shapes() -> None:
    """Tags as Key/Value lists or as a mapping both count; unknown tags never count; a custom
    selector replaces the default."""
    a, b, c = (arn("endpoint", n) for n in ("a", "b", "c"))
    findings = [
        _f("high_redeploy", a, evidence={"Tags": [{"Key": "env", "Value": "PROD"}]}),
        _f("high_redeploy", b, evidence={"tags": {"tier": "live"}}),
        _f("high_redeploy", c),
    ]
    default = plan.build(findings, CATALOG).actions[0]
    assert (default.production, default.tags_known) == ((a,), 2)
    custom = plan.build(findings, CATALOG, [plan.ProdSelector.parse("tier=live")]).actions[0]
    assert custom.production == (b,)


@pytest.mark.parametrize("spec", ["environment", "=prod", "env=", ""])
def test_prod_selector_rejects_malformed_specs(spec: str) -> None:
    """A selector must be KEY=VALUE[,VALUE]."""
    with pytest.raises(ValueError, match="KEY=VALUE"):
        plan.ProdSelector.parse(spec)


def test_plan_outputs_escape_untrusted_text() -> None:
    """Markdown escapes resource names and reasons; JSON carries every action and item."""
    hostile = arn("endpoint", "ep|*[x](javascript:alert(1))*")
    findings = [_f("crit_config", hostile, reason="<b>bad</b> | `code`\nnext")]
    result = plan.build(findings, CATALOG)
    md = plan_render.to_markdown(result)
    assert "[x](javascript" not in md and "<b>" not in md and "\\|" in md
    assert "\\<b\\>bad\\</b\\> \\| \\`code\\` next" in md
    data = json.loads(plan_render.to_json(result))
    assert data["actions"][0]["items"][0]["resource_arn"] == hostile
    assert data["actions"][0]["effort"] == "config"


def test_every_check_has_an_effort_class() -> None:
    """Every check in the catalog carries one of the effort classes (default: redeploy)."""
    assert {c.effort for c in all_checks()} <= set(Effort)
    assert {c.effort for c in all_checks()} == set(Effort)


def test_check_refuses_unknown_effort() -> None:
    """A misspelt effort class fails when the check is declared, not when a plan is made."""
    with pytest.raises(TypeError, match="unknown effort"):
        _check("bad", Severity.LOW, "someday")


def test_plan_leaves_muted_findings_out_and_counts_them() -> None:
    """A muted failing finding is an accepted risk: not ranked, not among an action's
    resources, and counted per check in every output; a finding whose mute expired is open
    and ranked again."""
    findings = [
        *[replace(f, mute=MUTE, muted=True) for f in _open("crit_config", 2)],
        replace(_open("crit_config", 1)[0], resource_arn=arn("endpoint", "expired"),
                mute=MUTE, muted=False),
        *_open("high_redeploy", 1),
        *[replace(f, mute=MUTE, muted=True) for f in _open("medium_config", 3)],
    ]
    result = plan.build(findings, CATALOG)
    assert [(a.check_id, a.resources) for a in result.actions] == [
        ("crit_config", (arn("endpoint", "expired"),)),
        ("high_redeploy", (arn("endpoint", "high_redeploy-0"),)),
    ]
    assert result.muted == {"crit_config": 2, "medium_config": 3}
    data = json.loads(plan_render.to_json(result))
    assert (data["muted_findings"], data["muted_by_check"]) == (
        5, {"crit_config": 2, "medium_config": 3})
    md = plan_render.to_markdown(result)
    assert "## Muted" in md and "- `medium_config`: 3 finding(s)" in md
    assert result.left_out().startswith("5 muted findings of 2 checks left out")
    one = plan.build([replace(_open("crit_config", 1)[0], mute=MUTE, muted=True)], CATALOG)
    assert one.left_out().startswith("1 muted finding of 1 check left out")
    # With nothing muted, nothing is said about mutes.
    plain = plan.build(_open("high_redeploy", 1), CATALOG)
    assert plain.muted == {} and plain.left_out() == "" and "## Muted" not in \
        plan_render.to_markdown(plain)
