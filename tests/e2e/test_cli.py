"""The ``browserfleet`` command line, run as real subprocesses.

Accounts commands (projects, keys, balance) write to a data dir that a real server then
serves; ``render`` works embedded (own browsers) and against a server.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from browserfleet.core.accounts import hash_key
from browserfleet.core.jobs import JobState
from browserfleet.settings import Settings
from browserfleet.store.records import ApiKeyRecord
from browserfleet.store.repo import Store
from tests.support.cluster import cluster_env
from tests.support.e2e import TEST_SITE_EGRESS, RenderApi, cli_env, run_cli, wait_until
from tests.support.fleet import FleetHarness, RunningServer

pytestmark = pytest.mark.xdist_group("cli")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# What a command that needs no engine must not load: the browsers' driver, the node package, the
# fleet, the store's engine and migrations, the web framework.
HEAVY = ("playwright", "browserfleet.node", "browserfleet.fleet", "sqlalchemy", "alembic", "fastapi")
# Runs the CLI in-process, then writes the modules it loaded to the file named by argv[1].
WITH_MODULES = """
import atexit, json, sys
out, sys.argv = sys.argv[1], ["browserfleet", *sys.argv[2:]]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
from browserfleet.cli import main
main()
"""


def _flat(text: str) -> str:
    """Rich wraps long lines on stderr: compare with whitespace collapsed."""
    return " ".join(text.split())


def _key_from(stdout: str) -> str:
    lines = stdout.splitlines()
    assert lines, "keys create printed nothing on stdout"
    key = lines[-1]
    assert re.fullmatch(r"bf_[A-Za-z0-9_-]{30,}", key), f"last stdout line is not just a key: {key!r}"
    return key


@pytest.mark.browser
def test_accounts_commands_next_to_a_running_server(
    harness: FleetHarness, tmp_path: Path, site_url: str
) -> None:
    data_dir = tmp_path / "data"
    by_flag = ["--data-dir", str(data_dir)]
    by_env = cli_env(BROWSERFLEET_DATA_DIR=str(data_dir))
    served = harness.server(data_dir=data_dir)
    with RenderApi(served.url, harness.new_key(served)) as other:
        # admin commands run while the server on the same data dir is rendering
        in_flight = other.create(
            {"url": f"{site_url}/slow?ms=5", "waitFor": [{"type": "delay", "duration": 6000}]}
        )
        wait_until(
            lambda: (
                (job := harness.run(served.fleet.store.get_job(in_flight))) and job.state is JobState.RUNNING
            ),
            20,
            what="the server's render running",
        )

        created = run_cli("projects", "create", "acme", "--concurrency", "3", *by_flag)
        assert created.returncode == 0, created.stderr
        assert re.fullmatch(r"prj_\w+ acme concurrency=3 timeout=\d+s\n", created.stdout), created.stdout

        added = run_cli(
            "balance", "add", "--project", "acme", "--cents", "500", "--kind", "bonus", env=by_env
        )
        assert added.returncode == 0, added.stderr
        assert "bonus=500" in added.stdout.split()

        made = run_cli("keys", "create", "--project", "acme", *by_flag)
        assert made.returncode == 0, made.stderr
        key = _key_from(made.stdout)
        assert "acme" in made.stderr  # the explanation goes to stderr, stdout ends with the key

        unknown = run_cli("keys", "create", "--project", "nope", env=by_env)
        assert unknown.returncode != 0
        assert "No project named 'nope'" in _flat(unknown.stderr)
        assert unknown.stdout.strip() == ""

        # an embedded render on the server's data dir would take over its jobs: refused
        clash = run_cli("render", f"{site_url}/api/text", *by_flag)
        assert clash.returncode != 0
        assert "Another browserfleet process is running" in _flat(clash.stderr)

        # the commands left the server's render alone: it finished on its first attempt
        finished = other.wait(in_flight, 60)
        assert finished.status_code == 200, finished.text
        assert finished.json()["status"] == "completed"
        job = harness.run(served.fleet.store.get_job(in_flight))
        assert job is not None and job.attempts == 1

    # the running server accepts the key the CLI made, with the balance it set
    bad = httpx.get(f"{served.api}/account/balance", headers={"Authorization": "Bearer bf_nope"})
    assert bad.status_code == 401
    with RenderApi(served.url, key) as api:
        balance = api.balance()
    assert balance["breakdown"]["bonus"]["cents"] == 500
    assert balance["breakdown"]["paid"]["cents"] == 0
    assert balance["totalBalanceCents"] == balance["breakdown"]["free"]["cents"] + 500
    project = harness.run(served.fleet.store.project_by_name("acme"))
    assert project is not None
    assert project.concurrency_limit == 3


@pytest.mark.browser
def test_render_embedded_writes_html_and_screenshot(tmp_path: Path, site_url: str) -> None:
    page, shot = tmp_path / "page.html", tmp_path / "shot.png"
    env = cli_env(BROWSERFLEET_EGRESS_ALLOW=TEST_SITE_EGRESS)
    done = run_cli(
        "render",
        f"{site_url}/delayed?ms=400",
        "-o",
        str(page),
        "--screenshot",
        str(shot),
        "--wait-for",
        "selector:#late",
        "--data-dir",
        str(tmp_path / "data"),
        env=env,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    assert 'id="late"' in html
    assert "Ready after delay" in html  # inserted by the page's script after 400 ms
    image = shot.read_bytes()
    assert image.startswith(PNG_MAGIC)
    assert len(image) > 1000
    assert done.stdout == ""  # the HTML went to the file

    # the render was charged to project `default`, but made no key: the first `serve` still
    # prints one (a key nobody was shown would leave the user without access)
    made = run_cli("keys", "create", "--data-dir", str(tmp_path / "data"))
    assert made.returncode == 0, made.stderr
    keys = stored_key_count(tmp_path / "data")
    assert keys == 1


@pytest.mark.browser
def test_render_through_a_server(
    harness: FleetHarness, server: RunningServer, api_key: str, site_url: str
) -> None:
    with RenderApi(server.url, api_key) as api:
        before = api.balance_cents()
        done = run_cli(
            "render",
            f"{site_url}/js-content",
            "--wait-for",
            "selector:#from-api .api-item",
            "--server",
            server.url,
            "--key",
            api_key,
        )
        assert done.returncode == 0, done.stderr
        assert "Product 20 — $200.00" in done.stdout  # the HTML goes to stdout without -o
        assert "Gamma" in done.stdout
        assert api.balance_cents() == before - 1


def test_render_rejects_a_bad_wait_for(tmp_path: Path) -> None:
    failed = run_cli(
        "render", "http://127.0.0.1:9/", "--wait-for", "foo", "--data-dir", str(tmp_path / "data")
    )
    assert failed.returncode != 0
    message = _flat(failed.stderr)
    assert "--wait-for 'foo'" in message
    assert "selector:CSS" in message
    assert failed.stdout == ""
    assert not (tmp_path / "data" / "browserfleet.db").exists()  # refused before doing anything


def stored_key_count(data_dir: Path) -> int:
    """API keys stored in a CLI data dir, read straight from its SQLite file."""
    with sqlite3.connect(data_dir / "browserfleet.db") as db:
        return int(db.execute("SELECT count(*) FROM api_keys").fetchone()[0])


def test_bad_settings_are_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    cases = (
        ({"BROWSERFLEET_PROXIES": '[{"url": "ftp://exit.test", "country": "DE"}]'}, "url scheme must be"),
        ({"BROWSERFLEET_NODE_SLOTS": "lots"}, "node_slots"),
    )
    for env, expected in cases:
        failed = run_cli("keys", "create", "--data-dir", str(tmp_path / "data"), env=cli_env(**env))
        assert failed.returncode == 1
        assert expected in _flat(failed.stderr)
        assert "Traceback" not in failed.stderr
        assert failed.stdout.strip() == ""  # no key was made


def test_a_taken_port_is_one_clear_line_before_anything_starts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        commands = (
            ("serve", "--port", port, "--data-dir", str(data_dir)),
            ("node", "--port", port, "--data-dir", str(data_dir)),
        )
        # a fleet's Redis and PostgreSQL that nothing answers: a node must fail before it needs them
        unreachable = cluster_env("redis://127.0.0.1:9/0", "postgresql://fleet@127.0.0.1:9/fleet")
        for command in commands:
            failed = run_cli(*command, env=unreachable if command[0] == "node" else cli_env())
            assert failed.returncode == 1, failed.stderr
            assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in _flat(failed.stderr)
            assert "Traceback" not in failed.stderr
            assert not (data_dir / "browserfleet.db").exists()  # it stopped before the store


def cli_modules(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``browserfleet ARGS``; its result and the heavy modules it imported."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", WITH_MODULES, str(out), *args],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    loaded = json.loads(out.read_text())
    return done, [m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]


def test_help_and_keys_create_load_no_engine(tmp_path: Path) -> None:
    done, heavy = cli_modules(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    assert "keys" in done.stdout
    assert heavy == []

    data = ["--data-dir", str(tmp_path / "data")]
    first = run_cli("keys", "create", *data)  # a new data dir: the full path creates and migrates it
    assert first.returncode == 0, first.stderr
    done, heavy = cli_modules(tmp_path, "keys", "create", *data)
    assert done.returncode == 0, done.stderr
    assert heavy == []
    key = _key_from(done.stdout)
    assert "default" in done.stderr

    # the row is the one the store writes: read back through it, and the key is the project's
    url = Settings(data_dir=tmp_path / "data").resolved_database_url

    async def stored() -> tuple[str, list[ApiKeyRecord]]:
        store = await Store.open(url)
        try:
            project = await store.project_for_key(hash_key(key))
            assert project is not None
            return project.name, await store.api_keys(project.id)
        finally:
            await store.close()

    name, keys = asyncio.run(stored())
    assert name == "default"
    made = next(k for k in keys if k.key_hash == hash_key(key))
    assert made.prefix == key[:10]
    assert made.revoked_at is None
    assert abs(datetime.now(UTC) - made.created_at) < timedelta(minutes=1)
    assert stored_key_count(tmp_path / "data") == 2


@pytest.mark.browser
def test_render_through_a_server_loads_no_engine(
    server: RunningServer, api_key: str, site_url: str, tmp_path: Path
) -> None:
    args = ("render", f"{site_url}/bench", "--server", server.url, "--key", api_key)
    done, heavy = cli_modules(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    assert 'class="bench-row"' in done.stdout
    assert heavy == []


def test_render_through_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    done = run_cli("render", "http://127.0.0.1:9/", "--server", "http://127.0.0.1:9", "--key", "bf_x")
    assert done.returncode == 1
    assert "http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr
