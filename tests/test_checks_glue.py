"""Pure tests for Glue checks: the mixed-types GetJobs sample and hand-built records."""

from __future__ import annotations

import json
from typing import Any

from agent.domain import Kind, Resource, Severity, Status
from checks import glue as gc
from tests.factories import gap, inv, res, run, statuses
from tests.samples import sample

SAMPLE_JOBS = ("etl-orders-daily", "py-refresh-lookup", "stream-clicks", "ray-feature-build",
               "legacy-etl-v1", "visual-etl-customers")


def sample_jobs() -> list[Resource]:
    pages = sample("glue_get_jobs_mixed_types")["pages"]
    return [res(Kind.GLUE_JOBS, j["Name"], **j) for page in pages for j in page["Jobs"]]


def kms_config(**overrides: Any) -> Resource:
    data = {**sample("glue_get_security_configuration_kms")["response"]["SecurityConfiguration"],
            **overrides}
    return res(Kind.GLUE_SECURITY_CONFIGURATIONS, data["Name"], **data)


def job(name: str, kind: str = "glueetl", **data: Any) -> Resource:
    data.setdefault("Command", {"Name": kind})
    return res(Kind.GLUE_JOBS, name, Name=name, **data)


def expect(results: list[Any], *per_job: Status, **extra: Status) -> None:
    assert statuses(results) == {**dict(zip(SAMPLE_JOBS, per_job, strict=True)), **extra}


P, F, NA, U = Status.PASS, Status.FAIL, Status.NOT_APPLICABLE, Status.UNKNOWN


def test_security_configuration_sample_jobs() -> None:
    """Only the job naming an existing configuration passes; a deleted one fails with a reason."""
    results = run(gc.glue_job_no_security_configuration, inv(*sample_jobs(), kms_config()))
    expect(results, P, F, F, F, F, F)
    by = {r.resource_arn.rsplit("/", 1)[-1]: r for r in results}
    assert "no longer exists" in by["stream-clicks"].reason
    assert by["stream-clicks"].severity is Severity.HIGH
    assert by["py-refresh-lookup"].severity is Severity.MEDIUM
    assert by["ray-feature-build"].severity is Severity.MEDIUM


def test_security_configuration_sse_s3_only_is_medium() -> None:
    """--encryption-type sse-s3 without a configuration still fails, at medium."""
    results = run(gc.glue_job_no_security_configuration,
                  inv(job("s3only", DefaultArguments={"--encryption-type": "sse-s3"}),
                      kinds=[Kind.GLUE_SECURITY_CONFIGURATIONS]))
    assert [(r.status, r.severity) for r in results] == [(Status.FAIL, Severity.MEDIUM)]


def test_security_configuration_unknown_when_configurations_denied() -> None:
    """Without the configuration listing, a named configuration cannot be confirmed: UNKNOWN."""
    results = run(gc.glue_job_no_security_configuration,
                  inv(*sample_jobs(), gaps=[gap(Kind.GLUE_SECURITY_CONFIGURATIONS)]))
    assert set(statuses(results).values()) == {Status.UNKNOWN}
    assert len(results) == len(SAMPLE_JOBS)


def test_security_configuration_weak_modes() -> None:
    """Disabled bookmarks fail medium (info when unused); S3 disabled fails high; gaps UNKNOWN."""
    strong = {"S3Encryption": [{"S3EncryptionMode": "SSE-KMS", "KmsKeyArn": "k"}],
              "CloudWatchEncryption": {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": "k"},
              "JobBookmarksEncryption": {"JobBookmarksEncryptionMode": "CSE-KMS",
                                         "KmsKeyArn": "k"}}
    weak_s3 = {**strong, "S3Encryption": [strong["S3Encryption"][0],
                                          {"S3EncryptionMode": "DISABLED"}]}
    partial = {"S3Encryption": strong["S3Encryption"]}
    configs = [
        kms_config(),
        kms_config(Name="unused-weak"),
        res(Kind.GLUE_SECURITY_CONFIGURATIONS, "strong", EncryptionConfiguration=strong),
        res(Kind.GLUE_SECURITY_CONFIGURATIONS, "second-entry", EncryptionConfiguration=weak_s3),
        res(Kind.GLUE_SECURITY_CONFIGURATIONS, "partial", EncryptionConfiguration=partial),
    ]
    jobs = [job(n, SecurityConfiguration=n) for n in
            ("glue-secconf-kms", "strong", "second-entry", "partial")]
    results = run(gc.glue_security_configuration_weak, inv(*configs, *jobs))
    assert statuses(results) == {"glue-secconf-kms": F, "unused-weak": F, "strong": P,
                                 "second-entry": F, "partial": U}
    sev = {r.resource_arn.rsplit("/", 1)[-1]: r.severity for r in results}
    assert (sev["glue-secconf-kms"], sev["unused-weak"], sev["second-entry"]) == (
        Severity.MEDIUM, Severity.INFO, Severity.HIGH)
    strict = run(gc.glue_security_configuration_weak, inv(configs[2], jobs[1]),
                 allowed_kms_key_arns=("other",))
    assert statuses(strict) == {"strong": F}


def test_continuous_logging() -> None:
    """Only the streaming job logs continuously; Python shell is N/A."""
    expect(run(gc.glue_job_continuous_logging_disabled, inv(*sample_jobs())), F, NA, P, F, F, F)


def test_continuous_logging_non_overridable_and_unknown_type() -> None:
    """NonOverridableArguments count; a job without a type is UNKNOWN."""
    results = run(gc.glue_job_continuous_logging_disabled, inv(
        job("locked", NonOverridableArguments={"--enable-continuous-cloudwatch-log": "TRUE"}),
        res(Kind.GLUE_JOBS, "typeless", Name="typeless"),
    ))
    assert statuses(results) == {"locked": P, "typeless": U}


def test_metrics() -> None:
    """--enable-metrics passes; Python shell and Ray are N/A; the rest fail."""
    expect(run(gc.glue_job_metrics_disabled, inv(*sample_jobs())), P, NA, F, NA, F, F)


def test_bookmarks() -> None:
    """Enabled passes, absent fails (documented default disable), paused fails at info."""
    results = run(gc.glue_job_bookmarks_disabled, inv(
        *sample_jobs(), job("paused", DefaultArguments={"--job-bookmark-option":
                                                         "job-bookmark-pause"})))
    expect(results, P, NA, NA, NA, F, F, paused=F)
    paused = next(r for r in results if r.resource_arn.endswith("paused"))
    assert paused.severity is Severity.INFO


def test_retries() -> None:
    """MaxRetries >= 1 passes, 0 fails (low without bookmarks), absent is UNKNOWN."""
    results = run(gc.glue_job_no_retries, inv(*sample_jobs(), job("silent")))
    expect(results, P, F, NA, F, P, F, silent=U)
    sev = {r.resource_arn.rsplit("/", 1)[-1]: r.severity for r in results}
    assert sev["py-refresh-lookup"] is Severity.MEDIUM
    assert sev["visual-etl-customers"] is Severity.LOW


def test_timeout() -> None:
    """48-hour timeouts fail, short ones pass, streaming is N/A, unset reports its default."""
    results = run(gc.glue_job_timeout_unset_or_excessive, inv(
        *sample_jobs(), job("unset5", GlueVersion="5.0"), job("unset4", GlueVersion="4.0")))
    expect(results, F, P, NA, F, F, P, unset5=F, unset4=F)
    default = {r.resource_arn.rsplit("/", 1)[-1]: r.evidence.get("effective_default_min")
               for r in results}
    assert (default["unset5"], default["unset4"]) == (480, 2880)
    relaxed = run(gc.glue_job_timeout_unset_or_excessive, inv(*sample_jobs()),
                  glue_timeout_max_min=5000)
    assert statuses(relaxed)["etl-orders-daily"] is P


def test_unsupported_version() -> None:
    """No GlueVersion or an old one fails; Python 3.6 shell fails low; Ray is N/A."""
    results = run(gc.glue_job_unsupported_version, inv(
        *sample_jobs(),
        job("spark2", GlueVersion="2.0"),
        job("py-noversion", "pythonshell", GlueVersion="1.0"),
        job("odd", GlueVersion="latest"),
    ))
    py_noversion = [r for r in results if r.resource_arn.endswith("py-noversion")]
    expect(results, P, P, P, NA, F, P, spark2=F, **{"py-noversion": U}, odd=U)
    assert py_noversion[0].reason == "Python version not reported"
    py3 = run(gc.glue_job_unsupported_version,
              inv(job("py3", Command={"Name": "pythonshell", "PythonVersion": "3"})))
    assert [(r.status, r.severity) for r in py3] == [(F, Severity.LOW)]
    stricter = run(gc.glue_job_unsupported_version, inv(*sample_jobs()), min_glue_version="5.0")
    assert statuses(stricter)["etl-orders-daily"] is F


def test_secrets_in_arguments_detected_and_redacted() -> None:
    """Literal secrets fail and their values never appear in the result; references pass."""
    secrets = {
        "--db-password": "hunter2-literal",
        "--jdbc-url": "jdbc:postgresql://svc:s3cr3tPw@db.internal:5432/ml",
        "--aws-key": "AKIAIOSFODNN7EXAMPLE",
    }
    references = {
        "--password-secret-name": "prod/db",
        "--api-token": "{{resolve:secretsmanager:prod/token}}",
        "--secret-arn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf",
        "--TempDir": "s3://bucket/tmp/",
    }
    results = run(gc.glue_job_secrets_in_arguments, inv(
        *sample_jobs(),
        job("leaky", DefaultArguments={**secrets, **references}),
        job("locked", NonOverridableArguments={"--conf": "spark.hadoop.fs.s3a.secret.key=abc123"}),
        job("clean", DefaultArguments=references),
    ))
    expect(results, P, P, P, P, P, P, leaky=F, locked=F, clean=P)
    leaky = next(r for r in results if r.resource_arn.endswith("leaky"))
    assert leaky.severity is Severity.CRITICAL
    assert set(leaky.evidence["arguments"]) == set(secrets)
    assert set(leaky.evidence["arguments"].values()) == {"<redacted>"}
    dumped = json.dumps([{"reason": r.reason, "evidence": dict(r.evidence)} for r in results])
    for value in (*secrets.values(), "s3cr3tPw", "abc123"):
        assert value not in dumped


def catalog(**settings: Any) -> Resource:
    return res(Kind.GLUE_CATALOG_ENCRYPTION, "catalog", **settings)


def test_data_catalog_encryption() -> None:
    """KMS plus encrypted passwords passes; either gap fails; missing settings are UNKNOWN."""
    kms = {"CatalogEncryptionMode": "SSE-KMS", "SseAwsKmsKeyId": "k"}
    enc_pw = {"ReturnConnectionPasswordEncrypted": True, "AwsKmsKeyId": "k"}
    chk = gc.glue_data_catalog_encryption_disabled
    cases = {
        Status.PASS: catalog(EncryptionAtRest=kms, ConnectionPasswordEncryption=enc_pw),
        Status.FAIL: catalog(EncryptionAtRest={"CatalogEncryptionMode": "DISABLED"},
                             ConnectionPasswordEncryption=enc_pw),
        Status.UNKNOWN: catalog(EncryptionAtRest=kms),
    }
    for expected, record in cases.items():
        assert statuses(run(chk, inv(record))) == {"catalog": expected}
    clear_pw = catalog(EncryptionAtRest=kms,
                       ConnectionPasswordEncryption={"ReturnConnectionPasswordEncrypted": False})
    assert "unencrypted" in run(chk, inv(clear_pw))[0].reason
    denied = run(chk, inv(gaps=[gap(Kind.GLUE_CATALOG_ENCRYPTION)]))
    assert [(r.status, r.resource_kind) for r in denied] == [(Status.UNKNOWN, "region")]


def test_cost_controls() -> None:
    """Ten fixed workers without auto scaling fail at info; small, old or auto-scaled jobs do
    not."""
    results = run(gc.glue_job_cost_controls_missing, inv(
        *sample_jobs(),
        job("auto", GlueVersion="4.0", NumberOfWorkers=50,
            DefaultArguments={"--enable-auto-scaling": "true"}),
        job("nocount", GlueVersion="4.0"),
    ))
    expect(results, F, NA, NA, NA, NA, P, auto=P, nocount=U)
    etl = next(r for r in results if r.resource_arn.endswith("etl-orders-daily"))
    assert etl.severity is Severity.INFO
    higher = run(gc.glue_job_cost_controls_missing, inv(*sample_jobs()), autoscale_min_workers=20)
    assert statuses(higher)["etl-orders-daily"] is P


def test_secret_scan_ignores_flags_and_locators() -> None:
    """Boolean or numeric values and endpoint/ID-style names are not reported as secrets."""
    assert gc.secret_findings({
        "--use-token": "true",
        "--token-endpoint": "https://auth.example/oauth2/token",
        "--password-length": "16",
        "--kms-key-id": "alias/etl",
    }) == {}
    assert gc.secret_findings({"--api_key": "k-8f7e6d5c4b3a"}) == {
        "--api_key": "secret_argument_name"}


def test_cost_controls_unrecognised_version_is_unknown() -> None:
    """A GlueVersion that does not parse is UNKNOWN, not treated as an old version."""
    results = run(gc.glue_job_cost_controls_missing,
                  inv(job("odd", GlueVersion="latest", NumberOfWorkers=40)))
    assert statuses(results) == {"odd": U}
