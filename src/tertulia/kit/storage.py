"""One store for every file Tertulia keeps, local or in an S3-compatible bucket.

Keys are plain relative names, namespaced by purpose and tenant:

    media/<tenant_id>/<name>     files messages carry as attachments (served at /media/...)
    uploads/<tenant_id>/<name>   files sent through the web chat
    reports/<tenant_id>/<name>   generated reports

Where they live is the operator's choice (`create_store`): by default a directory under the data
directory (`<data dir>/files/<key>`), enough for one server; with `TERTULIA_STORAGE_URL=s3://bucket/
prefix`, a bucket every `serve` and `worker` process shares (AWS S3, MinIO, Ceph, R2...). Both are
driven through obstore, so the code path is the same; the differences between the two backends are
handled here and pinned by the same contract tests.

A file's content type follows its name (`content_type_of`), on both backends: the local directory
cannot keep a type beside a file, and one rule everywhere means a file is served the same way
whichever store holds it. Name files with their extension.
"""

from __future__ import annotations

import mimetypes
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import GenericError
from obstore.store import LocalStore, S3Store

from tertulia.config import Settings
from tertulia.kit.errors import TertuliaError

if TYPE_CHECKING:
    from obstore import Attributes, GetOptions, ObjectMeta
    from obstore.store import ObjectStore, S3Config

# Reads fetch at most this much per request to the backend: memory per stream stays bounded, and
# each request to a bucket finishes in moments however slowly the client downloads.
READ_CHUNK = 1024 * 1024
# A stream is written in parts of PART_BYTES (S3's smallest multipart part), at most
# PARTS_IN_FLIGHT at a time: obstore's default (12) let one 60 MB upload hold all of it in memory.
PART_BYTES = 5 * 1024 * 1024
PARTS_IN_FLIGHT = 2
# What S3 allows for a key; what file systems allow for a name (255 bytes), less room for the
# suffix the local store writes a file under before renaming it into place ("name#1").
MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 240

EXTRA_TYPES = {".webm": "video/webm", ".wav": "audio/wav", ".ogg": "audio/ogg", ".opus": "audio/ogg",
               ".m4a": "audio/mp4"}


class InvalidKey(ValueError):
    """A key that can never name a stored file (callers serving files answer 404)."""


class FileTooLarge(TertuliaError):
    status_code, code = 413, "file_too_large"


@dataclass(frozen=True, slots=True)
class StoredFile:
    key: str
    size: int
    content_type: str
    etag: str | None
    modified: datetime


def check_key(key: str) -> str:
    """The key itself when it is a plain relative name: segments that are neither empty, `.`, `..`
    nor hidden, without control characters or backslashes, short enough for every backend."""
    if not key or len(key.encode()) > MAX_KEY_BYTES:
        raise InvalidKey("a key is 1 to 1024 bytes long")
    for part in key.split("/"):
        if not part or part.startswith(".") or len(part.encode()) > MAX_SEGMENT_BYTES:
            raise InvalidKey(f"a key is made of non-hidden names of 1 to {MAX_SEGMENT_BYTES} bytes")
        if "\\" in part or any(ord(c) < 32 or ord(c) == 127 for c in part):
            raise InvalidKey("a key has no control characters or backslashes")
    return key


def content_type_of(name: str) -> str:
    # Our own table first: the system's (/etc/mime.types) differs between hosts, and two servers
    # must serve a file alike.
    return (EXTRA_TYPES.get(PurePosixPath(name).suffix.lower()) or mimetypes.guess_type(name)[0]
            or "application/octet-stream")


def _is_missing(exc: Exception) -> bool:
    # The local directory reports a key below an existing file ("a.png/x") as an OS error, where a
    # bucket simply has no such object.
    return isinstance(exc, FileNotFoundError) or (isinstance(exc, GenericError) and "kind: NotADirectory" in str(exc))


class FileStore:
    """Files by key. Writes are atomic (a reader never sees half a file); reads stream."""

    def __init__(self, backend: ObjectStore, *, keeps_attributes: bool, where: str) -> None:
        self._backend = backend
        # The local directory refuses object attributes; a bucket gets the type too, for whoever
        # reads it directly.
        self._keeps_attributes = keeps_attributes
        self.where = where  # for logs: the directory or bucket, never credentials

    async def put(self, key: str, data: bytes | AsyncIterable[bytes], *, max_bytes: int | None = None) -> int:
        """Store a file (replacing any file of that key) from bytes or a stream; its size. Beyond
        `max_bytes`, FileTooLarge is raised and nothing is stored. A stream costs at most about
        (PARTS_IN_FLIGHT + 1) * PART_BYTES of memory, whatever its length."""
        check_key(key)
        size = len(data) if isinstance(data, bytes) else 0
        _check_size(size, max_bytes)

        async def counted(stream: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
            nonlocal size
            async for chunk in stream:
                size += len(chunk)
                _check_size(size, max_bytes)  # raised inside the upload: obstore abandons it
                yield chunk

        attributes: Attributes | None = {"Content-Type": content_type_of(key)} if self._keeps_attributes else None
        await obstore.put_async(self._backend, key, data if isinstance(data, bytes) else counted(data),
                                attributes=attributes, chunk_size=PART_BYTES, max_concurrency=PARTS_IN_FLIGHT)
        return size

    async def stat(self, key: str) -> StoredFile | None:
        check_key(key)
        try:
            meta = await obstore.head_async(self._backend, key)
        except Exception as exc:
            if _is_missing(exc):
                return None
            raise
        return _stored(meta)

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes `[start, end)` of a file (to its end when `end` is None), in pieces of at most
        READ_CHUNK. A file replaced while it is being read fails the read instead of mixing two
        versions. FileNotFoundError when there is no such file."""
        check_key(key)
        if end is None:
            found = await self.stat(key)
            if found is None:
                raise FileNotFoundError(key)
            end = found.size
        etag: str | None = None
        while start < end:
            stop = min(end, start + READ_CHUNK)
            options: GetOptions = {"range": (start, stop)}
            if etag is not None:
                options["if_match"] = etag
            result = await obstore.get_async(self._backend, key, options=options)
            etag = result.meta["e_tag"]
            yield bytes(await result.bytes_async())
            start = stop

    async def delete(self, key: str) -> None:
        """Remove a file; removing one that is not there is not an error."""
        check_key(key)
        try:
            await obstore.delete_async(self._backend, key)
        except FileNotFoundError:
            pass

    async def list(self, prefix: str) -> list[StoredFile]:
        """The files under a folder-like prefix (`media/<tenant_id>`), in no particular order."""
        found = await obstore.list(self._backend, check_key(prefix)).collect_async()
        return [_stored(meta) for meta in found]


def _check_size(size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise FileTooLarge(f"the file is larger than {max_bytes} bytes")


def _stored(meta: ObjectMeta) -> StoredFile:
    return StoredFile(key=meta["path"], size=meta["size"], content_type=content_type_of(meta["path"]),
                      etag=meta["e_tag"], modified=meta["last_modified"])


def create_store(settings: Settings) -> FileStore:
    """The store the settings name: the bucket of TERTULIA_STORAGE_URL, else `<data dir>/files`."""
    if not settings.storage_url:
        root = (settings.data_dir / "files").resolve()
        return FileStore(LocalStore(root, mkdir=True, automatic_cleanup=True), keeps_attributes=False,
                         where=str(root))
    bucket, _, prefix = settings.storage_url.removeprefix("s3://").partition("/")
    config: S3Config = {}
    if settings.storage_endpoint:
        config["endpoint"] = settings.storage_endpoint
    if settings.storage_region:
        config["region"] = settings.storage_region
    if settings.storage_access_key_id and settings.storage_secret_access_key:  # both or neither (config.py)
        config["access_key_id"] = settings.storage_access_key_id
        config["secret_access_key"] = settings.storage_secret_access_key.get_secret_value()
    # MinIO or Ceph on a private network often speak plain http.
    backend = S3Store(bucket, prefix=prefix.strip("/") or None, config=config,
                      client_options={"allow_http": (settings.storage_endpoint or "").startswith("http://")})
    return FileStore(backend, keeps_attributes=True, where=settings.storage_url)
