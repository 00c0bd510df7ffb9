"""The Automations family's core: tasks (saved steps), runs (jobs of kind ``steps``), their plan in
the one action vocabulary, the wire objects, run webhooks and feeds. See docs/automations.md."""

from browserfleet.core.automations.feeds import FeedInput, Feeds
from browserfleet.core.automations.files import FileSigner
from browserfleet.core.automations.runs import RunHook, RunPolicy, RunRequest, Runs, Usage
from browserfleet.core.automations.tasks import PAGE_SIZE, TaskInput, Tasks
from browserfleet.core.automations.webhooks import HttpSender, WebhookPolicy, Webhooks
from browserfleet.core.automations.wire import run_object, task_object

__all__ = [
    "PAGE_SIZE",
    "FeedInput",
    "Feeds",
    "FileSigner",
    "HttpSender",
    "RunHook",
    "RunPolicy",
    "RunRequest",
    "Runs",
    "TaskInput",
    "Tasks",
    "Usage",
    "WebhookPolicy",
    "Webhooks",
    "run_object",
    "task_object",
]
