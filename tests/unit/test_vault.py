"""Encryption at rest (core/vault.py) and the profile archive rules (core/sessions/profile_archive.py)."""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import pytest

from browserfleet.core.errors import InvalidRequest, PayloadTooLarge
from browserfleet.core.sessions.profile_archive import COOKIES_NAME, normalise, pack_dir, unpack
from browserfleet.core.vault import Vault, VaultError
from tests.support.contexts import zip_of


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    vault = Vault.from_settings(None, tmp_path)
    key_file = tmp_path / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    sealed = vault.seal("context-profile", "ctx_a", b"cookie=chocolate")
    again = Vault.from_settings(None, tmp_path)  # a restart reads the same key
    assert again.open("context-profile", "ctx_a", sealed) == b"cookie=chocolate"
    assert b"chocolate" not in sealed and len(key_file.read_text().strip()) == 64


def test_sealed_blobs_bind_key_object_and_content(tmp_path: Path) -> None:
    vault = Vault.from_settings("operator secret", tmp_path)
    assert not (tmp_path / "secret.key").exists()  # the setting wins, nothing generated
    sealed = vault.seal("context-profile", "ctx_a", b"data")
    assert sealed != vault.seal("context-profile", "ctx_a", b"data")  # fresh nonce each time
    assert (
        Vault.from_settings("operator secret", tmp_path / "x").open("context-profile", "ctx_a", sealed)
        == b"data"
    )
    for wrong in (
        lambda: vault.open("context-profile", "ctx_b", sealed),  # another context's key
        lambda: vault.open("context-upload-key", "ctx_a", sealed),  # another purpose
        lambda: Vault.from_settings("other secret", tmp_path).open("context-profile", "ctx_a", sealed),
        lambda: vault.open("context-profile", "ctx_a", sealed[:-1] + bytes([sealed[-1] ^ 1])),
    ):
        with pytest.raises(VaultError):
            wrong()


def test_pack_skips_caches_and_runtime_files_and_round_trips(tmp_path: Path) -> None:
    root = tmp_path / "udd"
    for name in ("Default/Cookies", "Default/Local Storage/leveldb/000003.log", "Local State"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(name.encode())
    for name in ("Default/Cache/data_0", "Default/Code Cache/js/x", "SingletonLock", "DevToolsActivePort"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"skip me")
    (root / "Default" / "Local Storage" / "leveldb" / "LOCK").write_bytes(b"")
    archive = pack_dir(root, [{"name": "s", "value": "1", "session": True}])
    target = tmp_path / "restored"
    assert unpack(archive, target, 10_000) == [{"name": "s", "value": "1", "session": True}]
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == ["Default/Cookies", "Default/Local Storage/leveldb/000003.log", "Local State"]
    assert (target / "Default/Cookies").read_bytes() == b"Default/Cookies"


def test_normalise_strips_a_wrapper_folder_and_rejects_unsafe_entries() -> None:
    canonical, files = normalise(zip_of({"me/Default/Cookies": b"c", "me/Default/GPUCache/x": b"g"}), 10_000)
    with tarfile.open(fileobj=io.BytesIO(canonical), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == sorted(["Default/Cookies", COOKIES_NAME])
    assert files == 1
    for bad in ({"../x": b"1"}, {"/abs": b"1"}, {"a/../../x": b"1"}):
        with pytest.raises(InvalidRequest):
            normalise(zip_of(bad), 10_000)
    with pytest.raises(PayloadTooLarge):
        normalise(zip_of({"Default/a": b"\0" * 6000, "Default/b": b"\0" * 6000}), 10_000)
    with pytest.raises(InvalidRequest):
        normalise(b"not an archive at all", 10_000)
