"""Balances: a ledger of free, bonus and paid cents; one cent buys one billable render.

Charging happens in the store, in the same transaction that finishes the job
(store/repo/jobs.py:finish_job), so a render is charged at most once. Admission (core/admission.py)
reserves a cent for every render in flight so the balance never goes below zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from browserfleet.store.repo import LEDGER_KINDS, Store


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) / 100:.2f}"


@dataclass(frozen=True)
class Balance:
    by_kind: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def to_wire(self) -> dict[str, object]:
        return {
            "totalBalanceCents": self.total,
            "totalBalanceFormatted": format_cents(self.total),
            "breakdown": {
                kind: {"cents": self.by_kind[kind], "formatted": format_cents(self.by_kind[kind])}
                for kind in LEDGER_KINDS
            },
        }


async def balance(store: Store, project_id: str) -> Balance:
    return Balance(await store.balance(project_id))
