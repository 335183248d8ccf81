"""One list of the services mllens calls, in the rate limiter's naming, validates `--rate` and
`[limits] rate_limits` alike; the documented defaults are all in it."""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session
import pytest
from typer.testing import CliRunner

from agent.aws.ratelimit import DEFAULT_RATES
from agent.cli.main import app
from agent.cli.scan_settings import build_request
from agent.collectors import COLLECTORS
from agent.config import ConfigError, load_settings
from agent.iam import rate_limited_services
from agent.scan import service_of

pytestmark = pytest.mark.usefixtures("clean_mllens_env")

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_rate_limited_services_are_botocore_clients_the_scan_uses() -> None:
    """The list holds botocore client names: every collector's service, the scan-level calls
    (sts, ec2, organizations), and every service with a built-in default rate."""
    services = set(rate_limited_services())
    assert {service_of(c) for c in COLLECTORS} <= services
    assert {"sts", "ec2", "organizations"} <= services
    assert set(DEFAULT_RATES) <= services
    assert services <= set(botocore.session.get_session().get_available_services())
    assert "tag" not in services and "sns" not in services  # IAM's name; not rate-limited


def test_config_rate_limits_accept_every_documented_default(tmp_path: Path) -> None:
    """The services the --rate help and docs list defaults for are valid settings keys."""
    path = tmp_path / "m.toml"
    path.write_text("[limits]\nrate_limits = { ec2 = 5, organizations = 2, "
                    "resourcegroupstaggingapi = 3 }\n")
    req = build_request(load_settings(path), {}, profile=None, endpoint_url=None)
    assert (req.limits.rates["ec2"], req.limits.rates["organizations"],
            req.limits.rates["resourcegroupstaggingapi"]) == (5, 2, 3)


@pytest.mark.parametrize("name,hint", [("sagemakr", "'sagemaker'"),
                                       ("tag", "'resourcegroupstaggingapi'"),
                                       ("monitoring", "'cloudwatch'")])
def test_config_rate_limits_unknown_service_suggests(tmp_path: Path, name: str,
                                                     hint: str) -> None:
    """A typo, or IAM's or the signing name of a service, is refused with the right name."""
    path = tmp_path / "m.toml"
    path.write_text(f"[limits.rate_limits]\n{name} = 5\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(path)
    assert exc.value.path == "limits.rate_limits"
    assert f"unknown service {name!r}; did you mean {hint}?" in exc.value.message


def _scan(*args: str, tmp_path: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["scan", "--db", str(tmp_path / "x.db"), "--endpoint-url",
                                      "http://127.0.0.1:1", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("rate,expected", [
    ("sagemakr=5", "--rate sagemakr=5: unknown service 'sagemakr'; did you mean 'sagemaker'?"),
    ("ec2=5,nope=1", "--rate nope=1: unknown service 'nope' (mllens calls: "),
])
def test_scan_rate_unknown_service_is_usage_error(rate: str, expected: str,
                                                  tmp_path: Path) -> None:
    """--rate for a service mllens does not call is one line, exit 2, before any work."""
    code, out, err = _scan("--rate", rate, tmp_path=tmp_path)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and out == "", err
    assert expected in lines[0]
    assert not (tmp_path / "x.db").exists()


def test_scan_rate_accepts_every_service_of_the_list() -> None:
    """Every listed service is accepted by --rate and reaches the limiter's rates."""
    given = {"rate": [f"{s}=1.5" for s in rate_limited_services()]}
    req = build_request(load_settings(None), given, profile=None, endpoint_url=None)
    assert all(req.limits.rates[s] == 1.5 for s in rate_limited_services())


def test_docs_name_every_rate_limited_service_and_default() -> None:
    """configuration.md lists the valid keys; the --rate defaults in organizations.md are the
    limiter's."""
    config = (DOCS / "configuration.md").read_text()
    row = next(ln for ln in config.splitlines() if ln.startswith("| `rate_limits` |"))
    keys = row.split("Keys are", 1)[1].split("Any other key", 1)[0]
    assert set(re.findall(r"`([a-z0-9-]+)`", keys)) == set(rate_limited_services())
    orgs = (DOCS / "organizations.md").read_text()
    rate = next(ln for ln in orgs.splitlines() if ln.startswith("| `--rate SERVICE=N` |"))
    documented = dict(re.findall(r"([a-z0-9-]+) (\d+(?:\.\d+)?)", rate.split("|")[2]))
    assert {k: float(v) for k, v in documented.items()} == dict(DEFAULT_RATES)


@pytest.mark.parametrize("args", [
    ("--rate", "sagemaker=nan"), ("--rate", "sagemaker:ListModels=inf"),
    ("--rate", "sagemaker=1e-9"), ("--history-max-age", "nan"),
    ("--history-max-age", "inf"), ("--history-max-age", "721"),
])
def test_scan_refuses_rates_and_ages_that_are_not_finite_or_in_range(
    args: tuple[str, str], tmp_path: Path
) -> None:
    """A rate or history age that is NaN, infinite or out of range is a usage error before
    any work: it would hang the scan or crash its collectors."""
    code, out, err = _scan(*args, tmp_path=tmp_path)
    assert code == 2 and out == "", err
    assert not (tmp_path / "x.db").exists()
