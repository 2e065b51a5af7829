"""Small attachment files for the demo tenant, generated at load time with the standard library.

Nothing is downloaded or shipped as a binary blob: a PNG is drawn pixel by pixel and compressed with
zlib, a voice note is synthesised into a WAV with `wave`, a PDF is written by hand, and the video is
a WebM whose VP8 frames are encoded by `tertulia.demo_video`. Every generator is deterministic, so
loading the demo twice writes the same bytes.
"""

from __future__ import annotations

import io
import math
import struct
import wave
import zlib
from collections.abc import Callable
from pathlib import Path

RGB = tuple[int, int, int]


# --- PNG -------------------------------------------------------------------------------------

def png_bytes(width: int, height: int, pixel: Callable[[int, int], RGB]) -> bytes:
    """An 8-bit RGB PNG whose colour at (x, y) is `pixel(x, y)`."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type "none" for every scanline
        for x in range(width):
            rows.extend(pixel(x, y))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows), 9))
            + chunk(b"IEND", b""))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    t = max(0.0, min(1.0, t))
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def latte_png(width: int = 320, height: int = 240, *, coffee: RGB = (111, 68, 38),
              table: RGB = (214, 190, 160)) -> bytes:
    """A cup of coffee seen from above, with a heart of milk foam: the picture a customer sends."""
    cx, cy = width / 2, height / 2
    saucer, cup, rim = height * 0.46, height * 0.33, height * 0.36
    foam: RGB = (245, 232, 210)

    def heart(x: float, y: float) -> bool:
        # The classic implicit heart curve, scaled to the cup.
        u, v = (x - cx) / (cup * 0.55), -(y - cy) / (cup * 0.55) + 0.25
        return (u * u + v * v - 1) ** 3 - u * u * v ** 3 <= 0

    def pixel(x: int, y: int) -> RGB:
        d = math.hypot(x - cx, y - cy)
        if d <= cup:
            if heart(x, y):
                return foam
            return _mix(coffee, (150, 98, 60), d / cup)
        if d <= rim:
            return (250, 250, 247)
        if d <= saucer:
            return _mix((236, 236, 232), (205, 205, 200), (d - rim) / (saucer - rim))
        grain = ((x * 7 + y * 3) % 23) / 23  # a hint of wood grain
        return _mix(table, (table[0] - 25, table[1] - 25, table[2] - 25), grain * 0.6)

    return png_bytes(width, height, pixel)


def cake_png(width: int = 320, height: int = 240) -> bytes:
    """A slice of strawberry cake on a plate (a customer's complaint photo: the cream is squashed)."""
    plate_c, plate_r = (width / 2, height * 0.62), width * 0.42

    def pixel(x: int, y: int) -> RGB:
        bg = _mix((250, 240, 230), (235, 220, 205), y / height)
        # The plate, an ellipse.
        dx, dy = (x - plate_c[0]) / plate_r, (y - plate_c[1]) / (plate_r * 0.45)
        on_plate = dx * dx + dy * dy <= 1
        # The slice: a triangle-ish wedge with layers, leaning to one side (squashed).
        top, bottom = height * 0.30, height * 0.70
        if top <= y <= bottom:
            t = (y - top) / (bottom - top)
            left, right = width * (0.30 + 0.05 * (1 - t)), width * (0.62 + 0.10 * t)
            if left <= x <= right:
                layer = int(t * 6)
                if layer in (0,):
                    return (250, 245, 240)  # cream on top
                if layer in (2, 4):
                    return (214, 60, 80)  # strawberry jam
                return (238, 200, 140)  # sponge
        berry = math.hypot(x - width * 0.46, y - height * 0.25)
        if berry <= 11:
            return (200, 30, 45) if berry <= 9 else (60, 140, 60)
        if on_plate:
            return _mix((255, 255, 255), (225, 225, 230), dx * dx + dy * dy)
        return bg

    return png_bytes(width, height, pixel)


def receipt_png(width: int = 240, height: int = 320) -> bytes:
    """A bank-transfer receipt screenshot: a header band, text-like bars and a green check."""
    def pixel(x: int, y: int) -> RGB:
        if y < 48:
            return (18, 70, 140)
        check = math.hypot(x - width / 2, y - 92)
        if check <= 26:
            return (34, 160, 90) if check <= 24 else (255, 255, 255)
        row = (y - 140) // 22
        if 0 <= row < 7 and 6 <= (y - 140) % 22 <= 13:
            length = [0.7, 0.55, 0.8, 0.4, 0.65, 0.5, 0.75][row]
            if 24 <= x <= 24 + (width - 48) * length:
                return (70, 70, 80) if row != 3 else (18, 70, 140)
        return (255, 255, 255)

    return png_bytes(width, height, pixel)


# --- WAV -------------------------------------------------------------------------------------

def voice_note_wav(seconds: float = 3.0, *, rate: int = 16000, pitch: float = 180.0, seed: int = 1) -> bytes:
    """A mono 16-bit WAV that sounds like someone talking: a voiced tone with formant-ish harmonics
    shaped into syllables, rather than a flat beep."""
    out = io.BytesIO()
    n = int(seconds * rate)
    samples = bytearray()
    syllable = 0.22 + 0.03 * (seed % 3)
    for i in range(n):
        t = i / rate
        # Pitch drifts like intonation; each syllable has its own envelope.
        f0 = pitch * (1 + 0.08 * math.sin(2 * math.pi * 0.7 * t + seed))
        phase = 2 * math.pi * f0 * t
        voiced = (math.sin(phase) + 0.5 * math.sin(2 * phase) + 0.3 * math.sin(3 * phase + 0.5)
                  + 0.2 * math.sin(5 * phase))
        k, within = divmod(t, syllable)
        env = math.sin(math.pi * within / syllable) ** 2
        if int(k + seed) % 5 == 4:  # a pause between words
            env *= 0.05
        fade = min(1.0, t / 0.05, (seconds - t) / 0.05)
        value = int(7000 * voiced * env * fade)
        samples.extend(struct.pack("<h", max(-32768, min(32767, value))))
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(samples))
    return out.getvalue()


# --- PDF -------------------------------------------------------------------------------------

def _pdf_text(value: str) -> bytes:
    # The standard Helvetica font with WinAnsiEncoding covers Spanish accents (cp1252).
    raw = value.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def pdf_bytes(title: str, lines: list[str]) -> bytes:
    """A one-page A4 PDF: a title and lines of text, written object by object with a correct xref."""
    content = bytearray(b"BT /F2 20 Tf 56 780 Td " + _pdf_text(title) + b" Tj ET\n")
    content += b"0.85 0.55 0.25 RG 2 w 56 768 m 539 768 l S\n"
    y = 740
    for line in lines:
        bold = line.startswith("# ")
        text = line[2:] if bold else line
        size = 13 if bold else 11
        content += f"BT /{'F2' if bold else 'F1'} {size} Tf 56 {y} Td ".encode() + _pdf_text(text) + b" Tj ET\n"
        y -= 22 if bold else 17
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + bytes(content) + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Title " + _pdf_text(title) + b" /Producer (Tertulia demo) >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)


def write_if_changed(path: Path, data: bytes) -> None:
    """Write a generated file unless an identical one is already there."""
    if path.exists() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # atomic: a reader never sees half a file
