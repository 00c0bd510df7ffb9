"""What an ended session left in the blob store: its CDP log, its rrweb recording, its downloads.

The node stores them when the session ends (node/session/history.py); the node-local router
(node/session/routes/history.py) and the web console read them back with :func:`stored_records`.
"""

from __future__ import annotations

import json
from typing import Any

from browserfleet.store.blobs import BlobStore

LOG_BLOB = "logs.json"  # SessionLog[] of an ended session
RECORDING_BLOB = "recording.json"  # SessionRecording[] of an ended session
DOWNLOADS_BLOB = "downloads.zip"  # a zip of what its pages downloaded (node/session/files.py)


async def stored_records(blobs: BlobStore, session_id: str, name: str) -> list[Any]:
    """The records of the ended session's blob ``name`` ([] if it asked for none, or retention
    purged them)."""
    data = await blobs.get(session_id, name)
    if data is None:
        return []
    records = json.loads(data)
    return records if isinstance(records, list) else []
