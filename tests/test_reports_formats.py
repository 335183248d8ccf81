"""Output formats: JSON/CSV keep their fields; OCSF, ASFF and SARIF validate against their
published schemas (OCSF class schema and SARIF schema vendored under tests/data, ASFF against
botocore's Security Hub model), and map statuses, severities and resources as documented."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from typing import Any

import botocore.session
import jsonschema
import pytest
from botocore.validate import ParamValidator

from agent import report as legacy_report
from agent import reports
from agent.domain import Status
from agent.reports import asff, csvfmt, jsonfmt, ocsf, sarif
from agent.reports.jsonfmt import FINDING_FIELDS
from agent.reports.model import Finding
from checks import by_id
from tests.report_data import (
    ACCOUNT,
    DATA,
    EP_UNHEALTHY,
    GLUE_SECRETS,
    MUTE,
    REGION,
    T0,
    arn,
    every_status_findings,
    finding,
    load_json,
    muted_findings,
    report,
    result,
)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(scope="module")
def ocsf_validator() -> jsonschema.Draft202012Validator:
    schema = load_json(DATA / "ocsf" / "detection_finding-1.7.0-cloud.schema.json")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = load_json(DATA / "sarif" / "sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


@pytest.fixture(scope="module")
def securityhub() -> Any:
    return botocore.session.get_session().get_service_model("securityhub")


def _shape_errors(value: Any, shape: Any, path: str = "") -> list[str]:
    """What ParamValidator does not check: enums and string patterns, recursively."""
    errors: list[str] = []
    kind = shape.type_name
    if kind == "structure":
        for k, v in value.items():
            errors += _shape_errors(v, shape.members[k], f"{path}.{k}")
    elif kind == "list":
        for i, v in enumerate(value):
            errors += _shape_errors(v, shape.member, f"{path}[{i}]")
    elif kind == "map":
        for k, v in value.items():
            errors += _shape_errors(k, shape.key, f"{path} key")
            errors += _shape_errors(v, shape.value, f"{path}[{k}]")
    elif kind == "string":
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not in {shape.enum}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value, re.DOTALL):
            errors.append(f"{path}: {value!r} does not match {pattern}")
    return errors


def _asff_errors(findings: list[dict[str, Any]], model: Any) -> list[str]:
    op = model.operation_model("BatchImportFindings")
    validation = ParamValidator().validate({"Findings": findings}, op.input_shape)
    errors = [validation.generate_report()] if validation.has_errors() else []
    return errors + _shape_errors({"Findings": findings}, op.input_shape)


def test_json_fields_unchanged() -> None:
    """JSON carries the historical fields, in order, with catalog lens IDs, then the mute."""
    r = result(EP_UNHEALTHY, Status.FAIL, arn("endpoint", "ep-a"), sub="AllTraffic",
               evidence={"CreationTime": T0, "Pair": (1, 2)})
    rows = json.loads(jsonfmt.render(report([Finding.from_result(r)])))
    assert len(rows) == 1 and tuple(rows[0]) == FINDING_FIELDS
    chk = by_id()[EP_UNHEALTHY]
    assert rows[0] | {"evidence": None} == {
        "check_id": EP_UNHEALTHY, "status": "FAIL", "severity": chk.severity.value,
        "pillar": chk.pillar.value, "lens_ids": list(chk.lens_ids),
        "legacy_lens_ids": list(chk.legacy_lens_ids), "account_id": ACCOUNT, "region": REGION,
        "resource_arn": r.resource_arn, "sub_resource": "AllTraffic",
        "resource_kind": "endpoints", "reason": r.reason, "observed_at": T0.isoformat(),
        "finding_id": r.key, "evidence": None, "muted": False, "mute_reason": None,
        "mute_owner": None, "mute_expires_at": None,
    }
    assert rows[0]["evidence"] == {"CreationTime": T0.isoformat(), "Pair": [1, 2]}


def test_csv_rows_match_json() -> None:
    """CSV has the JSON fields as columns, lists space-joined and evidence as JSON text."""
    rep = report(every_status_findings())
    rows = list(csv.DictReader(io.StringIO(csvfmt.render(rep))))
    as_json = json.loads(jsonfmt.render(rep))
    assert len(rows) == len(as_json)
    for row, obj in zip(rows, as_json, strict=True):
        assert tuple(row) == FINDING_FIELDS
        assert row["muted"] == str(obj["muted"])
        assert row["lens_ids"] == " ".join(obj["lens_ids"])
        assert json.loads(row["evidence"]) == obj["evidence"]
        assert row["reason"] == obj["reason"]


def test_legacy_report_module_renders_the_same() -> None:
    """agent.report (the old module) renders results exactly as agent.reports does."""
    results = [result(EP_UNHEALTHY, s, arn("endpoint", f"ep-{s.value}")) for s in Status]
    rep = report([Finding.from_result(r) for r in results])
    assert legacy_report.to_json(results, by_id()) == jsonfmt.render(rep)
    assert legacy_report.to_csv(results, by_id()) == csvfmt.render(rep)


def test_ocsf_events_validate_against_class_schema(
    ocsf_validator: jsonschema.Draft202012Validator,
) -> None:
    """Every status and lifecycle shape gives a valid OCSF 1.7.0 Detection Finding."""
    rep = report(every_status_findings())
    events = json.loads(ocsf.render(rep))
    assert len(events) == len(rep.findings)
    for ev in events:
        errors = [f"{e.json_path}: {e.message}" for e in ocsf_validator.iter_errors(ev)]
        assert not errors, errors


def test_ocsf_mapping() -> None:
    """Status, activity, severity, account, region, resource, remediation and lens IDs land
    where docs/outputs.md says."""
    rep = report(every_status_findings())
    by_status = {(e["status_code"], e["resources"][0]["uid"]): e
                 for e in json.loads(ocsf.render(rep))}
    fail = by_status[("FAIL", arn("endpoint", "ep-a"))]
    chk = by_id()[EP_UNHEALTHY]
    assert (fail["class_uid"], fail["category_uid"], fail["type_uid"]) == (2004, 2, 200401)
    assert (fail["status_id"], fail["activity_id"], fail["is_alert"]) == (1, 1, True)
    assert fail["severity_id"] == 4 and fail["severity"] == "High"
    assert fail["cloud"]["account"] == {"uid": ACCOUNT, "type_id": 10, "type": "AWS Account"}
    assert fail["cloud"]["region"] == REGION and fail["metadata"]["profiles"] == ["cloud"]
    assert fail["resources"][0]["data"]["sub_resource"] == "AllTraffic"
    assert fail["remediation"]["desc"] == chk.remediation
    assert fail["remediation"]["references"] == [p.url for p in chk.lens]
    assert fail["unmapped"]["compliance"]["requirements"] == list(chk.lens_ids)
    assert fail["finding_info"]["analytic"]["uid"] == EP_UNHEALTHY
    resolved = by_status[("PASS", arn("notebook-instance", "nb-1"))]
    assert (resolved["status_id"], resolved["activity_id"]) == (4, 3)
    unknown = by_status[("UNKNOWN", arn("endpoint", "ep-b"))]
    assert unknown["status_id"] == 99 and unknown["unmapped"]["compliance"]["status_id"] == 2
    stale = by_status[("FAIL", arn("training-job", "tj-1"))]
    assert stale["activity_id"] == 2 and "unverified_since" in stale["unmapped"]


def test_ocsf_schema_check_is_not_vacuous(
    ocsf_validator: jsonschema.Draft202012Validator,
) -> None:
    """The vendored schema refuses a wrong status_id, a stray attribute and a missing cloud."""
    ev = json.loads(ocsf.render(report([finding(EP_UNHEALTHY)])))[0]
    for broken in ({**ev, "status_id": 7}, {**ev, "stray": 1},
                   {k: v for k, v in ev.items() if k != "cloud"},
                   {**ev, "metadata": {**ev["metadata"], "profiles": []}}):
        assert list(ocsf_validator.iter_errors(broken))


def test_asff_findings_valid_for_batch_import(securityhub: Any) -> None:
    """Every status gives an AwsSecurityFinding that botocore's Security Hub model accepts,
    enums and patterns included."""
    findings = json.loads(asff.render(report(every_status_findings())))
    assert not _asff_errors(findings, securityhub)
    for f in findings:
        for key in ("CreatedAt", "UpdatedAt", "FirstObservedAt", "LastObservedAt"):
            assert ISO_UTC.match(f[key]), (key, f[key])
        assert f["ProductArn"] == (
            f"arn:aws:securityhub:{f['Region']}:{ACCOUNT}:product/{ACCOUNT}/default"
        )
        res = f["Resources"][0]
        assert res["Partition"] == "aws" and res["Region"] == f["Region"]


def test_asff_status_mapping() -> None:
    """Compliance, workflow and record state follow the documented table."""
    findings = json.loads(asff.render(report(every_status_findings())))
    got = {(f["ProductFields"]["mllens/Status"], f["Compliance"]["Status"],
            f["Workflow"]["Status"], f["RecordState"]) for f in findings}
    assert got == {
        ("FAIL", "FAILED", "NEW", "ACTIVE"),
        ("UNKNOWN", "WARNING", "NEW", "ACTIVE"),
        ("PASS", "PASSED", "RESOLVED", "ARCHIVED"),
        ("NOT_APPLICABLE", "NOT_AVAILABLE", "RESOLVED", "ARCHIVED"),
        ("GONE", "NOT_AVAILABLE", "RESOLVED", "ARCHIVED"),
    }
    fail = next(f for f in findings if f["Severity"]["Original"] == "high")
    assert fail["Severity"]["Label"] == "HIGH"
    assert fail["Remediation"]["Recommendation"]["Text"].startswith("Read FailureReason")
    assert fail["GeneratorId"] == f"mllens/{EP_UNHEALTHY}"
    types = {f["Resources"][0]["Type"] for f in findings}
    assert {"AwsSageMakerNotebookInstance", "Other"} <= types


def test_asff_long_text_is_clipped_to_limits(securityhub: Any) -> None:
    """A huge reason still gives a finding within the documented field limits."""
    f = finding(EP_UNHEALTHY, reason="x" * 5000, sub_resource="v" * 3000)
    out = asff.findings(report([f]))[0]
    assert len(out["Description"]) == asff.MAX_DESCRIPTION
    assert len(out["Resources"][0]["Details"]["Other"]["subResource"]) == asff.MAX_OTHER_VALUE
    assert not _asff_errors([out], securityhub)


def test_asff_model_check_is_not_vacuous(securityhub: Any) -> None:
    """The botocore check refuses a missing required field and a bad enum value."""
    good = asff.findings(report([finding(EP_UNHEALTHY)]))[0]
    missing = {k: v for k, v in good.items() if k != "GeneratorId"}
    bad_enum = {**good, "RecordState": "DELETED"}
    assert _asff_errors([missing], securityhub)
    assert _asff_errors([bad_enum], securityhub)


def test_sarif_log_validates_against_schema(sarif_validator: jsonschema.Draft4Validator) -> None:
    """The SARIF log is valid SARIF 2.1.0: rules from check metadata, ARNs as locations."""
    rep = report(every_status_findings())
    doc = json.loads(sarif.render(rep))
    errors = [f"{e.json_path}: {e.message}" for e in sarif_validator.iter_errors(doc)]
    assert not errors, errors
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert set(rules) == {f.check_id for f in rep.findings}
    chk = by_id()[EP_UNHEALTHY]
    assert rules[EP_UNHEALTHY]["shortDescription"]["text"] == chk.title
    assert rules[EP_UNHEALTHY]["help"]["text"] == chk.remediation
    kinds = {(r["kind"], r["level"]) for r in run["results"]}
    assert kinds == {("fail", "error"), ("fail", "note"), ("open", "none"), ("pass", "none"),
                     ("notApplicable", "none")}
    first = run["results"][0]
    loc = first["locations"][0]["logicalLocations"]
    assert loc[0]["fullyQualifiedName"] == arn("endpoint", "ep-a")
    assert loc[1] == {"name": "AllTraffic", "fullyQualifiedName": f"{loc[0]['fullyQualifiedName']}"
                      "/AllTraffic", "kind": "member", "parentIndex": 0}
    assert run["tool"]["driver"]["rules"][first["ruleIndex"]]["id"] == first["ruleId"]
    assert {r.get("baselineState") for r in run["results"]} >= {"new", "unchanged", "absent"}


def test_sarif_schema_check_is_not_vacuous(sarif_validator: jsonschema.Draft4Validator) -> None:
    """The vendored schema refuses a bad level and a result without a message."""
    doc = sarif.document(report([finding(EP_UNHEALTHY)]))
    res = doc["runs"][0]["results"][0]
    doc["runs"][0]["results"] = [{**res, "level": "fatal"},
                                 {k: v for k, v in res.items() if k != "message"}]
    assert len(list(sarif_validator.iter_errors(doc))) >= 2


def test_format_registry_renders_every_format() -> None:
    """Each registered format renders a newline-terminated document for the same report."""
    rep = report(every_status_findings())
    assert reports.names() == ("json", "csv", "ocsf", "asff", "sarif", "html")
    for name in reports.names():
        text = reports.render(name, rep)
        assert text.endswith("\n") and len(text) > 100, name


# -- muted findings ----------------------------------------------------------------------------


def _name(arn_or_uid: str) -> str:
    return arn_or_uid.rsplit("/", 1)[-1]


def test_json_and_csv_carry_the_mute() -> None:
    """A muted finding says muted with the rule's reason, owner and expiry; one whose mute
    expired says not muted but keeps the rule; an unmuted one has empty mute columns."""
    rep = report(muted_findings())
    rows = {_name(r["resource_arn"]): r for r in json.loads(jsonfmt.render(rep))}
    assert {k: (r["muted"], r["mute_reason"]) for k, r in rows.items()} == {
        "legacy": (True, "accepted risk"), "legacy-b": (True, "accepted risk"),
        "legacy-c": (True, "accepted risk"), "ep-lapsed": (False, "was fine until Friday"),
        "ep-open": (False, None),
    }
    assert (rows["legacy"]["mute_owner"], rows["legacy"]["mute_expires_at"]) == (
        "data-eng@example.com", "2027-06-30T00:00:00+00:00")
    table = {_name(r["resource_arn"]): r for r in csv.DictReader(io.StringIO(csvfmt.render(rep)))}
    assert (table["legacy"]["muted"], table["legacy"]["mute_reason"],
            table["legacy"]["mute_owner"]) == ("True", "accepted risk", "data-eng@example.com")
    assert (table["ep-open"]["muted"], table["ep-open"]["mute_reason"]) == ("False", "")


def test_asff_muted_finding_is_suppressed_with_a_note(securityhub: Any) -> None:
    """A muted FAIL stays FAILED and ACTIVE with its severity, and is SUPPRESSED with a Note
    giving reason, owner and expiry; botocore's model accepts it; an expired mute is NEW."""
    findings = asff.findings(report(muted_findings()))
    assert not _asff_errors(findings, securityhub)
    by = {_name(f["Resources"][0]["Id"]): f for f in findings}
    legacy = by["legacy"]
    assert (legacy["Compliance"]["Status"], legacy["Workflow"]["Status"],
            legacy["RecordState"], legacy["Severity"]["Label"]) == (
        "FAILED", "SUPPRESSED", "ACTIVE", "CRITICAL")
    assert legacy["Note"] == {
        "Text": "Muted by mllens: accepted risk; owner: data-eng@example.com; "
                "expires 2027-06-30T00:00:00+00:00",
        "UpdatedBy": "mllens", "UpdatedAt": "2026-11-30T08:05:00.000Z",
    }
    assert {k: v for k, v in legacy["ProductFields"].items() if "Mute" in k} == {
        "mllens/Muted": "true", "mllens/MuteReason": "accepted risk",
        "mllens/MuteOwner": "data-eng@example.com",
        "mllens/MuteExpiresAt": "2027-06-30T00:00:00.000Z"}
    assert (by["legacy-b"]["Compliance"]["Status"], by["legacy-b"]["Workflow"]["Status"]) == (
        "WARNING", "SUPPRESSED")
    assert (by["legacy-c"]["Workflow"]["Status"], by["legacy-c"]["RecordState"]) == (
        "RESOLVED", "ARCHIVED") and "Note" not in by["legacy-c"]
    for name in ("ep-lapsed", "ep-open"):
        assert (by[name]["Workflow"]["Status"], by[name]["RecordState"]) == ("NEW", "ACTIVE")
        assert "Note" not in by[name] and by[name]["ProductFields"]["mllens/Muted"] == "false"
    assert by["ep-lapsed"]["ProductFields"]["mllens/MuteReason"] == "was fine until Friday"


def test_asff_note_check_is_not_vacuous(securityhub: Any) -> None:
    """botocore's model refuses a Note without its author and a made-up workflow status."""
    good = asff.findings(report(muted_findings()[:1]))[0]
    no_author = {**good, "Note": {k: v for k, v in good["Note"].items() if k != "UpdatedBy"}}
    bad_status = {**good, "Workflow": {"Status": "MUTED"}}
    assert _asff_errors([no_author], securityhub)
    assert _asff_errors([bad_status], securityhub)


def test_asff_note_is_clipped_to_its_limit(securityhub: Any) -> None:
    """A long mute reason still gives a Note within Security Hub's 512 characters."""
    long = replace(MUTE, reason="r" * 2000)
    f = finding(GLUE_SECRETS, "FAIL", arn("job", "legacy"), mute=long, muted=True)
    out = asff.findings(report([f]))[0]
    assert len(out["Note"]["Text"]) == asff.MAX_NOTE and not _asff_errors([out], securityhub)


def test_sarif_muted_result_has_an_accepted_external_suppression(
    sarif_validator: jsonschema.Draft4Validator,
) -> None:
    """A muted result carries one external, accepted suppression justified by the mute's
    reason, with owner and expiry; every other result an empty list; the log stays valid."""
    doc = sarif.document(report(muted_findings()))
    errors = [f"{e.json_path}: {e.message}" for e in sarif_validator.iter_errors(doc)]
    assert not errors, errors
    got = {_name(r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]):
           r["suppressions"] for r in doc["runs"][0]["results"]}
    accepted = [{"kind": "external", "status": "accepted", "justification": "accepted risk",
                 "properties": {"owner": "data-eng@example.com",
                                "expiryUtc": "2027-06-30T00:00:00.000Z"}}]
    assert got == {"legacy": accepted, "legacy-b": accepted, "legacy-c": [],
                   "ep-lapsed": [], "ep-open": []}
    legacy = doc["runs"][0]["results"][0]
    assert (legacy["kind"], legacy["level"], legacy["properties"]["muted"]) == (
        "fail", "error", True)


def test_sarif_suppression_check_is_not_vacuous(
    sarif_validator: jsonschema.Draft4Validator,
) -> None:
    """The vendored schema refuses a suppression of an unknown kind or status, or without
    a kind."""
    doc = sarif.document(report(muted_findings()[:1]))
    res = doc["runs"][0]["results"][0]
    sup = res["suppressions"][0]
    for broken in ({**sup, "kind": "muted"}, {**sup, "status": "ok"},
                   {k: v for k, v in sup.items() if k != "kind"}):
        doc["runs"][0]["results"] = [{**res, "suppressions": [broken]}]
        assert list(sarif_validator.iter_errors(doc)), broken


def test_ocsf_muted_finding_is_suppressed(
    ocsf_validator: jsonschema.Draft202012Validator,
) -> None:
    """A muted FAIL or UNKNOWN is status 3 Suppressed, not an alert, with the mute in comment
    and unmapped.mute; an expired mute is New again; every event validates."""
    events = ocsf.events(report(muted_findings()))
    for ev in events:
        errors = [f"{e.json_path}: {e.message}" for e in ocsf_validator.iter_errors(ev)]
        assert not errors, errors
    by = {_name(e["resources"][0]["uid"]): e for e in events}
    legacy = by["legacy"]
    assert (legacy["status_id"], legacy["status"], legacy["status_code"],
            legacy["is_alert"]) == (3, "Suppressed", "FAIL", False)
    assert legacy["comment"] == ("Muted: accepted risk; owner: data-eng@example.com; "
                                 "expires 2027-06-30T00:00:00+00:00")
    assert legacy["unmapped"]["mute"] == {
        "muted": True, "reason": "accepted risk", "owner": "data-eng@example.com",
        "expires_at": "2027-06-30T00:00:00+00:00"}
    assert (by["legacy-b"]["status_id"], by["legacy-c"]["status_id"]) == (3, 4)
    assert (by["ep-lapsed"]["status_id"], by["ep-lapsed"]["is_alert"]) == (1, True)
    assert by["ep-lapsed"]["unmapped"]["mute"]["muted"] is False
    assert "comment" not in by["ep-open"] and "mute" not in by["ep-open"]["unmapped"]
