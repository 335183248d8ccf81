"""An emulated AWS organisation: a management account, member accounts in OUs, an audit role.

Built through the AWS APIs against the emulator like a platform team's own tooling would:
Organizations creates the members (moto gives each the OrganizationAccountAccessRole), the
audit role is created in each member through that role, and each member's ML estate is seeded
with assumed-role clients, reusing the building blocks of `agent.emulator.seed`. moto keeps
every account's resources apart behind the keys AssumeRole hands out, so a scan through the
audit role sees each member's own estate.

The emulator is switched to `strict_roles`: AssumeRole fails, as on AWS, for a member without
the audit role or with the wrong ExternalId.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from agent.emulator import seed
from agent.emulator.faults import DEFAULT_ACCOUNT_ID, FaultRule
from agent.emulator.server import Emulator

MANAGEMENT = DEFAULT_ACCOUNT_ID
AUDIT_ROLE = "MLLensAudit"
EXTERNAL_ID = "mllens-demo-4f1c"
BOOTSTRAP_ROLE = "OrganizationAccountAccessRole"  # what CreateAccount gives every member
SERVICES = ("sagemaker", "cloudwatch", "application-autoscaling", "glue", "iam")

Clients = dict[str, Any]
EstateFn = Callable[[Emulator, Clients, str, str], None]  # (emu, clients, account_id, region)


def clients_for(emu: Emulator, account_id: str, region: str) -> Clients:
    """boto3 clients acting in `account_id`: the management keys, or the bootstrap role."""
    kw: dict[str, Any] = {"endpoint_url": emu.url, "region_name": region,
                          "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    if account_id != MANAGEMENT:
        creds = boto3.client("sts", **kw).assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/{BOOTSTRAP_ROLE}",
            RoleSessionName="mllens-seed",
        )["Credentials"]
        kw.update(aws_access_key_id=creds["AccessKeyId"],
                  aws_secret_access_key=creds["SecretAccessKey"],
                  aws_session_token=creds["SessionToken"])
    return {s: boto3.client(s, **kw) for s in SERVICES}  # type: ignore[call-overload]


def install_audit_role(
    iam: Any, role_name: str = AUDIT_ROLE, external_id: str | None = EXTERNAL_ID,
    trusted_account: str = MANAGEMENT,
) -> str:
    """The read-only audit role, trusting the management account (with an ExternalId)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{trusted_account}:root"},
        "Action": "sts:AssumeRole",
    }
    if external_id:
        statement["Condition"] = {"StringEquals": {"sts:ExternalId": external_id}}
    role = iam.create_role(
        RoleName=role_name,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
        Description="mllens read-only audit role",
    )
    # moto does not evaluate IAM policies; the inline policy documents what the role may do.
    iam.put_role_policy(RoleName=role_name, PolicyName="mllens-read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "sagemaker:List*", "sagemaker:Describe*", "cloudwatch:DescribeAlarms",
            "application-autoscaling:Describe*", "glue:GetJobs", "glue:GetSecurityConfigurations",
            "glue:GetDataCatalogEncryptionSettings", "ec2:DescribeRegions",
        ]}],
    }))
    return str(role["Role"]["Arn"])


# -- member estates: small, distinct, built from the demo seed's pieces ------------------------

def production_estate(emu: Emulator, c: Clients, account_id: str, region: str) -> None:
    """A production account: one hardened, autoscaled, alarmed endpoint and one legacy one."""
    sm, cw, aas = c["sagemaker"], c["cloudwatch"], c["application-autoscaling"]
    seed._model(sm, "ranker-v4", region, hardened=True)
    sm.create_endpoint_config(
        EndpointConfigName="ranker-cfg-v4",
        ProductionVariants=[seed._variant("primary", "ranker-v4", "ml.c5.xlarge", 2)],
        DataCaptureConfig=seed._capture(region, "ranker", kms=True),
        KmsKeyId=seed.KMS.format(region=region),
    )
    sm.create_endpoint(EndpointName="ranker", EndpointConfigName="ranker-cfg-v4")
    seed._autoscale(aas, "ranker", "primary")
    seed._math_error_rate_alarm(cw, region, "ranker", "primary")
    seed._variant_alarm(cw, region, "ranker", "primary", "ModelLatency", 200_000)
    seed._model(sm, "forecast-2020", region, hardened=False, public=True)
    sm.create_endpoint_config(
        EndpointConfigName="forecast-cfg",
        ProductionVariants=[seed._variant("AllTraffic", "forecast-2020", "ml.m4.xlarge", 1)],
    )
    sm.create_endpoint(EndpointName="forecast-legacy", EndpointConfigName="forecast-cfg")


def research_estate(emu: Emulator, c: Clients, account_id: str, region: str) -> None:
    """A research account: notebooks, training jobs, Glue ETL and an unused archived model."""
    sm = c["sagemaker"]
    seed._notebooks(sm, region)
    seed._training(sm, "churn-train-2026-11-20", region, hardened=True, instance="ml.c5.2xlarge")
    seed._training(sm, "vision-train-2026-11-05", region, hardened=False,
                   instance="ml.p3.2xlarge")
    seed._model(sm, "archived-baseline", region, hardened=False)
    seed._glue(c["glue"], region)


@dataclass(frozen=True, slots=True)
class MemberSpec:
    name: str
    estate: EstateFn | None = None
    audit_role: bool = True
    ou: str = "Workloads"
    closed: bool = False  # closed through CloseAccount: SUSPENDED, so never scanned


DEMO_MEMBERS: tuple[MemberSpec, ...] = (
    MemberSpec("ml-prod", production_estate, ou="Production"),
    MemberSpec("ml-research", research_estate, ou="Research"),
    MemberSpec("data-platform", research_estate, audit_role=False, ou="Research"),
    MemberSpec("ml-sandbox", research_estate, ou="Sandbox", closed=True),
)


@dataclass
class OrgEstate:
    management: str
    regions: tuple[str, ...]
    role_name: str
    external_id: str | None
    accounts: dict[str, str] = field(default_factory=dict)  # member name -> account ID
    ous: dict[str, str] = field(default_factory=dict)  # OU name -> OU ID
    root: str = ""

    def id(self, name: str) -> str:
        return self.accounts[name]


def seed_organization(
    emu: Emulator,
    members: Sequence[MemberSpec] = DEMO_MEMBERS,
    regions: Sequence[str] = seed.DEMO_REGIONS,
    *,
    management_estate: bool = True,
    role_name: str = AUDIT_ROLE,
    external_id: str | None = EXTERNAL_ID,
) -> OrgEstate:
    """Create the organisation, its members and their estates; switch on strict role checks.

    `management_estate` seeds the management account with the full demo estate of
    `agent.emulator.seed` (without the demo's region-wide faults).
    """
    emu.faults.strict_roles = True
    org = clients_for_org(emu)
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    estate = OrgEstate(MANAGEMENT, tuple(regions), role_name, external_id, root=root)
    mgmt = clients_for(emu, MANAGEMENT, regions[0])
    install_audit_role(mgmt["iam"], role_name, external_id)
    if management_estate:
        for region in regions:
            seed.seed_region(emu, region)
    for m in members:
        if m.ou not in estate.ous:
            estate.ous[m.ou] = org.create_organizational_unit(
                ParentId=root, Name=m.ou)["OrganizationalUnit"]["Id"]
        status = org.create_account(AccountName=m.name, Email=f"{m.name}@example.com")
        account_id = status["CreateAccountStatus"]["AccountId"]
        estate.accounts[m.name] = account_id
        org.move_account(AccountId=account_id, SourceParentId=root,
                         DestinationParentId=estate.ous[m.ou])
        if m.audit_role:
            install_audit_role(clients_for(emu, account_id, regions[0])["iam"], role_name,
                               external_id)
        if m.estate is not None:
            for region in regions:
                m.estate(emu, clients_for(emu, account_id, region), account_id, region)
        if m.closed:
            org.close_account(AccountId=account_id)
    return estate


def clients_for_org(emu: Emulator) -> Any:
    return emu.client("organizations", "us-east-1")


def demo_faults(emu: Emulator, estate: OrgEstate) -> None:
    """What the demo organisation cannot show: an SCP hiding alarms in one member's eu-west-1,
    and a region one member never enabled."""
    prod, research = estate.id("ml-prod"), estate.id("ml-research")
    emu.faults.add(FaultRule(
        service="monitoring", operation="DescribeAlarms", account=prod, region="eu-west-1",
        code="AccessDenied", status=403,
        message="User is not authorized to perform: cloudwatch:DescribeAlarms with an explicit "
                "deny in a service control policy",
    ))
    emu.faults.disable_region(research, "eu-west-1")
