#pragma once
// CBLAS and OpenBLAS's thread and core queries (openblas_set_num_threads,
// openblas_get_corename), from Debian's libopenblas-dev via pkg-config.
#include <cblas.h>
// glibc's mallopt, for the allocation policy of large BLAS operands (AllocationPolicy).
#include <malloc.h>
