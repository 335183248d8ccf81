"""Mute files: parsing YAML and TOML, one-line errors, and the pure rule matcher."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.mutes import MuteFileError, MuteRule, MuteSet, load_mutes, parse_mutes, tags_of

CATALOG = ["sagemaker_notebook_root_access_enabled", "glue_job_secrets_in_arguments"]
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
