"""The Automations family's core: tasks (saved steps), runs (jobs of kind ``steps``), their plan in
the one action vocabulary, and the wire objects. See docs/automations.md."""

from browserfleet.core.automations.files import FileSigner
from browserfleet.core.automations.runs import RunHook, RunPolicy, RunRequest, Runs, Usage
from browserfleet.core.automations.tasks import PAGE_SIZE, TaskInput, Tasks
from browserfleet.core.automations.wire import run_object, task_object

__all__ = [
    "PAGE_SIZE",
    "FileSigner",
    "RunHook",
    "RunPolicy",
    "RunRequest",
    "Runs",
    "TaskInput",
    "Tasks",
    "Usage",
    "run_object",
    "task_object",
]
