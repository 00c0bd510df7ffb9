"""Encryption at rest: one server master key, a derived AES-256-GCM key per (purpose, object).

The master key is the setting ``secret_key`` (the same on every process of a distributed
deployment) or, when unset, 32 random bytes generated once into ``<data_dir>/secret.key`` (mode
0600). Nothing is ever encrypted with the master key itself: each object gets its own key,
``HKDF-SHA256(master, info="browserfleet/<purpose>/<object id>")``, so a blob copied onto another
object's key does not open, and the object id is also bound as associated data.

Sealed format: ``b"BFV1" || nonce (12 bytes) || AES-256-GCM ciphertext+tag``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from browserfleet.core.errors import Misconfigured

MAGIC = b"BFV1"
NONCE_BYTES = 12
KEY_FILE = "secret.key"


class VaultError(Exception):
    """A sealed blob does not open (wrong key, wrong object, or tampered with)."""


class Vault:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) < 32:
            raise Misconfigured("the master key must be at least 32 bytes")
        self._master = master_key

    @classmethod
    def from_settings(cls, secret_key: str | None, data_dir: Path) -> Vault:
        """``secret_key`` when given (any string; hashed to 32 bytes), else ``data_dir/secret.key``."""
        if secret_key:
            return cls(hashlib.sha256(secret_key.encode()).digest())
        return cls(load_or_create_key(data_dir / KEY_FILE))

    def key_for(self, purpose: str, object_id: str) -> bytes:
        info = f"browserfleet/{purpose}/{object_id}".encode()
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
        return hkdf.derive(self._master)

    def seal(self, purpose: str, object_id: str, data: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.key_for(purpose, object_id)).encrypt(nonce, data, object_id.encode())
        return MAGIC + nonce + sealed

    def open(self, purpose: str, object_id: str, blob: bytes) -> bytes:
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + NONCE_BYTES + 16:
            raise VaultError("not a sealed blob")
        nonce = blob[len(MAGIC) : len(MAGIC) + NONCE_BYTES]
        try:
            return AESGCM(self.key_for(purpose, object_id)).decrypt(
                nonce, blob[len(MAGIC) + NONCE_BYTES :], object_id.encode()
            )
        except InvalidTag as exc:
            raise VaultError("the blob does not open with this server's key") from exc


def load_or_create_key(path: Path) -> bytes:
    """Read the hex key at ``path``; create it (0600, exclusively) if it does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    key = os.urandom(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex() + "\n")
    return key


def _read_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text().strip())
    except ValueError as exc:
        raise Misconfigured(f"{path} does not hold a hex key") from exc
    if len(key) < 32:
        raise Misconfigured(f"{path} holds a key shorter than 32 bytes")
    return key
