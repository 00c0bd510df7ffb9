"""The node's capacity budget (node/capacity/): what it reads of a machine, what it admits, its
gates, and how the fleet's pressure adds nodes up. Machines here are fixed readings or fake
cgroup folders; the real machine is exercised by tests/capacity/."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from browserfleet.core.load import MB, NodeLoad
from browserfleet.core.pressure import Pressure
from browserfleet.node.capacity import BudgetConfig, Gate, Machine, NodeBudget
from browserfleet.node.capacity import machine as machine_module
from browserfleet.node.capacity.machine import Memory
from browserfleet.node.capacity.memory import MemorySample

GB = 1024 * MB


class FixedMachine(Machine):
    """A machine whose readings the test sets."""

    def __init__(self, total: int = 24 * GB, available: int = 20 * GB, cores: float = 2.0) -> None:
        self.total, self.available = total, available
        self.cores = cores
        self.id = "m1"
        self.cpu_percent = 10.0

    def memory(self) -> Memory:
        return Memory(total=self.total, available=self.available)


def budget(machine: FixedMachine | None = None, **config: object) -> NodeBudget:
    return NodeBudget(BudgetConfig(**config), machine or FixedMachine())  # type: ignore[arg-type]


def test_sessions_are_admitted_by_memory_above_the_floor() -> None:
    machine = FixedMachine(total=24 * GB, available=10 * GB)
    b = budget(machine)
    assert b.floor == int(24 * GB * 0.05)  # 5 % of the machine
    room, reason = b.session_room(0)
    assert room == (10 * GB - b.floor) // (80 * MB) and reason is None
    b.memory_sample = MemorySample(browsers=3 * GB, per_session=50 * MB, sessions_read=3)
    assert b.session_cost == 50 * MB  # measured, once three sessions were read
    assert b.session_room(0)[0] == (10 * GB - b.floor) // (50 * MB)
    for _ in range(4):  # admitted sessions count at their cost until their memory shows
        b.session_admitted()
    assert b.session_room(0)[0] == (10 * GB - b.floor - 4 * 50 * MB) // (50 * MB)

    machine.available = b.floor + 10 * MB
    assert b.session_room(5) == (
        0,
        f"memory: {machine.available // MB} MB available, floor {b.floor // MB} MB",
    )
    machine.available = b.floor - 1
    room, reason = b.session_room(5)
    assert room == 0 and reason is not None and reason.startswith("memory below the floor (")
    assert b.floor_reason() == reason and not b.critical()
    machine.available = b.floor // 2 - 1
    assert b.critical()


def test_explicit_slots_and_budget_win() -> None:
    assert budget(session_slots=3).session_room(3) == (0, "all 3 session slots in use")
    assert budget(session_slots=3).session_room(1)[0] == 2
    tiny = budget(budget=MB)
    assert tiny.session_room(0) == (0, "memory budget spent (1 MB)")
    roomy = budget(budget=10 * GB)
    roomy.memory_sample = MemorySample(browsers=9 * GB, per_session=100 * MB, sessions_read=5)
    assert roomy.session_room(0) == (10, None)
    assert budget(floor=123 * MB).floor == 123 * MB


def test_cpu_work_beyond_one_per_core_waits_while_the_cpu_is_busy() -> None:
    machine = FixedMachine(cores=2.0)
    b = budget(machine)
    assert b.cpu_slots == 4  # twice the cores
    machine.cpu_percent = 99.0
    assert b.cpu_refusal(1) is None  # one per core always
    assert b.cpu_refusal(2) == "CPU at 99% (target 90%)"
    machine.cpu_percent = 50.0
    assert b.cpu_refusal(3) is None
    explicit = budget(machine, cpu_slots=7)
    machine.cpu_percent = 99.0
    assert (explicit.cpu_slots, explicit.cpu_refusal(6)) == (7, None)  # node_slots wins


def test_the_report_says_what_the_node_takes() -> None:
    machine = FixedMachine(available=2 * GB)
    load = budget(machine, session_slots=10).report({"session": 4}, 4, runs_sessions=True)
    assert (load.sessions, load.session_limit, load.session_room, load.accepting) == (4, 10, 6, True)
    assert NodeLoad.from_dict(load.to_dict()) == load
    machine.available = 1
    starved = budget(machine).report({}, 0, runs_sessions=True)
    assert not starved.accepting and starved.session_room == 0
    assert starved.to_json()["sessions"]["reason"] == starved.reason


def test_machine_reads_cgroup_v2_limits(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("0::/fleet\n")
    folder = tmp_path / "root" / "fleet"
    folder.mkdir(parents=True)
    (folder / "memory.max").write_text(str(2 * GB))
    (folder / "memory.current").write_text(str(GB + 100 * MB))
    (folder / "memory.stat").write_text(f"anon 1\ninactive_file {100 * MB}\n")
    (folder / "cpu.max").write_text("50000 100000\n")
    machine = Machine(proc, tmp_path / "root")
    assert machine.cores == 0.5
    memory = machine.memory()
    assert memory.total == 2 * GB
    assert memory.available == GB


def test_a_memory_reading_is_reused_only_while_fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("0::/fleet\n")
    folder = tmp_path / "root" / "fleet"
    folder.mkdir(parents=True)
    (folder / "memory.max").write_text(str(2 * GB))
    (folder / "memory.current").write_text(str(GB))
    machine = Machine(proc, tmp_path / "root")
    now = [1000.0]
    monkeypatch.setattr(machine_module.time, "monotonic", lambda: now[0])
    assert machine.memory().available == GB
    (folder / "memory.current").write_text(str(GB + 512 * MB))
    now[0] += machine_module.MEMORY_FRESH_S / 2
    assert machine.memory().available == GB  # every claim asks: one reading serves them a moment
    now[0] += machine_module.MEMORY_FRESH_S
    assert machine.memory().available == GB - 512 * MB


def test_machine_reads_cgroup_v1_limits(tmp_path: Path) -> None:
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/box\n3:cpu,cpuacct:/box\n0::/\n")
    memory_dir, cpu_dir = tmp_path / "root" / "memory" / "box", tmp_path / "root" / "cpu" / "box"
    memory_dir.mkdir(parents=True)
    cpu_dir.mkdir(parents=True)
    (memory_dir / "memory.limit_in_bytes").write_text(str(GB))
    (memory_dir / "memory.usage_in_bytes").write_text(str(512 * MB))
    (cpu_dir / "cpu.cfs_quota_us").write_text("100000")
    (cpu_dir / "cpu.cfs_period_us").write_text("100000")
    machine = Machine(proc, tmp_path / "root")
    assert machine.cores == 1.0
    assert machine.memory() == Memory(total=GB, available=min(512 * MB, machine.memory().available))


async def test_a_gate_holds_until_a_place_frees() -> None:
    gate = Gate(1, recheck_s=10)
    await gate.room()
    gate.take()
    assert gate.reason() == "all 1 slots in use"
    waiting = asyncio.create_task(gate.room())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    gate.release()
    await asyncio.wait_for(waiting, 1)
    refused = Gate(5, lambda running: "no memory" if running >= 2 else None, recheck_s=0.01)
    refused.take()
    refused.take()
    assert refused.reason() == "no memory"


@pytest.mark.parametrize("same_machine", [True, False])
def test_pressure_counts_each_machine_once(same_machine: bool) -> None:
    def load(machine: str, sessions: int) -> NodeLoad:
        return NodeLoad(
            machine=machine,
            cores=2.0,
            cpu_percent=50.0,
            memory_total=24 * GB,
            memory_available=20 * GB,
            memory_floor=GB,
            browsers_pss=GB,
            runs_sessions=True,
            sessions=sessions,
            session_limit=100,
        )

    loads = {"a": load("m1", 10), "b": load("m1" if same_machine else "m2", 20)}
    view = Pressure(running=30, queued=0, slots=8, nodes=2, loads=loads).to_json()
    machines = 1 if same_machine else 2
    assert view["cpu"] == {"cores": 2.0 * machines, "usedPercent": 50.0}
    assert view["memory"]["totalMB"] == 24 * 1024 * machines  # type: ignore[index]
    assert view["sessions"] == {"running": 30, "limit": 200, "room": 170}
    assert view["accepting"] is True
