#pragma once
// zlib's inflate, for gzip-compressed data files (Debian's zlib1g-dev).
#include <zlib.h>
