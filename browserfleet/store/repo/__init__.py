"""The repository: every query browserfleet runs, one module per concept. Returns records from
store/records.py; only this package (and store/models.py, store/db.py) imports SQLAlchemy.

When you add a concept, give it a ``*Queries`` class on :class:`StoreBase` in a module of its own
and add it to :class:`Store` below.
"""

from __future__ import annotations

from browserfleet.store.repo.accounts import LEDGER_KINDS, AccountQueries
from browserfleet.store.repo.automations import AutomationQueries
from browserfleet.store.repo.blobs import BlobQueries
from browserfleet.store.repo.contexts import ContextQueries
from browserfleet.store.repo.extensions import ExtensionQueries
from browserfleet.store.repo.fanout import FanoutQueries
from browserfleet.store.repo.jobs import JobQueries
from browserfleet.store.repo.listing import ListingQueries
from browserfleet.store.repo.retention import RetentionQueries

__all__ = ["LEDGER_KINDS", "Store"]


class Store(
    AccountQueries,
    JobQueries,
    ContextQueries,
    ExtensionQueries,
    AutomationQueries,
    RetentionQueries,
    BlobQueries,
    FanoutQueries,
    ListingQueries,
):
    """Every query, on one engine (see :class:`browserfleet.store.repo.base.StoreBase`)."""
