"""Every built-in connector passes the contract kit; none is left without a sample."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.registry import builtin
from tests.contract.kit import check_connector
from tests.contract.samples import SAMPLES


def test_every_builtin_connector_has_a_contract_sample() -> None:
    assert set(builtin()) == set(SAMPLES)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_connector_contract(name: str, tmp_path: Path) -> None:
    check_connector(SAMPLES[name], tmp_path)
