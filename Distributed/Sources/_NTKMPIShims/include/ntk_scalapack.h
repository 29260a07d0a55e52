#ifndef NTK_SCALAPACK_H
#define NTK_SCALAPACK_H
// The ScaLAPACK/BLACS calls NTKDistributed uses, with plain C types. The BLACS grid is built on
// MPI_COMM_WORLD (the BLACS system context), so MPI must be initialized first (ntk_mpi_init).
// Every call is collective over the grid. Matrices are block-cyclic with square blocks
// nb × nb, column-major local storage with leading dimension lld, starting at global (1, 1).

#ifdef __cplusplus
extern "C" {
#endif

/// Cblacs_get(-1, 0) + Cblacs_gridinit("Row", nprow, npcol) + Cblacs_gridinfo. nprow·npcol must
/// be the number of MPI ranks. Returns 0, or -1 if this process is not in the grid.
int ntk_blacs_grid_init(int nprow, int npcol, int *context, int *myrow, int *mycol);
/// Cblacs_gridexit (MPI stays initialized).
void ntk_blacs_grid_exit(int context);
/// NUMROC: rows (or columns) of an n-long dimension in blocks of nb that process `iproc` of
/// `nprocs` owns (first block on process 0).
int ntk_scalapack_numroc(int n, int nb, int iproc, int nprocs);
/// Eigenvalues (ascending, all n, on every process: `w` holds n doubles) of the symmetric
/// n × n matrix whose lower triangle is distributed in `a` (destroyed): DESCINIT for A and Z,
/// PDSYEVD's workspace query, then PDSYEVD('V', 'L') (ScaLAPACK's divide and conquer computes
/// the eigenvectors too; Z is allocated and freed here). Returns PDSYEVD's INFO (0: success;
/// < 0: argument -INFO was illegal; > 0: failed to converge), or -1000 - DESCINIT's INFO,
/// or -2000 when the workspace could not be allocated.
int ntk_scalapack_pdsyevd(int context, int n, int nb, double *a, int lld, double *w);

#ifdef __cplusplus
}
#endif
#endif
