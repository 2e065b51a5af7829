"""Small files the sandbox's customers send: real formats, made here, so that whoever downloads them
can check the type by content (the first bytes), as Tertulia does."""

from __future__ import annotations

import struct

from tertulia.demo_media import pdf_bytes, png_bytes

# media type -> (mime type, default file name)
SAMPLE_KINDS: dict[str, tuple[str, str]] = {
    "image": ("image/png", "foto.png"),
    "document": ("application/pdf", "presupuesto.pdf"),
    "audio": ("audio/ogg", "nota-de-voz.ogg"),
    "video": ("video/mp4", "video.mp4"),
    "sticker": ("image/webp", "sticker.webp"),
}


def png(width: int = 32, height: int = 32, rgb: tuple[int, int, int] = (37, 211, 102)) -> bytes:
    """A solid-colour PNG."""
    return png_bytes(width, height, lambda _x, _y: rgb)


def pdf(text: str = "Presupuesto") -> bytes:
    """A one-page PDF showing `text`."""
    return pdf_bytes(text, [])


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def ogg_opus() -> bytes:
    """The first page of an Ogg Opus stream (a voice note's container and codec header)."""
    packet = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    header = b"OggS" + struct.pack("<BBqIII", 0, 0x02, 0, 0x5A17B0C5, 0, 0) + bytes([1, len(packet)])
    page = bytearray(header + packet)
    struct.pack_into("<I", page, 22, _ogg_crc(bytes(page)))
    return bytes(page)


def mp4() -> bytes:
    """An ISO base media file with its `ftyp` box and an empty `mdat`."""
    ftyp = b"ftyp" + b"isom" + struct.pack(">I", 0x200) + b"isomiso2avc1mp41"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", 8) + b"mdat"


def webp() -> bytes:
    """A 1x1 lossless WebP."""
    vp8l = bytes([0x2F, 0x00, 0x00, 0x00, 0x00, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xFE, 0x07])
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l + b"\x00"
    return b"RIFF" + struct.pack("<I", len(body)) + body


def sample(kind: str, text: str = "") -> tuple[bytes, str, str]:
    """(bytes, mime type, file name) of a sample file of this media kind."""
    mime, filename = SAMPLE_KINDS[kind]
    if kind == "image":
        return png(), mime, filename
    if kind == "document":
        return pdf(text or "Presupuesto"), mime, filename
    if kind == "audio":
        return ogg_opus(), mime, filename
    if kind == "video":
        return mp4(), mime, filename
    return webp(), mime, filename
