// The AVX2 + FMA sgemm micro-kernel: a 6 x 16 register tile (12 ymm accumulators, two ymm of B,
// A broadcast from memory), for the contract in gemm_kernels.h. Compiled for AVX2 + FMA through
// a function target attribute, so the binary still runs on CPUs without them.
#include "gemm_kernels.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#include <array>
#include <utility>

namespace digitnet {
namespace {

using std::size_t;

constexpr int kMR = 6;      // rows of C per tile: 6 x 2 accumulators + 2 B vectors + 1 A <= 16 ymm
constexpr int kVectors = 2; // ymm (8 floats) per row of C: nr = 16
static_assert(kMR * 8 * kVectors <= kMaxMicroTile, "raise kMaxMicroTile in gemm_kernels.h");

using TileFn = void (*)(size_t cols, size_t kc, const float* a, size_t as, const float* b,
                        size_t bs, float* c, size_t ldc, float alpha, float beta);

// Lane j of the mask is set (all ones) when j < left: maskload / maskstore touch only those.
__attribute__((target("avx2,fma"))) __m256i laneMask(size_t left) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const int n = left >= 8 ? 8 : static_cast<int>(left);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
}

// An R x 8V tile; columns past `cols` are masked off.
template <int R, int V>
__attribute__((target("avx2,fma"))) void tile(size_t cols, size_t kc, const float* a, size_t as,
                                               const float* b, size_t bs, float* c, size_t ldc,
                                               float alpha, float beta) {
  __m256i mask[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) mask[v] = laneMask(cols - 8 * v);
  __m256 acc[R][V];
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_ps();
  }
  // vmaskmovps is slower than a plain load on some CPUs: only a partial last vector uses it
  // (the test is loop-invariant, and GCC unswitches the loop on it).
  const bool full = cols == 8 * V;
  // Row p of the panels at a + p*as and b + p*bs: pointers past the last row are never formed
  // (an operand read in place may end right there).
  for (size_t p = 0; p < kc; ++p) {
    const float* ap = a + p * as;
    const float* bp = b + p * bs;
    __m256 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      bv[v] = full || v < V - 1 ? _mm256_loadu_ps(bp + 8 * v)
                                : _mm256_maskload_ps(bp + 8 * v, mask[v]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
      const __m256 ai = _mm256_broadcast_ss(ap + i);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  const __m256 valpha = _mm256_set1_ps(alpha);
  const __m256 vbeta = _mm256_set1_ps(beta);
#pragma GCC unroll 8
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      float* cv = c + i * ldc + 8 * v;
      __m256 r = _mm256_mul_ps(valpha, acc[i][v]);
      if (beta != 0.0f) r = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(cv, mask[v]), r);
      _mm256_maskstore_ps(cv, mask[v], r);
    }
  }
}

template <int V, int... R>
constexpr std::array<TileFn, kMR> tilesOfWidth(std::integer_sequence<int, R...>) {
  return {tile<R + 1, V>...};
}

// kTiles[V - 1][R - 1] computes an R-row tile with V vectors per row.
constexpr std::array<TileFn, kMR> kTiles[kVectors] = {
    tilesOfWidth<1>(std::make_integer_sequence<int, kMR>()),
    tilesOfWidth<2>(std::make_integer_sequence<int, kMR>()),
};

void microKernel(size_t rows, size_t cols, size_t kc, const float* a, size_t as, const float* b,
                 size_t bs, float* c, size_t ldc, float alpha, float beta) {
  kTiles[(cols - 1) / 8][rows - 1](cols, kc, a, as, b, bs, c, ldc, alpha, beta);
}

bool supported() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

}  // namespace

// A kc x nr panel of B (16 KB at kc = 256) stays in a 32 KB L1; mc x kc of A (72 KB) in L2.
const GemmIsa kGemmAvx2 = {
    "avx2", supported, microKernel, packTransposedPortable, 8, kMR, 8 * kVectors, 72, 256, 4080};

}  // namespace digitnet

#else  // not x86-64 with GCC or Clang: never supported, never called

namespace digitnet {
namespace {
bool supported() { return false; }
}  // namespace
const GemmIsa kGemmAvx2 = {"avx2", supported, nullptr, nullptr, 8, 6, 16, 72, 256, 4080};
}  // namespace digitnet

#endif
