"""Ready-to-run code that connects to a session: Playwright, Puppeteer and Selenium, with its URLs."""

from __future__ import annotations

import json


def snippets(connect_url: str, selenium_url: str, signing_key: str) -> dict[str, str]:
    """Language label → source, each using the session's own ``connectUrl`` / ``seleniumRemoteUrl``."""
    cdp, remote, key = json.dumps(connect_url), json.dumps(selenium_url), json.dumps(signing_key)
    return {
        "Playwright (Python)": (
            "from playwright.sync_api import sync_playwright\n\n"
            "with sync_playwright() as pw:\n"
            f"    browser = pw.chromium.connect_over_cdp({cdp})\n"
            "    page = browser.contexts[0].pages[0]\n"
            '    page.goto("https://example.com")\n'
            "    print(page.title())\n"
        ),
        "Puppeteer (Node.js)": (
            'const puppeteer = require("puppeteer-core");\n\n'
            "(async () => {\n"
            f"  const browser = await puppeteer.connect({{ browserWSEndpoint: {cdp} }});\n"
            "  const [page] = await browser.pages();\n"
            '  await page.goto("https://example.com");\n'
            "  console.log(await page.title());\n"
            "  browser.disconnect();\n"
            "})();\n"
        ),
        "Selenium (Python)": (
            "from selenium import webdriver\n"
            "from selenium.webdriver.remote.client_config import ClientConfig\n"
            "from selenium.webdriver.remote.remote_connection import RemoteConnection\n\n"
            f'config = ClientConfig({remote}, extra_headers={{"x-bb-signing-key": {key}}})\n'
            "driver = webdriver.Remote(\n"
            "    command_executor=RemoteConnection(client_config=config), options=webdriver.ChromeOptions()\n"
            ")\n"
            'driver.get("https://example.com")\n'
            "print(driver.title)\n"
        ),
    }
