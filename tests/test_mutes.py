"""Mute files: parsing YAML and TOML, one-line errors, and the pure rule matcher."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.mutes import MuteFileError, MuteRule, MuteSet, load_mutes, parse_mutes, tags_of
from checks import all_checks

CATALOG = ["sagemaker_notebook_root_access_enabled", "glue_job_secrets_in_arguments"]
CATALOG_ALL = [c.id for c in all_checks()]
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:notebook-instance/intern-sandbox"
AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

YAML = """
mutes:
  - check: sagemaker_notebook_root_access_enabled
    account: "123456789012"
    region: eu-*
    resource: "arn:aws:sagemaker:*:*:notebook-instance/intern-*"
    reason: Sandbox notebooks hold no data
    owner: ml-platform@example.com
    expires: 2027-01-31
  - tags: {team: research, env: "dev*"}
    reason: research dev resources are torn down weekly
"""

TOML = """
[[mutes]]
check = "glue_job_*"
account = "123456789012"
reason = "legacy jobs, replaced in Q1"
expires = 2027-03-31T12:00:00Z
"""


def test_mutes_yaml_parses_every_field() -> None:
    """A YAML file gives rules with globs, tags, owner and a UTC expiry."""
    mutes = parse_mutes(YAML, source="m.yaml", known_checks=CATALOG)
    first, second = mutes.rules
    assert (first.check, first.account, first.region, first.owner) == (
        "sagemaker_notebook_root_access_enabled", "123456789012", "eu-*",
        "ml-platform@example.com")
    assert first.expires == datetime(2027, 1, 31, tzinfo=UTC)
    assert second.tags == {"team": "research", "env": "dev*"} and second.expires is None


def test_mutes_toml_file_is_read_as_toml(tmp_path: Path) -> None:
    """A *.toml file is TOML with the same layout; its datetimes stay UTC."""
    path = tmp_path / "mutes.toml"
    path.write_text(TOML)
    [rule] = load_mutes(path, known_checks=CATALOG).rules
    assert rule.check == "glue_job_*" and rule.expires == datetime(2027, 3, 31, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("mutes: [{check: x, reason: r, colour: red}]", "mute #1: unknown key 'colour'"),
        ("mutes: [{reason: everything}]", "mute #1: matches every finding"),
        ("mutes: [{check: '', reason: r}]", "'check' must be a non-empty string"),
        ("mutes: [{check: glue_*, reason: [a]}]", "'reason' must be text, not ['a']"),
        ("mutes: [{check: glue_*, reason: r, owner: 5}]", "'owner' must be a non-empty"),
        ("mutes: [{check: glue_*, reason: r, tags: {null: x}}]", "tag key None must be text"),
        ("mutes: [{check: glue_*, reason: r, tags: {a: [1]}}]", "tag 'a' must have a string"),
        ("mutes: [{check: glue_*, reason: r, expires: [2027]}]", "expires must be a date"),
        ("mutes: [{check: glue_*, reason: r, expires: !!set {1}}]", "expires must be a date"),
        ("mutes: [{account: 1.5, reason: r}]", "account 1.5 must be a 12-digit"),
        ("mutes: [{account: true, reason: r}]", "account True must be a 12-digit"),
        ("mutes: [{region: 2027-01-01, reason: r}]", "'region' must be a non-empty string"),
        ("mutes: [{resource: {a: b}, reason: r}]", "'resource' must be a non-empty string"),
        ("{1: x, mutes: []}", "unknown top-level key '1'"),
        ("mutes: [{check: glue_job_secrets_in_arguments}]", "'reason' is required"),
        ("mutes: [{check: glue_job_secrets_in_arguments, reason: ' '}]", "'reason' is required"),
        ("mutes: [{check: not_a_check, reason: r}]", "unknown check 'not_a_check'"),
        ("mutes: [{account: 12345, reason: r}]", "account 12345 is not 12 digits"),
        ("mutes: [{account: acme, reason: r}]", "12-digit AWS account ID or a glob"),
        ("mutes: [{region: us-east-1, reason: r, expires: soon}]", "expires 'soon' is not a date"),
        ("mutes: [{tags: [team], reason: r}]", "'tags' must be a mapping"),
        ("mutes: {check: x}", "'mutes' must be a list"),
        ("rules: []", "unknown top-level key 'rules'"),
        ("mutes: [check: x\n  reason", "not valid YAML at line"),
        ("mutes: [x]", "mute #1: expected a mapping"),
    ],
)
def test_mutes_malformed_file_is_one_line_error(text: str, problem: str) -> None:
    """Every kind of bad input names the file and the problem on one line."""
    with pytest.raises(MuteFileError) as err:
        parse_mutes(text, source="m.yaml", known_checks=CATALOG)
    message = str(err.value)
    assert problem in message and message.startswith("mute file m.yaml:")
    assert "\n" not in message


def test_mutes_unreadable_or_bad_toml_file(tmp_path: Path) -> None:
    """A missing file and broken TOML are one-line errors too; an empty file mutes nothing."""
    with pytest.raises(MuteFileError, match="no such file"):
        load_mutes(tmp_path / "nope.yaml")
    bad = tmp_path / "m.toml"
    bad.write_text("[[mutes]\ncheck = 1")
    with pytest.raises(MuteFileError, match="not valid TOML"):
        load_mutes(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_mutes(empty).rules == ()


def test_mutes_rule_matches_every_given_criterion() -> None:
    """Criteria are globs and all must match; omitted ones match anything."""
    rule = parse_mutes(YAML, known_checks=CATALOG).rules[0]
    args = ("sagemaker_notebook_root_access_enabled", "123456789012", "eu-west-1", ARN, {})
    assert rule.matches(*args)
    assert not rule.matches(args[0], "999999999999", *args[2:])
    assert not rule.matches(args[0], args[1], "us-east-1", ARN, {})
    assert not rule.matches(args[0], args[1], args[2], ARN.replace("intern", "prod"), {})
    assert not rule.matches("glue_job_secrets_in_arguments", *args[1:])


def test_mutes_tag_rule_needs_all_tags() -> None:
    """A tag rule matches when every tag it names is present and matches its glob."""
    rule = MuteRule("r", tags={"team": "research", "env": "dev*"})
    base = ("c", "123456789012", "eu-west-1", ARN)
    assert rule.matches(*base, {"team": "research", "env": "dev-2", "x": "y"})
    assert not rule.matches(*base, {"team": "research"})
    assert not rule.matches(*base, {"team": "research", "env": "prod"})


def test_mutes_tags_from_evidence_and_resource_data() -> None:
    """Tags are read from a mapping or AWS's Key/Value list, under tags or Tags."""
    assert tags_of({"Tags": [{"Key": "team", "Value": "ml"}]}, {"tags": {"env": "dev"}}, None) \
        == {"team": "ml", "env": "dev"}
    assert tags_of({"Tags": "not tags"}, {}) == {}


def test_mutes_first_active_rule_wins_and_expiry_ends_it() -> None:
    """The first rule that matches and has not expired applies; at its expiry it stops."""
    until = datetime(2026, 12, 5, tzinfo=UTC)
    first = MuteRule("until Friday", check="c*", expires=until)
    second = MuteRule("for good", check="c*")
    mutes = MuteSet((first, second))
    args = ("c1", "123456789012", "eu-west-1", ARN, {})
    assert mutes.match(*args, at=AT) is first
    assert mutes.match(*args, at=until) is second
    assert MuteSet((first,)).match(*args, at=until) is None
    assert mutes.expired(until) == [first]


def test_mutes_rule_key_follows_content() -> None:
    """The same rule has the same key; another reason or expiry is another rule."""
    a = MuteRule("why", check="c", owner="o")
    assert a.key == MuteRule("why", check="c", owner="o").key
    assert a.key != MuteRule("why not", check="c", owner="o").key
    assert a.key != MuteRule("why", check="c", owner="o", expires=AT).key


@pytest.mark.parametrize(
    "criteria",
    [
        {"check": "*"}, {"check": "**"}, {"check": "?*"}, {"check": "*_*"},
        {"account": "*"}, {"account": "????????????"}, {"account": "[0-9]*"},
        {"region": "*"}, {"region": "?*"}, {"region": "?????????*"},
        {"resource": "*"}, {"resource": "arn:*"}, {"resource": "a*"}, {"resource": "*:*"},
        {"check": "*", "region": "*"}, {"account": "*", "resource": "*", "region": "*"},
    ],
)
def test_mutes_rule_of_wildcards_that_match_anything_is_refused(
    criteria: dict[str, str],
) -> None:
    """A rule each of whose patterns matches every value of its kind would mute every
    finding: refused in one line naming the rule and the patterns."""
    rules = [{"check": "glue_job_secrets_in_arguments", "reason": "fine"},
             {**criteria, "reason": "everything, by accident"}]
    text = yaml.safe_dump({"mutes": rules})
    with pytest.raises(MuteFileError) as err:
        parse_mutes(text, source="m.yaml", known_checks=CATALOG_ALL)
    message = str(err.value)
    assert message.startswith("mute file m.yaml: mute #2: matches every finding (")
    assert all(f"{k} {v!r}" in message for k, v in criteria.items()) and "\n" not in message
    # The same rule in TOML is refused the same way.
    with pytest.raises(MuteFileError, match="mute #2: matches every finding"):
        parse_mutes(tomli_w_rules(rules), source="m.toml", toml=True, known_checks=CATALOG_ALL)


@pytest.mark.parametrize(
    "criteria",
    [
        {"check": "glue_*"}, {"account": "???????????"}, {"account": "1*"},
        {"region": "eu-*"}, {"region": "??????????*"}, {"resource": "arn:aws:glue:*"},
        {"resource": "*:job/*"}, {"check": "*", "region": "eu-west-1"},
        {"tags": {"env": "*"}}, {"check": "*", "tags": {"env": "*"}},
    ],
)
def test_mutes_rule_with_a_narrowing_criterion_is_kept(criteria: dict[str, Any]) -> None:
    """A pattern that leaves some value out, or any tag (it must be present), narrows the
    rule: it is accepted as written."""
    [rule] = parse_mutes(yaml.safe_dump({"mutes": [{**criteria, "reason": "r"}]}),
                         known_checks=CATALOG_ALL).rules
    assert rule.criteria() == {k: v for k, v in criteria.items()}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("mutes:\n  - check: glue_*\n    reason: x\n    expires: 2027-13-45\n",
         "mute #1: expires: '2027-13-45' is not a valid date or time (month must be in 1..12) "
         "(line 4)"),
        ("mutes:\n  - check: glue_*\n    reason: x\n  - check: glue_*\n    reason: y\n"
         "    expires: 0000-01-01\n", "mute #2: expires: '0000-01-01' is not a valid date"),
        ("mutes:\n  - check: glue_*\n    reason: x\n    expires: 2027-01-31T25:00:00\n",
         "mute #1: expires: '2027-01-31T25:00:00' is not a valid date or time (hour must be"),
        ("mutes:\n  - check: glue_*\n    reason: x\n    expires: !!timestamp soon\n",
         "mute #1: expires: 'soon' is not a valid date or time (line 4)"),
        ("mutes:\n  - check: !!int abc\n    reason: x\n",
         "mute #1: check: 'abc' is not a valid int"),
        ("mutes:\n  - check: glue_*\n    reason: !!bool maybe\n",
         "mute #1: reason: 'maybe' is not a valid bool"),
        ("mutes:\n  - check: !!float ''\n    reason: x\n",
         "mute #1: check: '' is not a valid float"),
        ("mutes:\n  - check: glue_*\n    reason: x\n    owner: !!str [1]\n",
         "mute #1: owner: expected a scalar node"),
        ("mutes:\n  - ? [1]\n    : x\n", "mute #1: found unhashable key"),
        ("mutes:\n  - check: glue_*\n    reason: x\n    expires: 9999-12-31T23:00:00-05:00\n",
         "mute #1: expires 9999-12-31T23:00:00-05:00 is out of range"),
        ("mutes: !!python/object:os.system x\n", "not valid YAML at line 1"),
        ("[" * 5000, "not valid YAML: nested too deeply"),
    ],
)
def test_mutes_yaml_value_that_cannot_be_built_is_one_line_error(
    text: str, problem: str
) -> None:
    """A value PyYAML cannot construct (an impossible date, a bad !!int or !!bool, an
    unhashable key) or a time out of range names the file, the rule and the key."""
    with pytest.raises(MuteFileError) as err:
        parse_mutes(text, source="m.yaml", known_checks=CATALOG)
    message = str(err.value)
    assert message.startswith("mute file m.yaml: ") and problem in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[mutes]]\ncheck = "glue_*"\nreason = "x"\n\n[[mutes]]\ncheck = "glue_*"\n'
         'reason = "y"\nexpires = 2027-13-45\n', "mute #2: not valid TOML: "),
        ('[[mutes]]\ncheck = "glue_*"\nreason = "x"\nexpires = 0001-01-01T00:00:00+01:00\n',
         "mute #1: expires 0001-01-01T00:00:00+01:00 is out of range"),
        ('[[mutes]]\ncheck = "glue_*"\nreason = "x"\nexpires = 12:00:00\n',
         "mute #1: expires must be a date (YYYY-MM-DD) or ISO 8601 time, not datetime.time"),
        ('[[mutes]]\ncheck = "glue_*"\nreason = 1\n', "mute #1: 'reason' must be text"),
        ('[[mutes]]\ncheck = ["glue_*"]\nreason = "x"\n', "mute #1: 'check' must be a"),
        ("x = " + "[" * 5000, "not valid TOML"),
    ],
)
def test_mutes_toml_value_that_cannot_be_built_is_one_line_error(
    text: str, problem: str
) -> None:
    """TOML's impossible dates, times out of range and wrong types are one-line errors that
    name the rule (the [[mutes]] table the error is in)."""
    with pytest.raises(MuteFileError) as err:
        parse_mutes(text, source="m.toml", toml=True, known_checks=CATALOG)
    message = str(err.value)
    assert message.startswith("mute file m.toml: ") and problem in message, message
    assert "\n" not in message


def tomli_w_rules(rules: list[dict[str, Any]]) -> str:
    """The rules as TOML [[mutes]] tables (flat string values and inline tag tables)."""
    out = []
    for rule in rules:
        out.append("[[mutes]]")
        for k, v in rule.items():
            if isinstance(v, dict):
                inner = ", ".join(f"{a} = {json.dumps(b)}" for a, b in v.items())
                out.append(f"{k} = {{{inner}}}")
            else:
                out.append(f"{k} = {json.dumps(v)}")
    return "\n".join(out) + "\n"
