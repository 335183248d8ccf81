"""`mllens iam-policy`: the least-privilege IAM policies, generated from the code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from agent.cli.common import EXIT_USAGE, err_console, fail

_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")


def iam_policy(
    role: Annotated[
        str | None,
        typer.Option("--role", help="Print only this document: audit (the read-only role in "
                     "each member account), scanner (where mllens runs) or wa-sync (the role "
                     "mllens wa-sync writes with)."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="MLLENS_CONFIG",
                     help="Take the audit role name and SNS topic from this settings file."),
    ] = None,
    role_name: Annotated[
        str | None, typer.Option(help="Audit role the scanner may assume. Default: mllens-audit.")
    ] = None,
    sns_topic_arn: Annotated[
        str | None, typer.Option(help="Let the scanner publish notifications to this topic.")
    ] = None,
    partition: Annotated[str, typer.Option(help="aws, aws-cn or aws-us-gov.")] = "aws",
    out_dir: Annotated[
        Path | None,
        typer.Option(help="Write every policy document (one JSON file each) here."),
    ] = None,
) -> None:
    """Print the least-privilege IAM policies, generated from the code.

    Three documents: the read-only audit role of each member account, the scanner's own
    policy, and the role mllens wa-sync writes with. Each holds exactly the actions the code
    calls.
    """
    from agent.config.values import ROLE_NAME, SNS_ARN
    from agent.iam import POLICY_FILE, PolicyInputs, Principal, policies, render

    roles = [p.value for p in Principal]
    if role is not None and role not in roles:
        fail(f"unknown role {role!r}; use {', '.join(roles)}", EXIT_USAGE)
    if partition not in _PARTITIONS:
        fail(f"unknown partition {partition!r}; use {', '.join(_PARTITIONS)}", EXIT_USAGE)
    if config is not None:
        from agent.cli.stores import settings_or_fail

        settings = settings_or_fail(config)
        role_name = role_name or settings.targets.role_name
        sns_topic_arn = sns_topic_arn or settings.notifications.sns_topic_arn
    if role_name is not None and not ROLE_NAME.match(role_name):
        fail(f"--role-name: not an IAM role name: {role_name!r}", EXIT_USAGE)
    if sns_topic_arn is not None and not SNS_ARN.match(sns_topic_arn):
        fail(f"--sns-topic-arn: not an SNS topic ARN: {sns_topic_arn!r}", EXIT_USAGE)
    inputs = PolicyInputs(partition=partition, sns_topic_arn=sns_topic_arn,
                          **({"role_name": role_name} if role_name else {}))
    docs = policies(inputs)
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            for name, doc in docs.items():
                (out_dir / name).write_text(render(doc))
        except OSError as exc:
            fail(f"cannot write to {out_dir}: {exc.strerror}")
        err_console.print(f"wrote {', '.join(docs)} to {out_dir}", highlight=False)
        return
    if role is not None:
        print(render(docs[f"{POLICY_FILE[Principal(role)]}.json"]), end="")
        return
    print(json.dumps({p.value: docs[f"{POLICY_FILE[p]}.json"] for p in Principal}, indent=2))
