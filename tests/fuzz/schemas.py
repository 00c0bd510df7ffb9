"""The two schemas the fuzz tests run, with the run's bounds and seed.

``ours``: the document the live fuzz server serves at ``GET /openapi.json``. ``browserbase``: the
Browserbase API's published document, ``../shared/compat/browserbase-openapi.yaml`` from the
repository root (CI has it at the same place). Both are loaded by fixtures (a document that cannot
be loaded fails its test, never the collection of the suite).

Bounds: ``MAX_EXAMPLES`` generated cases per operation in the fuzzing phase (positive and negative
data) plus the document's own examples; Hypothesis is derandomized and schemathesis seeded with
``FUZZ_SEED``, and no example database is kept, so every run sends the same requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
import yaml
from schemathesis import GenerationMode
from schemathesis.config import HealthCheck
from schemathesis.schemas import BaseSchema

FUZZ_SEED = 20260611
MAX_EXAMPLES = 20
PHASES = ["examples", "fuzzing"]
REPO = Path(__file__).resolve().parents[2]
BROWSERBASE_SPEC = REPO.parent / "shared" / "compat" / "browserbase-openapi.yaml"


def browserbase_openapi() -> dict[str, Any]:
    if not BROWSERBASE_SPEC.is_file():
        raise FileNotFoundError(f"the Browserbase OpenAPI document is missing: {BROWSERBASE_SPEC}")
    loaded: dict[str, Any] = yaml.safe_load(BROWSERBASE_SPEC.read_text())
    return loaded


def bounded(raw: dict[str, Any]) -> BaseSchema:
    """``raw`` as a schemathesis schema, seeded and bounded."""
    schema = schemathesis.openapi.from_dict(raw, config=schemathesis.Config())
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        database="none",
    )
    schema.config.phases.update(phases=PHASES)
    # a loaded machine slows generation down; that is no finding (and no case is filtered out)
    schema.config.update(suppress_health_check=[HealthCheck.too_slow])
    schema.config.seed = FUZZ_SEED
    return schema
