"""The ExternalId, end to end: the scanner side of deploy/ supplies what the audit role's trust
policy requires. Both templates are parsed (the trust condition key, the variable the task
sets), the JSON task definitions are checked alike, and a scan configured by the scanner
template's environment assumes, in the emulator, a role whose trust policy is audit-role.yaml's.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import aioboto3
import pytest

from agent.config import load_settings, scan_request
from agent.domain import GapKind, Kind
from agent.emulator import Emulator
from agent.emulator.org import MANAGEMENT, MemberSpec, clients_for, seed_organization
from agent.scan import ScanOutcome, run_scan
from agent.store import Store
from checks import all_checks
from tests.test_deploy import _json, _template

VARIABLE = "MLLENS_TARGETS__EXTERNAL_ID"
REGION = "us-east-1"


def _audit_external_id_param() -> tuple[str, dict[str, Any]]:
    """The audit role's trust condition: sts:ExternalId equals which parameter."""
    tpl = _template("audit-role.yaml")
    (statement,) = tpl["Resources"]["AuditRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"]
    condition = statement["Condition"]["StringEquals"]
    assert set(condition) == {"sts:ExternalId"}
    name = condition["sts:ExternalId"]["Ref"]
    return name, tpl["Parameters"][name]


def _scanner_secret() -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(condition, the secret resource, the parameter it holds) behind the task's variable."""
    tpl = _template("scanner.yaml")
    container = tpl["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    found = []
    for item in container["Secrets"]:
        if "Fn::If" in item:
            cond, value, other = item["Fn::If"]
            assert other == {"Ref": "AWS::NoValue"}
            item = {**value, "_if": cond}
        if item["Name"] == VARIABLE:
            found.append(item)
    (entry,) = found
    secret = tpl["Resources"][entry["ValueFrom"]["Ref"]]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret.get("Condition") == entry.get("_if")
    param = secret["Properties"]["SecretString"]["Ref"]
    return entry["_if"], secret, tpl["Parameters"][param] | {"_name": param}


def test_scanner_template_passes_the_external_id_the_trust_policy_requires() -> None:
    """audit-role.yaml trusts the scanner only with sts:ExternalId equal to its ExternalId
    parameter; scanner.yaml takes the same value (same name, NoEcho, same allowed values),
    keeps it in a secret its execution role may read, hands it to the task as
    MLLENS_TARGETS__EXTERNAL_ID, and refuses an organisation scan without it."""
    audit_name, audit = _audit_external_id_param()
    cond, _secret, param = _scanner_secret()
    assert param["_name"] == audit_name and param["NoEcho"] is True and audit["NoEcho"] is True
    samples = ["ab", "mllens-4f1c", "a=b,c.d@e:f/g-h_i+j", "x" * 1224]
    refused = ["a", "has space", "x" * 1225, "semi;colon"]

    def accepts(p: dict[str, Any], value: str) -> bool:
        return (bool(re.fullmatch(p["AllowedPattern"], value))
                and len(value) <= int(p.get("MaxLength", 10**6))
                and len(value) >= int(p.get("MinLength", 0)))

    assert all(accepts(audit, v) and accepts(param, v) for v in samples)
    assert not any(accepts(audit, v) or accepts(param, v) for v in refused)
    tpl = _template("scanner.yaml")
    assert tpl["Conditions"][cond] == {"Fn::Not": [{"Fn::Equals": [
        {"Ref": audit_name}, ""]}]}
    (rule,) = [r for r in tpl["Rules"].values()
               if r["RuleCondition"] == {"Fn::Equals": [{"Ref": "ScanOrganization"}, "true"]}]
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": audit_name}, ""]}]} in [
        a["Assert"] for a in rule["Assertions"]]
    reads = tpl["Resources"]["ExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"][0]
    assert reads["Action"] == "secretsmanager:GetSecretValue"
    secret_name = [n for n, r in tpl["Resources"].items()
                   if r["Type"] == "AWS::SecretsManager::Secret"]
    assert {"Fn::If": [cond, {"Ref": secret_name[0]}, {"Ref": "AWS::NoValue"}]} in reads[
        "Resource"]


@pytest.mark.parametrize("file", ["task-definition.json", "agent-task-definition.json"])
def test_task_definitions_pass_the_external_id(file: str) -> None:
    """The JSON task definitions scan the organisation through the audit role and take the
    ExternalId from a secret, as the variable mllens reads."""
    (c,) = _json(file)["containerDefinitions"]
    secrets = {s["name"]: s["valueFrom"] for s in c["secrets"]}
    assert secrets[VARIABLE].startswith("arn:aws:secretsmanager:")
    env = {e["name"]: e["value"] for e in c["environment"]}
    assert env["MLLENS_TARGETS__ORGANIZATION"] == "true"
    assert env["MLLENS_TARGETS__ROLE_NAME"] == _template("audit-role.yaml")["Parameters"][
        "RoleName"]["Default"]


# -- end to end, in the emulator ---------------------------------------------------------------


def _resolve(node: Any, values: dict[str, str]) -> Any:
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return values[node["Ref"]]
        return {k: _resolve(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, values) for v in node]
    return node


def _task_environment(external_id: str | None) -> dict[str, str]:
    """What the scanner template's task gets, for ScanOrganization=true."""
    tpl = _template("scanner.yaml")
    params = {k: str(v.get("Default", "")) for k, v in tpl["Parameters"].items()}
    params.update(ScanOrganization="true", ExternalId=external_id or "",
                  **{"AWS::Region": REGION})
    container = tpl["Resources"]["TaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    env = {e["Name"]: _resolve(e["Value"], params) for e in container["Environment"]}
    if external_id:  # what ECS puts in the variable: the secret's value, the parameter
        _cond, secret, _param = _scanner_secret()
        env[VARIABLE] = _resolve(secret["Properties"]["SecretString"], params)
    return env


@pytest.fixture(scope="module")
def org_emu() -> Iterator[tuple[Emulator, str]]:
    """An organisation whose member's audit role trusts as audit-role.yaml says."""
    role_name = _template("scanner.yaml")["Parameters"]["AuditRoleName"]["Default"]
    with Emulator() as emu:
        emu.reset()
        org = seed_organization(emu, [MemberSpec("member")], (REGION,),
                                management_estate=False, role_name=role_name)
        member = org.id("member")
        trust = _template("audit-role.yaml")["Resources"]["AuditRole"]["Properties"][
            "AssumeRolePolicyDocument"]
        policy = _resolve(trust, {
            "ScannerPrincipalArn": f"arn:aws:iam::{MANAGEMENT}:role/mllens-scanner",
            "ExternalId": "the-shared-external-id"})
        clients_for(emu, member, REGION)["iam"].update_assume_role_policy(
            RoleName=role_name, PolicyDocument=json.dumps(policy))
        yield emu, member
        emu.reset()


def _scan(emu: Emulator, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
          tmp_path: Any) -> ScanOutcome:
    import os

    for key in [k for k in os.environ if k.startswith("MLLENS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("MLLENS_") and "__" in key:
            monkeypatch.setenv(key, value)
    req = scan_request(load_settings(None), all_checks(), endpoint_url=emu.url)
    req = replace(req, checks=tuple(c for c in req.checks
                                    if set(c.needs) <= {Kind.NOTEBOOK_INSTANCES}),
                  targets=replace(req.targets, regions=(REGION,)))

    def session() -> Any:
        return aioboto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                region_name=REGION)

    with Store.open(f"sqlite:///{tmp_path / 'scan.db'}") as store:
        return asyncio.run(run_scan(req, store, session))


@pytest.mark.emulator
@pytest.mark.parametrize("given,ok,hint", [
    ("the-shared-external-id", True, ""),
    (None, False, "no ExternalId was sent"),
    ("another-value", False, "an ExternalId was sent"),
])
def test_scan_with_the_scanner_environment_assumes_the_audit_role(
    org_emu: tuple[Emulator, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
    given: str | None, ok: bool, hint: str,
) -> None:
    """With the ExternalId both stacks were given, the member is scanned; without it, or with
    another, the account fails with a gap that names the possible causes and says whether an
    ExternalId was sent."""
    emu, member = org_emu
    outcome = _scan(emu, _task_environment(given), monkeypatch, tmp_path)
    (acct,) = [a for a in outcome.accounts if a.account_id == member]
    if ok:
        assert acct.state == "complete", acct.reason
        return
    assert acct.state == "failed"
    (gap,) = acct.gaps
    assert gap.kind is GapKind.ASSUME_ROLE_FAILED
    assert hint in gap.message and "does not exist" in gap.message
    assert "trust policy does not name the principal" in gap.message
    assert hint in acct.reason
