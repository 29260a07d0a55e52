#pragma once
// LAPACKE (Debian's OpenBLAS ships LAPACK but not LAPACKE, so liblapacke is linked too).
// Complex types as plain structs: we only use the real routines.
#define LAPACK_COMPLEX_STRUCTURE
#include <lapacke.h>
