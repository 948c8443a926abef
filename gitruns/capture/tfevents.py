"""Read scalar summaries from TensorBoard event files, with no dependency.

Why our own reader: the ``tensorboard`` package (what ``tbparse`` builds on) brings
grpcio, protobuf, numpy, werkzeug and more (see docs/benchmarks.md for sizes and import
times) to read what is, for scalars, a simple format:

- a file is a sequence of TFRecords: ``uint64 length``, ``uint32 masked_crc32c(length)``,
  ``length`` bytes of data, ``uint32 masked_crc32c(data)``, all little-endian;
- each record's data is a serialised ``tensorflow.Event`` protobuf: ``wall_time`` (1,
  double), ``step`` (2, int64), ``summary`` (5) with repeated ``value`` (1), each a
  ``tag`` (1), and a ``simple_value`` (2, float: what ``torch.utils.tensorboard``,
  tensorboardX and Lightning write) or a ``tensor`` (8) with ``metadata`` (9) naming the
  ``scalars`` plugin (what TensorFlow 2's ``tf.summary.scalar`` writes).

A record whose length check fails ends the file (nothing after it can be framed); a
record whose data check fails, or that does not parse, is skipped; a truncated last record
(the writer was still writing, or was killed) is ignored. Everything that is not a scalar
(images, histograms, graphs, text) is passed over without being checked or decoded.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

MAX_RECORD_BYTES = 256 * 1024 * 1024
_CRC_POLY = 0x82F63B78  # CRC-32C (Castagnoli), reflected
_MASK_DELTA = 0xA282EAD8


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def float32_value(value: float) -> float:
    """The shortest decimal that reads back as the same float32: a loss written as float32
    0.1 is stored as 0.1, not 0.10000000149011612."""
    if value != value or value in (float("inf"), float("-inf")):
        return value
    exact = struct.pack("<f", value)
    for digits in range(6, 10):
        short = float(f"{value:.{digits}g}")
        if struct.pack("<f", short) == exact:
            return short
    return value


class Scalar(NamedTuple):
    tag: str
    step: int
    wall_time: float
    value: float


def read_scalars(path: Path) -> Iterator[Scalar]:
    """Every scalar point in the event file at ``path``, in file order."""
    with path.open("rb") as handle:
        while True:
            header = handle.read(12)
            if len(header) < 12:
                return
            (length,) = struct.unpack("<Q", header[:8])
            (length_crc,) = struct.unpack("<I", header[8:])
            if masked_crc32c(header[:8]) != length_crc or length > MAX_RECORD_BYTES:
                return
            data = handle.read(length)
            footer = handle.read(4)
            if len(data) < length or len(footer) < 4:
                return
            try:
                points = _simple_scalar(data) or _event_scalars(data)
            except ValueError:
                continue
            if points and masked_crc32c(data) == struct.unpack("<I", footer)[0]:
                yield from points


# The one shape nearly every scalar event has (torch, tensorboardX, Lightning): wall_time,
# step, and a summary of one value with a short tag and a simple_value. Matched with one
# regular expression and checked length by length, it is read about 4x faster than by the
# general parser below, which takes everything else.
_SIMPLE = re.compile(rb"\x09(.{8})\x10([\x80-\xff]{0,9}[\x00-\x7f])\x2a(.)\x0a(.)\x0a(.)", re.S)


def _simple_scalar(data: bytes) -> list[Scalar]:
    match = _SIMPLE.match(data)
    if match is None:
        return []
    summary_size, value_size, tag_size = match[3][0], match[4][0], match[5][0]
    start = match.end()
    if (
        summary_size != value_size + 2
        or value_size != tag_size + 7
        or len(data) != start + tag_size + 5
        or data[start + tag_size] != 0x15
    ):
        return []
    step, _end = _varint(match[2], 0)
    if step >= 1 << 63:
        return []  # a negative step: not one we store
    (wall_time,) = struct.unpack("<d", match[1])
    (value,) = struct.unpack("<f", data[-4:])
    tag = data[start : start + tag_size].decode("utf-8", "replace")
    return [Scalar(tag, step, wall_time, float32_value(value))]


# -- protobuf wire format: just what the messages above need ---------------------------------
_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value): an int for varints, bytes for the rest."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == _VARINT:
            value, pos = _varint(buf, pos)
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            value, pos = buf[pos : pos + size], pos + size
        elif wire == _BYTES:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated field")
        yield number, wire, value


def _event_scalars(data: bytes) -> list[Scalar]:
    wall_time, step, summary = 0.0, 0, b""
    for number, wire, value in _fields(data):
        if number == 1 and wire == _FIXED64 and isinstance(value, bytes):
            (wall_time,) = struct.unpack("<d", value)
        elif number == 2 and wire == _VARINT and isinstance(value, int):
            step = value - (1 << 64) if value >= 1 << 63 else value  # int64
        elif number == 5 and wire == _BYTES and isinstance(value, bytes):
            summary = value
    if not summary:
        return []
    points = []
    for number, wire, value in _fields(summary):
        if number == 1 and wire == _BYTES and isinstance(value, bytes):
            found = _summary_value(value)
            if found is not None:
                points.append(Scalar(found[0], step, wall_time, found[1]))
    return points


def _summary_value(data: bytes) -> tuple[str, float] | None:
    tag, simple, tensor, scalar_plugin = None, None, b"", False
    for number, wire, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            tag = value.decode("utf-8", "replace")
        elif number == 2 and wire == _FIXED32 and isinstance(value, bytes):
            (simple,) = struct.unpack("<f", value)
        elif number == 8 and isinstance(value, bytes):
            tensor = value
        elif number == 9 and isinstance(value, bytes):
            scalar_plugin = _is_scalar_metadata(value)
    if tag is None:
        return None
    if simple is not None:
        return tag, float32_value(simple)
    if tensor and scalar_plugin:
        number_value = _tensor_scalar(tensor)
        return None if number_value is None else (tag, number_value)
    return None


def _is_scalar_metadata(data: bytes) -> bool:
    for number, _wire, value in _fields(data):
        if number == 1 and isinstance(value, bytes):  # plugin_data
            for sub, _w, name in _fields(value):
                if sub == 1 and name == b"scalars":
                    return True
        elif number == 4 and value == 1:  # data_class: DATA_CLASS_SCALAR
            return True
    return False


# TensorProto dtypes that hold a scalar metric, and how its bytes read.
_DTYPES = {1: "<f", 2: "<d", 3: "<i", 9: "<q"}  # DT_FLOAT, DT_DOUBLE, DT_INT32, DT_INT64


def _tensor_scalar(data: bytes) -> float | None:
    dtype = 0
    values: list[float] = []
    for number, wire, value in _fields(data):
        if number == 1 and isinstance(value, int):
            dtype = value
        elif number == 2 and isinstance(value, bytes) and _element_count(value) != 1:
            return None
        elif number == 4 and isinstance(value, bytes) and dtype in _DTYPES:  # tensor_content
            fmt = _DTYPES[dtype]
            if len(value) == struct.calcsize(fmt):
                values.append(float(struct.unpack(fmt, value)[0]))
                values[-1] = float32_value(values[-1]) if dtype == 1 else values[-1]
        elif number == 5:  # float_val (packed or not)
            values += [float32_value(v) for v in _packed_floats(wire, value, "<f")]
        elif number == 6:  # double_val
            values += _packed_floats(wire, value, "<d")
        elif number in (7, 10):  # int_val, int64_val
            values += _packed_ints(wire, value)
    return values[0] if len(values) == 1 else None


def _element_count(shape: bytes) -> int:
    count = 1
    for number, _wire, value in _fields(shape):
        if number == 2 and isinstance(value, bytes):  # dim { size: 1 }
            size = next((v for n, _w, v in _fields(value) if n == 1 and isinstance(v, int)), 0)
            count *= size
    return count


def _packed_floats(wire: int, value: int | bytes, fmt: str) -> list[float]:
    if not isinstance(value, bytes):
        return []
    size = struct.calcsize(fmt)
    if wire != _BYTES:  # one unpacked element
        return [float(struct.unpack(fmt, value)[0])] if len(value) == size else []
    return [float(v) for (v,) in struct.iter_unpack(fmt, value)] if len(value) % size == 0 else []


def _packed_ints(wire: int, value: int | bytes) -> list[float]:
    if isinstance(value, int):
        return [float(value - (1 << 64) if value >= 1 << 63 else value)]
    found, pos = [], 0
    while pos < len(value):
        number, pos = _varint(value, pos)
        found.append(float(number - (1 << 64) if number >= 1 << 63 else number))
    return found
