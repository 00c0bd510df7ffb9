"""Inputs at the edges of what the Automations API takes: they are answered in the family's
``{"message", "details"?}`` envelope with a 4xx, never a 500 (after a 500 the server closes the
connection, so a client's next keep-alive request on it would be reset: each test goes on with the
same client to show the connection survived)."""

from __future__ import annotations

import httpx
import pytest

from browserfleet.core.automations.tasks import MAX_PAGE
from tests.support.automations import Automations

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("automations")]


def test_a_page_past_what_a_database_offset_holds_is_400(client: Automations) -> None:
    task = client.create_task([])
    for path in ("/v1/tasks", f"/v1/tasks/{task['uid']}/runs"):
        for page in (2**63 - 1, MAX_PAGE + 1, 10**30):
            answer = client.http.get(path, params={"page": page})
            assert answer.status_code == 400, (path, page, answer.text)
            body = answer.json()
            assert set(body) == {"message", "details"} and body["message"].startswith("page: ")
            assert body["details"][0]["field"] == "page"
        last = client.http.get(path, params={"page": MAX_PAGE})  # the last page there can be: empty
        assert last.status_code == 200 and last.json() == []
    assert client.http.get("/v1/tasks").json()[0]["uid"] == task["uid"]  # the same connection


def test_a_file_url_with_a_non_ascii_signature_is_404(client: Automations) -> None:
    with httpx.Client(base_url=client.server.url, timeout=10) as anonymous:  # the URL is the key
        for query in ("sig=%C3%A9", "sig=%C3%A9&expires=9999999999", "sig=%FF%FE", "sig=abc%00"):
            answer = anonymous.get(f"/v1/automations/files/x/y?{query}")
            assert answer.status_code == 404, (query, answer.text)
            assert answer.json() == {"message": "File not found"}
        assert anonymous.get("/v1/automations/files/x/y?sig=abc").status_code == 404  # still open
