"""Small files the sandbox's customers send: real formats, so that whoever downloads them can check
the type by content (the first bytes), as Tertulia does."""

from __future__ import annotations

import struct
from importlib.resources import files

# media type -> (mime type, default file name)
SAMPLE_KINDS: dict[str, tuple[str, str]] = {
    "image": ("image/png", "foto.png"),
    "document": ("application/pdf", "presupuesto.pdf"),
    "audio": ("audio/ogg", "nota-de-voz.ogg"),
    "video": ("video/mp4", "video.mp4"),
    "sticker": ("image/webp", "sticker.webp"),
}
# Pictures, documents and voice notes are the demo's own files.
_DEMO_FILES = {"image": "latte-corazon.png", "document": "menu-cafe-aurora.pdf", "audio": "nota-de-voz-1.ogg"}


def mp4() -> bytes:
    """An ISO base media file with its `ftyp` box and an empty `mdat`."""
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", 8) + b"mdat"


def webp() -> bytes:
    """A 1x1 lossless WebP."""
    vp8l = bytes([0x2F, 0x00, 0x00, 0x00, 0x00, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xFE, 0x07])
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l + b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def sample(kind: str) -> tuple[bytes, str, str]:
    """(bytes, mime type, file name) of a sample file of this media kind."""
    mime, filename = SAMPLE_KINDS[kind]
    if kind in _DEMO_FILES:
        return (files("tertulia.demo") / "media" / _DEMO_FILES[kind]).read_bytes(), mime, filename
    if kind == "video":
        return mp4(), mime, filename
    return webp(), mime, filename
