"""A session's downloads folder as the Browser.download* events drive it (no browser needed:
the events are fed in the order Chromium sends them, the files written as Chromium writes them)."""

from __future__ import annotations

from pathlib import Path

from browserfleet.node.session.files import SessionFiles

LIMIT = 100


def _files(tmp_path: Path) -> SessionFiles:
    files = SessionFiles(tmp_path / "session", downloads_max_bytes=LIMIT)
    files.create()
    return files


def _download(files: SessionFiles, guid: str, name: str, size: int) -> None:
    """A download that finishes: begin, progress, the file saved under its guid, completed."""
    files._on_begin({"guid": guid, "suggestedFilename": name}, None)
    files._on_progress({"guid": guid, "state": "inProgress", "receivedBytes": 0, "totalBytes": size}, None)
    (files.downloads / guid).write_bytes(b"d" * size)
    files._on_progress({"guid": guid, "state": "completed", "receivedBytes": size, "totalBytes": size}, None)


def test_a_finished_download_is_listed_under_its_own_name(tmp_path: Path) -> None:
    files = _files(tmp_path)
    _download(files, "guid-1", "report.pdf", 60)
    assert [(p.name, p.read_bytes()) for p in files.downloaded()] == [("report.pdf", b"d" * 60)]
    assert files.cancelled == 0


def test_a_cancelled_download_never_shows_even_if_chromium_leaves_its_file_late(tmp_path: Path) -> None:
    files = _files(tmp_path)
    _download(files, "guid-1", "first.bin", 60)
    files._on_begin({"guid": "guid-2", "suggestedFilename": "second.bin"}, None)
    files._on_progress({"guid": "guid-2", "state": "inProgress", "receivedBytes": 10, "totalBytes": 60}, None)
    assert files.cancelled == 1  # 60 + 60 > 100: cancelled as it starts
    files._on_progress({"guid": "guid-2", "state": "canceled", "receivedBytes": 10, "totalBytes": 60}, None)
    (files.downloads / "guid-2").write_bytes(b"")  # the empty file Chromium may leave after the report

    assert [p.name for p in files.downloaded()] == ["first.bin"]
    assert files.cancelled == 1


def test_a_download_that_finished_before_its_cancel_is_removed_and_counted(tmp_path: Path) -> None:
    files = _files(tmp_path)
    _download(files, "guid-1", "first.bin", 60)
    files._on_begin({"guid": "guid-2", "suggestedFilename": "second.bin"}, None)
    (files.downloads / "guid-2").write_bytes(b"d" * 60)  # no progress seen before it completed
    files._on_progress({"guid": "guid-2", "state": "completed", "receivedBytes": 60, "totalBytes": 60}, None)

    assert files.cancelled == 1
    assert not (files.downloads / "guid-2").exists()
    assert [p.name for p in files.downloaded()] == ["first.bin"]
