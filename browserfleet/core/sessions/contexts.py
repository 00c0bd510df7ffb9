"""Contexts: saved browser profiles a session can start from and (``persist``) save back into.

A context is a row (store: ``contexts``) plus, once something was saved, one encrypted blob
``<context id>/<blob name>`` in the BlobStore: the canonical profile archive
(core/sessions/profile_archive.py) sealed with the vault (core/vault.py, purpose ``context-profile``).
Saving writes a NEW blob, then points the row at it, then deletes the old one — a failed save
never loses the previous profile.

Uploads (the contract's ``uploadUrl``): each create/PUT makes a fresh RSA-2048 key pair (the
private key is kept sealed in the row) and a random upload token (kept as its SHA-256, expiring
after ``upload_ttl_s``). The client sends ``RSA-OAEP-SHA256(aes_key) || iv || AES-256-CBC(archive)``
(docs/contexts.md); the server decrypts, validates and normalises the archive and stores it.

Persistence rule: at most one live session per context with ``persist: true`` (else 409); the
check runs inside the project's admission section (core/admission.py), so two concurrent creates
cannot both pass. Sessions with ``persist: false`` only read the context.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from browserfleet.core.accounts import new_id
from browserfleet.core.errors import Conflict, Forbidden, InvalidRequest, NotFound
from browserfleet.core.jobs import ACTIVE_STATES, JobKind, utcnow
from browserfleet.core.sessions.profile_archive import normalise
from browserfleet.core.vault import Vault
from browserfleet.store.blobs import BlobStore
from browserfleet.store.records import ContextRecord, ProjectRecord
from browserfleet.store.repo import Store

if TYPE_CHECKING:
    from browserfleet.settings import Settings

log = structlog.get_logger(__name__)
CIPHER_ALGORITHM = "AES-256-CBC"
IV_BYTES = 16
RSA_BITS = 2048
RSA_BYTES = RSA_BITS // 8
PROFILE_PURPOSE = "context-profile"
UPLOAD_KEY_PURPOSE = "context-upload-key"


@dataclass(frozen=True)
class UploadGrant:
    """What create/PUT hand the client: where and how to upload a profile."""

    context: ContextRecord
    token: str
    public_key_pem: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Contexts:
    def __init__(
        self, store: Store, blobs: BlobStore, vault: Vault, *, max_bytes: int, upload_ttl_s: float
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.vault = vault
        self.max_bytes = max_bytes
        self.upload_ttl_s = upload_ttl_s

    @classmethod
    def from_settings(cls, store: Store, blobs: BlobStore, settings: Settings) -> Contexts:
        """Saved contexts, sealed with the vault of ``secret_key`` (or ``<data_dir>/secret.key``)."""
        s = settings
        vault = Vault.from_settings(s.secret_key, s.data_dir)
        return cls(store, blobs, vault, max_bytes=s.context_max_bytes, upload_ttl_s=s.context_upload_ttl_s)

    # --- the API's calls ----------------------------------------------------------------------
    async def create(self, project: ProjectRecord, name: str | None) -> UploadGrant:
        context_id = new_id("ctx")
        private_pem, public_pem = await asyncio.to_thread(_key_pair)
        context = await self.store.create_context(
            context_id=context_id,
            project_id=project.id,
            name=name.strip() if name and name.strip() else None,
            wrapped_private_key=self._wrap(context_id, private_pem),
        )
        return await self._grant(context, public_pem)

    async def page(
        self, project: ProjectRecord, *, offset: int, limit: int
    ) -> tuple[list[ContextRecord], int]:
        """A page of the project's contexts (newest first) and their count."""
        return await self.store.project_contexts(project.id, offset=offset, limit=limit)

    async def get(self, project: ProjectRecord, context_id: str) -> ContextRecord:
        context = await self.store.get_context(context_id, project.id)
        if context is None:
            raise NotFound(f"Context {context_id} not found")
        return context

    async def renew_upload(self, project: ProjectRecord, context_id: str) -> UploadGrant:
        """``PUT /v1/contexts/{id}``: a new key pair and a new upload token (the old ones die)."""
        context = await self.get(project, context_id)
        private_pem, public_pem = await asyncio.to_thread(_key_pair)
        updated = await self.store.update_context(
            context.id, wrapped_private_key=self._wrap(context.id, private_pem)
        )
        if updated is None:
            raise NotFound(f"Context {context_id} not found")
        return await self._grant(updated, public_pem)

    async def delete(self, project: ProjectRecord, context_id: str) -> None:
        if not await self.store.delete_context(context_id, project.id):
            raise NotFound(f"Context {context_id} not found")
        await self.blobs.delete_job(context_id)

    async def authorize_upload(self, context_id: str, token: str | None) -> ContextRecord:
        """The context whose valid, unexpired upload token ``token`` is; 403 otherwise."""
        context = await self.store.get_context(context_id)
        if (
            context is None
            or not token
            or context.upload_token_hash is None
            or not hmac.compare_digest(token_hash(token), context.upload_token_hash)
            or context.upload_expires_at is None
            or context.upload_expires_at < utcnow()
        ):
            raise Forbidden("The upload token is invalid or expired: ask PUT /v1/contexts/{id} for a new one")
        return context

    async def upload(self, context: ContextRecord, body: bytes) -> ContextRecord:
        """Decrypt, validate and store an uploaded profile (``context`` from authorize_upload)."""
        private_pem = self.vault.open(
            UPLOAD_KEY_PURPOSE, context.id, base64.b64decode(context.wrapped_private_key)
        )
        archive = await asyncio.to_thread(decrypt_upload, private_pem, body)
        return await self._save_upload(context, archive)

    async def upload_archive(self, project: ProjectRecord, context_id: str, archive: bytes) -> ContextRecord:
        """A profile archive the project's signed-in web console sends (over its own session, so
        without the upload URL's encryption): validated and stored as an upload is."""
        return await self._save_upload(await self.get(project, context_id), archive)

    async def _save_upload(self, context: ContextRecord, archive: bytes) -> ContextRecord:
        started = time.monotonic()
        canonical, files = await asyncio.to_thread(normalise, archive, self.max_bytes)
        saved = await self.store_profile(context.id, canonical)
        if saved is None:
            raise NotFound(f"Context {context.id} not found")
        log.info(
            "context.uploaded",
            context_id=context.id,
            files=files,
            bytes=len(canonical),
            ms=round((time.monotonic() - started) * 1000, 1),
        )
        return saved

    # --- the sessions' calls ------------------------------------------------------------------
    async def require(self, project: ProjectRecord, context_id: str) -> ContextRecord:
        """The project's context for a session; 400 naming the field otherwise."""
        context = await self.store.get_context(context_id, project.id)
        if context is None:
            message = f"Context {context_id} not found"
            field = "browserSettings.context.id"
            raise InvalidRequest(f"{field}: {message}", details=[{"field": field, "message": message}])
        return context

    async def check_exclusive(self, project: ProjectRecord, context_id: str) -> None:
        """409 if a live session already persists into ``context_id`` (call under admission)."""
        for job in await self.store.project_jobs(project.id, JobKind.SESSION, ACTIVE_STATES):
            if job.spec.get("context_id") == context_id and job.spec.get("context_persist"):
                raise Conflict(
                    f"Context {context_id} is in use by session {job.id} with persist: true; "
                    "release it first, or use persist: false"
                )

    # --- the saved profile --------------------------------------------------------------------
    async def load_profile(self, context_id: str) -> bytes | None:
        """The decrypted canonical archive, or None if nothing was saved yet."""
        context = await self.store.get_context(context_id)
        if context is None or context.blob_name is None:
            return None
        sealed = await self.blobs.get(context.id, context.blob_name)
        if sealed is None:
            raise FileNotFoundError(f"the saved profile of {context_id} is missing from the blob store")
        return await asyncio.to_thread(self.vault.open, PROFILE_PURPOSE, context.id, sealed)

    async def store_profile(self, context_id: str, archive: bytes) -> ContextRecord | None:
        """Seal and write ``archive`` as a new blob, then swap the row to it and drop the old
        blob. None (and nothing kept) if the context was deleted meanwhile."""
        sealed = await asyncio.to_thread(self.vault.seal, PROFILE_PURPOSE, context_id, archive)
        blob_name = f"profile-{secrets.token_hex(8)}.bin"
        await self.blobs.put(context_id, blob_name, sealed)
        before = await self.store.get_context(context_id)
        updated = await self.store.update_context(context_id, blob_name=blob_name, data_bytes=len(archive))
        if updated is None:
            await self.blobs.delete_job(context_id)
            return None
        if before is not None and before.blob_name and before.blob_name != blob_name:
            await self.blobs.delete(context_id, before.blob_name)
        return updated

    # --- helpers ------------------------------------------------------------------------------
    async def _grant(self, context: ContextRecord, public_pem: str) -> UploadGrant:
        token = secrets.token_urlsafe(32)
        updated = await self.store.update_context(
            context.id,
            upload_token_hash=token_hash(token),
            upload_expires_at=utcnow() + timedelta(seconds=self.upload_ttl_s),
        )
        return UploadGrant(updated or context, token, public_pem)

    def _wrap(self, context_id: str, private_pem: bytes) -> str:
        return base64.b64encode(self.vault.seal(UPLOAD_KEY_PURPOSE, context_id, private_pem)).decode()


def _key_pair() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem.decode()


def decrypt_upload(private_pem: bytes, body: bytes) -> bytes:
    """``RSA-OAEP-SHA256(key) || iv || AES-256-CBC-PKCS7(archive)`` → archive (400 if it isn't)."""
    if len(body) < RSA_BYTES + IV_BYTES + 16 or (len(body) - RSA_BYTES - IV_BYTES) % 16:
        raise InvalidRequest(
            f"The upload must be the RSA-encrypted key ({RSA_BYTES} bytes), the IV ({IV_BYTES} bytes) "
            "and the AES-256-CBC ciphertext (a multiple of 16 bytes)"
        )
    private = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey)
    try:
        key = private.decrypt(
            body[:RSA_BYTES], OAEP(mgf=MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
        )
    except ValueError as exc:
        raise InvalidRequest("The AES key does not decrypt with this context's public key") from exc
    if len(key) != 32:
        raise InvalidRequest("The RSA-encrypted AES key must be 32 bytes (AES-256)")
    iv = body[RSA_BYTES : RSA_BYTES + IV_BYTES]
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(body[RSA_BYTES + IV_BYTES :]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as exc:
        raise InvalidRequest("The ciphertext does not decrypt (bad AES key, IV or padding)") from exc
