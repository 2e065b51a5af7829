"""The file store: the local directory and an S3 bucket (moto on loopback) keep the same contract,
so whichever an operator configures, files behave the same."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from obstore.exceptions import PreconditionError
from pydantic import ValidationError

from tertulia.config import Settings
from tertulia.kit.storage import READ_CHUNK, FileStore, FileTooLarge, InvalidKey, check_key, create_store
from tests.fakes.s3_server import FakeS3Server


async def read_all(store: FileStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


async def pieces(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


async def test_put_stat_read_delete(file_store: FileStore) -> None:
    data = os.urandom(5000)
    assert await file_store.put("media/t1/voz/nota.ogg", data) == 5000
    found = await file_store.stat("media/t1/voz/nota.ogg")
    assert found is not None
    assert (found.key, found.size, found.content_type) == ("media/t1/voz/nota.ogg", 5000, "audio/ogg")
    assert found.etag and datetime.now(UTC) - found.modified < timedelta(minutes=1)
    assert await file_store.exists("media/t1/voz/nota.ogg")
    assert await read_all(file_store, "media/t1/voz/nota.ogg") == data

    # Replacing a file changes its version.
    assert await file_store.put("media/t1/voz/nota.ogg", b"otra") == 4
    again = await file_store.stat("media/t1/voz/nota.ogg")
    assert again is not None and again.size == 4 and again.etag != found.etag
    assert await read_all(file_store, "media/t1/voz/nota.ogg") == b"otra"

    await file_store.delete("media/t1/voz/nota.ogg")
    assert await file_store.stat("media/t1/voz/nota.ogg") is None
    await file_store.delete("media/t1/voz/nota.ogg")  # already gone: not an error


async def test_ranges_and_reads_in_bounded_pieces(file_store: FileStore) -> None:
    data = os.urandom(2 * READ_CHUNK + 1000)
    await file_store.put("media/t1/video.webm", data)
    assert await read_all(file_store, "media/t1/video.webm", 100, 300) == data[100:300]
    assert await read_all(file_store, "media/t1/video.webm", READ_CHUNK - 5, READ_CHUNK + 5) == \
        data[READ_CHUNK - 5:READ_CHUNK + 5]
    assert await read_all(file_store, "media/t1/video.webm", len(data) - 10) == data[-10:]
    # A long read never holds more than one piece: a video is not loaded whole into memory.
    sizes = [len(chunk) async for chunk in file_store.read("media/t1/video.webm")]
    assert sizes == [READ_CHUNK, READ_CHUNK, 1000]


async def test_a_file_replaced_during_a_read_fails_the_read(file_store: FileStore) -> None:
    await file_store.put("media/t1/video.webm", b"a" * (READ_CHUNK + 10))
    reading = file_store.read("media/t1/video.webm")
    assert await anext(reading) == b"a" * READ_CHUNK
    await file_store.put("media/t1/video.webm", b"b" * (READ_CHUNK + 10))
    with pytest.raises(PreconditionError):  # never the first half of one version and the end of another
        await anext(reading)


async def test_writes_from_a_stream_with_a_size_limit(file_store: FileStore) -> None:
    size = await file_store.put("uploads/t1/casos.xlsx", pieces(b"a" * 3000, b"b" * 3000, b"c"), max_bytes=6001)
    assert size == 6001
    assert await read_all(file_store, "uploads/t1/casos.xlsx") == b"a" * 3000 + b"b" * 3000 + b"c"

    # Beyond the limit nothing is stored, and a file already there is left as it was.
    with pytest.raises(FileTooLarge):
        await file_store.put("uploads/t1/casos.xlsx", pieces(b"x" * 4000, b"x" * 4000), max_bytes=6001)
    with pytest.raises(FileTooLarge):
        await file_store.put("uploads/t1/otro.xlsx", b"x" * 6002, max_bytes=6001)
    with pytest.raises(FileTooLarge):
        await file_store.put("uploads/t1/otro.xlsx", pieces(b"x" * 4000, b"x" * 4000), max_bytes=6001)
    assert await read_all(file_store, "uploads/t1/casos.xlsx") == b"a" * 3000 + b"b" * 3000 + b"c"
    assert [f.key for f in await file_store.list("uploads/t1")] == ["uploads/t1/casos.xlsx"]


async def test_missing_files(file_store: FileStore) -> None:
    await file_store.put("media/t1/foto.png", b"\x89PNG")
    for key in ("media/t1/nada.png", "media/t1/foto.png/x", "media/t1", "media"):
        assert await file_store.stat(key) is None, key
        assert not await file_store.exists(key)
    with pytest.raises(FileNotFoundError):
        await read_all(file_store, "media/t1/nada.png")


async def test_list_by_prefix(file_store: FileStore) -> None:
    for key in ("media/t1/a.png", "media/t1/sub/b.pdf", "media/t10/c.png", "reports/t1/d.pdf"):
        await file_store.put(key, b"x")
    assert sorted(f.key for f in await file_store.list("media/t1")) == ["media/t1/a.png", "media/t1/sub/b.pdf"]
    assert await file_store.list("uploads/t1") == []


async def test_names_as_people_write_them(file_store: FileStore) -> None:
    for name in ("Carta de precios.pdf", "menú ñandú (1).pdf", "100% café.png", "a+b=c&d.txt", "é" * 118 + ".pdf"):
        key = f"media/t1/{name}"
        await file_store.put(key, name.encode())
        found = await file_store.stat(key)
        assert found is not None and found.key == key, name
        assert await read_all(file_store, key) == name.encode()


BAD_KEYS = ["", "/media/t1/a.png", "media/t1/", "media//a.png", "media/../t2/a.png", "media/./a.png",
            "media/t1/.secret", ".hidden/a.png", "media/t1/a\x00.png", "media/t1/a\nb.png", "media\\t1\\a.png",
            "media/t1/" + "a" * 241, "media/t1/" + "é" * 121, "/".join(["media"] + ["a" * 200] * 6)]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_keys_are_plain_relative_names(key: str) -> None:
    with pytest.raises(InvalidKey):
        check_key(key)


async def test_every_operation_checks_its_key(file_store: FileStore) -> None:
    for key in BAD_KEYS:
        with pytest.raises(InvalidKey):
            await file_store.put(key, b"x")
        with pytest.raises(InvalidKey):
            await file_store.stat(key)
        with pytest.raises(InvalidKey):
            await file_store.delete(key)
    assert check_key("media/t1/" + "a" * 240) == "media/t1/" + "a" * 240


async def test_where_the_files_are(settings: Settings, tmp_path: Path, s3_server: FakeS3Server) -> None:
    """The local store keeps `<data dir>/files/<key>`; the bucket store keeps `<prefix>/<key>` in
    the bucket, with the file's type for whoever reads the bucket directly."""
    local = create_store(settings.model_copy(update={"data_dir": tmp_path}))
    await local.put("media/t1/menu.pdf", b"%PDF-1.4")
    assert (tmp_path / "files" / "media" / "t1" / "menu.pdf").read_bytes() == b"%PDF-1.4"

    bucket = s3_server.create_bucket()
    remote = create_store(s3_server.settings(settings, bucket, prefix="prod/tertulia"))
    await remote.put("media/t1/menu.pdf", b"%PDF-1.4")
    assert await s3_server.get(bucket, "prod/tertulia/media/t1/menu.pdf") == (b"%PDF-1.4",
                                                                            {"Content-Type": "application/pdf"})
    assert remote.where == f"s3://{bucket}/prod/tertulia" and "secret" not in remote.where


@pytest.mark.parametrize("url", ["/srv/files", "s3://", "s3:///prefix", "gs://bucket", "http://minio:9000/b"])
def test_a_storage_url_must_name_a_bucket(url: str) -> None:
    with pytest.raises(ValidationError, match="names a bucket"):
        Settings(storage_url=url)


def test_bucket_keys_come_in_pairs() -> None:
    with pytest.raises(ValidationError, match="both"):
        Settings(storage_url="s3://bucket", storage_access_key_id="key")
    assert Settings(storage_url="s3://bucket", storage_access_key_id="key",
                    storage_secret_access_key="secret").storage_secret_access_key is not None
