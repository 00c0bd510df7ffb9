"""Feeds: named JSON views over a task's run outputs (docs/automations.md, "Feeds").

A feed belongs to a task. Its data is computed when read, from the task's *finished* runs (the
run objects of core/automations/wire.py, so file outputs are URLs): ``source: "latest"`` uses the
newest finished run, ``"all"`` every finished run (newest first, at most :data:`MAX_RUNS`). Each run
gives one record — or, with ``flatten: "<output key>"``, one record per item of that list output.

A record is the run's ``outputs`` (or, flattened, the item itself, wrapped as ``{key: item}`` when
it is not an object) unless ``fields: [{from, to}]`` picks and renames: ``from`` is

* ``"<output key>"`` or ``"<output key>.<path>"`` (``items_save_structured_data.0.title``; a name
  applied to a list picks it from every element: ``items_save_structured_data.title``) — with
  ``flatten``, paths under the flattened key start from the current item;
* ``"$run.<field>"``: ``uid``, ``task``, ``created_at``, ``finished_in_seconds``, ``video_url``,
  ``metadata`` (with a path into it).

A missing value is ``null``. ``from`` output keys must name a step of the task (``<step uid>_<action>``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from browserfleet.core.automations.steps import new_uid
from browserfleet.core.automations.tasks import Tasks
from browserfleet.core.automations.wire import FileUrl, run_object
from browserfleet.core.errors import InvalidRequest, NotFound
from browserfleet.core.jobs import utcnow
from browserfleet.store.records import FeedRecord, ProjectRecord, TaskRecord
from browserfleet.store.repo import Store

SOURCES: Final = ("latest", "all")
MAX_RUNS: Final = 1000  # source "all": the newest this many finished runs
MAX_FIELDS: Final = 100
RUN_PREFIX: Final = "$run"
RUN_FIELDS: Final = frozenset({"uid", "task", "created_at", "finished_in_seconds", "video_url", "metadata"})
_SEGMENT = re.compile(r"^[^.]{1,200}$")


@dataclass(frozen=True)
class FeedInput:
    name: str
    source: str = "latest"
    fields: list[dict[str, str]] | None = None
    flatten: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class FeedData:
    feed: FeedRecord
    records: list[dict[str, Any]]
    last_run_at: datetime | None


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {message}", details=[{"field": field, "message": message}])


class Feeds:
    def __init__(self, store: Store, tasks: Tasks) -> None:
        self.store = store
        self.tasks = tasks

    async def create(self, project: ProjectRecord, task_uid: str, data: FeedInput) -> FeedRecord:
        task = await self.tasks.get(project, task_uid)
        _check(task, data)
        feed = FeedRecord(
            id=new_uid(),
            project_id=project.id,
            task_id=task.id,
            name=data.name,
            description=data.description,
            source=data.source,
            fields=[{"from": f["from"], "to": f["to"]} for f in data.fields] if data.fields else None,
            flatten=data.flatten,
            created_at=utcnow(),
        )
        return await self.store.create_feed(feed)

    async def list(self, project: ProjectRecord) -> list[FeedRecord]:
        return await self.store.project_feeds(project.id)

    async def get(self, project: ProjectRecord, task_uid: str, uid: str) -> FeedRecord:
        feed = await self.store.get_feed(uid, project.id)
        if feed is None or feed.task_id != task_uid:
            raise NotFound("Feed not found")
        return feed

    async def delete(self, project: ProjectRecord, task_uid: str, uid: str) -> None:
        feed = await self.get(project, task_uid, uid)
        await self.store.delete_feed(feed.id, project.id)

    async def last_run_at(self, feeds: Sequence[FeedRecord]) -> dict[str, datetime]:
        """When each feed's task last finished a run (by task id)."""
        return await self.store.last_finished_at(sorted({f.task_id for f in feeds}))

    async def data(self, feed: FeedRecord, file_url: FileUrl) -> FeedData:
        limit = 1 if feed.source == "latest" else MAX_RUNS
        runs = await self.store.finished_task_runs(feed.task_id, limit=limit)
        records = [record for run in runs for record in feed_records(feed, run_object(run, file_url))]
        return FeedData(feed, records, runs[0].job.finished_at if runs else None)


# --- validation ------------------------------------------------------------------------------------
def _check(task: TaskRecord, data: FeedInput) -> None:
    if not data.name.strip():
        raise _invalid("name", "must not be empty")
    if data.source not in SOURCES:
        raise _invalid("source", f"must be one of {', '.join(SOURCES)}")
    keys = {f"{step['uid']}_{step['action']}" for step in task.steps}
    if data.flatten is not None and data.flatten not in keys:
        raise _invalid("flatten", f"{data.flatten!r} is not an output key of the task ({_shown(keys)})")
    fields = data.fields or []
    if len(fields) > MAX_FIELDS:
        raise _invalid("fields", f"at most {MAX_FIELDS} fields")
    names: set[str] = set()
    for i, field in enumerate(fields):
        _check_source(f"fields[{i}].from", field["from"], keys)
        if field["to"] in names:
            raise _invalid(f"fields[{i}].to", f"duplicate name {field['to']!r}")
        names.add(field["to"])


def _check_source(where: str, source: str, keys: set[str]) -> None:
    head, _, path = source.partition(".")
    if path and not all(_SEGMENT.match(s) for s in path.split(".")):
        raise _invalid(where, f"{source!r}: empty path segment")
    if head == RUN_PREFIX:
        field = path.split(".")[0]
        if field not in RUN_FIELDS or field not in (path, "metadata"):
            raise _invalid(where, f"{source!r}: $run fields are {', '.join(sorted(RUN_FIELDS))}")
    elif head not in keys:
        raise _invalid(where, f"{head!r} is not an output key of the task ({_shown(keys)})")


def _shown(keys: set[str]) -> str:
    return ", ".join(sorted(keys)) or "it has no steps"


# --- records ----------------------------------------------------------------------------------------
def feed_records(feed: FeedRecord, run: dict[str, Any]) -> list[dict[str, Any]]:
    """The records one run object gives to ``feed``."""
    outputs: dict[str, Any] = run.get("outputs") or {}
    if feed.flatten is None:
        return [_record(feed, run, None)]
    items = outputs.get(feed.flatten)
    if not isinstance(items, list):
        return []
    return [_record(feed, run, item) for item in items]


def _record(feed: FeedRecord, run: dict[str, Any], item: Any) -> dict[str, Any]:
    if not feed.fields:
        if feed.flatten is None:
            return dict(run.get("outputs") or {})
        return dict(item) if isinstance(item, dict) else {feed.flatten: item}
    return {field["to"]: _pick(feed, run, item, field["from"]) for field in feed.fields}


def _pick(feed: FeedRecord, run: dict[str, Any], item: Any, source: str) -> Any:
    head, _, path = source.partition(".")
    segments = path.split(".") if path else []
    if head == RUN_PREFIX:
        return dig(run, segments)
    base = item if head == feed.flatten else (run.get("outputs") or {}).get(head)
    return dig(base, segments)


def dig(value: Any, segments: list[str]) -> Any:
    """Follow ``segments`` into ``value``: object keys, list indexes; a name applied to a list is
    applied to each of its elements. Missing: None."""
    if not segments:
        return value
    head, rest = segments[0], segments[1:]
    if isinstance(value, dict):
        return dig(value.get(head), rest)
    if isinstance(value, list):
        if head.isdigit():
            index = int(head)
            return dig(value[index], rest) if index < len(value) else None
        return [dig(element, segments) for element in value]
    return None
