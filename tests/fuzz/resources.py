"""What valid input looks like on the fuzz server: real ids, and values only this fleet can judge.

Random ids only ever reach the 404 branch of an operation. So about half of the generated cases (a
stable function of the generated value, so Hypothesis replays a case exactly) get the id of a real
resource of the fuzz project in their path and query: a running session, a context, an extension,
the project, a render, an automation task with a run and a feed, a browsing task, an agent run.
Operations that change, end or delete the resource they name (``PATCH``, ``DELETE``,
``POST /v1/sessions/{id}``) get a fresh one each time, so the others keep theirs.

A body's references are made real in every case (:meth:`Resources.fill_references`): ids of a
context, an extension, the project; a task's steps have distinct uids, a run's step overrides
name steps of the task, a feed's fields its output keys (under names of their own); a browsing
task's filter names a live node or a country one is in, and its fanout fits the fleet; selectors
are valid CSS. None of these can be
said by a JSON Schema; everything that can is left to the schema.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

import httpx

from tests.support.contexts import zip_of

EXTENSION_ZIP = zip_of(
    {
        "manifest.json": json.dumps({"manifest_version": 3, "name": "fuzz", "version": "1.0"}),
        "icons/": b"",
    }
)
TASK_STEPS = ("open", "title")  # the real task's step uids
TASK_OUTPUT = "title_save_text"  # the output key of its save_text step
ENDING_POSTS = frozenset({"/v1/sessions/{id}", "/v1/sessions/{session_id}"})
SELECTOR_KEYS = frozenset({"selector", "captchaImageSelector", "captchaInputSelector"})
SELECTORS = ("h1", "#people", "tr.person td.name", "ul#links > li a.ext", "body", "table td:first-child")


def pick(options: list[str] | tuple[str, ...], seed: Any) -> str:
    """One of ``options``, always the same for the same ``seed`` (a generated value)."""
    return options[zlib.crc32(repr(seed).encode()) % len(options)]


def _css_selectors(value: Any) -> None:
    """A selector is CSS (the server parses it; JSON Schema cannot say so): each string under a
    selector key becomes one of a few valid selectors of the test site's pages."""
    if isinstance(value, list):
        for item in value:
            _css_selectors(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in SELECTOR_KEYS and isinstance(item, str):
                value[key] = pick(SELECTORS, item)
            else:
                _css_selectors(item)


def _distinct_uids(body: dict[str, Any]) -> None:
    """A task's steps have distinct uids (the schema says each one's shape, not that)."""
    steps = body.get("steps")
    seen: set[Any] = set()
    for index, step in enumerate(steps if isinstance(steps, list) else []):
        if isinstance(step, dict) and isinstance(step.get("uid"), str):
            if step["uid"] in seen:
                step["uid"] = f"{step['uid'][:30]}-{index}"
            seen.add(step["uid"])


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


class Resources:
    def __init__(self, client: httpx.Client, site_url: str, nodes: dict[str, str]) -> None:
        self.client = client
        self.site = site_url.rstrip("/")
        self.nodes = nodes  # the fleet's live nodes: id -> country
        self.fresh_sessions: list[str] = []  # made for one case: released right after its call
        projects = client.get("/v1/projects")
        assert projects.status_code == 200, projects.text
        self.project: str = projects.json()[0]["id"]
        self.session = self.new_session()
        self.fresh_sessions.clear()  # the shared one stays up until the end (the fixture's finaliser)
        self.context = self.new_context()
        self.extension = self.new_extension()
        self.render = _ok(client.post("/v1/renders", json={"url": f"{self.site}/structured"}))["renderId"]
        self.task = self.new_task()
        self.run = _ok(client.post(f"/v1/tasks/{self.task}/runs", json={}))["uid"]
        self.feed = self.new_feed()
        self.browsing = _ok(client.post("/api/v1/browsing/async", json={"task": "say hello"}))["task_id"]
        self.agent_run = _ok(client.post("/v1/agents/runs", json={"task": "say hello"}))["runId"]
        self._fill: dict[str, Callable[[dict[str, Any]], None]] = {
            "POST /v1/tasks": _distinct_uids,
            "PATCH /v1/tasks/{uid}": _distinct_uids,
            "POST /v1/tasks/{task_uid}/runs": self._run_overrides,
            "POST /v1/tasks/{task_uid}/feeds": self._feed_fields,
            "POST /api/v1/browsing/async": self._fit_fleet,
            "POST /api/v1/browsing/sync": self._fit_fleet,
        }

    # ---------------------------------------------------------------- makers
    def new_session(self) -> str:
        session_id: str = _ok(self.client.post("/v1/sessions", json={}))["id"]
        self.fresh_sessions.append(session_id)
        return session_id

    def take_fresh_sessions(self) -> list[str]:
        taken, self.fresh_sessions = self.fresh_sessions, []
        return taken

    def new_context(self) -> str:
        context_id: str = _ok(self.client.post("/v1/contexts", json={}))["id"]
        return context_id

    def new_extension(self) -> str:
        files = {"file": ("fuzz.zip", EXTENSION_ZIP, "application/zip")}
        extension_id: str = _ok(self.client.post("/v1/extensions", files=files))["id"]
        return extension_id

    def new_task(self) -> str:
        steps = [
            {"uid": "open", "action": "go", "config": {"url": f"{self.site}/structured"}},
            {"uid": "title", "action": "save_text", "config": {"selector": "h1"}},
        ]
        uid: str = _ok(self.client.post("/v1/tasks", json={"name": "fuzz task", "steps": steps}))["uid"]
        return uid

    def new_feed(self) -> str:
        uid: str = _ok(self.client.post(f"/v1/tasks/{self.task}/feeds", json={"name": "fuzz feed"}))["uid"]
        return uid

    # ---------------------------------------------------------------- path and query ids
    def substitute(self, method: str, path: str, container: dict[str, Any] | None) -> None:
        """Put real ids, in place, into about half of the cases' id parameters."""
        if not container:
            return
        changes_it = method in ("DELETE", "PATCH") or (method == "POST" and path in ENDING_POSTS)
        fresh = changes_it and path.endswith("}")
        for name, value in list(container.items()):
            if zlib.crc32(repr(value).encode()) % 2:
                continue
            make = self._maker(path, name, fresh)
            if make is not None:
                container[name] = make()

    def _maker(self, path: str, name: str, fresh: bool) -> Callable[[], str] | None:
        """What gives the real id for parameter ``name`` of the operation at ``path``."""
        kinds: list[tuple[str, tuple[str, ...], Callable[[], str]]] = [
            ("/v1/sessions/", ("id", "session_id"), self.new_session if fresh else lambda: self.session),
            ("/v1/contexts/", ("id", "context_id"), self.new_context if fresh else lambda: self.context),
            (
                "/v1/extensions/",
                ("id", "extension_id"),
                self.new_extension if fresh else lambda: self.extension,
            ),
            ("/v1/projects/", ("id", "project_id"), lambda: self.project),
            ("/v1/renders/", ("render_id",), lambda: self.render),
            ("/v1/agents/runs/", ("run_id",), lambda: self.agent_run),
            ("/api/v1/browsing/", ("task_id",), lambda: self.browsing),
            ("/v1/automations/files/", ("run_uid",), lambda: self.run),
            ("/v1/tasks/", ("task_uid",), lambda: self.task),
        ]
        if path == "/v1/tasks/{uid}" and name == "uid":
            return self.new_task if fresh else lambda: self.task
        if path.startswith("/v1/tasks/") and name == "uid":
            if "/feeds/" in path:
                return self.new_feed if fresh else lambda: self.feed
            return (lambda: self.run) if "/runs/" in path else None
        for prefix, names, make in kinds:
            if path.startswith(prefix) and name in names:
                return make
        return None

    # ---------------------------------------------------------------- bodies
    def fill_references(self, operation: str, body: Any) -> None:
        """Make what a body refers to real (in negative cases too: schemathesis counts a negative
        case whose body turns out schema-valid as a positive one)."""
        if not isinstance(body, dict):
            return
        _css_selectors(body)
        for key, real in (("projectId", self.project), ("contextId", self.context)):
            if isinstance(body.get(key), str):
                body[key] = real
        settings = body.get("browserSettings")
        for holder in (body, settings if isinstance(settings, dict) else {}):
            if isinstance(holder.get("extensionId"), str):
                holder["extensionId"] = self.extension
        context = settings.get("context") if isinstance(settings, dict) else None
        if isinstance(context, dict) and isinstance(context.get("id"), str):
            context["id"] = self.context
        fill = self._fill.get(operation)
        if fill is not None:
            fill(body)

    def _run_overrides(self, body: dict[str, Any]) -> None:
        """A run's step overrides name steps of the task."""
        steps = body.get("steps")
        for index, step in enumerate(steps if isinstance(steps, list) else []):
            if isinstance(step, dict) and "uid" in step:
                step["uid"] = TASK_STEPS[index % len(TASK_STEPS)]

    def _feed_fields(self, body: dict[str, Any]) -> None:
        """A feed reads output keys of the task, into fields of distinct names."""
        if isinstance(body.get("flatten"), str):
            body["flatten"] = TASK_OUTPUT
        fields = body.get("fields")
        names: set[str] = set()
        for index, field in enumerate(fields if isinstance(fields, list) else []):
            if not isinstance(field, dict):
                continue
            if isinstance(field.get("from"), str):
                field["from"] = TASK_OUTPUT
            if isinstance(field.get("to"), str):
                if field["to"] in names:
                    field["to"] = f"{field['to'][:180]}#{index}"
                names.add(field["to"])

    def _fit_fleet(self, body: dict[str, Any]) -> None:
        """A browsing task runs on live nodes: a filter names one of them, or a country one is in,
        and a fanout asks for no more nodes than can take it."""
        place = body.get("filter")
        if isinstance(place, dict):
            if isinstance(place.get("node_uid"), str):
                place["node_uid"] = pick(sorted(self.nodes), place["node_uid"])
            if isinstance(place.get("country_iso"), str):
                place["country_iso"] = pick(sorted(set(self.nodes.values())), place["country_iso"])
        fanout = body.get("fanout")  # an integer, maybe spelled 5.0
        if isinstance(fanout, int | float) and not isinstance(fanout, bool) and float(fanout).is_integer():
            body["fanout"] = min(int(fanout), 1 if isinstance(place, dict) and place else len(self.nodes))
