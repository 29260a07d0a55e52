#!/usr/bin/env python3
"""Writes the tiny .npy fixtures used by NPYTests.swift with real NumPy.

Run from this directory: python3 make_fixtures.py (NumPy >= 1.17 for format versions 2.0/3.0).
Values are chosen so that the tests can recompute them from a formula.
"""
import numpy as np
from numpy.lib import format as npformat

# Float32 2x3: element i = i/4 - 0.5.
np.save("f4_2x3.npy", (np.arange(6, dtype="<f4") / 4 - 0.5).reshape(2, 3))
# Float64 2x3x4: element i = i*0.1 - 1.0.
np.save("f8_2x3x4.npy", (np.arange(24, dtype="<f8") * 0.1 - 1.0).reshape(2, 3, 4))
# Integers, read as numbers.
np.save("i8_5.npy", np.array([-3, 0, 7, 2**40, -(2**52)], dtype="<i8"))
np.save("i4_2x2.npy", np.array([[-1, 2], [2**31 - 1, -(2**31)]], dtype="<i4"))
np.save("u1_3x4.npy", (np.arange(12, dtype=np.uint8) * 20).reshape(3, 4))
# 0-d scalar and an empty array.
np.save("scalar_f8.npy", np.array(3.25, dtype="<f8"))
np.save("empty_0x3_f4.npy", np.zeros((0, 3), dtype="<f4"))
# Format versions 2.0 and 3.0: element i = 1.5*i.
with open("v2_f8.npy", "wb") as f:
    npformat.write_array(f, np.arange(5, dtype="<f8") * 1.5, version=(2, 0))
with open("v3_f4.npy", "wb") as f:
    npformat.write_array(f, np.arange(4, dtype="<f4") * 1.5, version=(3, 0))
# Cases the reader must refuse.
np.save("fortran_f8.npy", np.asfortranarray(np.arange(6, dtype="<f8").reshape(2, 3)))
np.save("bigendian_f8.npy", np.arange(3, dtype=">f8"))
