"""Generated catalog docs: current in the repository, complete against the research catalog,
and the `mllens checks docs/coverage/list` commands that produce them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agent.cli.main import app
from checks import all_checks
from checks.docs import AUTOMATED, CATALOG, HUMAN, PARTIAL, coverage, render_checks, render_coverage

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_docs_checks_and_coverage_md_are_current() -> None:
    """docs/checks.md and docs/coverage.md equal what the checks' metadata renders today."""
    for name, render in (("checks.md", render_checks), ("coverage.md", render_coverage)):
        assert (DOCS / name).read_text(encoding="utf-8") == render(all_checks()), (
            f"docs/{name} is stale: run 'mllens checks docs'")


def test_docs_research_catalog_section_4_is_fully_implemented() -> None:
    """All 68 entries of catalog section 4 map to existing checks, and every check is one of
    them, so nothing is left out and nothing is undocumented."""
    ids = {c.id for c in all_checks()}
    mapped = [c for checks in CATALOG.values() for c in checks]
    assert len(CATALOG) == 68
    assert sorted(set(mapped) - ids) == []
    assert sorted(ids - set(mapped)) == []
    assert len(mapped) == len(set(mapped))


def test_docs_coverage_rule_primary_secondary_none() -> None:
    """A practice some check maps first is automated, one mapped only later is partly
    automated, one mapped by none needs a human; all 105 practices are listed."""
    rows = {r.practice.id: r for r in coverage(all_checks())}
    assert len(rows) == 105
    assert rows["MLREL02-BP02"].status == AUTOMATED
    assert "glue_job_last_run_failed" in rows["MLREL02-BP02"].primary
    assert rows["MLOPS01-BP03"].status == PARTIAL and not rows["MLOPS01-BP03"].primary
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
