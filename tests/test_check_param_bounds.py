"""Check parameters with a natural domain (durations, counts, ratios, percentages) declare it,
and the settings refuse values outside it, naming checks.params.<check>.<param>."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import pytest
from typer.testing import CliRunner

from agent.cli.main import app
from agent.config import load_settings
from agent.domain import Kind
from checks import all_checks
from checks.base import FRACTION, Range, check

pytestmark = pytest.mark.usefixtures("clean_mllens_env")

SPOT = "sagemaker_training_no_managed_spot"


OUT_OF_RANGE = {
    "negative duration": (SPOT, "spot_min_runtime_s", "-5", "must be >= 0, got -5"),
    "ratio over one": ("glue_job_last_run_failed", "glue_failure_ratio", "7",
                       "must be <= 1, got 7"),
    "negative ratio": ("sagemaker_training_high_failure_rate", "failure_rate", "-0.1",
                       "must be >= 0, got -0.1"),
    "percentage over 100": ("sagemaker_endpoint_underutilized", "cpu_util_threshold", "101",
                            "must be <= 100, got 101"),
    "negative percentage": ("sagemaker_endpoint_data_capture_not_active", "min_sampling_pct",
                            "-1", "must be >= 0, got -1"),
    "zero-day window": ("glue_job_bookmarks_disabled", "glue_lookback_days", "0",
                        "must be >= 1, got 0"),
    "zero streak": ("model_monitor_violations_detected", "violation_streak", "0",
                    "must be >= 1, got 0"),
    "a group of one": ("sagemaker_endpoint_consolidation_candidate",
                       "consolidation_min_endpoints", "1", "must be >= 2, got 1"),
}


@pytest.mark.parametrize("check_id,param,value,expected", OUT_OF_RANGE.values(),
                         ids=OUT_OF_RANGE.keys())
def test_config_check_parameter_out_of_range_is_one_line_exit_2(
    tmp_path: Path, check_id: str, param: str, value: str, expected: str
) -> None:
    """A value outside the parameter's domain names the parameter, in one line, exit 2."""
    path = tmp_path / "m.toml"
    path.write_text(f"[checks.params.{check_id}]\n{param} = {value}\n")
    result = CliRunner().invoke(app, ["config", "check", str(path)], env={"NO_COLOR": "1"})
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 2 and len(lines) == 1, result.output
    assert lines[0] == f"mllens: config error: checks.params.{check_id}.{param}: {expected}"


def test_parameter_bounds_apply_to_the_environment_too() -> None:
    """The same bound, from MLLENS_CHECKS__PARAMS__..., names the variable as well."""
    var = f"MLLENS_CHECKS__PARAMS__{SPOT.upper()}__SPOT_MIN_RUNTIME_S"
    result = CliRunner().invoke(app, ["config", "check"], env={"NO_COLOR": "1", var: "-1"})
    assert result.exit_code == 2
    assert f"spot_min_runtime_s: must be >= 0, got \"-1\" (from ${var})" in result.stderr


def test_parameter_bounds_are_inclusive(tmp_path: Path) -> None:
    """The ends of each domain are values the check can work with."""
    path = tmp_path / "m.toml"
    path.write_text(f"[checks.params.{SPOT}]\nspot_min_runtime_s = 0\n"
                    "[checks.params.glue_job_last_run_failed]\nglue_failure_ratio = 1\n"
                    "[checks.params.sagemaker_endpoint_underutilized]\n"
                    "cpu_util_threshold = 0\n")
    s = load_settings(path)
    assert s.checks.params_for(SPOT) == {"spot_min_runtime_s": 0}
    assert s.checks.params_for("glue_job_last_run_failed") == {"glue_failure_ratio": 1}


def test_every_numeric_parameter_declares_its_domain() -> None:
    """A new duration, count or ratio must say which values mean something; defaults lie in it."""
    for chk in all_checks():
        for p in chk.params:
            if p.type in (int, float):
                assert p.range is not None, f"{chk.id}.{p.name} declares no Range"
                assert p.default in p.range, f"{chk.id}.{p.name}"


def test_check_decorator_refuses_a_default_outside_the_range() -> None:
    """The domain is checked against the default, and only numbers take one."""
    def ratio(inv: object, *, share: Annotated[float, FRACTION] = 1.5) -> Iterator[object]:
        """PASS never."""
        yield from ()

    def named(inv: object, *, name: Annotated[str, Range(ge=0)] = "x") -> Iterator[object]:
        """PASS never."""
        yield from ()

    declare = check(title="t", severity="low", lens=("MLOPS05-BP01",),  # type: ignore[arg-type]
                    needs=(Kind.ALARMS,), remediation="r")
    with pytest.raises(TypeError, match="outside its range 0 to 1"):
        declare(ratio)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="has a range but is not a number"):
        declare(named)  # type: ignore[arg-type]
