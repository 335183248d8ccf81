"""deploy/: templates pass cfn-lint and embed the generated policies; the ECS and Scheduler JSON
validate against botocore's models; the Dockerfile, its build context, the compose file and the
crontab are linted without a Docker engine."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import structlog
import yaml
from botocore.validate import ParamValidator
from cfnlint.decode import decode
from typer.testing import CliRunner

from agent.cli.main import app
from agent.config import cron_trigger
from agent.iam import PolicyInputs, Principal, policy

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
TEMPLATES = sorted((DEPLOY / "cloudformation").glob("*.yaml"))
# Valid Fargate (cpu, memory) pairs for the sizes a scanner plausibly uses.
FARGATE = {"512": range(1024, 4097, 1024), "1024": range(2048, 8193, 1024),
           "2048": range(4096, 16385, 1024), "4096": range(8192, 30721, 1024)}


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """CliRunner runs the CLI callback, which binds structlog to a stream CliRunner closes
    afterwards; later in-process logging would write to it. Start and end with defaults."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def _json(name: str) -> dict[str, Any]:
    return json.loads((DEPLOY / "ecs" / name).read_text())  # type: ignore[no-any-return]


def _template(name: str) -> dict[str, Any]:
    tpl, problems = decode(str(DEPLOY / "cloudformation" / name))
    assert not problems and tpl is not None, problems
    return tpl


# -- CloudFormation ----------------------------------------------------------------------------


def test_cfn_templates_pass_cfn_lint(tmp_path: Path) -> None:
    """Every template passes cfn-lint; a broken one in the same run fails, so the lint bites."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n"
                      "      Bogus: 1\n")
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    proc = subprocess.run([str(cfn_lint), "--format", "json", *map(str, TEMPLATES), str(broken)],
                          capture_output=True, text=True, timeout=240)
    assert len(TEMPLATES) >= 2
    problems = json.loads(proc.stdout or "[]")
    assert {Path(p["Filename"]).name for p in problems} == {"broken.yaml"}, problems
    assert proc.returncode != 0


def test_audit_role_template_embeds_generated_policy() -> None:
    """The member-account role's policy is exactly `mllens iam-policy --role audit`."""
    role = _template("audit-role.yaml")["Resources"]["AuditRole"]["Properties"]
    assert role["Policies"][0]["PolicyDocument"] == policy(Principal.AUDIT)
    scanner = _template("scanner.yaml")["Resources"]["AuditReadOnlyPolicy"]["Properties"]
    assert scanner["PolicyDocument"] == policy(Principal.AUDIT)


def _intrinsics(node: Any, conditions: dict[str, bool]) -> Any:
    """Resolve the intrinsic functions the policies use: Ref and Sub as ${...}, If by value."""
    if isinstance(node, list):
        out = [_intrinsics(n, conditions) for n in node]
        return [n for n in out if n != {"Ref": "AWS::NoValue"}]
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return node if node["Ref"] == "AWS::NoValue" else "${" + node["Ref"] + "}"
        if set(node) == {"Fn::Sub"}:
            return node["Fn::Sub"]
        if set(node) == {"Fn::If"}:
            cond, yes, no = node["Fn::If"]
            return _intrinsics(yes if conditions[cond] else no, conditions)
        return {k: _intrinsics(v, conditions) for k, v in node.items()}
    return node


@pytest.mark.parametrize("has_topic", [True, False])
def test_scanner_template_embeds_generated_policy(has_topic: bool) -> None:
    """The scanner task role's policy is the generated scanner policy, SNS only with a topic."""
    role = _template("scanner.yaml")["Resources"]["TaskRole"]["Properties"]
    got = _intrinsics(role["Policies"][0]["PolicyDocument"], {"HasTopic": has_topic})
    inputs = PolicyInputs(role_name="${AuditRoleName}", partition="${AWS::Partition}",
                          sns_topic_arn="${NotificationTopicArn}" if has_topic else None)
    assert got == policy(Principal.SCANNER, inputs)


def test_audit_role_template_is_stackset_ready() -> None:
    """No account or region in the resources; the trust policy takes the scanner principal
    and requires the ExternalId, both parameters."""
    tpl = _template("audit-role.yaml")
    body = json.dumps([tpl["Resources"], tpl.get("Outputs", {})])
    assert not re.search(r"\b\d{12}\b", body)
    assert not re.search(r"\b[a-z]{2}-[a-z]+-\d\b", body)
    assert {"ScannerPrincipalArn", "ExternalId"} <= set(tpl["Parameters"])
    assert tpl["Parameters"]["ExternalId"].get("NoEcho") is True
    trust = tpl["Resources"]["AuditRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"AWS": {"Ref": "ScannerPrincipalArn"}}
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}


def test_scanner_template_has_no_fixed_account_or_region() -> None:
    """The scanner stack can be created in any account and region."""
    tpl = _template("scanner.yaml")
    body = json.dumps([tpl["Resources"], tpl.get("Outputs", {})])
    assert not re.search(r"\b\d{12}\b", body)
    assert not re.search(r"\b[a-z]{2}-[a-z]+-\d\b", body)


# -- ECS and EventBridge Scheduler -------------------------------------------------------------


@cache
def _operation(service: str, name: str) -> Any:
    return botocore.session.get_session().get_service_model(service).operation_model(name)


@pytest.mark.parametrize("file,service,operation", [
    ("task-definition.json", "ecs", "RegisterTaskDefinition"),
    ("agent-task-definition.json", "ecs", "RegisterTaskDefinition"),
    ("service.json", "ecs", "CreateService"),
    ("schedule.json", "scheduler", "CreateSchedule"),
])
def test_ecs_json_validates_against_botocore_model(file: str, service: str,
                                                   operation: str) -> None:
    """Each file is a valid input of the API call that uses it (aws ... --cli-input-json)."""
    report = ParamValidator().validate(_json(file), _operation(service, operation).input_shape)
    assert not report.has_errors(), report.generate_report()


def test_botocore_validation_rejects_a_bad_task_definition() -> None:
    """The model check bites: a misspelt member and a wrong type are reported."""
    bad = _json("task-definition.json")
    bad["containerDefinitions"][0]["readOnlyRootFilesystem"] = True
    bad["cpu"] = 1024
    report = ParamValidator().validate(bad, _operation("ecs", "RegisterTaskDefinition")
                                       .input_shape).generate_report()
    assert "readOnlyRootFilesystem" in report and "cpu" in report


@pytest.mark.parametrize("file", ["task-definition.json", "agent-task-definition.json"])
def test_task_definitions_are_hardened(file: str) -> None:
    """Non-root, read-only root file system, an init process for signals, a pinned image and
    a Fargate size that exists."""
    td = _json(file)
    (c,) = td["containerDefinitions"]
    assert c["user"].split(":")[0] not in ("", "0", "root")
    assert c["readonlyRootFilesystem"] is True and c["linuxParameters"]["initProcessEnabled"]
    assert {m["containerPath"] for m in c["mountPoints"]} == {"/tmp"}
    assert not c["image"].endswith(":latest") and ":" in c["image"].rsplit("/", 1)[1]
    assert int(td["memory"]) in FARGATE[td["cpu"]]
    assert c["logConfiguration"]["options"]["awslogs-group"] == "/mllens"


def _scan_flags() -> set[str]:
    out = CliRunner().invoke(app, ["scan", "--help"], env={"COLUMNS": "200"}).stdout
    return set(re.findall(r"--[a-z0-9-]+", out))


def test_scan_commands_use_real_flags() -> None:
    """The one-shot task, the scanner template and the crontab call `mllens scan` with flags it
    has."""
    flags = _scan_flags()
    commands = [_json("task-definition.json")["containerDefinitions"][0]["command"]]
    cfn = _template("scanner.yaml")["Resources"]["TaskDefinition"]["Properties"]
    commands.append([a for a in cfn["ContainerDefinitions"][0]["Command"] if isinstance(a, str)])
    for line in _cron_entries():
        words = shlex.split(line)
        commands.append(words[words.index("mllens") + 1:words.index(">>")])
    for cmd in commands:
        assert cmd[0] == "scan", cmd
        unknown = {a for a in cmd if a.startswith("--")} - flags
        assert not unknown, (cmd, unknown)


def test_sharded_scan_state_machine_runs_each_shard_with_the_clis_variables() -> None:
    """Substituted as CloudFormation would, the definition is JSON whose Map runs the scan
    task once per shard with MLLENS_SHARD=K/N and the execution name as MLLENS_RUN_ID, the
    environment variables `mllens scan` reads for --shard and --run-id."""
    res = _template("scanner.yaml")["Resources"]["ShardedScan"]["Properties"]
    text = res["DefinitionString"]
    values = {"Partition": "aws", "Cluster": "arn:aws:ecs:us-east-1:111122223333:cluster/c",
              "TaskDefinition": "arn:aws:ecs:us-east-1:111122223333:task-definition/t:1",
              "ShardCount": "4", "Subnets": 'subnet-1","subnet-2', "SecurityGroups": "sg-1"}
    assert set(re.findall(r"\$\{(\w+)\}", text)) == set(res["DefinitionSubstitutions"])
    doc = json.loads(re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text))
    shards = doc["States"]["Shards"]["Parameters"]["shards.$"]
    assert shards == "States.ArrayRange(1, 4, 1)"
    task = doc["States"]["Scan"]["ItemProcessor"]["States"]["ScanShard"]
    assert task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    params = task["Parameters"]
    assert params["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"] == [
        "subnet-1", "subnet-2"]
    (override,) = params["Overrides"]["ContainerOverrides"]
    env = {e["Name"]: e["Value.$"] for e in override["Environment"]}
    assert env == {"MLLENS_SHARD": "States.Format('{}/4', $.shard)", "MLLENS_RUN_ID": "$.run"}
    help_text = CliRunner().invoke(app, ["scan", "--help"], env={"COLUMNS": "200"}).stdout
    assert "MLLENS_SHARD" in help_text and "MLLENS_RUN_ID" in help_text
    task_def = _template("scanner.yaml")["Resources"]["TaskDefinition"]["Properties"]
    assert override["Name"] == task_def["ContainerDefinitions"][0]["Name"]


def test_task_environments_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MLLENS_<SECTION>__<KEY> variables the task definitions set validate as settings."""
    from agent.config import load_settings

    envs = [{e["name"]: e["value"] for e in _json(f)["containerDefinitions"][0]["environment"]}
            for f in ("task-definition.json", "agent-task-definition.json")]
    cfn = _template("scanner.yaml")["Resources"]["TaskDefinition"]["Properties"]
    # The template's values are parameter references: use each parameter's default.
    params = _template("scanner.yaml")["Parameters"]
    envs.append({e["Name"]: e["Value"] if isinstance(e["Value"], str)
                 else str(params[e["Value"]["Ref"]]["Default"])
                 for e in cfn["ContainerDefinitions"][0]["Environment"]
                 if "Ref" not in e["Value"] or e["Value"]["Ref"] in params})
    checked = 0
    for env in envs:
        for key in [k for k in os.environ if k.startswith("MLLENS_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            if "__" in key:
                monkeypatch.setenv(key, value)
                checked += 1
        load_settings(None)  # raises ConfigError on a bad name or value
    assert checked >= 4


def test_agent_health_check_is_the_health_command() -> None:
    """The agent task's health check runs `mllens health`, a command the CLI has."""
    check = _json("agent-task-definition.json")["containerDefinitions"][0]["healthCheck"]
    assert check["command"][:3] == ["CMD", "mllens", "health"]
    out = CliRunner().invoke(app, ["health", "--help"])
    assert out.exit_code == 0 and "--max-age" in out.stdout


def test_deploy_files_refer_to_each_other() -> None:
    """The schedule runs the one-shot family; the service runs the agent family."""
    scan_family = _json("task-definition.json")["family"]
    schedule = _json("schedule.json")["Target"]["EcsParameters"]["TaskDefinitionArn"]
    assert schedule.rsplit("/", 1)[1].split(":")[0] == scan_family
    assert _json("service.json")["taskDefinition"] == _json("agent-task-definition.json")[
        "family"]
    cfn = _template("scanner.yaml")["Resources"]
    assert cfn["TaskDefinition"]["Properties"]["Family"] == scan_family
    assert cfn["LogGroup"]["Properties"]["LogGroupName"] == "/mllens"


# -- Dockerfile and its build context ----------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, args = buf.partition(" ")
        out.append((word.upper(), args.strip()))
        buf = ""
    assert not buf, "dangling line continuation"
    return out


def _stages(instructions: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for ins in instructions:
        if ins[0] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def _global_args(instructions: list[tuple[str, str]]) -> dict[str, str]:
    args = {}
    for word, rest in instructions:
        if word == "FROM":
            break
        if word == "ARG" and "=" in rest:
            k, v = rest.split("=", 1)
            args[k] = v
    return args


def _copy_parts(args: str) -> tuple[dict[str, str], list[str]]:
    words = json.loads(args) if args.startswith("[") else shlex.split(args)
    flags = {}
    while words and words[0].startswith("--"):
        k, _, v = words.pop(0)[2:].partition("=")
        flags[k] = v
    return flags, words


def _ignore_regex(pattern: str) -> re.Pattern[str]:
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*" and pattern[i + 1:i + 2] == "*":
            if pattern[i + 2:i + 3] == "/":
                out, i = out + "(?:.*/)?", i + 3
                continue
            out, i = out + ".*", i + 2
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(ch, re.escape(ch))
        i += 1
    return re.compile(f"^{out}$")


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    ignored = False
    for pat in patterns:
        negate = pat.startswith("!")
        rx = _ignore_regex(pat[1:] if negate else pat)
        if any(rx.match(p) for p in prefixes):
            ignored = not negate
    return ignored


def _ignore_patterns() -> list[str]:
    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    return [ln.strip().strip("/") if not ln.strip().startswith("!") else
            "!" + ln.strip()[1:].strip("/") for ln in lines
            if ln.strip() and not ln.strip().startswith("#")]


def test_dockerignore_matcher_follows_docker_rules() -> None:
    """The test's own matcher: exceptions re-include, later patterns win, parents count."""
    pats = ["*", "!agent", "**/__pycache__", "!agent/keep/__pycache__"]
    assert _ignored("tests/x.py", pats) and not _ignored("agent/x.py", pats)
    assert _ignored("agent/sub/__pycache__/x.pyc", pats)
    assert not _ignored("agent/keep/__pycache__/x.pyc", pats)


def test_dockerfile_is_pinned_non_root_and_runs_mllens() -> None:
    """Base images pinned to a patch version, the final stage runs as a non-root user with
    `mllens` as entrypoint and a health check, and installs no dev or demo extra."""
    ins = _instructions((DEPLOY / "Dockerfile").read_text())
    args = _global_args(ins)
    stages = _stages(ins)
    assert len(stages) >= 2
    for stage in stages:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stage[0][1].split()[0])
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", image), image
    final = stages[-1]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    entry = [json.loads(rest) for word, rest in final if word == "ENTRYPOINT"]
    assert entry == [["mllens"]]
    health = [rest for word, rest in final if word == "HEALTHCHECK"]
    assert len(health) == 1 and '["mllens", "health", "--max-age", "300"]' in health[0]
    assert any(word == "ENV" and "MLLENS_LIVENESS_FILE=" in rest for word, rest in final)
    runs = " ".join(rest for word, rest in ins if word == "RUN")
    assert "[dev]" not in runs and "[demo]" not in runs and "--no-cache-dir" in runs
    assert "pip install --no-cache-dir /dist/mllens-" in runs


def test_dockerfile_copies_only_what_the_context_holds() -> None:
    """Every COPY source exists in the build context (the repository root) and is not
    excluded by deploy/Dockerfile.dockerignore; every package the wheel needs is let in."""
    ins = _instructions((DEPLOY / "Dockerfile").read_text())
    patterns = _ignore_patterns()
    copied: list[str] = []
    for word, rest in ins:
        if word not in ("COPY", "ADD"):
            continue
        assert word == "COPY", "use COPY, not ADD"
        flags, parts = _copy_parts(rest)
        if "from" in flags:
            continue
        for src in parts[:-1]:
            assert (REPO / src).exists(), src
            assert not _ignored(src, patterns), f"{src} is excluded by the .dockerignore"
            copied.append(src)
    needed = ["pyproject.toml", "README.md", "migrations/alembic.ini",
              "migrations/script.py.mako", "agent/cli/main.py", "agent/config/__init__.py",
              "checks/__init__.py"]
    for path in needed:
        assert any(path == c or path.startswith(c.rstrip("/") + "/") for c in copied), path
        assert not _ignored(path, patterns), path
    for path in ("tests/test_deploy.py", ".venv/bin/python", ".git/HEAD",
                 "agent/__pycache__/x.pyc", "bench/scan_bench.py"):
        assert _ignored(path, patterns), path


# -- compose and cron --------------------------------------------------------------------------


def test_compose_builds_this_dockerfile_next_to_a_healthy_postgres() -> None:
    """The compose file builds deploy/Dockerfile from the repository root and waits for a
    pinned PostgreSQL to be healthy before scanning into it."""
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    app_svc, pg = doc["services"]["mllens"], doc["services"]["postgres"]
    context = (DEPLOY / app_svc["build"]["context"]).resolve()
    assert context == REPO and (context / app_svc["build"]["dockerfile"]).is_file()
    assert re.fullmatch(r"postgres:\d+\.\d+(-\w+)?", pg["image"])
    assert "healthcheck" in pg
    assert app_svc["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert app_svc["environment"]["MLLENS_DB"].startswith("postgresql+psycopg://")
    assert app_svc["command"][0] == "scan" and app_svc["read_only"] is True


def _cron_entries() -> list[str]:
    lines = (DEPLOY / "cron" / "mllens.crontab").read_text().splitlines()
    return [ln for ln in lines
            if ln.strip() and not ln.startswith("#") and not re.match(r"^\w+=", ln)]


def test_crontab_entries_are_valid_cron() -> None:
    """Every entry has five valid schedule fields followed by an overlap-guarded scan."""
    entries = _cron_entries()
    assert entries
    for line in entries:
        fields = line.split()
        cron_trigger(" ".join(fields[:5]))
        assert fields[5:7] == ["flock", "-n"] and "mllens" in fields
