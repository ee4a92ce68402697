"""A small Mapbox Vector Tile (v2) decoder for the tests: layers, features, attributes, vertices.

Only what the tests read; the protobuf wire format is decoded by hand so the tests need
no extra package.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of a message; length-delimited values stay bytes."""
    out, i = [], 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((num, wire, value))
    return out


def _packed(buf: bytes) -> list[int]:
    vals, i = [], 0
    while i < len(buf):
        v, i = _varint(buf, i)
        vals.append(v)
    return vals


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _value(buf: bytes) -> Any:
    for num, _wire, v in _fields(buf):
        if num == 1:
            return v.decode()
        if num == 2:
            return struct.unpack("<f", v)[0]
        if num == 3:
            return struct.unpack("<d", v)[0]
        if num in (4, 5):
            return v
        if num == 6:
            return _zigzag(v)
        if num == 7:
            return bool(v)
    return None


@dataclass
class Feature:
    properties: dict[str, Any]
    geom_type: int
    vertices: list[tuple[int, int]]  # tile coordinates (0..extent), all rings


@dataclass
class Layer:
    name: str
    extent: int
    features: list[Feature] = field(default_factory=list)


def _vertices(commands: list[int]) -> list[tuple[int, int]]:
    out, x, y, i = [], 0, 0, 0
    while i < len(commands):
        cmd, count = commands[i] & 7, commands[i] >> 3
        i += 1
        if cmd in (1, 2):
            for _ in range(count):
                x += _zigzag(commands[i])
                y += _zigzag(commands[i + 1])
                i += 2
                out.append((x, y))
    return out


def decode(data: bytes) -> dict[str, Layer]:
    layers: dict[str, Layer] = {}
    for num, _w, raw in _fields(data):
        if num != 3:
            continue
        name, extent, keys, values, feats = "", 4096, [], [], []
        for n, _w2, v in _fields(raw):
            if n == 1:
                name = v.decode()
            elif n == 5:
                extent = v
            elif n == 3:
                keys.append(v.decode())
            elif n == 4:
                values.append(_value(v))
            elif n == 2:
                feats.append(v)
        layer = Layer(name, extent)
        for raw_f in feats:
            tags: list[int] = []
            geom: list[int] = []
            gtype = 0
            for n, _w3, v in _fields(raw_f):
                if n == 2:
                    tags = _packed(v)
                elif n == 3:
                    gtype = v
                elif n == 4:
                    geom = _packed(v)
            props = {keys[tags[i]]: values[tags[i + 1]] for i in range(0, len(tags), 2)}
            layer.features.append(Feature(props, gtype, _vertices(geom)))
        layers[name] = layer
    return layers
