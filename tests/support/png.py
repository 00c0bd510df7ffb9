"""A small PNG reader for tests: size and pixels of a non-interlaced 8-bit PNG (what Chromium writes).

``decode_png(data)`` → :class:`Png` with ``width``, ``height`` and ``pixel(x, y)`` → ``(r, g, b, a)``.
Gray, gray+alpha, RGB and RGBA at bit depth 8, every filter type; anything else raises ValueError.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


@dataclass(frozen=True)
class Png:
    width: int
    height: int
    channels: int
    rows: list[bytes]

    def pixel(self, x: int, y: int) -> tuple[int, int, int, int]:
        px = self.rows[y][x * self.channels : (x + 1) * self.channels]
        if self.channels == 1:
            return (px[0], px[0], px[0], 255)
        if self.channels == 2:
            return (px[0], px[0], px[0], px[1])
        if self.channels == 3:
            return (px[0], px[1], px[2], 255)
        return (px[0], px[1], px[2], px[3])


def decode_png(data: bytes) -> Png:
    header, idat = _chunks(data)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in CHANNELS or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    channels = CHANNELS[colour]
    raw, stride = zlib.decompress(idat), width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels)
        rows.append(bytes(line))
        previous = line
    return Png(width, height, channels, rows)


def _chunks(data: bytes) -> tuple[bytes, bytes]:
    """The IHDR body and the concatenated IDAT data (CRCs checked)."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file")
    pos, header, idat = len(SIGNATURE), b"", bytearray()
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    return header, bytes(idat)


def _unfilter(kind: int, line: bytearray, previous: bytearray, channels: int) -> bytearray:
    if kind not in (0, 1, 2, 3, 4):
        raise ValueError(f"unknown PNG filter {kind}")
    for i in range(len(line) if kind else 0):
        left = line[i - channels] if i >= channels else 0
        up = previous[i]
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 2:
            line[i] = (line[i] + up) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + (left + up) // 2) & 0xFF
        else:
            up_left = previous[i - channels] if i >= channels else 0
            line[i] = (line[i] + _paeth(left, up, up_left)) & 0xFF
    return line


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c
