"""A tiny WebM video for the demo, encoded in pure Python so the demo needs no binary blob, no
download and no native dependency.

Browsers play VP8 in WebM everywhere, and a VP8 key frame is simple to produce when every
macroblock is flat: each 16x16 block is predicted from its neighbours (DC prediction) and corrected
by a single DC coefficient per plane, coded with the boolean entropy coder of RFC 6386. The result
is a low-resolution animation (a cup of coffee with rising steam, drawn in 16-pixel blocks) that
decodes exactly, since the encoder tracks the decoder's reconstruction. The WebM container around
it is a handful of EBML elements (Matroska spec, `V_VP8` codec).

References: RFC 6386 (VP8 Data Format and Decoding Guide) sections 7 (boolean coder), 9 and 19
(frame header), 12 (intra prediction), 13 (DCT token coding, with the probability tables below),
14 (dequantisation and inverse transforms).
"""

from __future__ import annotations

import struct

RGB = tuple[int, int, int]

# --- RFC 6386 constants ------------------------------------------------------------------------

# coeff_update_probs (RFC 6386 section 13.4): the probability that each default token probability
# is updated in a frame header. This encoder never updates them, but must code every "no" with
# these exact probabilities. One row per (block type, band, context); "*" means "the rest are 255".
_UPDATE_ROWS = """
* / * / * | 176 246 * / 223 241 252 * / 249 253 253 * | 255 244 252 * / 234 254 254 * / 253 *
| 255 246 254 * / 239 253 254 * / 254 255 254 * | 255 248 254 * / 251 255 254 * / *
| 255 253 254 * / 251 254 254 * / 254 255 254 * | 255 254 253 255 254 * / 250 255 254 255 254 * / 254 *
| * / * / *
#
217 * / 225 252 241 253 255 255 254 * / 234 250 241 250 253 255 253 254 *
| 255 254 * / 223 254 254 * / 238 253 254 254 * | 255 248 254 * / 249 254 * / *
| 255 253 * / 247 254 * / * | 255 253 254 * / 252 * / * | 255 254 254 * / 253 * / *
| 255 254 253 * / 250 * / 254 * | * / * / *
#
186 251 250 * / 234 251 244 254 * / 251 251 243 253 254 255 254 *
| 255 253 254 * / 236 253 254 * / 251 253 253 254 254 * | 255 254 254 * / 254 254 254 * / *
| 255 254 * / 254 254 * / 254 * | * / 254 * / * | * / * / * | * / * / * | * / * / *
#
248 * / 250 254 252 254 * / 248 254 249 253 *
| 255 253 253 * / 246 253 253 * / 252 254 251 254 254 * | 255 254 252 * / 248 254 253 * / 253 255 254 254 *
| 255 251 254 * / 245 251 254 * / 253 253 254 * | 255 251 253 * / 252 253 254 * / 255 254 *
| 255 252 * / 249 255 254 * / 255 255 254 * | 255 255 253 * / 250 * / * | * / 254 * / *
"""


def _parse_update_probs() -> list[list[list[list[int]]]]:
    table = []
    for block in _UPDATE_ROWS.split("#"):
        bands = []
        for band in block.split("|"):
            contexts = []
            for row in band.split("/"):
                values = [int(v) for v in row.split() if v != "*"]
                contexts.append(values + [255] * (11 - len(values)))
            bands.append(contexts)
        table.append(bands)
    assert len(table) == 4 and all(len(b) == 8 and all(len(c) == 3 for c in b) for b in table)
    return table


UPDATE_PROBS = _parse_update_probs()

# default_coef_probs (RFC 6386 section 13.5), only the rows this encoder uses: block type
# 0 (luma after Y2) band 1, type 1 (Y2) and type 2 (chroma) bands 0 and 1; keyed (type, band, ctx).
COEF_PROBS: dict[tuple[int, int, int], tuple[int, ...]] = {
    (0, 1, 0): (253, 136, 254, 255, 228, 219, 128, 128, 128, 128, 128),
    (1, 0, 0): (198, 35, 237, 223, 193, 187, 162, 160, 145, 155, 62),
    (1, 0, 1): (131, 45, 198, 221, 172, 176, 220, 157, 252, 221, 1),
    (1, 0, 2): (68, 47, 146, 208, 149, 167, 221, 162, 255, 223, 128),
    (1, 1, 1): (184, 141, 234, 253, 222, 220, 255, 199, 128, 128, 128),
    (1, 1, 2): (81, 99, 181, 242, 176, 190, 249, 202, 255, 255, 128),
    (2, 0, 0): (253, 9, 248, 251, 207, 208, 255, 192, 128, 128, 128),
    (2, 0, 1): (175, 13, 224, 243, 193, 185, 249, 198, 255, 255, 128),
    (2, 0, 2): (73, 17, 171, 221, 161, 179, 236, 167, 255, 234, 128),
    (2, 1, 1): (239, 90, 244, 250, 211, 209, 255, 255, 128, 128, 128),
    (2, 1, 2): (155, 77, 195, 248, 188, 195, 255, 255, 128, 128, 128),
}
# Extra-bit probabilities of the DCT_CAT1..6 tokens (section 13.2), with their base values.
CATEGORIES = (
    (5, (159,)), (7, (165, 145)), (11, (173, 148, 140)), (19, (176, 155, 140, 135)),
    (35, (180, 157, 141, 134, 130)), (67, (254, 254, 243, 230, 196, 177, 153, 140, 133, 130, 129)),
)
KF_YMODE_PROBS = (145, 156, 163, 128)
KF_UV_MODE_PROBS = (142, 114, 183)
# Quantiser index 0: the DC dequantisation factor is 4 (Y2's is doubled, 8). With a lone DC
# coefficient c, a luma block moves by (c + 4) >> 3 and a chroma block by (4c + 4) >> 3, so a
# change of d is coded exactly as c = 8d (luma, via Y2) and c = 2d (chroma).
Q_INDEX = 0


# --- Boolean entropy encoder (RFC 6386 section 7.3) ------------------------------------------------

class BoolEncoder:
    def __init__(self) -> None:
        self.out = bytearray()
        self.range = 255
        self.bottom = 0
        self.bit_count = 24

    def _carry(self) -> None:
        i = len(self.out) - 1
        while i >= 0 and self.out[i] == 255:
            self.out[i] = 0
            i -= 1
        self.out[i] += 1

    def bool(self, prob: int, value: bool | int) -> None:
        split = 1 + (((self.range - 1) * prob) >> 8)
        if value:
            self.bottom += split
            self.range -= split
        else:
            self.range = split
        while self.range < 128:
            self.range <<= 1
            if self.bottom & (1 << 31):
                self._carry()
            self.bottom = (self.bottom << 1) & 0xFFFFFFFF
            self.bit_count -= 1
            if not self.bit_count:
                self.out.append((self.bottom >> 24) & 0xFF)
                self.bottom &= (1 << 24) - 1
                self.bit_count = 8

    def literal(self, value: int, bits: int) -> None:
        for shift in range(bits - 1, -1, -1):
            self.bool(128, (value >> shift) & 1)

    def finish(self) -> bytes:
        # Pad with 32 zero bits at even odds, which flushes every pending bit of `bottom`.
        for _ in range(32):
            self.bool(128, 0)
        return bytes(self.out)


# --- VP8 key frames made of flat macroblocks --------------------------------------------------------

def _put_token(enc: BoolEncoder, p: tuple[int, ...], value: int) -> None:
    """A non-zero coefficient (tree of section 13.2, starting below the EOB branch), then its sign."""
    a = abs(value)
    enc.bool(p[0], 1)  # not end of block
    enc.bool(p[1], 1)  # not zero
    if a == 1:
        enc.bool(p[2], 0)
        enc.bool(128, value < 0)
        return
    enc.bool(p[2], 1)
    if a <= 4:
        enc.bool(p[3], 0)
        if a == 2:
            enc.bool(p[4], 0)
        else:
            enc.bool(p[4], 1)
            enc.bool(p[5], a == 4)
    elif a <= 10:
        enc.bool(p[3], 1)
        enc.bool(p[6], 0)
        enc.bool(p[7], a >= 7)
        _put_extra(enc, a, 0 if a <= 6 else 1)
    else:
        enc.bool(p[3], 1)
        enc.bool(p[6], 1)
        if a <= 34:
            enc.bool(p[8], 0)
            enc.bool(p[9], a >= 19)
            _put_extra(enc, a, 2 if a <= 18 else 3)
        else:
            enc.bool(p[8], 1)
            enc.bool(p[10], a >= 67)
            _put_extra(enc, a, 4 if a <= 66 else 5)
    enc.bool(128, value < 0)


def _put_extra(enc: BoolEncoder, a: int, category: int) -> None:
    base, probs = CATEGORIES[category]
    extra = a - base
    for i, prob in enumerate(probs):
        enc.bool(prob, (extra >> (len(probs) - 1 - i)) & 1)


def _put_dc_block(enc: BoolEncoder, block_type: int, ctx: int, value: int) -> int:
    """A block whose only coefficient is its DC; returns the block's non-zero flag for contexts."""
    if value == 0:
        enc.bool(COEF_PROBS[(block_type, 0, ctx)][0], 0)  # end of block at once
        return 0
    _put_token(enc, COEF_PROBS[(block_type, 0, ctx)], value)
    enc.bool(COEF_PROBS[(block_type, 1, 1 if abs(value) == 1 else 2)][0], 0)  # then end of block
    return 1


def _dc_pred(above: int | None, left: int | None) -> int:
    if above is not None and left is not None:
        return (above + left + 1) >> 1
    if above is not None:
        return above
    if left is not None:
        return left
    return 128


def rgb_to_yuv(rgb: RGB) -> tuple[int, int, int]:
    r, g, b = rgb
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    return round(y), round(u), round(v)


def vp8_key_frame(blocks: list[list[RGB]]) -> bytes:
    """One VP8 key frame from a grid of macroblock colours (rows of 16x16-pixel blocks)."""
    rows, cols = len(blocks), len(blocks[0])
    width, height = cols * 16, rows * 16
    head, tokens = BoolEncoder(), BoolEncoder()
    head.literal(0, 1)  # colour space: YUV (BT.601)
    head.literal(0, 1)  # clamping required
    head.literal(0, 1)  # no segmentation
    head.literal(0, 1)  # filter type: normal
    head.literal(0, 6)  # loop filter level 0: off, so blocks stay exactly flat
    head.literal(0, 3)  # sharpness
    head.literal(0, 1)  # no loop-filter adjustments
    head.literal(0, 2)  # one token partition
    head.literal(Q_INDEX, 7)
    for _ in range(5):
        head.literal(0, 1)  # no quantiser deltas
    head.literal(0, 1)  # refresh_entropy_probs: keep the defaults for the next frame
    for block_type in UPDATE_PROBS:
        for band in block_type:
            for context in band:
                for prob in context:
                    head.bool(prob, 0)  # no probability update
    head.literal(0, 1)  # mb_no_coeff_skip = 0: every macroblock codes its tokens

    recon: list[list[tuple[int, int, int]]] = [[(0, 0, 0)] * cols for _ in range(rows)]
    above_y2, above_u, above_v = [0] * cols, [0] * (2 * cols), [0] * (2 * cols)
    for my in range(rows):
        left_y2, left_u, left_v = 0, [0, 0], [0, 0]
        for mx in range(cols):
            head.bool(KF_YMODE_PROBS[0], 1)  # DC_PRED is "100" in the key-frame y-mode tree
            head.bool(KF_YMODE_PROBS[1], 0)
            head.bool(KF_YMODE_PROBS[2], 0)
            head.bool(KF_UV_MODE_PROBS[0], 0)  # DC_PRED is "0" in the uv-mode tree
            target = rgb_to_yuv(blocks[my][mx])
            up = recon[my - 1][mx] if my else None
            lf = recon[my][mx - 1] if mx else None
            values = []
            for plane in range(3):
                pred = _dc_pred(up[plane] if up else None, lf[plane] if lf else None)
                values.append((pred, max(0, min(255, target[plane])) - pred))
            recon[my][mx] = (values[0][0] + values[0][1], values[1][0] + values[1][1], values[2][0] + values[2][1])

            # Y2 carries the luma DC; the 16 luma blocks then only say "end of block".
            flag = _put_dc_block(tokens, 1, above_y2[mx] + left_y2, 8 * values[0][1])
            above_y2[mx] = left_y2 = flag
            for _ in range(16):
                tokens.bool(COEF_PROBS[(0, 1, 0)][0], 0)
            for delta, above, left in ((values[1][1], above_u, left_u), (values[2][1], above_v, left_v)):
                for by in range(2):
                    for bx in range(2):
                        col = 2 * mx + bx
                        flag = _put_dc_block(tokens, 2, above[col] + left[by], 2 * delta)
                        above[col] = left[by] = flag

    first = head.finish()
    tag = 0 | (0 << 1) | (1 << 4) | (len(first) << 5)  # key frame, version 0, shown
    return (struct.pack("<I", tag)[:3] + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
            + first + tokens.finish())


# --- WebM (Matroska/EBML) container -----------------------------------------------------------------

def _vint(n: int) -> bytes:
    length = 1
    while n >= (1 << (7 * length)) - 1:
        length += 1
    return ((1 << (7 * length)) | n).to_bytes(length, "big")


def _el(element_id: int, payload: bytes) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + _vint(len(payload)) + payload


def _uint(element_id: int, value: int) -> bytes:
    return _el(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def webm(frames: list[bytes], width: int, height: int, frame_ms: int) -> bytes:
    """A WebM file with one VP8 track of key frames, one cluster and a cue for seeking."""
    header = _el(0x1A45DFA3, _uint(0x4286, 1) + _uint(0x42F7, 1) + _uint(0x42F2, 4) + _uint(0x42F3, 8)
                 + _el(0x4282, b"webm") + _uint(0x4287, 2) + _uint(0x4285, 2))
    info = _el(0x1549A966, _uint(0x2AD7B1, 1_000_000) + _el(0x4D80, b"tertulia") + _el(0x5741, b"tertulia")
               + _el(0x4489, struct.pack(">d", float(len(frames) * frame_ms))))
    track = _el(0xAE, _uint(0xD7, 1) + _uint(0x73C5, 1) + _uint(0x83, 1) + _uint(0x9C, 0)
                + _el(0x86, b"V_VP8") + _uint(0x23E383, frame_ms * 1_000_000)
                + _el(0xE0, _uint(0xB0, width) + _uint(0xBA, height)))
    tracks = _el(0x1654AE6B, track)
    blocks = b"".join(_el(0xA3, b"\x81" + struct.pack(">hB", i * frame_ms, 0x80) + frame)
                      for i, frame in enumerate(frames))
    cluster = _el(0x1F43B675, _uint(0xE7, 0) + blocks)
    cues = _el(0x1C53BB6B, _el(0xBB, _uint(0xB3, 0) + _el(0xB7, _uint(0xF7, 1) + _uint(0xF1, len(info) + len(tracks)))))
    return header + _el(0x18538067, info + tracks + cluster + cues)


# --- The demo clip ----------------------------------------------------------------------------------

def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def coffee_frame(frame: int, cols: int = 16, rows: int = 9) -> list[list[RGB]]:
    """A mug of Café Aurora on the counter at dawn, steam rising (one colour per 16x16 block)."""
    glow = 0.5 + 0.5 * ((frame % 16) / 15 if (frame // 16) % 2 == 0 else 1 - (frame % 16) / 15)
    grid: list[list[RGB]] = []
    for y in range(rows):
        row: list[RGB] = []
        for x in range(cols):
            colour = _mix(_mix((255, 214, 150), (255, 170, 110), glow), (150, 90, 70), y / (rows - 1))
            if y == rows - 1:
                colour = (110, 70, 45) if (x + y) % 2 else (120, 78, 50)  # the wooden counter
            if 6 <= x <= 9 and 4 <= y <= 7:
                colour = (245, 243, 236)  # the mug
                if y == 4:
                    colour = (92, 54, 32)  # coffee at the brim
                if y == 6 and x in (7, 8):
                    colour = (232, 118, 40)  # the orange Aurora logo
            if x == 10 and y in (5, 6):
                colour = (235, 232, 225)  # handle
            for wisp, offset in ((7, 0), (8, 2)):
                rise = 3 - ((frame // 2 + offset) % 4)  # steam climbs from row 3 to row 0
                if x == wisp and y == rise:
                    colour = _mix(colour, (255, 255, 255), 0.75)
            row.append(colour)
        grid.append(row)
    return grid


def coffee_webm(frame_count: int = 32, frame_ms: int = 125) -> bytes:
    """Four seconds at 8 frames per second, 256x144 pixels, a few kilobytes."""
    frames = [vp8_key_frame(coffee_frame(i)) for i in range(frame_count)]
    return webm(frames, 256, 144, frame_ms)


