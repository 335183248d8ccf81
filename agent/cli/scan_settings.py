"""What `mllens scan` scans: the settings (file and MLLENS_* environment) with flags on top.

Precedence, key by key: a flag given on the command line (or its own environment variable,
such as AWS_ENDPOINT_URL or MLLENS_ROLE_NAME), then the MLLENS_<SECTION>__<KEY> environment,
then the settings file, then the defaults. Without a settings file and environment the
defaults are exactly the flags' defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import botocore.session

from agent.aws.ratelimit import DEFAULT_RATES, MAX_RATE, MIN_RATE, rate_problem
from agent.cli.common import EXIT_USAGE, fail, select_checks, split_names
from agent.config import ConfigError, Settings, scan_request
from agent.iam import unknown_service
from agent.scan import ScanRequest
from agent.targets import Shard
from checks import all_checks

_REGION_SHAPE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_RUN_ID = re.compile(r"^[A-Za-z0-9._:+-]{1,100}$")
# Flags that choose the accounts: given on the command line, they replace the settings' choice.
_ACCOUNT_FLAGS = ("organization", "ou", "account")


def known_regions() -> set[str]:
    s = botocore.session.get_session()
    out: set[str] = set()
    for partition in s.get_available_partitions():
        out.update(s.get_available_regions("sagemaker", partition_name=partition))
    return out


def resolve_regions(values: list[str] | None) -> tuple[str, ...]:
    """The regions asked for, validated; none asked means every region each account has
    enabled. Emulators are held to AWS's region names too: moto answers for any name, so a typo
    would otherwise scan an empty, made-up region."""
    regions = split_names(values)
    if values and not regions:
        fail("--region was given but names no region", EXIT_USAGE)
    known = known_regions()
    for r in regions:
        if not _REGION_SHAPE.match(r) or r not in known:
            fail(f"unknown region {r!r} (SageMaker regions: see 'aws ec2 describe-regions')",
                 EXIT_USAGE)
    return tuple(dict.fromkeys(regions))


def parse_rates(values: list[str] | None, base: Mapping[str, float] = DEFAULT_RATES
                ) -> dict[str, float]:
    rates = dict(base)
    for item in split_names(values):
        service, sep, number = item.partition("=")
        try:
            rate = float(number)
        except ValueError:
            rate = -1.0
        if not sep or not service.strip() or rate_problem(rate) is not None:
            fail(f"bad --rate {item!r}: use SERVICE=REQUESTS_PER_SECOND or "
                 f"SERVICE:Operation=REQUESTS_PER_SECOND, a rate from {MIN_RATE:g} to "
                 f"{MAX_RATE:g}, e.g. sagemaker=10", EXIT_USAGE)
        problem = unknown_service(service.strip())
        if problem is not None:
            fail(f"--rate {item}: {problem}", EXIT_USAGE)
        rates[service.strip()] = rate
    return rates


def parse_shard(shard: str | None, run_id: str | None) -> tuple[Shard | None, str | None]:
    if shard is None:
        if run_id is not None:
            fail("--run-id names the run of a sharded scan: give --shard K/N too", EXIT_USAGE)
        return None, None
    try:
        parsed = Shard.parse(shard)
    except ValueError as exc:
        fail(f"--shard: {exc}", EXIT_USAGE)
    if not run_id:
        fail("--shard needs --run-id (or MLLENS_RUN_ID): the same ID for every shard of one "
             "scan, e.g. the scheduled time or the Step Functions execution name", EXIT_USAGE)
    if not _RUN_ID.match(run_id):
        fail(f"--run-id {run_id!r}: use 1-100 letters, digits and ._:+-", EXIT_USAGE)
    return parsed, run_id


def build_request(
    settings: Settings,
    given: Mapping[str, Any],
    *,
    profile: str | None,
    endpoint_url: str | None,
) -> ScanRequest:
    """The scan the settings describe, with every flag in `given` (name -> value, only the
    flags set on the command line or through their own environment variable) on top."""
    catalog = all_checks()
    try:
        req = scan_request(settings, catalog, profile=profile, endpoint_url=endpoint_url)
    except ConfigError as exc:
        fail(exc.line(), EXIT_USAGE)
    checks = req.checks
    if "checks" in given:
        checks = select_checks(given["checks"], given.get("excluded_checks"))
    elif "excluded_checks" in given:
        # The settings' choice, less these (validated against the catalog first).
        left = {c.id for c in select_checks(None, given["excluded_checks"])}
        checks = tuple(c for c in checks if c.id in left)
    if not checks:
        fail("no checks selected (every selected check was excluded)", EXIT_USAGE)

    t = settings.targets
    spec: dict[str, Any] = {}
    if "region" in given:
        spec["regions"] = resolve_regions(given["region"])
    if any(f in given for f in _ACCOUNT_FLAGS):
        spec.update(organization=bool(given.get("organization")),
                    ou_ids=tuple(split_names(given.get("ou"))),
                    accounts=tuple(split_names(given.get("account"))))
        members = spec["organization"] or spec["ou_ids"] or spec["accounts"]
        # The settings' role and external ID serve member accounts, whichever chose them.
        if members and "role_name" not in given and "role_name" in t.model_fields_set:
            spec["role_name"] = t.role_name
        if members and "external_id" not in given and t.external_id:
            spec["external_id"] = t.external_id
    for flag, key in (("include", "include"), ("exclude", "exclude")):
        if flag in given:
            spec[key] = tuple(split_names(given[flag]))
    for flag in ("role_name", "external_id"):
        if flag in given:
            spec[flag] = given[flag] or None
    if "session_name" in given:
        spec["session_name"] = given["session_name"]
    shard, run_id = parse_shard(given.get("shard"), given.get("run_id"))
    spec["shard"] = shard

    limits: dict[str, Any] = {}
    for flag, key in (("max_in_flight", "max_in_flight"), ("per_service", "per_service"),
                      ("accounts_in_parallel", "accounts_in_parallel"),
                      ("max_attempts", "max_attempts"), ("call_timeout", "call_timeout"),
                      ("default_rate", "default_rate")):
        if flag in given:
            limits[key] = given[flag]
    if "rate" in given:
        limits["rates"] = parse_rates(given["rate"], req.limits.rates)
    collect = req.collect
    if "training_lookback_days" in given:
        collect = replace(collect, training_lookback_days=given["training_lookback_days"])
    if given.get("full"):
        collect = replace(collect, full=True)
    if "history_max_age" in given:
        # Typer's 0..720 range already refuses NaN and infinity.
        collect = replace(collect, history_max_age_hours=given["history_max_age"])
    try:
        return replace(
            req,
            checks=checks,
            targets=replace(req.spec, **spec),
            limits=replace(req.limits, **limits),
            collect=collect,
            params={cid: p for cid, p in req.params.items() if cid in {c.id for c in checks}},
            run_id=run_id,
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
