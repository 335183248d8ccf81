"""Incremental inventory against the emulator: a re-scan of an unchanged estate describes
nothing it kept and judges exactly as the first scan did; a changed record is described again;
--full describes everything; the cache round-trips records and drops what is gone."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import aioboto3
import pytest
from sqlalchemy import func, select

from agent.aws.handle import Limits
from agent.collectors import CollectOptions
from agent.emulator import Emulator
from agent.emulator.org import MANAGEMENT, clients_for
from agent.scan import ScanOutcome, ScanRequest, run_scan
from agent.store import Store
from agent.store.inventory import CacheEntry, CacheWrite, decode, encode
from agent.store.tables import InventoryRecord
from checks import all_checks
from tests.estates import management_estate

pytestmark = pytest.mark.emulator

REGION = "us-east-1"
# The calls that read one record each: what a re-scan of an unchanged estate should not make.
PER_RECORD = ("sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig",
              "sagemaker:DescribeModel", "sagemaker:DescribeTrainingJob",
              "sagemaker:DescribeNotebookInstance", "glue:GetJobRuns")


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with management_estate(REGION) as e:
        yield e


def _scan(emu: Emulator, store: Store, **collect: Any) -> ScanOutcome:
    req = ScanRequest(checks=all_checks(), regions=(REGION,), endpoint_url=emu.url,
                      limits=Limits(max_attempts=2, rates={}, default_rate=1000.0),
                      collect=CollectOptions(**collect))
    return asyncio.run(run_scan(req, store, lambda: aioboto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)))


def _verdicts(scan: ScanOutcome) -> set[tuple[str, str, str, str, str]]:
    return {(r.check_id, r.resource_arn, r.sub_resource or "", r.status.value, r.reason)
            for r in scan.results}


def _per_record(scan: ScanOutcome) -> Counter[str]:
    return Counter({op: n for op, n in scan.calls_by_operation.items() if op in PER_RECORD})


def test_rescan_of_an_unchanged_estate_describes_nothing_kept(emu: Emulator,
                                                              tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'inc.db'}") as store:
        first = _scan(emu, store)
        second = _scan(emu, store)
        assert first.status == second.status == "complete"
        assert sum(_per_record(first).values()) >= 10, first.calls_by_operation
        assert _per_record(second) == Counter(), second.calls_by_operation
        # Only listings: the first scan's, plus one page of endpoint configs proving the
        # kept configs are the ones that exist.
        assert second.calls_by_operation["sagemaker:ListEndpointConfigs"] == 1
        assert second.api_calls == first.api_calls - sum(_per_record(first).values()) + 1
        # The same judgement from kept records as from fresh ones, reasons and evidence times
        # included (datetimes come back as datetimes).
        assert _verdicts(second) == _verdicts(first)
        summary = store.scan(second.scan_id).summary  # type: ignore[union-attr]
        assert summary["inventory"]["reused"]["models"] >= 3
        assert summary["inventory"]["described"] == {}
        # --full reads everything again, as the first scan did.
        full = _scan(emu, store, full=True)
        assert _per_record(full) == _per_record(first)
        assert _verdicts(full) == _verdicts(first)


def test_changed_records_are_described_again(emu: Emulator, tmp_path: Path) -> None:
    """A model made again under the same name, a stopped notebook, an endpoint moved to a new
    config, an endpoint whose capacity changed and a history past its age are read again;
    everything else is reused."""
    sm = clients_for(emu, MANAGEMENT, REGION)["sagemaker"]
    with Store.open(f"sqlite:///{tmp_path / 'inc.db'}") as store:
        first = _scan(emu, store)
        old = sm.describe_model(ModelName="archived-baseline")
        sm.delete_model(ModelName="archived-baseline")
        sm.create_model(ModelName="archived-baseline",
                        PrimaryContainer={**old["PrimaryContainer"], "Image": "new:latest"},
                        ExecutionRoleArn=old["ExecutionRoleArn"], EnableNetworkIsolation=True)
        notebooks = sm.list_notebook_instances()["NotebookInstances"]
        sm.stop_notebook_instance(NotebookInstanceName=notebooks[0]["NotebookInstanceName"])
        # forecast-legacy moves to a new config: the endpoint and that config are read again.
        legacy = sm.describe_endpoint_config(EndpointConfigName="forecast-cfg")
        sm.create_endpoint_config(EndpointConfigName="forecast-cfg-v2",
                                  ProductionVariants=legacy["ProductionVariants"])
        sm.update_endpoint(EndpointName="forecast-legacy", EndpointConfigName="forecast-cfg-v2")
        # Autoscaling changes ranker's capacity: its LastModifiedTime moves, it is read again.
        sm.update_endpoint_weights_and_capacities(
            EndpointName="ranker",
            DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 3}])
        second = _scan(emu, store, history_max_age_hours=0)
        calls = _per_record(second)
        assert calls["sagemaker:DescribeModel"] == 1
        assert calls["sagemaker:DescribeNotebookInstance"] == 1
        assert calls["glue:GetJobRuns"] == first.calls_by_operation["glue:GetJobRuns"]
        assert calls["sagemaker:DescribeEndpoint"] == 2
        assert calls["sagemaker:DescribeEndpointConfig"] == 1
        configs = {r.resource_arn.rsplit("/", 1)[-1] for r in second.results
                   if r.resource_kind == "endpoint_configs"}
        assert "forecast-cfg-v2" in configs and "forecast-cfg" not in configs
        isolation = {r.status.value for r in second.results
                     if r.check_id == "sagemaker_model_network_isolation_disabled"
                     and r.resource_arn.endswith("/archived-baseline")}
        assert isolation == {"PASS"}


def test_cache_round_trips_records_and_drops_what_is_gone(db_url: str) -> None:
    at = datetime(2026, 11, 3, 4, 5, 6, 789, tzinfo=UTC)
    record = MappingProxyType({"CreationTime": at, "Nested": [{"When": at, "N": 1}],
                               "Tuple": ("a", "b"), "Flag": False, "None": None})
    assert decode(encode(record)) == {"CreationTime": at, "Nested": [{"When": at, "N": 1}],
                                      "Tuple": ["a", "b"], "Flag": False, "None": None}
    with Store.open(db_url) as store:

        def write(entries: list[CacheEntry], listed: dict[tuple[str, str], frozenset[str]]
                  ) -> None:
            # An account is written once per scan: each write is a scan of its own.
            store.write_account(store.start_scan({}), "111111111111", [], [], [], [], set(),
                                cache=CacheWrite(entries, listed))

        entry = CacheEntry(REGION, "models", "arn:m1", "m1", "v1", record)
        write([entry, CacheEntry(REGION, "models", "arn:m2", "m2", "v1", {})], {})
        write([CacheEntry(REGION, "models", "arn:m1", "m1", "v2", {"A": 1})],
              {(REGION, "models"): frozenset({"arn:m1"})})
        cached = store.cached_inventory("111111111111", REGION, ["models"])
        assert set(cached) == {("models", "arn:m1")}
        assert cached[("models", "arn:m1")].version == "v2"
        assert decode(cached[("models", "arn:m1")].doc) == {"A": 1}
        with store._session("count") as s:
            assert s.scalar(select(func.count()).select_from(InventoryRecord)) == 1
