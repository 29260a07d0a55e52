// Open MPI's C API (Debian: libopenmpi-dev; pkg-config "ompi-c" gives the include directory).
// Swift cannot use MPI_COMM_WORLD, MPI_DOUBLE, MPI_SUM, … directly: in Open MPI they are
// macros taking the address of global structs, which the Clang importer drops. The C target
// _NTKMPIShims wraps the handful of calls NTKDistributed needs in plain functions.
#include <mpi.h>
