"""Schemathesis over the server's own OpenAPI document (``GET /openapi.json``): no 5xx, only
documented status codes, responses matching their schemas, and valid input accepted
(tests/fuzz/conftest.py, schemas.py)."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from schemathesis import Case
from schemathesis import checks as st_checks
from schemathesis.schemas import BaseSchema

from tests.fuzz.fuzzer import Fuzzer
from tests.fuzz.schemas import bounded

pytestmark = [pytest.mark.xdist_group("fuzz"), pytest.mark.timeout(300)]

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.response_schema_conformance,
    st_checks.positive_data_acceptance,
]


@pytest.fixture
def our_schema(fuzz: Fuzzer) -> BaseSchema:
    document = httpx.get(f"{fuzz.server.url}/openapi.json", timeout=30)
    document.raise_for_status()
    return bounded(document.json())


schema = schemathesis.pytest.from_fixture("our_schema")


@schema.parametrize()
def test_our_api(case: Case, fuzz: Fuzzer) -> None:
    fuzz.send(case, CHECKS)
