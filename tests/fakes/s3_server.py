"""An S3-speaking server on 127.0.0.1 (moto in server mode) for the bucket file store: the real S3
wire protocol (signed requests, multipart uploads, ranges, conditional reads), nothing outside."""

from __future__ import annotations

import logging
import uuid

import httpx2
import obstore
from moto.server import ThreadedMotoServer
from obstore.store import S3Store
from pydantic import SecretStr

from tertulia.config import Settings

KEY_ID, SECRET = "tertulia-test", "tertulia-test-secret"


class FakeS3Server:
    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.stop()

    def create_bucket(self) -> str:
        name = f"tertulia-{uuid.uuid4().hex[:12]}"
        httpx2.put(f"{self.endpoint}/{name}", timeout=10).raise_for_status()
        return name

    async def get(self, bucket: str, key: str) -> tuple[bytes, dict[str, str]]:
        """An object's bytes and attributes as the bucket holds them (read without Tertulia's store)."""
        store = S3Store(bucket, endpoint=self.endpoint, region="us-east-1", access_key_id=KEY_ID,
                        secret_access_key=SECRET, client_options={"allow_http": True})
        result = await obstore.get_async(store, key)
        return bytes(await result.bytes_async()), {str(k): v for k, v in result.attributes.items()}

    def settings(self, base: Settings, bucket: str, prefix: str = "") -> Settings:
        """`base` with its files in `bucket` (under `prefix`), as an operator would configure it."""
        return base.model_copy(update={
            "storage_url": f"s3://{bucket}/{prefix}".rstrip("/"), "storage_endpoint": self.endpoint,
            "storage_region": "us-east-1", "storage_access_key_id": KEY_ID,
            "storage_secret_access_key": SecretStr(SECRET)})
