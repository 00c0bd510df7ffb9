"""The automation executor: runs a task's plan (core/automations/plan.py) through the one step
runner in a pooled browser context, behind the job's egress channel, recording a video.

Per step: (iterated: bind each item of the previous step's list output) → the step's actions on
the step runner → its output collected under ``"<step_uid>_<action>"`` (values as JSON; files as
blobs, marked ``{"$blob": name}`` in the result and served as signed URLs by the API). A failing
step ends the run as failed with the step named; the outputs so far and the video are kept.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import structlog
from playwright.async_api import Error as PlaywrightError
from pydantic import ValidationError

from browserfleet.core import actions as a
from browserfleet.core.automations.plan import Output, PlannedStep, RunPlan, bind
from browserfleet.core.automations.wire import BLOB_MARK
from browserfleet.core.errors import BrowserCrashed, ErrorCode, JobFailure
from browserfleet.core.jobs import JobKind
from browserfleet.node import captcha
from browserfleet.node.egress import EgressChannel, EgressProxy
from browserfleet.node.executor import Execution, Executor
from browserfleet.node.pool import BrowserPool
from browserfleet.node.recorder import Recorder
from browserfleet.node.steps import StepRunner
from browserfleet.store.records import JobRecord

if TYPE_CHECKING:
    from browserfleet.node.parts import NodeParts
    from browserfleet.settings import Settings


log = structlog.get_logger(__name__)
VIDEO_BLOB = "video.mp4"


class AutomationExecutor(Executor):
    kind = JobKind.STEPS

    def __init__(
        self,
        pool: BrowserPool,
        egress: EgressProxy,
        *,
        ffmpeg: Path,
        captcha_solver: captcha.CaptchaSolver | None = None,
    ) -> None:
        self.pool = pool
        self.egress = egress
        self.ffmpeg = ffmpeg
        self.captcha_solver = captcha_solver

    @classmethod
    def from_settings(cls, settings: Settings, parts: NodeParts) -> AutomationExecutor:
        return cls(
            parts.pool,
            parts.egress,
            ffmpeg=settings.ffmpeg_path,
            captcha_solver=captcha.build_solver(settings),
        )

    async def run(self, job: JobRecord) -> Execution:
        plan = RunPlan.model_validate(job.spec["plan"])
        channel = await self.egress.open_channel(job.id)
        options = {
            "proxy": {"server": channel.server_url},
            "viewport": {"width": plan.viewport_width, "height": plan.viewport_height},
            "service_workers": "block",
            "accept_downloads": True,
        }
        try:
            async with self.pool.context(egress=channel, **options) as context, _files_dir() as files_dir:
                page = await context.new_page()
                runner = StepRunner(page, files_dir=files_dir, captcha_solver=self.captcha_solver)
                run = _Run(plan, runner, channel)
                recorder = Recorder(page, self.ffmpeg, width=plan.viewport_width, height=plan.viewport_height)
                try:
                    await recorder.start()
                    failure = await run.execute()
                except BaseException:
                    await recorder.abort()
                    raise
                video = await recorder.stop()
        except PlaywrightError as exc:
            raise JobFailure(ErrorCode.INTERNAL_ERROR, f"browser error: {str(exc).splitlines()[0]}") from exc
        finally:
            await channel.close()
        return run.finish(failure, video)


@asynccontextmanager
async def _files_dir() -> AsyncIterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bf-run-") as name:
        yield Path(name)


class _Run:
    """One run's steps and what they produced."""

    def __init__(self, plan: RunPlan, runner: StepRunner, channel: EgressChannel) -> None:
        self.plan = plan
        self.runner = runner
        self.channel = channel
        self.outputs: dict[str, Any] = {}
        self.blobs: dict[str, bytes] = {}
        self._files = 0

    async def execute(self) -> JobFailure | None:
        """Run every step; the failure of the step that failed (the run stops there), else None."""
        previous: Any = None
        for step in self.plan.steps:
            try:
                previous = await self._step(step, previous)
            except BrowserCrashed:
                raise
            except JobFailure as exc:
                return _failure(step, exc.code, exc.message)
            except PlaywrightError as exc:
                if (
                    not self.runner.page.context.browser
                    or not self.runner.page.context.browser.is_connected()
                ):
                    raise BrowserCrashed(str(exc)) from exc
                return _failure(step, ErrorCode.STEP_FAILED, str(exc).splitlines()[0])
        return None

    async def _step(self, step: PlannedStep, previous: Any) -> Any:
        if not step.iterate:
            output = await self._once(step, step.actions)
        else:
            if not isinstance(previous, list):
                raise JobFailure(ErrorCode.STEP_FAILED, "iterate: the previous step's output is not a list")
            output = [await self._once(step, _bind(step, item)) for item in previous]
        if step.output is Output.NONE:
            return None  # nothing for a following ``iterate`` to go over
        self.outputs[step.key] = output
        return output

    async def _once(self, step: PlannedStep, actions: list[a.Action]) -> Any:
        value: Any = None
        for act in actions:
            value = await self._run(act)
        return await self._collect(step, value)

    async def _run(self, act: a.Action) -> Any:
        """One action; a page or download the egress proxy answered itself fails the step."""
        self.runner.proxy_answers.clear()
        try:
            value = await self.runner.run(act)
        finally:  # also when it failed: the proxy may have refused it (a tunnel, a closed answer)
            if isinstance(act, a.Goto | a.Download) and act.url is not None:
                self._check_egress(act.url)
        for url, kind in self.runner.proxy_answers:
            host = urlsplit(url).hostname or ""
            if kind == "blocked":
                self._check_egress(url, force=True)
            if kind == "upstream-error":
                detail = self.channel.stats.upstream_failures.get(host, "connection failed")
                raise JobFailure(ErrorCode.STEP_FAILED, f"could not reach {host}: {detail}")
        return value

    def _check_egress(self, url: str, *, force: bool = False) -> None:
        """A page the egress policy refused fails the step (the proxy answers it with an error page):
        ``url``'s host was refused, or (``force``) the proxy said so for the page at ``url``."""
        host = urlsplit(url).hostname or ""
        attempt = self.channel.blocked_host(host)
        if attempt is not None or force:
            where = f"{host} ({attempt.ip})" if attempt is not None and attempt.ip else host
            raise JobFailure(ErrorCode.EGRESS_BLOCKED, f"egress to {where} is blocked by the egress policy")

    async def _collect(self, step: PlannedStep, value: Any) -> Any:
        match step.output:
            case Output.NONE:
                return None
            case Output.VALUE:
                return value
            case Output.FILE:
                return self._store(value, step.file_ext or "bin")
            case Output.DOWNLOAD:
                return self._store(value["body"], _ext(value["filename"]))
            case Output.IMAGES:
                return await self._images(value)
            case Output.UPLOAD:
                return await self._upload(step, value)

    def _store(self, data: bytes, ext: str) -> dict[str, str]:
        self._files += 1
        name = f"file-{self._files}.{ext}"
        self.blobs[name] = data
        return {BLOB_MARK: name}

    async def _images(self, srcs: Any) -> Any:
        if isinstance(srcs, list):
            return [await self._images(src) for src in srcs]
        if not srcs:
            return None
        try:
            download = a.Download(url=str(srcs))
        except ValidationError as exc:
            message = f"image {str(srcs)[:200]!r} is not an http(s) URL"
            raise JobFailure(ErrorCode.STEP_FAILED, message) from exc
        fetched = await self._run(download)
        return self._store(fetched["body"], _ext(fetched["filename"], "img"))

    async def _upload(self, step: PlannedStep, fetched: dict[str, Any]) -> None:
        files_dir = self.runner.files_dir
        assert files_dir is not None and step.upload_selector is not None
        name = Path(fetched["filename"]).name or "upload"
        (files_dir / name).write_bytes(fetched["body"])
        await self._run(a.UploadFile(selector=step.upload_selector, files=[name]))

    def finish(self, failure: JobFailure | None, video: bytes | None) -> Execution:
        result: dict[str, Any] = {"outputs": self.outputs, "video": None, "failed_step": None}
        if video is not None:
            self.blobs[VIDEO_BLOB] = video
            result["video"] = VIDEO_BLOB
        if failure is not None:
            result["failed_step"] = failure.result["failed_step"] if failure.result else None
            raise JobFailure(failure.code, failure.message, result=result, blobs=self.blobs)
        return Execution(result=result, blobs=self.blobs, billable=False)


def _bind(step: PlannedStep, item: Any) -> list[a.Action]:
    try:
        return bind(step.actions, item)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:])
        message = f"iterate: item {item!r} makes an invalid {where}: {first['msg']}"
        raise JobFailure(ErrorCode.STEP_FAILED, message) from exc


def _failure(step: PlannedStep, code: ErrorCode, reason: str) -> JobFailure:
    return JobFailure(code, f"{step.label} failed: {reason}", result={"failed_step": step.uid})


def _ext(filename: str, default: str = "bin") -> str:
    suffix = Path(urlsplit(filename).path).suffix.lstrip(".").lower()
    return suffix if suffix.isalnum() and 0 < len(suffix) <= 8 else default
