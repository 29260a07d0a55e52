#include "ntk_mpi.h"
#include <mpi.h>
#include <string.h>

static MPI_Op operation(ntk_mpi_op op) {
    switch (op) {
    case NTK_MPI_MAX: return MPI_MAX;
    case NTK_MPI_MIN: return MPI_MIN;
    default: return MPI_SUM;
    }
}

int ntk_mpi_init(int *provided) {
    int flag = 0;
    int rc = MPI_Initialized(&flag);
    if (rc != MPI_SUCCESS) return rc;
    if (flag) {
        return MPI_Query_thread(provided);
    }
    rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, provided);
    if (rc != MPI_SUCCESS) return rc;
    return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

int ntk_mpi_finalize(void) { return MPI_Finalize(); }
int ntk_mpi_initialized(int *flag) { return MPI_Initialized(flag); }
int ntk_mpi_finalized(int *flag) { return MPI_Finalized(flag); }
int ntk_mpi_rank(int *rank) { return MPI_Comm_rank(MPI_COMM_WORLD, rank); }
int ntk_mpi_size(int *size) { return MPI_Comm_size(MPI_COMM_WORLD, size); }

int ntk_mpi_allreduce_double(double *buffer, int count, ntk_mpi_op op) {
    return MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_DOUBLE, operation(op), MPI_COMM_WORLD);
}

int ntk_mpi_allreduce_float(float *buffer, int count, ntk_mpi_op op) {
    return MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_FLOAT, operation(op), MPI_COMM_WORLD);
}

int ntk_mpi_allreduce_int64(int64_t *buffer, int count, ntk_mpi_op op) {
    return MPI_Allreduce(MPI_IN_PLACE, buffer, count, MPI_INT64_T, operation(op), MPI_COMM_WORLD);
}

int ntk_mpi_allgatherv_double(const double *send, int sendCount, double *receive,
                              const int *counts, const int *displacements) {
    return MPI_Allgatherv(send, sendCount, MPI_DOUBLE, receive, counts, displacements, MPI_DOUBLE,
                          MPI_COMM_WORLD);
}

int ntk_mpi_bcast_bytes(void *buffer, int count, int root) {
    return MPI_Bcast(buffer, count, MPI_BYTE, root, MPI_COMM_WORLD);
}

int ntk_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
int ntk_mpi_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }

void ntk_mpi_error_string(int code, char *buffer, int capacity) {
    if (capacity <= 0) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) length = 0;
    if (length >= capacity) length = capacity - 1;
    memcpy(buffer, text, (size_t)length);
    buffer[length] = '\0';
}

double ntk_mpi_wtime(void) { return MPI_Wtime(); }

void ntk_mpi_library_version(char *buffer, int capacity) {
    if (capacity <= 0) return;
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    int length = 0;
    if (MPI_Get_library_version(text, &length) != MPI_SUCCESS) length = 0;
    if (length >= capacity) length = capacity - 1;
    memcpy(buffer, text, (size_t)length);
    buffer[length] = '\0';
}
