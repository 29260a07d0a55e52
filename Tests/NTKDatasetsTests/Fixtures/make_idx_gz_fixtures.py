#!/usr/bin/env python3
"""Writes the gzip-compressed IDX fixtures of GzipIDXTests.swift (standard library only):

    python3 make_idx_gz_fixtures.py

fashion-fixture-images-idx3-ubyte.gz: 5 images of 28x28 unsigned bytes, pixel (i, r, c) =
    (37*i + 7*r + 3*c) % 256 (the tests recompute this formula);
fashion-fixture-labels-idx1-ubyte.gz: the labels 9, 0, 3, 7, 1.
Both are single-member gzip files with mtime 0 and no file name, so reruns are byte-identical.
"""
import gzip
import struct

N, ROWS, COLS = 5, 28, 28
LABELS = [9, 0, 3, 7, 1]


def idx(shape, payload):
    """IDX: 0x0000, type 0x08 (unsigned byte), rank, big-endian uint32 dimensions, payload."""
    return bytes([0, 0, 0x08, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + bytes(payload)


def write_gz(name, data):
    with open(name, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as f:
            f.write(data)
    assert gzip.decompress(open(name, "rb").read()) == data


pixels = [(37 * i + 7 * r + 3 * c) % 256 for i in range(N) for r in range(ROWS) for c in range(COLS)]
images = idx([N, ROWS, COLS], pixels)
labels = idx([N], LABELS)
write_gz("fashion-fixture-images-idx3-ubyte.gz", images)
write_gz("fashion-fixture-labels-idx1-ubyte.gz", labels)
print("images: %d bytes raw, labels: %d bytes raw" % (len(images), len(labels)))
