"""Objective checks over hand-built inventories: targets, units, windows, selection, pricing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from agent.domain import Inventory, Kind, Result, Status
from checks import by_id
from checks._objectives import Objective, Objectives
from checks.base import check
from checks.options import EvaluationOptions
from checks.runner import evaluate
from tests.contract_build import cfg, ep, series, serverless_cfg, tags_of
from tests.contract_objectives import (
    COST,
    ERRORS,
    FLOOR,
    LATENCY,
    estate,
    goal,
    hourly_sum,
    options,
    p99,
    record,
    traffic,
)
from tests.factories import gap, inv, statuses


def run(check_id: str, inventory: Inventory, opts: EvaluationOptions) -> list[Result]:
    return list(evaluate([by_id()[check_id]], inventory, None, opts))


def only(check_id: str, inventory: Inventory, opts: EvaluationOptions) -> Result:
    [result] = run(check_id, inventory, opts)
    return result


TWO = [{"VariantName": "a", "CurrentInstanceCount": 1}, {"VariantName": "b",
                                                         "CurrentInstanceCount": 1}]


def test_latency_converts_microseconds_and_reports_measured_and_target() -> None:
    """ModelLatency is microseconds: a p99 of 250,000 us is 250 ms, over a 200 ms target;
    the reason and evidence carry both, and exactly the target passes."""
    opts = options(goal("fraud-api", p99_latency_ms=200.0))
    result = only(LATENCY, estate(*traffic(latency_ms=250.0)), opts)
    assert result.status is Status.FAIL and result.sub_resource == "AllTraffic"
    assert "250.0 ms" in result.reason and "200 ms" in result.reason
    assert "fraud-api" in result.reason
    assert (result.evidence["p99_ms"], result.evidence["target_ms"],
            result.evidence["objective"]) == (250.0, 200.0, "fraud-api")
    assert only(LATENCY, estate(*traffic(latency_ms=200.0)), opts).status is Status.PASS


def test_latency_per_variant_and_shadow_not_judged() -> None:
    """Each production variant is judged on its own p99; a variant without traffic while
    another had some is NOT_APPLICABLE; shadow variants are not judged."""
    endpoint = ep(variants=TWO, ShadowProductionVariants=[
        {"VariantName": "shadow", "CurrentInstanceCount": 1}])
    found = [*traffic(latency_ms=90.0, variant="a"),
             hourly_sum("Invocations", 0.0, hours=0, variant="b"),
             *traffic(latency_ms=900.0, variant="shadow")]
    opts = options(goal(p99_latency_ms=100.0))
    assert statuses(run(LATENCY, estate(*found, endpoint=endpoint), opts)) == {
        "ep/a": Status.PASS, "ep/b": Status.NOT_APPLICABLE}
    slow_b = [*traffic(latency_ms=90.0, variant="a"), *traffic(latency_ms=130.0, variant="b")]
    assert statuses(run(LATENCY, estate(*slow_b, endpoint=endpoint), opts)) == {
        "ep/a": Status.PASS, "ep/b": Status.FAIL}


def test_no_datapoints_new_endpoint_vs_quiet_endpoint() -> None:
    """No datapoints at all: a new endpoint is not judged yet, an old one is UNKNOWN (no
    traffic to measure), never PASS; traffic without a latency datapoint is UNKNOWN too."""
    opts = options(goal(p99_latency_ms=100.0, max_5xx_rate_pct=1.0))
    new = estate(endpoint=ep(age_days=2))
    old = estate(endpoint=ep(age_days=30))
    for check_id, target in ((LATENCY, "ep/AllTraffic"), (ERRORS, "ep")):
        assert statuses(run(check_id, new, opts)) == {target: Status.NOT_APPLICABLE}
        assert statuses(run(check_id, old, opts)) == {target: Status.UNKNOWN}
    calls_only = estate(hourly_sum("Invocations", 3.0))
    result = only(LATENCY, calls_only, opts)
    assert result.status is Status.UNKNOWN and "no ModelLatency" in result.reason


def test_metrics_gaps_and_unusable_records_are_unknown() -> None:
    """A gap on the objective metrics, a missing record, a record over another window and a
    partial CloudWatch answer each make the endpoint UNKNOWN."""
    opts = options(goal(p99_latency_ms=100.0))
    cases = {
        "gap": inv(ep(), cfg(), gaps=[gap(Kind.OBJECTIVE_METRICS)]),
        "no record": inv(ep(), cfg(), kinds=(Kind.OBJECTIVE_METRICS,)),
        "other window": inv(ep(), cfg(), record("ep", p99(50.0, days=3), days=3)),
        "partial": estate(p99(50.0, status="PartialData")),
    }
    for name, inventory in cases.items():
        assert set(statuses(run(LATENCY, inventory, opts)).values()) == {Status.UNKNOWN}, name


def test_not_serving_and_unselected_endpoints_are_not_applicable() -> None:
    """An endpoint that is not serving, or that no objective with that target selects, is
    NOT_APPLICABLE; so is every endpoint when no objective is configured (the default)."""
    failed_ep = estate(*traffic(latency_ms=900.0), endpoint=ep(status="Failed"))
    assert statuses(run(LATENCY, failed_ep, options(goal(p99_latency_ms=1.0)))) == {
        "ep": Status.NOT_APPLICABLE}
    cost_only = options(goal(max_monthly_cost_usd=1.0))
    assert statuses(run(LATENCY, estate(*traffic()), cost_only)) == {"ep": Status.NOT_APPLICABLE}
    for check_id in (LATENCY, ERRORS, FLOOR, COST):
        results = list(evaluate([by_id()[check_id]], estate(*traffic())))
        assert [r.status for r in results] == [Status.NOT_APPLICABLE], check_id


def test_strictest_of_several_objectives_applies() -> None:
    """Two objectives select the endpoint: the stricter target is judged and named."""
    opts = options(goal("team", p99_latency_ms=300.0),
                   goal("platform", endpoint="e*", p99_latency_ms=150.0))
    result = only(LATENCY, estate(*traffic(latency_ms=200.0)), opts)
    assert result.status is Status.FAIL and result.evidence["objective"] == "platform"


def test_tag_selection_and_unknown_tags() -> None:
    """Tags select (without case); with tags not collected a tag-only objective is UNKNOWN; a
    PASS against a name objective becomes UNKNOWN when a stricter tag objective is undecided,
    while a FAIL stays a FAIL."""
    by_tag = options(goal("prod", endpoint=None, tags={"Environment": "PROD"},
                          p99_latency_ms=100.0))
    endpoint = ep()
    tagged = inv(endpoint, cfg(), record("ep", *traffic(latency_ms=150.0)),
                 tags_of(endpoint, environment="prod"))
    assert statuses(run(LATENCY, tagged, by_tag)) == {"ep/AllTraffic": Status.FAIL}
    other = inv(endpoint, cfg(), record("ep", *traffic()), tags_of(endpoint, environment="dev"))
    assert statuses(run(LATENCY, other, by_tag)) == {"ep": Status.NOT_APPLICABLE}
    denied = inv(endpoint, cfg(), record("ep", *traffic(latency_ms=50.0)),
                 gaps=[gap(Kind.TAGS)])
    result = only(LATENCY, denied, by_tag)
    assert result.status is Status.UNKNOWN and "prod" in result.reason
    both = options(goal("loose", p99_latency_ms=500.0),
                   goal("strict", endpoint=None, tags={"tier": "gold"}, p99_latency_ms=100.0))
    assert only(LATENCY, denied, both).status is Status.UNKNOWN  # 50 ms < 500, 100 undecided
    slow = inv(endpoint, cfg(), record("ep", *traffic(latency_ms=700.0)), gaps=[gap(Kind.TAGS)])
    assert only(LATENCY, slow, both).status is Status.FAIL


def test_error_rate_sums_variants_and_needs_error_datapoints() -> None:
    """The rate is all 5XX over all requests of the production variants; a variant that
    served requests without any 5XX datapoint is UNKNOWN; async endpoints are UNKNOWN."""
    opts = options(goal(max_5xx_rate_pct=2.0))
    endpoint = ep(variants=TWO)
    mixed = [*traffic(calls=10.0, errors=0.0, variant="a"),
             *traffic(calls=10.0, errors=0.5, variant="b")]  # 84 of 3360 = 2.5 %
    result = only(ERRORS, estate(*mixed, endpoint=endpoint), opts)
    assert result.status is Status.FAIL and result.evidence["rate_pct"] == 2.5
    assert result.evidence["variants"]["b"] == {"invocations": 1680.0, "errors_5xx": 84.0}
    assert "2.5%" in result.reason and "2%" in result.reason
    no_errors_series = estate(hourly_sum("Invocations", 4.0), endpoint=ep())
    assert only(ERRORS, no_errors_series, opts).status is Status.UNKNOWN
    async_ep = ep(AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://b/o"}})
    assert only(ERRORS, estate(*traffic(), endpoint=async_ep), opts).status is Status.UNKNOWN


def test_floor_counts_missing_days_as_zero_and_skips_days_before_creation() -> None:
    """A day without datapoints has zero requests and fails the floor; days before the
    endpoint existed in full are not judged."""
    opts = options(goal(min_invocations_per_day=100))
    last_two_days = hourly_sum("Invocations", 10.0, hours=48)  # the 5 days before: nothing
    result = only(FLOOR, estate(last_two_days), opts)
    assert result.status is Status.FAIL and result.evidence["lowest_invocations"] == 0
    assert len(result.evidence["daily_invocations"]) == 7
    young = estate(last_two_days, endpoint=ep(age_days=2))
    passed = only(FLOOR, young, opts)
    assert passed.status is Status.PASS
    assert list(passed.evidence["daily_invocations"].values()) == [240.0, 240.0]
    nobody = only(FLOOR, estate(), opts)
    assert nobody.status is Status.FAIL and "0 invocation(s)" in nobody.reason


def test_cost_prices_regions_shadow_serverless_async() -> None:
    """Hourly price x count x 730 over production and shadow variants; the default table is
    us-east-1 only, config prices apply everywhere; serverless and async are UNKNOWN."""
    opts = options(goal(max_monthly_cost_usd=200.0))
    shadowed = inv(ep(ShadowProductionVariants=[{"VariantName": "s",
                                                  "CurrentInstanceCount": 2}]),
                   cfg(ShadowProductionVariants=[{"VariantName": "s", "ModelName": "m",
                                                  "InstanceType": "ml.m5.large",
                                                  "InitialInstanceCount": 2}]))
    result = only(COST, shadowed, opts)  # 3 x 0.115 x 730 = 251.85
    assert result.status is Status.FAIL and result.evidence["estimate_usd"] == 251.85
    assert "$251.85" in result.reason and "$200.00" in result.reason
    west = Inventory(shadowed.account_id, "eu-west-1", shadowed.collected_at,
                     shadowed.resources, ())
    unpriced = only(COST, west, opts)
    assert unpriced.status is Status.UNKNOWN and "us-east-1 prices only" in unpriced.reason
    priced = only(COST, west, options(goal(max_monthly_cost_usd=300.0),
                                      prices={"ml.m5.large": 0.12}))
    assert priced.status is Status.PASS
    assert priced.evidence["variants"][0]["price_source"] == "objectives.prices"
    assert only(COST, inv(ep(), serverless_cfg()), opts).status is Status.UNKNOWN
    async_cfg = cfg(AsyncInferenceConfig={"OutputConfig": {"S3OutputPath": "s3://b/o"}})
    assert only(COST, inv(ep(), async_cfg), opts).status is Status.UNKNOWN


def test_cost_partly_unpriced_fails_only_when_the_priced_part_exceeds() -> None:
    """An unpriced variant leaves the estimate a lower bound: FAIL when the priced variants
    already exceed the ceiling, UNKNOWN otherwise."""
    two = [{"VariantName": "a", "ModelName": "m", "InstanceType": "ml.p3.2xlarge",
            "InitialInstanceCount": 1},
           {"VariantName": "b", "ModelName": "m", "InstanceType": "ml.m4.xlarge",
            "InitialInstanceCount": 1}]
    estate_ = inv(ep(variants=TWO), cfg(variants=two))
    over = only(COST, estate_, options(goal(max_monthly_cost_usd=1000.0)))
    assert over.status is Status.FAIL and "at least" in over.reason
    assert over.evidence["unpriced"] and over.evidence["estimate_usd"] == 2792.25
    under = only(COST, estate_, options(goal(max_monthly_cost_usd=5000.0)))
    assert under.status is Status.UNKNOWN and "ml.m4.xlarge" in under.reason


def test_objectives_endpoint_globs_cover_every_selectable_endpoint() -> None:
    """Collectors read the endpoints name globs cover; a tag-only objective widens it to all."""
    assert Objectives().endpoint_globs() == ()
    named = Objectives((goal("a", endpoint="fraud-*", max_monthly_cost_usd=1.0),
                        goal("b", endpoint="churn", max_monthly_cost_usd=1.0)))
    assert named.endpoint_globs() == ("churn", "fraud-*")
    tagged = Objectives((*named.workloads, Objective("c", None, (("team", "x"),),
                                                     max_monthly_cost_usd=1.0)))
    assert tagged.endpoint_globs() == ("*",)
    assert Objective("g", "FRAUD-*").selects("fraud-api", None) is True


def test_check_options_must_be_evaluation_option_arguments() -> None:
    """A check naming an option EvaluationOptions lacks, or one that is not a keyword-only
    argument with a default, is refused when it is declared."""

    def body(inv: Any, *, objectives: Any = None) -> Any:
        """PASS never: a declaration test."""
        yield from ()

    with pytest.raises(TypeError, match="not an EvaluationOptions field"):
        check(title="t", severity=by_id()[LATENCY].severity, lens=("MLOPS01-BP03",),
              needs=(Kind.ENDPOINTS,), remediation="r", options=("budget",))(body)
    declared = check(title="t", severity=by_id()[LATENCY].severity, lens=("MLOPS01-BP03",),
                     needs=(Kind.ENDPOINTS,), remediation="r", options=("objectives",))(body)
    assert declared.params == () and declared.options == ("objectives",)


def test_series_helper_shape_matches_the_collector() -> None:
    """The builders used here produce what the collector stores (name, dims, stat period)."""
    s = p99(10.0)
    assert (s["MetricName"], s["Period"], s["Values"]) == ("ModelLatency", 7 * 86400, [10000.0])
    assert series("Invocations", [1.0])["Dimensions"] == {"EndpointName": "ep",
                                                          "VariantName": "AllTraffic"}


def test_objective_metrics_are_collected_only_with_objectives() -> None:
    """Without objectives a scan leaves the objective metrics out (nothing to judge, and no
    coverage claimed for what was not read); with them it collects them."""
    assert EvaluationOptions().unneeded == {Kind.OBJECTIVE_METRICS}
    assert options(goal(p99_latency_ms=1.0)).unneeded == frozenset()


def test_latency_p99_stamped_at_cloudwatch_own_period_boundary_still_counts() -> None:
    """The p99 period spans the whole window; a datapoint CloudWatch stamps just before the
    window's start is still the window's p99, not missing data."""
    early = p99(300.0)
    early["Timestamps"] = [early["Timestamps"][0] - timedelta(hours=5)]
    result = only(LATENCY, estate(hourly_sum("Invocations", 1.0), early),
                  options(goal(p99_latency_ms=200.0)))
    assert result.status is Status.FAIL and result.evidence["p99_ms"] == 300.0
