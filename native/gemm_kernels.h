// The sgemm micro-kernels, one per instruction set, and their block sizes. native/gemm.cc is the
// portable driver around them (loops, packing, threads); a kernel file only computes one tile.
//
// Micro-kernel contract (every ISA implements exactly this):
//   void kernel(rows, cols, kc, a, as, b, bs, c, ldc, alpha, beta)
//   A micro-panel, k-major: op(A)[i, p] = a[p*as + i]   (i < rows, p < kc; as >= rows)
//   B micro-panel, k-major: op(B)[p, j] = b[p*bs + j]   (j < cols, p < kc)
//   C tile, row-major:      c[i*ldc + j]                (i < rows, j < cols)
//   Computes c[i, j] = alpha * sum_p op(A)[i, p] op(B)[p, j] + beta * c[i, j] for rows <= mr,
//   cols <= nr, kc >= 1; beta == 0 overwrites c without reading it (NaN in C does not propagate).
//   It reads and writes nothing outside those rows and columns, so one kernel serves full tiles,
//   edge tiles, packed panels (as = mr, bs = nr, 64-byte aligned) and unpacked operands
//   (transposed A read in place: as = lda; B read in place: bs = ldb) alike. No alignment needed.
#pragma once

#include <cstddef>

namespace digitnet {

using MicroKernelFn = void (*)(std::size_t rows, std::size_t cols, std::size_t kc, const float* a,
                               std::size_t as, const float* b, std::size_t bs, float* c,
                               std::size_t ldc, float alpha, float beta);

// Packs `rows` rows of a row-major matrix into one k-major panel: dst[p*width + i] = src[i*ld + p]
// for i < rows <= width, p < kc; lanes rows..width-1 of dst are left as they are. This is the
// transpose that packing needs for A (not transposed, width = mr) and for B (transposed,
// width = nr); the other two cases are row copies.
using PackTransposedFn = void (*)(std::size_t rows, std::size_t kc, const float* src,
                                  std::size_t ld, float* dst, std::size_t width);

// The plain C++ PackTransposedFn (gemm_scalar.cc), for ISAs without a faster one.
void packTransposedPortable(std::size_t rows, std::size_t kc, const float* src, std::size_t ld,
                            float* dst, std::size_t width);

// One instruction set's micro-kernel and its block sizes (BLIS's names):
//   mr x nr  register tile of the micro-kernel
//   kc       depth of a packed panel pair
//   mc       rows of packed A (mc x kc) meant to stay in L2; a multiple of mr
//   nc       columns of packed B (kc x nc) meant to stay in L3; a multiple of nr
struct GemmIsa {
  const char* name;  // the DIGITNET_ISA value that selects it
  bool (*supported)();
  MicroKernelFn kernel;
  PackTransposedFn packTransposed;
  std::size_t lanes;  // floats per vector register (1: the kernel's cost does not round up)
  std::size_t mr, nr, mc, kc, nc;
};

// The largest mr x nr of the kernels below (each file checks its own), so that the driver can
// hold a micro-tile on the stack.
constexpr std::size_t kMaxMicroTile = 14 * 32;

// Defined in gemm_avx512.cc, gemm_avx2.cc and gemm_scalar.cc. On non-x86 builds the AVX ones
// report themselves unsupported and never run.
extern const GemmIsa kGemmAvx512;
extern const GemmIsa kGemmAvx2;
extern const GemmIsa kGemmScalar;

}  // namespace digitnet
