#include "ntk_scalapack.h"
#include <stddef.h>
#include <stdlib.h>

// BLACS's C interface and ScaLAPACK's Fortran entry points (libscalapack-openmpi ships no
// header). Fortran CHARACTER arguments carry hidden lengths at the end (gfortran: size_t).
void Cblacs_get(int context, int what, int *value);
void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int context);
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
               const int *icsrc, const int *context, const int *lld, int *info);
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, double *w, double *z, const int *iz, const int *jz, const int *descz,
              double *work, const int *lwork, int *iwork, const int *liwork, int *info,
              size_t jobz_length, size_t uplo_length);

int ntk_blacs_grid_init(int nprow, int npcol, int *context, int *myrow, int *mycol) {
    int ctx = 0, rows = 0, cols = 0;
    Cblacs_get(-1, 0, &ctx);
    Cblacs_gridinit(&ctx, "Row", nprow, npcol);
    *myrow = -1;
    *mycol = -1;
    Cblacs_gridinfo(ctx, &rows, &cols, myrow, mycol);
    *context = ctx;
    return (*myrow < 0 || *mycol < 0) ? -1 : 0;
}

void ntk_blacs_grid_exit(int context) { Cblacs_gridexit(context); }

int ntk_scalapack_numroc(int n, int nb, int iproc, int nprocs) {
    const int source = 0;
    return numroc_(&n, &nb, &iproc, &source, &nprocs);
}

int ntk_scalapack_pdsyevd(int context, int n, int nb, double *a, int lld, double *w) {
    int desc[9], info = 0;
    const int zero = 0, one = 1;
    descinit_(desc, &n, &n, &nb, &nb, &zero, &zero, &context, &lld, &info);
    if (info != 0) return -1000 + info;
    int nprow = 0, npcol = 0, myrow = 0, mycol = 0;
    Cblacs_gridinfo(context, &nprow, &npcol, &myrow, &mycol);
    int columns = numroc_(&n, &nb, &mycol, &zero, &npcol);
    size_t local = (size_t)lld * (size_t)(columns > 0 ? columns : 1);
    double *z = malloc(local * sizeof(double));
    double query = 0;
    int iquery = 0, lwork = -1, liwork = -1;
    if (z == NULL) return -2000;
    pdsyevd_("V", "L", &n, a, &one, &one, desc, w, z, &one, &one, desc, &query, &lwork, &iquery, &liwork,
             &info, 1, 1);
    if (info != 0) { free(z); return info; }
    // PDSYEVD's LWORK query is too small when N is not much larger than NB (PDORMTR, which
    // applies the Householder vectors, then fails with "parameter number 16 had an illegal
    // value"): take the largest of the query, the documented minimum
    //   max(1 + 6N + 2·NP·NQ, 3N + max(NB·(NP + 1), 3·NB)) + 2N
    // and PDORMTR's own need, max(NB(NB−1)/2, (NP + NQ)·NB) + NB², on top.
    int rows = numroc_(&n, &nb, &myrow, &zero, &nprow);
    long np = rows, nq = columns, b = nb, order = n;
    long documented = 1 + 6 * order + 2 * np * nq;
    long tridiagonal = 3 * order + (b * (np + 1) > 3 * b ? b * (np + 1) : 3 * b);
    if (tridiagonal > documented) documented = tridiagonal;
    documented += 2 * order;
    long ormtr = (b * (b - 1)) / 2 > (np + nq) * b ? (b * (b - 1)) / 2 : (np + nq) * b;
    long need = ((long)query > documented ? (long)query : documented) + ormtr + b * b;
    if (need > 2147483647L) { free(z); return -2000; }
    lwork = (int)need;
    liwork = iquery + 64;
    double *work = malloc((size_t)lwork * sizeof(double));
    int *iwork = malloc((size_t)liwork * sizeof(int));
    if (work == NULL || iwork == NULL) { free(z); free(work); free(iwork); return -2000; }
    pdsyevd_("V", "L", &n, a, &one, &one, desc, w, z, &one, &one, desc, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(z);
    free(work);
    free(iwork);
    return info;
}
