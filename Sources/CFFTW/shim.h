#pragma once
// FFTW3, double precision (Debian's libfftw3-dev).
#include <fftw3.h>
