"""Checks on AWS Glue jobs, security configurations and Data Catalog encryption (GL-01..GL-12).

`Command.Name` decides what applies: glueetl (Spark batch), gluestreaming, pythonshell, glueray.
A job whose type is missing or not one of these is UNKNOWN where the type matters. Job
arguments are read from DefaultArguments and NonOverridableArguments (the latter wins).
GL-09 (last run failed) lives in `checks.glue_runs`; GL-05 and GL-07 read the same run history
as an optional input: when the scan did not ask for it they judge the job definition alone;
when it was asked for and not collected, every verdict the history could change is UNKNOWN.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any

from agent.domain import Inventory, Kind, Resource, Severity
from checks._helpers import OptionalInput
from checks._metrics import percentile
from checks.base import (
    AT_LEAST_0,
    AT_LEAST_1,
    Verdict,
    check,
    failed,
    not_applicable,
    passed,
    unknown,
)
from checks.glue_runs import Run, in_window, job_runs

SPARK, STREAMING, PYSHELL, RAY = "glueetl", "gluestreaming", "pythonshell", "glueray"
_TYPES = (SPARK, STREAMING, PYSHELL, RAY)
_REDACTED = "<redacted>"


def _type(job: Resource) -> str | None:
    return (job.get("Command") or {}).get("Name")


def _args(job: Resource) -> dict[str, str]:
    return {**(job.get("DefaultArguments") or {}), **(job.get("NonOverridableArguments") or {})}


def _true(value: Any) -> bool:
    return str(value).strip().lower() == "true"


def _version(raw: Any) -> tuple[int, ...] | None:
    try:
        return tuple(int(p) for p in str(raw).split("."))
    except ValueError:
        return None


def _scoped(
    inv: Inventory, applies: tuple[str, ...]
) -> Iterator[tuple[Resource, str, Verdict | None]]:
    """Each job with its type, and a verdict already decided when the type is out of scope."""
    for job in inv.of(Kind.GLUE_JOBS):
        kind = _type(job)
        if kind in applies:
            yield job, kind, None
        elif kind in _TYPES:
            yield job, kind, not_applicable(job, f"does not apply to {kind} jobs", type=kind)
        else:
            yield job, str(kind), unknown(job, f"job type {kind!r} not reported or not known",
                                          type=kind)


@check(
    title="Glue job has no usable security configuration",
    severity=Severity.HIGH,
    effort="config",
    lens=("MLSEC03-BP02", "MLSEC02-BP01"),
    needs=(Kind.GLUE_JOBS, Kind.GLUE_SECURITY_CONFIGURATIONS),
    remediation=(
        "Create a security configuration with SSE-KMS for S3, CloudWatch Logs and job bookmarks "
        "and set it on the job (SecurityConfiguration)."
    ),
)
def glue_job_no_security_configuration(inv: Inventory) -> Iterator[Verdict]:
    """PASS when the job names a security configuration that exists in the region. FAIL when it
    names none (medium if only `--encryption-type sse-s3` is set: logs and bookmarks stay
    unencrypted), or names one that no longer exists. Severity is high for Spark and streaming
    jobs, medium for Python shell and Ray jobs.

    Without a security configuration, job output, logs and bookmarks are not encrypted with your
    keys.
    """
    existing = {c.name for c in inv.of(Kind.GLUE_SECURITY_CONFIGURATIONS)}
    for job in inv.of(Kind.GLUE_JOBS):
        name = job.get("SecurityConfiguration")
        kind = _type(job)
        sev = Severity.MEDIUM if kind in (PYSHELL, RAY) else None
        enc = _args(job).get("--encryption-type")
        ev = {"SecurityConfiguration": name, "type": kind, "--encryption-type": enc}
        if name and name in existing:
            yield passed(job, f"uses security configuration {name}", **ev)
        elif name:
            yield failed(job, f"security configuration {name} no longer exists", severity=sev,
                         **ev)
        elif str(enc).lower() == "sse-s3":
            yield failed(job, "only S3 SSE-S3 is set; logs and bookmarks are not encrypted",
                         severity=Severity.MEDIUM, **ev)
        else:
            yield failed(job, "no security configuration", severity=sev, **ev)


def _mode(part: Mapping[str, Any] | None, field: str) -> str | None:
    return (part or {}).get(field)


@check(
    title="Glue security configuration leaves data unencrypted",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLSEC03-BP02",),
    needs=(Kind.GLUE_SECURITY_CONFIGURATIONS, Kind.GLUE_JOBS),
    remediation=(
        "Glue security configurations cannot be edited: create one with SSE-KMS for every S3 "
        "entry, SSE-KMS for CloudWatch and CSE-KMS for bookmarks, and switch the jobs to it."
    ),
)
def glue_security_configuration_weak(
    inv: Inventory, *, require_s3_kms: bool = False, allowed_kms_key_arns: tuple[str, ...] = ()
) -> Iterator[Verdict]:
    """FAIL (high) when any S3Encryption entry is DISABLED; FAIL (medium) when CloudWatch or job
    bookmark encryption is DISABLED, or a KMS key is outside `allowed_kms_key_arns` when that is
    set; FAIL (low) for SSE-S3 when `require_s3_kms`. A configuration no job uses fails at info.
    PASS when nothing fails and every part is reported; UNKNOWN when a part is not reported.

    Every S3Encryption entry is read, not only the first.
    """
    used = {j.get("SecurityConfiguration") for j in inv.of(Kind.GLUE_JOBS)}
    for conf in inv.of(Kind.GLUE_SECURITY_CONFIGURATIONS):
        enc = conf.get("EncryptionConfiguration") or {}
        s3 = [_mode(e, "S3EncryptionMode") for e in enc.get("S3Encryption") or ()]
        cw = _mode(enc.get("CloudWatchEncryption"), "CloudWatchEncryptionMode")
        bm = _mode(enc.get("JobBookmarksEncryption"), "JobBookmarksEncryptionMode")
        keys = [p.get("KmsKeyArn") for p in (*(enc.get("S3Encryption") or ()),
                                              enc.get("CloudWatchEncryption") or {},
                                              enc.get("JobBookmarksEncryption") or {})]
        problems: list[tuple[Severity, str]] = []
        if "DISABLED" in s3:
            problems.append((Severity.HIGH, "S3 encryption is disabled"))
        if cw == "DISABLED":
            problems.append((Severity.MEDIUM, "CloudWatch Logs encryption is disabled"))
        if bm == "DISABLED":
            problems.append((Severity.MEDIUM, "job bookmark encryption is disabled"))
        if allowed_kms_key_arns and any(k and k not in allowed_kms_key_arns for k in keys):
            problems.append((Severity.MEDIUM, "a KMS key is not in the allowed list"))
        if require_s3_kms and "SSE-S3" in s3:
            problems.append((Severity.LOW, "S3 uses SSE-S3, not SSE-KMS"))
        ev: dict[str, Any] = {"S3EncryptionModes": s3, "CloudWatchEncryptionMode": cw,
              "JobBookmarksEncryptionMode": bm, "used_by_jobs": conf.name in used}
        if problems:
            sev = max((p[0] for p in problems), key=lambda s: s.rank)
            if conf.name not in used:
                sev = Severity.INFO
            yield failed(conf, "; ".join(p[1] for p in problems), severity=sev, **ev)
        elif not s3 or None in s3 or cw is None or bm is None:
            yield unknown(conf, "an encryption mode is not reported", **ev)
        else:
            yield passed(conf, "S3, CloudWatch and bookmark encryption are enabled", **ev)


@check(
    title="Glue job does not stream logs to CloudWatch",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLCOST06-BP04", "MLREL02-BP02"),
    needs=(Kind.GLUE_JOBS,),
    remediation="Set the job argument --enable-continuous-cloudwatch-log to true.",
)
def glue_job_continuous_logging_disabled(inv: Inventory) -> Iterator[Verdict]:
    """For Spark, streaming and Ray jobs: PASS when `--enable-continuous-cloudwatch-log` is
    "true" (any case); FAIL otherwise (absent means off). NOT_APPLICABLE for Python shell jobs,
    which have no monitoring options. Run-level arguments set by an orchestrator are not seen.

    Continuous logs show a stuck or slow job while it runs, not only after it fails.
    """
    for job, kind, decided in _scoped(inv, (SPARK, STREAMING, RAY)):
        value = _args(job).get("--enable-continuous-cloudwatch-log")
        if decided:
            yield decided
        elif _true(value):
            yield passed(job, "continuous logging is on", type=kind, value=value)
        else:
            yield failed(job, "continuous logging is off", type=kind, value=value)


@check(
    title="Glue job does not publish job metrics",
    severity=Severity.LOW,
    effort="config",
    lens=("MLCOST06-BP04", "MLOPS05-BP01"),
    needs=(Kind.GLUE_JOBS,),
    remediation="Set the job argument --enable-metrics (or --enable-observability-metrics) to "
    "true.",
)
def glue_job_metrics_disabled(inv: Inventory) -> Iterator[Verdict]:
    """For Spark and streaming jobs: PASS when `--enable-metrics` or
    `--enable-observability-metrics` is "true"; FAIL otherwise. NOT_APPLICABLE for Python shell
    and Ray jobs, which these options do not cover.

    Without job metrics there is nothing to alarm on or to right-size workers with.
    """
    for job, kind, decided in _scoped(inv, (SPARK, STREAMING)):
        args = _args(job)
        on = [k for k in ("--enable-metrics", "--enable-observability-metrics")
              if _true(args.get(k))]
        if decided:
            yield decided
        elif on:
            yield passed(job, f"{', '.join(on)} on", type=kind)
        else:
            yield failed(job, "job metrics are off", type=kind)


def _bookmark(job: Resource) -> str:
    # Absent means disabled: the documented default of --job-bookmark-option.
    return str(_args(job).get("--job-bookmark-option") or "job-bookmark-disable")


@check(
    title="Glue Spark job does not use job bookmarks",
    severity=Severity.LOW,
    effort="redeploy",
    lens=("MLREL02-BP03", "MLREL02-BP02", "MLSUS03-BP01", "MLCOST03-BP03"),
    needs=(Kind.GLUE_JOBS,),
    optional=(Kind.GLUE_JOB_RUNS,),
    remediation=(
        "Set --job-bookmark-option to job-bookmark-enable and give sources a transformation_ctx, "
        "so each run processes only new data (full-refresh jobs may keep them off: mute them)."
    ),
)
def glue_job_bookmarks_disabled(
    inv: Inventory, *, glue_lookback_days: Annotated[int, AT_LEAST_1] = 30
) -> Iterator[Verdict]:
    """For Spark batch jobs that run repeatedly: PASS when `--job-bookmark-option` is
    job-bookmark-enable; FAIL when it is job-bookmark-disable or absent (the documented
    default), FAIL at info when paused. NOT_APPLICABLE for streaming (checkpoints), Python
    shell and Ray jobs, and for jobs that started fewer than two runs in the last
    `glue_lookback_days` (bookmarks matter to recurring jobs). UNKNOWN for a Spark batch job
    whose run history was asked for but not collected (GetJobRuns or ListJobs failed, or the
    job has no history record): whether it recurs decides between NOT_APPLICABLE and a
    verdict. Only when the scan did not ask for run history is every Spark batch job judged
    on its option alone, and the evidence says so.

    Without bookmarks a recurring job reprocesses all of its input every run.
    """
    for job, _kind, decided in _scoped(inv, (SPARK,)):
        option = _bookmark(job)
        if decided:
            yield decided
            continue
        runs, history = job_runs(inv, job)
        evidence: dict[str, Any] = {"option": option}
        if history.failed:
            yield unknown(job, f"whether the job recurs is not known: {history.why}",
                          **evidence)
            continue
        if runs is None:
            evidence["runs"] = f"not judged: {history.why}"
        else:
            count = len(in_window(runs, inv.collected_at, glue_lookback_days))
            evidence["runs_in_window"] = count
            if count < 2:
                yield not_applicable(job, f"started {count} run(s) in the last "
                                     f"{glue_lookback_days} days: not a recurring job",
                                     **evidence)
                continue
        if option == "job-bookmark-enable":
            yield passed(job, "bookmarks are enabled", **evidence)
        elif option == "job-bookmark-pause":
            yield failed(job, "bookmarks are paused", severity=Severity.INFO, **evidence)
        else:
            yield failed(job, "bookmarks are disabled", **evidence)


@check(
    title="Glue batch job is not retried after a failure",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLREL02-BP02",),
    needs=(Kind.GLUE_JOBS,),
    remediation=(
        "Set MaxRetries to 1 or more for idempotent jobs (or retry in the orchestrator and mute "
        "this check with that reason)."
    ),
)
def glue_job_no_retries(inv: Inventory) -> Iterator[Verdict]:
    """For Spark batch, Python shell and Ray jobs: PASS when MaxRetries >= 1; FAIL when 0 (low
    for a Spark job without bookmarks, where a retry may duplicate appended data). UNKNOWN when
    MaxRetries is not reported (no documented default). NOT_APPLICABLE for streaming jobs.

    A transient failure without a retry leaves downstream training on stale data.
    """
    for job, kind, decided in _scoped(inv, (SPARK, PYSHELL, RAY)):
        retries = job.get("MaxRetries")
        if decided:
            yield decided
        elif retries is None:
            yield unknown(job, "MaxRetries not reported", MaxRetries=None)
        elif retries >= 1:
            yield passed(job, f"retried up to {retries} time(s)", MaxRetries=retries)
        elif kind == SPARK and _bookmark(job) != "job-bookmark-enable":
            yield failed(job, "no retries (bookmarks are off, so make the job idempotent first)",
                         severity=Severity.LOW, MaxRetries=retries)
        else:
            yield failed(job, "no retries", MaxRetries=retries)


def _p95_runtime_min(
    runs: list[Run] | None, history: OptionalInput, now: datetime, days: int
) -> tuple[float | None, str]:
    """95th percentile of successful runs' ExecutionTime in minutes, or (None, why not)."""
    if runs is None:
        return None, f"runtime not compared: {history.why}"
    times = [r.execution_seconds / 60 for r in in_window(runs, now, days)
             if r.state == "SUCCEEDED" and isinstance(r.execution_seconds, int | float)]
    if not times:
        return None, f"runtime not compared: no successful run in the last {days} days"
    return percentile(times, 95), f"p95 of {len(times)} successful run(s)"


@check(
    title="Glue job timeout is unset or far above its runtime",
    severity=Severity.LOW,
    effort="config",
    lens=("MLREL02-BP02", "MLCOST03-BP03"),
    needs=(Kind.GLUE_JOBS,),
    optional=(Kind.GLUE_JOB_RUNS,),
    remediation="Set Timeout (minutes) to a few times the job's normal runtime.",
)
def glue_job_timeout_unset_or_excessive(
    inv: Inventory,
    *,
    glue_timeout_max_min: Annotated[int, AT_LEAST_1] = 2880,
    glue_timeout_floor_min: Annotated[int, AT_LEAST_0] = 60,
    glue_lookback_days: Annotated[int, AT_LEAST_1] = 30,
) -> Iterator[Verdict]:
    """For batch jobs (Spark, Python shell, Ray): FAIL (low) when Timeout is absent (botocore:
    it then defaults to 2,880 minutes, or 480 from Glue 5.0). With run history, over the
    successful runs of the last `glue_lookback_days`: FAIL (medium) when Timeout is at least
    `glue_timeout_max_min` (the 48-hour default) while the p95 runtime is under an hour, FAIL
    (low) when Timeout exceeds max(`glue_timeout_floor_min`, 3 x p95 runtime); PASS otherwise.
    When run history was not asked for, or holds no successful run: FAIL (low) when Timeout
    is at least `glue_timeout_max_min`, PASS otherwise. When run history was asked for but
    not collected, UNKNOWN, except that a Timeout at or under `glue_timeout_floor_min` (and
    under `glue_timeout_max_min`) passes whatever the runtime. NOT_APPLICABLE for streaming
    jobs.

    A hung run with a 48-hour timeout burns two days of DPUs before anyone notices.
    """
    for job, _kind, decided in _scoped(inv, (SPARK, PYSHELL, RAY)):
        timeout = job.get("Timeout")
        version = _version(job.get("GlueVersion") or "0.9")
        default = 480 if version and version >= (5, 0) else 2880
        if decided:
            yield decided
            continue
        if timeout is None:
            yield failed(job, f"no timeout set (defaults to {default} minutes)", Timeout=None,
                         effective_default_min=default)
            continue
        runs, history = job_runs(inv, job)
        if history.failed:
            # Every rule below allows at least the floor and the 48-hour rule needs a Timeout
            # at the maximum, so a Timeout within the floor passes with any history.
            if timeout <= glue_timeout_floor_min and timeout < glue_timeout_max_min:
                yield passed(job, f"timeout is {timeout} minutes, within the "
                             f"{glue_timeout_floor_min}-minute floor", Timeout=timeout,
                             runtime=f"runtime not compared: {history.why}")
            else:
                yield unknown(job, f"timeout {timeout} minutes not compared with the job's "
                              f"runtime: {history.why}", Timeout=timeout)
            continue
        p95, basis = _p95_runtime_min(runs, history, inv.collected_at, glue_lookback_days)
        evidence: dict[str, Any] = {"Timeout": timeout, "runtime": basis,
                                    "p95_runtime_min": None if p95 is None else round(p95, 1)}
        if p95 is None:
            if timeout >= glue_timeout_max_min:
                yield failed(job, f"timeout is {timeout} minutes", **evidence)
            else:
                yield passed(job, f"timeout is {timeout} minutes", **evidence)
            continue
        limit = max(glue_timeout_floor_min, 3 * p95)
        evidence["limit_min"] = round(limit, 1)
        if timeout >= glue_timeout_max_min and p95 < 60:
            yield failed(job, f"timeout is {timeout} minutes for runs that take "
                         f"{p95:.0f} (p95): a hung run burns up to two days",
                         severity=Severity.MEDIUM, **evidence)
        elif timeout > limit:
            yield failed(job, f"timeout {timeout} minutes is more than max("
                         f"{glue_timeout_floor_min}, 3 x p95 runtime {p95:.0f})", **evidence)
        else:
            yield passed(job, f"timeout {timeout} minutes fits a p95 runtime of {p95:.0f}",
                         **evidence)


@check(
    title="Glue job runs on an unsupported Glue or Python version",
    severity=Severity.MEDIUM,
    effort="redeploy",
    lens=("MLSEC03-BP02", "MLPERF03-BP01"),
    needs=(Kind.GLUE_JOBS,),
    remediation="Upgrade the job to a supported Glue version (and Python 3.9 for Python shell).",
)
def glue_job_unsupported_version(
    inv: Inventory,
    *,
    min_glue_version: str = "3.0",
    deprecated_python_shell_versions: tuple[str, ...] = ("2", "3"),
) -> Iterator[Verdict]:
    """Spark and streaming jobs: PASS when GlueVersion >= `min_glue_version`; FAIL when lower or
    absent (botocore: a job created without a version runs Glue 0.9). Python shell jobs: FAIL
    (low) when PythonVersion is in `deprecated_python_shell_versions` ("3" is Python 3.6),
    UNKNOWN when absent. NOT_APPLICABLE for Ray jobs (they require Glue 4.0 or later).

    Unsupported versions get no security fixes.
    """
    floor = _version(min_glue_version) or (3, 0)
    for job, kind, decided in _scoped(inv, (SPARK, STREAMING, PYSHELL)):
        raw = job.get("GlueVersion")
        if decided:
            yield decided
        elif kind == PYSHELL:
            py = (job.get("Command") or {}).get("PythonVersion")
            if py is None:
                yield unknown(job, "Python version not reported", PythonVersion=None)
            elif str(py) in deprecated_python_shell_versions:
                yield failed(job, f"Python shell version {py} is deprecated",
                             severity=Severity.LOW, PythonVersion=py)
            else:
                yield passed(job, f"Python shell version {py}", PythonVersion=py)
        elif raw is None:
            yield failed(job, "no GlueVersion (runs the 0.9 default)", GlueVersion=None)
        elif (v := _version(raw)) is None:
            yield unknown(job, f"GlueVersion {raw!r} not recognised", GlueVersion=raw)
        elif v < floor:
            yield failed(job, f"Glue {raw} is below {min_glue_version}", GlueVersion=raw)
        else:
            yield passed(job, f"Glue {raw}", GlueVersion=raw)


# Argument names that hold a secret themselves, unless they name where the secret lives.
_SECRET_KEY = re.compile(
    r"pass(word|wd)?|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key|credential",
    re.I,
)
_REFERENCE_KEY = re.compile(
    r"(id|name|arn|path|param(eter)?|ref|uri|url|endpoint|file|location|type|mode|region|ttl"
    r"|duration|expiry)$",
    re.I,
)
# Flags and sizes next to a secret-sounding name ("--use-token": "true") are not secrets.
_PLAIN_VALUE = re.compile(r"^(true|false|yes|no|none|null|\d{1,6})$", re.I)
_REFERENCE_VALUE = re.compile(r"^(arn:aws[a-z-]*:(secretsmanager|ssm):|\{\{resolve:)", re.I)
_SECRET_VALUE = {
    "aws_access_key_id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private_key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "credentials_in_uri": re.compile(r"://[^/\s:@]+:[^/\s@]+@"),
    "secret_assignment": re.compile(
        r"\b(secret[._-]?(access[._-]?)?key|password|passwd|pwd|token)\s*=\s*[^\s&;,]+", re.I
    ),
    "github_token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36}\b"),
    "slack_token": re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
    "jwt": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\."),
}


def secret_findings(args: Mapping[str, Any]) -> dict[str, str]:
    """{argument key: the rule it matched}. Never returns or logs a value."""
    out: dict[str, str] = {}
    for key, raw in args.items():
        value = str(raw or "")
        if not value or _REFERENCE_VALUE.match(value):
            continue
        rule = next((name for name, rx in _SECRET_VALUE.items() if rx.search(value)), None)
        bare = key.lstrip("-")
        if (rule is None and _SECRET_KEY.search(bare) and not _REFERENCE_KEY.search(bare)
                and not _PLAIN_VALUE.match(value.strip())):
            rule = "secret_argument_name"
        if rule:
            out[key] = rule
    return out


@check(
    title="Glue job passes secrets in plain-text arguments",
    severity=Severity.CRITICAL,
    effort="redeploy",
    lens=("MLSEC03-BP01", "MLSEC03-BP03"),
    needs=(Kind.GLUE_JOBS,),
    remediation=(
        "Rotate the exposed secret now, store it in Secrets Manager (or a Glue connection) and "
        "pass only its name or ARN; job arguments are visible to anyone who can read the job."
    ),
)
def glue_job_secrets_in_arguments(inv: Inventory) -> Iterator[Verdict]:
    """PASS when no DefaultArguments or NonOverridableArguments entry looks like a secret. FAIL
    when a value matches a credential pattern (AWS access key ID, private key, credentials in a
    URI, a password= or secret.key= assignment, GitHub/Slack token, JWT) or a secret-named
    argument (password, token, api key...) holds a literal rather than a Secrets Manager/SSM
    reference or a name, ID or path. Evidence holds the argument keys, the rule and a redaction
    marker, never a value.

    Job arguments are returned by GetJob(s) and logged; a secret there is exposed to every reader.
    """
    for job in inv.of(Kind.GLUE_JOBS):
        hits = secret_findings(job.get("DefaultArguments") or {})
        hits.update(secret_findings(job.get("NonOverridableArguments") or {}))
        if hits:
            yield failed(job, f"argument(s) {', '.join(sorted(hits))} look like secrets",
                         arguments={k: _REDACTED for k in sorted(hits)}, rules=hits)
        else:
            yield passed(job, "no argument looks like a secret", arguments_scanned=len(_args(job)))


@check(
    title="Glue Data Catalog metadata or connection passwords are not encrypted",
    severity=Severity.MEDIUM,
    effort="config",
    lens=("MLSEC03-BP02", "MLREL02-BP01"),
    needs=(Kind.GLUE_CATALOG_ENCRYPTION,),
    remediation=(
        "In the Data Catalog settings enable metadata encryption (SSE-KMS) and connection "
        "password encryption with a customer managed key."
    ),
)
def glue_data_catalog_encryption_disabled(inv: Inventory) -> Iterator[Verdict]:
    """PASS when EncryptionAtRest.CatalogEncryptionMode is not DISABLED and
    ConnectionPasswordEncryption.ReturnConnectionPasswordEncrypted is true. FAIL (medium) when
    metadata encryption is DISABLED or passwords are returned in clear (connections are not
    collected, so the catalog's "high when a connection exists" cannot be applied). UNKNOWN when
    a setting is not reported.

    The catalog describes where the training data lives and connection passwords open it.
    """
    for cat in inv.of(Kind.GLUE_CATALOG_ENCRYPTION):
        mode = (cat.get("EncryptionAtRest") or {}).get("CatalogEncryptionMode")
        pw = (cat.get("ConnectionPasswordEncryption") or {}).get(
            "ReturnConnectionPasswordEncrypted")
        ev: dict[str, Any] = {"CatalogEncryptionMode": mode,
                              "ReturnConnectionPasswordEncrypted": pw}
        problems = []
        if mode == "DISABLED":
            problems.append("metadata encryption is disabled")
        if pw is False:
            problems.append("connection passwords are returned unencrypted")
        if problems:
            yield failed(cat, "; ".join(problems), **ev)
        elif mode is None or pw is None:
            yield unknown(cat, "catalog encryption settings not reported", **ev)
        else:
            yield passed(cat, f"metadata encrypted ({mode}), passwords encrypted", **ev)


@check(
    title="Large Glue Spark job runs without auto scaling",
    severity=Severity.INFO,
    effort="config",
    lens=("MLCOST03-BP03", "MLSUS03-BP01"),
    needs=(Kind.GLUE_JOBS,),
    remediation=(
        "Set --enable-auto-scaling to true so Glue releases idle workers (NumberOfWorkers "
        "becomes the maximum); consider ExecutionClass FLEX for non-urgent jobs."
    ),
)
def glue_job_cost_controls_missing(
    inv: Inventory, *, autoscale_min_workers: Annotated[int, AT_LEAST_1] = 10
) -> Iterator[Verdict]:
    """For Spark batch jobs on Glue 3.0 or later: FAIL (info) when `--enable-auto-scaling` is not
    "true" and NumberOfWorkers >= `autoscale_min_workers`; PASS otherwise. NOT_APPLICABLE for
    other job types and older Glue versions (no auto scaling there); UNKNOWN when the worker
    count is not reported. The catalog's FLEX execution-class rule is not applied.

    A fixed fleet pays for every worker through the quiet stages of a job.
    """
    for job, _kind, decided in _scoped(inv, (SPARK,)):
        raw = job.get("GlueVersion") or "0.9"  # botocore: jobs created without one run 0.9
        version = _version(raw)
        workers = job.get("NumberOfWorkers")
        auto = _true(_args(job).get("--enable-auto-scaling"))
        ev = {"GlueVersion": job.get("GlueVersion"), "NumberOfWorkers": workers,
              "auto_scaling": auto, "ExecutionClass": job.get("ExecutionClass")}
        if decided:
            yield decided
        elif version is None:
            yield unknown(job, f"GlueVersion {raw!r} not recognised", **ev)
        elif version < (3, 0):
            yield not_applicable(job, "auto scaling needs Glue 3.0 or later", **ev)
        elif auto:
            yield passed(job, "auto scaling is on", **ev)
        elif workers is None:
            yield unknown(job, "NumberOfWorkers not reported", **ev)
        elif workers >= autoscale_min_workers:
            yield failed(job, f"{workers} fixed workers without auto scaling", **ev)
        else:
            yield passed(job, f"small fixed fleet ({workers} workers)", **ev)


CHECKS = (
    glue_job_no_security_configuration,
    glue_security_configuration_weak,
    glue_job_continuous_logging_disabled,
    glue_job_metrics_disabled,
    glue_job_bookmarks_disabled,
    glue_job_no_retries,
    glue_job_timeout_unset_or_excessive,
    glue_job_unsupported_version,
    glue_job_secrets_in_arguments,
    glue_data_catalog_encryption_disabled,
    glue_job_cost_controls_missing,
)
