"""The official browser7 SDK, unchanged, against a real server."""

from __future__ import annotations

from browser7 import Browser7, wait_for_selector

from tests.support.fleet import RunningServer


def test_sdk_renders_js_built_content(server: RunningServer, api_key: str, site_url: str) -> None:
    with Browser7(api_key=api_key, base_url=server.api) as client:
        before = client.get_account_balance().total_balance_cents
        result = client.render(f"{site_url}/js-content", wait_for=[wait_for_selector("#from-api .api-item")])
        after = client.get_account_balance().total_balance_cents
    assert result.status == "completed"
    assert result.html is not None
    assert "Product 20 — $200.00" in result.html
    assert "Gamma" in result.html
    assert result.load_strategy == "custom"
    assert before - after == 1
