"""The default hourly price table the monthly-cost objective estimates with.

On-demand list prices of SageMaker real-time inference (hosting) instances, in USD per
instance-hour, in us-east-1 only. They were transcribed in 2024 from the SageMaker pricing page
as several public copies of it agree; mllens does not fetch prices from AWS. Types whose
published prices disagreed between sources (g5, inf2, p4d, p5 among them) are left out on
purpose: a type missing from the table makes the cost verdict UNKNOWN, which is better than a
FAIL or PASS on a wrong price.

AWS changes prices and they differ per region, so this table is used only in `PRICE_REGION`;
anywhere else, and for any type not listed, users give their own prices in
`[objectives.prices]` (which also override these in us-east-1). Savings plans, reserved
capacity, storage and data transfer are not included: the estimate is instances only.
"""

from __future__ import annotations

from types import MappingProxyType

PRICE_REGION = "us-east-1"
PRICES_AS_OF = "2024"
PRICE_SOURCE = (f"mllens default table: SageMaker real-time inference on-demand list prices, "
                f"{PRICE_REGION}, as of {PRICES_AS_OF}")
# AWS prices a month as 730 hours (365 days x 24 h / 12).
HOURS_PER_MONTH = 730

DEFAULT_PRICES = MappingProxyType({
    "ml.t2.medium": 0.056,
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.g4dn.xlarge": 0.736,
    "ml.g4dn.2xlarge": 0.94,
    "ml.p3.2xlarge": 3.825,
})
