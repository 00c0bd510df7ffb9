"""Schemathesis over the Browserbase API's published document, every operation: no 5xx, and
responses matching the documented schemas (tests/fuzz/conftest.py, schemas.py)."""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis import Case
from schemathesis import checks as st_checks
from schemathesis.schemas import BaseSchema

from tests.fuzz.fuzzer import Fuzzer
from tests.fuzz.schemas import bounded, browserbase_openapi

pytestmark = [pytest.mark.xdist_group("fuzz"), pytest.mark.timeout(300)]

CHECKS = [st_checks.not_a_server_error, st_checks.response_schema_conformance]


@pytest.fixture
def browserbase_schema() -> BaseSchema:
    return bounded(browserbase_openapi())


schema = schemathesis.pytest.from_fixture("browserbase_schema")


@schema.parametrize()
def test_browserbase_api(case: Case, fuzz: Fuzzer) -> None:
    fuzz.send(case, CHECKS)
