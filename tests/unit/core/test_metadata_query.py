"""A session list's ``q`` (core/sessions/service.py): parsed as a whole, never split on text."""

from __future__ import annotations

import re

import pytest

from browserfleet.core.errors import InvalidRequest
from browserfleet.core.sessions.service import METADATA_QUERY, parse_metadata_query


def test_clauses_joined_by_and_in_any_case() -> None:
    q = "user_metadata['a']['b']:'1' and user_metadata['c']:'2' AND user_metadata['d']:'3'"
    assert parse_metadata_query(q) == [(["a", "b"], "1"), (["c"], "2"), (["d"], "3")]


def test_a_value_may_hold_and_and_escaped_quotes() -> None:
    q = "user_metadata['team']:'red AND blue' AND user_metadata['who']:'it\\'s'"
    assert parse_metadata_query(q) == [(["team"], "red AND blue"), (["who"], "it's")]


@pytest.mark.parametrize(
    "q",
    [
        "team=red",
        "user_metadata['a']:'x' AND",
        "user_metadata['a']:'x' OR user_metadata['b']:'y'",
        "user_metadata['a']:'x'user_metadata['b']:'y'",
        "user_metadata:'x'",
    ],
)
def test_anything_else_is_refused_naming_q(q: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_metadata_query(q)
    assert caught.value.details == [{"field": "q", "message": caught.value.message}]


@pytest.mark.parametrize(
    ("q", "valid"),
    [("user_metadata['a']:'x AND y'", True), ("user_metadata['a']:'x' AND", False), ("", False)],
)
def test_the_documented_pattern_is_the_grammar(q: str, valid: bool) -> None:
    assert (re.search(METADATA_QUERY, q) is not None) is valid
