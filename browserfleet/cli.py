"""The ``browserfleet`` command: serve, accounts, embedded renders, maintenance.

The engine is imported lazily, inside the commands that need it: ``browserfleet --help`` loads
typer only, ``keys create`` on a current SQLite store adds the settings and sqlite3
(store/sqlite_keys.py), and ``render --server`` loads neither Playwright nor the store
(tests/e2e/test_cli.py checks each).
"""

from __future__ import annotations

import base64
import functools
import gzip
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from browserfleet.core.errors import BrowserfleetError

if TYPE_CHECKING:
    from rich.console import Console

    from browserfleet.fleet import Fleet
    from browserfleet.settings import Settings
    from browserfleet.store.records import ProjectRecord

# Plain help and tracebacks: typer's rich ones import Markdown and Pygments (~0.25 s of every start)
PLAIN: dict[str, Any] = {"no_args_is_help": True, "rich_markup_mode": None, "pretty_exceptions_enable": False}
app = typer.Typer(help="browserfleet: self-hosted browser automation.", **PLAIN)
keys_app = typer.Typer(help="API keys.", **PLAIN)
projects_app = typer.Typer(help="Projects.", **PLAIN)
balance_app = typer.Typer(help="Project balances.", **PLAIN)
app.add_typer(keys_app, name="keys")
app.add_typer(projects_app, name="projects")
app.add_typer(balance_app, name="balance")


@functools.cache
def err() -> Console:
    """Where messages go (stdout is the output), made on first use: ``--help`` needs no Rich."""
    from rich.console import Console

    return Console(stderr=True, emoji=False)  # messages quote names and URLs as they are


T = TypeVar("T")

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", envvar="BROWSERFLEET_DATA_DIR", help="Where the data lives.")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="BROWSERFLEET_DATABASE_URL", help="SQLAlchemy async URL."),
]
RedisUrl = Annotated[
    str | None,
    typer.Option("--redis-url", envvar="BROWSERFLEET_REDIS_URL", help="Redis URL: distributed mode."),
]
NODE_PORT = 8701  # a node's internal app, next to a control plane's 8700 on one machine
ROLES = ("all", "control")  # browserfleet.distributed.Role: serve's roles (a node has its own command)


def _fail(message: str) -> typer.Exit:
    err().print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def load_settings(**overrides: Any) -> Settings:
    """The settings (environment, then the command's flags), imported when a command needs them."""
    from browserfleet.settings import load_settings as load

    return load(**overrides)


def _configure_logs(level: str, log_format: str = "console") -> None:
    from browserfleet import logs

    logs.configure(level, log_format)


def _run(settings: Settings, work: Callable[[Fleet], Awaitable[T]], *, nodes: bool = False) -> T:
    """Run ``work`` against a started fleet (no browsers unless ``nodes``)."""
    from browserfleet.fleet import Fleet

    _configure_logs(settings.log_level, settings.log_format)  # logs on stderr: stdout is the output

    async def main() -> T:
        fleet = Fleet(settings)
        await fleet.start(run_nodes=nodes)
        try:
            return await work(fleet)
        finally:
            await fleet.stop()

    import asyncio

    return asyncio.run(main())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8700).")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    redis_url: RedisUrl = None,
    role: Annotated[
        str,
        typer.Option(
            envvar="BROWSERFLEET_ROLE",
            help="all: the APIs and a node; control: the APIs only (distributed mode, with --redis-url).",
        ),
    ] = ROLES[0],
) -> None:
    """Run the server: embedded (API + nodes + browsers in one process), or a control plane."""
    if role not in ROLES:
        raise _fail(f"--role must be all or control (a node runs with `browserfleet node`), not {role!r}")
    settings = load_settings(
        host=host, port=port, data_dir=data_dir, database_url=database_url, redis_url=redis_url
    )
    control = role == "control"
    if control and not settings.distributed:
        raise _fail("--role control needs --redis-url (distributed mode)")
    _configure_logs(settings.log_level, settings.log_format)
    from browserfleet.fleet import containment_of

    if not control:
        containment_of(settings)  # a host that cannot contain browsers: one line, before anything
    listener = _bind(settings.host, settings.port)
    first = _run(settings, lambda fleet: fleet.accounts.bootstrap())
    if first:
        err().print(
            f"[bold]First start:[/bold] created project '{first.project.name}'. Its API key (shown once):"
        )
        print(first.key, flush=True)
    from browserfleet.app import create_app

    err().print(f"browserfleet listening on http://{settings.host}:{settings.port}  (docs: /docs)")
    asgi_app = create_app(settings, run_nodes=not control)
    _freeze_heap()
    _listen(asgi_app, listener)


def _bind(host: str, port: int) -> socket.socket:
    """The server's address, taken before anything slow starts: a port in use fails at once, in
    one line, not after the pool's browsers have started (and opened ports of their own)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror} (is another server there?)") from exc
    return sock


def _listen(asgi_app: Any, listener: socket.socket, **options: Any) -> None:
    """Serve ``asgi_app`` on the bound ``listener`` once its lifespan has started."""
    import uvicorn

    config = uvicorn.Config(
        asgi_app,
        # explicit, so a missing one fails instead of silently falling back: httptools costs
        # 55 us of CPU per cached read where h11 costs 140 (uvloop: 55 vs 61 on asyncio's loop)
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        ws_max_size=256 * 1024 * 1024,
        **options,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[listener])
    if not server.started:  # the lifespan failed (its error is logged): uvicorn.run's exit code
        raise typer.Exit(code=3)


def _freeze_heap() -> None:
    """Move everything built so far (modules, the app, its schemas) out of the garbage collector's
    reach: they live as long as the process, and a full collection walking them took ~200 ms on
    the 2-core machine, stalling every request in flight (the read path's p99)."""
    import gc

    gc.collect()
    gc.freeze()


@app.command()
def node(
    redis_url: RedisUrl = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    node_id: Annotated[
        str | None,
        typer.Option("--node-id", envvar="BROWSERFLEET_NODE_ID", help="Unique id (default HOSTNAME-PORT)."),
    ] = None,
    country: Annotated[str | None, typer.Option(help="Country label, e.g. DE (routes countryCode).")] = None,
    city: Annotated[str | None, typer.Option(help="City label, e.g. berlin.")] = None,
    region: Annotated[str | None, typer.Option(help="Region label (a group of nodes).")] = None,
    slots: Annotated[
        int | None, typer.Option(min=1, help="Renders, runs and tasks it runs at once (default: by CPU).")
    ] = None,
    proxy_file: Annotated[Path | None, typer.Option(help="YAML file of its upstream proxies.")] = None,
    advertise_url: Annotated[
        str | None, typer.Option(help="Where the control plane reaches it (default http://HOST:PORT).")
    ] = None,
    host: Annotated[
        str | None, typer.Option(help="Interface of its internal app (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option(help=f"Port of its internal app (default {NODE_PORT}).")] = None,
) -> None:
    """Run a browser node of a distributed fleet: it pulls jobs from Redis, no public APIs."""
    if port is None and "BROWSERFLEET_PORT" not in os.environ:
        port = NODE_PORT
    settings = load_settings(
        redis_url=redis_url,
        database_url=database_url,
        data_dir=data_dir,
        node_id=node_id,
        node_country=country.upper() if country else None,
        node_city=city,
        node_region=region,
        node_slots=slots,
        proxy_file=proxy_file,
        advertise_url=advertise_url,
        host=host,
        port=port,
    )
    if not settings.distributed:
        raise _fail("a node needs --redis-url (and --database-url): it joins a distributed fleet")
    if "node_id" not in settings.model_fields_set:
        settings = settings.model_copy(update={"node_id": f"{socket.gethostname()}-{settings.port}"})
    _configure_logs(settings.log_level, settings.log_format)
    from browserfleet.fleet import containment_of

    containment_of(settings)  # a host that cannot contain browsers: one line, before anything
    listener = _bind(settings.host, settings.port)
    from browserfleet.node_app import create_node_app

    err().print(
        f"browserfleet node {settings.node_id} serving {settings.advertised_url} to the control plane"
    )
    _listen(
        create_node_app(settings),
        listener,
        proxy_headers=True,
        forwarded_allow_ips="*",  # behind the node secret: only the control plane gets through
    )


@app.command()
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Bring the database schema up to date (serve does this too)."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    _run(settings, _nothing)
    err().print(f"schema is up to date ({settings.resolved_database_url.split('://')[0]})")


async def _nothing(_fleet: Fleet) -> None:
    """Starting the fleet migrates the store: nothing more to do."""


@app.command()
def purge(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply the retention policy now (the server also does it every purge_interval_s)."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    report = _run(settings, lambda fleet: fleet.purger.once())
    print(f"blobs purged: {report.blobs_purged}, jobs deleted: {report.jobs_deleted}")


@keys_app.command("create")
def keys_create(
    project: Annotated[str, typer.Option(help="Project name.")] = "default",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key; the key alone is printed on the last line of stdout."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    key, owner = _key_at_once(settings, project) or _key_through_fleet(settings, project)
    # plain text: Rich would cost this command a quarter of its start-up
    typer.echo(
        f"API key for project '{owner.name}' ({owner.id}); store it now, it is not shown again:", err=True
    )
    print(key)


def _key_at_once(settings: Settings, project: str) -> tuple[str, ProjectRecord] | None:
    """A key written straight to a current SQLite store (store/sqlite_keys.py), else None."""
    from browserfleet.core.keys import new_key
    from browserfleet.store import sqlite_keys

    made = new_key()
    owner = sqlite_keys.add_api_key(
        settings.resolved_database_url, project, key_id=made.key_id, key_hash=made.digest, prefix=made.prefix
    )
    return (made.key, owner) if owner else None


def _key_through_fleet(settings: Settings, project: str) -> tuple[str, ProjectRecord]:
    """The full path: migrates the store, creates project ``default`` on first use."""
    new = _run(settings, lambda fleet: fleet.accounts.create_key(project))
    return new.key, new.project


@projects_app.command("create")
def projects_create(
    name: str,
    concurrency: Annotated[int | None, typer.Option(min=1, help="Concurrent jobs allowed.")] = None,
    timeout: Annotated[int | None, typer.Option(min=1, help="Default job timeout, seconds.")] = None,
    quota: Annotated[int | None, typer.Option(min=0, help="Monthly quota of runs.")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a project (with the configured free starting balance)."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    project = _run(
        settings,
        lambda fleet: fleet.accounts.create_project(
            name, concurrency=concurrency, timeout_s=timeout, quota=quota
        ),
    )
    limits = f"concurrency={project.concurrency_limit} timeout={project.default_timeout_s}s"
    print(f"{project.id} {project.name} {limits}")


@balance_app.command("add")
def balance_add(
    project: Annotated[str, typer.Option(help="Project name.")],
    cents: Annotated[int, typer.Option(help="Cents to add (negative to remove).")],
    kind: Annotated[str, typer.Option(help="free, bonus or paid.")] = "paid",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add credit to a project's balance."""
    settings = load_settings(data_dir=data_dir, database_url=database_url)
    totals = _run(settings, lambda fleet: fleet.accounts.add_balance(project, cents, kind))
    print(" ".join(f"{k}={v}" for k, v in totals.items()) + f" total={sum(totals.values())}")


@app.command()
def render(
    url: str,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the HTML here (default: stdout).")
    ] = None,
    screenshot: Annotated[Path | None, typer.Option(help="Also save a screenshot (.png or .jpg).")] = None,
    wait_for: Annotated[
        list[str] | None,
        typer.Option("--wait-for", help="selector:CSS, text:TEXT, click:CSS or delay:MS (repeatable)."),
    ] = None,
    country: Annotated[str | None, typer.Option(help="Country code, e.g. DE.")] = None,
    city: Annotated[str | None, typer.Option(help="City, e.g. new.york.")] = None,
    server: Annotated[str | None, typer.Option(help="A browserfleet server URL; default: embedded.")] = None,
    key: Annotated[
        str | None, typer.Option(envvar="BROWSERFLEET_API_KEY", help="API key for --server.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Render one page, embedded in-process or through a server, with a progress display."""
    from browserfleet.cli_render import RenderRequestError, build_request, render_embedded, render_remote

    try:
        body = build_request(url, wait_for or [], country, city, screenshot)
    except RenderRequestError as exc:
        raise _fail(str(exc)) from exc
    if server:
        if not key:
            raise _fail("--server needs --key (or BROWSERFLEET_API_KEY)")
        try:
            result = render_remote(server, key, body, err())
        except RenderRequestError as exc:
            raise _fail(str(exc)) from exc
    else:
        settings = load_settings(data_dir=data_dir)
        _configure_logs("warning")
        result = render_embedded(settings, body, err())
    _write_outputs(result, output, screenshot)


def _write_outputs(result: dict[str, Any], output: Path | None, screenshot: Path | None) -> None:
    if result.get("status") != "completed":
        raise _fail(f"{result.get('errorCode')}: {result.get('errorMessage')}")
    html = gzip.decompress(base64.b64decode(result["html"])).decode("utf-8")
    if output:
        output.write_text(html, encoding="utf-8")
        err().print(f"HTML written to {output} ({len(html):,} chars)")
    else:
        sys.stdout.write(html)
    if screenshot and result.get("screenshot"):
        screenshot.write_bytes(base64.b64decode(result["screenshot"]))
        err().print(f"screenshot written to {screenshot}")
    timing = result.get("timingBreakdown") or {}
    err().print(f"done in {timing.get('totalMs', '?')} ms")


def main() -> None:
    """Entry point: errors browserfleet explains (bad settings, unknown project, …) are printed
    as one line and exit 1, without a traceback."""
    try:
        app()
    except BrowserfleetError as exc:
        err().print(f"[red]error:[/red] {exc.message}")
        sys.exit(1)
