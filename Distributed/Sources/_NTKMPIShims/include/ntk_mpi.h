#ifndef NTK_MPI_H
#define NTK_MPI_H
// The MPI calls NTKDistributed uses, on MPI_COMM_WORLD, with plain C types only (no MPI
// handles in this header, so Swift imports it without <mpi.h>). Every function returns the
// MPI error code (MPI_SUCCESS = 0): the world communicator's error handler is set to
// MPI_ERRORS_RETURN by ntk_mpi_init, so failures come back as codes instead of aborting.
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Reduction operations for ntk_mpi_allreduce_*.
typedef enum { NTK_MPI_SUM = 0, NTK_MPI_MAX = 1, NTK_MPI_MIN = 2 } ntk_mpi_op;

/// MPI_Init_thread asking for MPI_THREAD_FUNNELED (only the main thread calls MPI; OpenBLAS
/// threads never do); *provided is the level granted. A no-op if MPI is already initialized.
int ntk_mpi_init(int *provided);
int ntk_mpi_finalize(void);
/// Whether MPI_Init and MPI_Finalize have been called (0 or 1).
int ntk_mpi_initialized(int *flag);
int ntk_mpi_finalized(int *flag);
int ntk_mpi_rank(int *rank);
int ntk_mpi_size(int *size);
/// In place over `count` elements (MPI_IN_PLACE).
int ntk_mpi_allreduce_double(double *buffer, int count, ntk_mpi_op op);
int ntk_mpi_allreduce_float(float *buffer, int count, ntk_mpi_op op);
int ntk_mpi_allreduce_int64(int64_t *buffer, int count, ntk_mpi_op op);
/// MPI_Allgatherv of doubles: `send` (sendCount) from every rank into `receive`, rank r's
/// block at displacements[r] with counts[r] elements.
int ntk_mpi_allgatherv_double(const double *send, int sendCount, double *receive,
                              const int *counts, const int *displacements);
int ntk_mpi_bcast_bytes(void *buffer, int count, int root);
int ntk_mpi_barrier(void);
/// MPI_Abort on MPI_COMM_WORLD: ends every rank (the last resort when ranks cannot agree).
int ntk_mpi_abort(int code);
/// The text of an MPI error code into `buffer` (NUL-terminated, at most `capacity` bytes).
void ntk_mpi_error_string(int code, char *buffer, int capacity);
/// MPI_Wtime.
double ntk_mpi_wtime(void);
/// The library's version string (MPI_Get_library_version) into `buffer`.
void ntk_mpi_library_version(char *buffer, int capacity);

#ifdef __cplusplus
}
#endif
#endif
