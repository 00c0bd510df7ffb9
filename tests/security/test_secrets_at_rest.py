"""Secrets at rest: what a reader of the database (or of the data folder) must not find.

A live session's signing key is the only credential of its CDP/WebDriver/live-view endpoints, and
a session's ``proxies`` may carry the user's own proxy credentials: both are kept sealed with the
vault (core/vault.py) in the job's spec, never in plain text — a tenant who read the database
must not be able to take over another project's live session, nor learn its proxy password.
Context upload tokens are kept as hashes. The database (and its WAL/SHM), the blobs and their
folders are created private (0600 files, 0700 folders), and a start on a folder left too open
makes them private again.

Real servers, the official ``browserbase`` SDK, Playwright over ``connect_url`` and a real
upstream proxy stand-in that requires the credentials; the database is read with ``sqlite3``
directly, as an intruder would.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browserbase import Browserbase
from sqlalchemy import text

from browserfleet.core.jobs import JobKind, Route
from browserfleet.core.sessions.secrets import SessionSecrets
from browserfleet.core.vault import Vault
from browserfleet.store.db import create_engine, migrate
from browserfleet.store.repo import Store
from tests.support.fleet import FleetHarness, RunningServer
from tests.support.sessions import cdp_browser, get_session, release
from tests.support.stores import new_project, sqlite_url
from tests.support.upstream_proxy import HttpProxyStandIn

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("secrets-at-rest")]
PROXY_USER = f"proxy-user-{secrets.token_hex(6)}"
PROXY_PASSWORD = f"proxy-pass-{secrets.token_hex(8)}"
DB_FILES = ("browserfleet.db", "browserfleet.db-wal", "browserfleet.db-shm")


@pytest.fixture(scope="module")
def users_proxy() -> Iterator[HttpProxyStandIn]:
    with HttpProxyStandIn(username=PROXY_USER, password=PROXY_PASSWORD) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def sserver(harness: FleetHarness) -> Iterator[RunningServer]:
    running = harness.server(session_grace_s=1.0, session_slots=2)
    yield running
    harness.stop_server(running)


@pytest.fixture
def client(harness: FleetHarness, sserver: RunningServer) -> Browserbase:
    return Browserbase(api_key=harness.new_key(sserver), base_url=sserver.url)


def database_text(server: RunningServer) -> str:
    """Every value of every row of every table of the server's SQLite file, as text."""
    path = server.settings.data_dir / "browserfleet.db"
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert "jobs" in tables and "contexts" in tables, tables
        parts = []
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                parts.extend(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row)
        return "\n".join(parts)
    finally:
        connection.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_signing_keys_proxy_credentials_and_upload_tokens_are_not_in_the_database(
    sserver: RunningServer, client: Browserbase, users_proxy: HttpProxyStandIn, site_url: str
) -> None:
    users_proxy.reset()
    port = int(site_url.rsplit(":", 1)[1])
    token = uuid.uuid4().hex
    session = client.sessions.create(
        keep_alive=True,
        proxies=[
            {
                "type": "external",
                "server": f"http://127.0.0.1:{users_proxy.port}",
                "username": PROXY_USER,
                "password": PROXY_PASSWORD,
                "domain_pattern": r"^localhost$",
            },
            {"type": "none"},
        ],
    )
    context = client.contexts.create()
    upload_token = context.upload_url.split("token=", 1)[1]
    try:
        stored = database_text(sserver)
        assert session.id in stored  # the session's row is there ...
        assert session.signing_key not in stored  # ... but not its key
        assert PROXY_PASSWORD not in stored and PROXY_USER not in stored
        assert upload_token not in stored and client.api_key not in stored  # hashes only

        # the session still works with its key: the node opened it, and the proxy credentials
        with cdp_browser(session.connect_url) as browser:
            page = browser.contexts[0].new_page()
            response = page.goto(f"http://localhost:{port}/api/echo?t={token}")
            assert response is not None and response.status == 200
            assert response.json()["query"] == {"t": token}
        assert any(token in target for target in users_proxy.requests), users_proxy.requests
        assert set(users_proxy.users) == {PROXY_USER} and users_proxy.refused == []

        # a wrong key still opens nothing; GET keeps handing the owner its key
        wrong = httpx.get(
            f"{sserver.url}/v1/sessions/{session.id}/connect/json/version?signingKey=x", timeout=10
        )
        assert wrong.status_code == 401
        body = get_session(sserver, client.api_key, session.id)
        assert body["signingKey"] == session.signing_key and body["connectUrl"] == session.connect_url
        assert session.signing_key not in database_text(sserver)
    finally:
        release(client, sserver, client.api_key, session.id)
    stored = database_text(sserver)
    assert session.signing_key not in stored and PROXY_PASSWORD not in stored and PROXY_USER not in stored


def test_database_and_blobs_are_private(sserver: RunningServer, client: Browserbase, site_url: str) -> None:
    session = client.sessions.create()
    with cdp_browser(session.connect_url) as browser:
        browser.contexts[0].new_page().goto(f"{site_url}/search")
    release(client, sserver, client.api_key, session.id)  # its log is kept as a blob

    data_dir = sserver.settings.data_dir
    present = [name for name in DB_FILES if (data_dir / name).exists()]
    assert "browserfleet.db" in present
    for name in present:
        assert mode(data_dir / name) & 0o077 == 0, f"{name}: {oct(mode(data_dir / name))}"
    blobs = data_dir / "blobs"
    files = [p for p in blobs.rglob("*") if p.is_file()]
    assert any(p.parent.name == session.id for p in files), files
    assert mode(blobs) & 0o077 == 0, oct(mode(blobs))
    for path in [p for p in blobs.rglob("*")]:
        assert mode(path) & 0o077 == 0, f"{path}: {oct(mode(path))}"


def test_a_start_makes_an_open_database_and_blob_folder_private_and_warns_about_the_data_folder(
    harness: FleetHarness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "too-open"
    first = harness.server(data_dir=data_dir)
    harness.stop_server(first)
    # left open by an older version, a restore, or an operator's chmod
    os.chmod(data_dir, 0o755)
    for name in DB_FILES:
        if (data_dir / name).exists():
            os.chmod(data_dir / name, 0o644)
    (data_dir / "blobs").chmod(0o755)
    capsys.readouterr()

    second = harness.server(data_dir=data_dir)
    try:
        assert mode(data_dir / "browserfleet.db") == 0o600
        for name in DB_FILES[1:]:
            if (data_dir / name).exists():
                assert mode(data_dir / name) & 0o077 == 0, name
        assert mode(data_dir / "blobs") == 0o700
        assert mode(data_dir) == 0o755  # the data folder is the operator's: reported, not changed
        logged = capsys.readouterr()
        text = logged.out + logged.err
        assert "data_dir.too_open" in text and str(data_dir) in text, text
    finally:
        harness.stop_server(second)


async def test_upgrading_scrubs_plain_text_secrets_written_by_older_versions(tmp_path: Path) -> None:
    """Migration 0008: an older version's session rows lose their plain-text key and credentials."""
    engine = create_engine(sqlite_url(tmp_path))
    try:
        await migrate(engine, "0007")
        store = Store(engine)
        project = await new_project(store)
        old_key = secrets.token_urlsafe(32)
        spec = {
            "signing_key": old_key,
            "session_timeout_s": 60,
            "timeout_s": 90,
            "proxies": [
                {
                    "type": "external",
                    "server": "http://proxy.example:8080",
                    "username": PROXY_USER,
                    "password": PROXY_PASSWORD,
                    "domainPattern": "x",
                },
                {"type": "none"},
            ],
        }
        for job_id in ("ses_old_ended", "ses_old_running"):
            await store.insert_job(
                job_id=job_id, project_id=project.id, kind=JobKind.SESSION, route=Route(), spec=spec
            )
        await migrate(engine, "head")
        for job_id in ("ses_old_ended", "ses_old_running"):
            job = await store.get_job(job_id)
            assert job is not None
            assert job.spec["signing_key"] == ""
            assert job.spec["proxies"] == [
                {"type": "external", "server": "http://proxy.example:8080", "domainPattern": "x"},
                {"type": "none"},
            ]
        async with engine.connect() as conn:
            dumped = str((await conn.execute(text("SELECT spec FROM jobs"))).all())
        assert old_key not in dumped and PROXY_PASSWORD not in dumped and PROXY_USER not in dumped
    finally:
        await engine.dispose()


def test_sealed_session_secrets_open_only_for_their_session_and_server() -> None:
    vault, other_server = Vault(secrets.token_bytes(32)), Vault(secrets.token_bytes(32))
    sealer = SessionSecrets(vault)
    key = secrets.token_urlsafe(32)
    sealed = sealer.seal_key("ses_a", key)
    assert key not in sealed and sealed.startswith("sealed:v1:")
    assert sealer.open_key("ses_a", sealed) == key
    assert sealer.open_key("ses_b", sealed) is None  # copied onto another session's row
    assert SessionSecrets(other_server).open_key("ses_a", sealed) is None
    assert sealer.open_key("ses_a", key) is None  # a plain-text value is not a key

    proxies = [
        {"type": "external", "server": "http://p:1", "username": PROXY_USER, "password": PROXY_PASSWORD},
        {"type": "external", "server": "http://q:2"},
        {"type": "none"},
    ]
    stored = sealer.seal_proxies("ses_a", proxies)
    assert PROXY_USER not in str(stored) and PROXY_PASSWORD not in str(stored)
    assert stored[1:] == proxies[1:] and set(stored[0]) == {"type", "server", "credentials"}
    assert sealer.open_proxies("ses_a", stored) == proxies
    with pytest.raises(ValueError, match="do not open"):
        sealer.open_proxies("ses_b", stored)
