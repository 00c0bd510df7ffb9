"""A node's capacity: a budget measured from its machine and its browsers (docs/operations.md).

machine.py reads cores, CPU use and memory (cgroup limits included); memory.py samples the PSS of
the browsers' process trees; budget.py decides what fits now; gate.py holds a node's claims until
it does; monitor.py keeps the figures current and ends the newest idle sessions when memory runs
out.
"""

from browserfleet.node.capacity.budget import BudgetConfig, NodeBudget
from browserfleet.node.capacity.gate import Gate
from browserfleet.node.capacity.machine import Machine, raise_open_files_limit
from browserfleet.node.capacity.memory import BrowserMemory
from browserfleet.node.capacity.monitor import CapacityMonitor

__all__ = [
    "BrowserMemory",
    "BudgetConfig",
    "CapacityMonitor",
    "Gate",
    "Machine",
    "NodeBudget",
    "raise_open_files_limit",
]
