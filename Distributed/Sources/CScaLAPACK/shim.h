// ScaLAPACK and BLACS over Open MPI (Debian: libscalapack-openmpi-dev; pkg-config
// "scalapack-openmpi" gives the link line: -lscalapack-openmpi -lmpi -llapack -lblas).
// ScaLAPACK ships no C header: the C target _NTKMPIShims declares the few Fortran and BLACS
// entry points it calls (ntk_scalapack.c) and is the only code that calls them; this module
// exists for the link line. Swift code never imports it.
#include <mpi.h>
