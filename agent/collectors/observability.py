"""Application Auto Scaling for SageMaker variants, and CloudWatch alarms of every kind."""

from __future__ import annotations

from agent.aws.handle import CallFailed, RegionHandle
from agent.collectors.base import Builder, CollectOptions, listing
from agent.domain import Kind

AAS = "application-autoscaling"


async def autoscaling(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """Scalable targets, scaling policies and scheduled actions in the `sagemaker` namespace.

    Each is listed once for the whole region and indexed by ResourceId by the checks, rather than
    asked per variant: a few calls instead of three per variant.
    """
    for kind, operation, key in (
        (Kind.SCALABLE_TARGETS, "DescribeScalableTargets", "ScalableTargets"),
        (Kind.SCALING_POLICIES, "DescribeScalingPolicies", "ScalingPolicies"),
        (Kind.SCHEDULED_ACTIONS, "DescribeScheduledActions", "ScheduledActions"),
    ):
        out.touch(kind)
        async for item in listing(
            h, (kind,), AAS, operation, key, ServiceNamespace="sagemaker", MaxResults=50
        ):
            name = item.get("PolicyName") or item.get("ScheduledActionName") or item["ResourceId"]
            arn = (
                item.get("PolicyARN")
                or item.get("ScheduledActionARN")
                or item.get("ScalableTargetARN")
                or out.arn(AAS, f"scalable-target/{item['ResourceId']}")
            )
            out.add(kind, arn, name, item)


async def alarms(h: RegionHandle, out: Builder, opts: CollectOptions) -> None:
    """Metric alarms (including metric math and anomaly bands) and composite alarms."""
    out.touch(Kind.ALARMS)
    # DescribeAlarms pages both lists together; one listing covers both kinds.
    try:
        async for page in h.pages(
            "cloudwatch",
            "DescribeAlarms",
            "NextToken",
            "NextToken",
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
            MaxRecords=100,
        ):
            for alarm in page.get("MetricAlarms") or ():
                out.add(Kind.ALARMS, alarm["AlarmArn"], alarm["AlarmName"],
                        {**alarm, "AlarmType": "MetricAlarm"})
            for alarm in page.get("CompositeAlarms") or ():
                out.add(Kind.ALARMS, alarm["AlarmArn"], alarm["AlarmName"],
                        {**alarm, "AlarmType": "CompositeAlarm"})
    except CallFailed as failure:
        h.gap(failure, kinds=(Kind.ALARMS,))
