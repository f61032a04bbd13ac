// The AVX-512 sgemm micro-kernel: a 14 x 32 register tile (28 zmm accumulators, two zmm of B,
// A broadcast from memory), for the contract in gemm_kernels.h. Compiled for AVX-512F through a
// function target attribute, so the binary still runs on CPUs without it (it is then never called).
#include "gemm_kernels.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>

#include <array>
#include <utility>

namespace digitnet {
namespace {

using std::size_t;

constexpr int kMR = 14;     // rows of C per tile: 14 x 2 accumulators + 2 B vectors <= 32 zmm
constexpr int kVectors = 2; // zmm (16 floats) per row of C: nr = 32
static_assert(kMR * 16 * kVectors <= kMaxMicroTile, "raise kMaxMicroTile in gemm_kernels.h");

using TileFn = void (*)(size_t cols, size_t kc, const float* a, size_t as, const float* b,
                        size_t bs, float* c, size_t ldc, float alpha, float beta);

// An R x 16V tile; columns past `cols` are masked off, so edge tiles cost what they compute.
template <int R, int V>
__attribute__((target("avx512f"))) void tile(size_t cols, size_t kc, const float* a, size_t as,
                                             const float* b, size_t bs, float* c, size_t ldc,
                                             float alpha, float beta) {
  __mmask16 mask[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    const size_t left = cols - 16 * v;  // >= 1: V = ceil(cols / 16)
    mask[v] = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
  }
  __m512 acc[R][V];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  // Only a partial last vector needs the masked load (the test is loop-invariant, and GCC
  // unswitches the loop on it).
  const bool full = cols == 16 * V;
  // Row p of the panels at a + p*as and b + p*bs: pointers past the last row are never formed
  // (an operand read in place may end right there).
  for (size_t p = 0; p < kc; ++p) {
    const float* ap = a + p * as;
    const float* bp = b + p * bs;
    __m512 bv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      bv[v] = full || v < V - 1 ? _mm512_loadu_ps(bp + 16 * v)
                                : _mm512_maskz_loadu_ps(mask[v], bp + 16 * v);
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const __m512 ai = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  const __m512 valpha = _mm512_set1_ps(alpha);
  const __m512 vbeta = _mm512_set1_ps(beta);
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      float* cv = c + i * ldc + 16 * v;
      __m512 r = _mm512_mul_ps(valpha, acc[i][v]);
      if (beta != 0.0f) r = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(mask[v], cv), r);
      _mm512_mask_storeu_ps(cv, mask[v], r);
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
  kTiles[(cols - 1) / 16][rows - 1](cols, kc, a, as, b, bs, c, ldc, alpha, beta);
}

// GCC 12's avx512fintrin.h builds unpack / shuffle results on _mm512_undefined_ps(), which
// -Wmaybe-uninitialized flags once inlined here: a false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Transposes 16 rows of 16 floats in registers: on return r[q] holds column q.
__attribute__((target("avx512f"))) inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  // t[2q], t[2q+1]: rows 2q and 2q+1 interleaved, low / high pair of each 128-bit lane.
#pragma GCC unroll 8
  for (int q = 0; q < 8; ++q) {
    t[2 * q] = _mm512_unpacklo_ps(r[2 * q], r[2 * q + 1]);
    t[2 * q + 1] = _mm512_unpackhi_ps(r[2 * q], r[2 * q + 1]);
  }
  // u[4s+g], 128-bit lane L: rows 4s..4s+3 of column 4L+g.
#pragma GCC unroll 4
  for (int s = 0; s < 4; ++s) {
    const __m512d lo0 = _mm512_castps_pd(t[4 * s]), hi0 = _mm512_castps_pd(t[4 * s + 1]);
    const __m512d lo1 = _mm512_castps_pd(t[4 * s + 2]), hi1 = _mm512_castps_pd(t[4 * s + 3]);
    u[4 * s] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo0, lo1));
    u[4 * s + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo0, lo1));
    u[4 * s + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi0, hi1));
    u[4 * s + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi0, hi1));
  }
  // Gather the four 128-bit lanes of column g (g+4, g+8, g+12) from u[g], u[4+g], u[8+g], u[12+g].
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    const __m512 vLo = _mm512_shuffle_f32x4(u[g], u[4 + g], 0x88);  // columns g, g+8; rows 0-7
    const __m512 vHi = _mm512_shuffle_f32x4(u[g], u[4 + g], 0xDD);  // columns g+4, g+12
    const __m512 wLo = _mm512_shuffle_f32x4(u[8 + g], u[12 + g], 0x88);  // rows 8-15
    const __m512 wHi = _mm512_shuffle_f32x4(u[8 + g], u[12 + g], 0xDD);
    r[g] = _mm512_shuffle_f32x4(vLo, wLo, 0x88);
    r[g + 8] = _mm512_shuffle_f32x4(vLo, wLo, 0xDD);
    r[g + 4] = _mm512_shuffle_f32x4(vHi, wHi, 0x88);
    r[g + 12] = _mm512_shuffle_f32x4(vHi, wHi, 0xDD);
  }
}

// PackTransposedFn through 16 x 16 register transposes: 16 row loads and 16 column stores per
// 256 floats instead of 256 scalar moves.
__attribute__((target("avx512f"))) void packTransposed(size_t rows, size_t kc, const float* src,
                                                       size_t ld, float* dst, size_t width) {
  for (size_t i0 = 0; i0 < rows; i0 += 16) {
    const size_t lanes = rows - i0 < 16 ? rows - i0 : 16;
    const __mmask16 laneMask = lanes == 16 ? __mmask16(0xFFFF) : __mmask16((1u << lanes) - 1);
    for (size_t p0 = 0; p0 < kc; p0 += 16) {
      const size_t depth = kc - p0 < 16 ? kc - p0 : 16;
      const __mmask16 depthMask = depth == 16 ? __mmask16(0xFFFF) : __mmask16((1u << depth) - 1);
      __m512 r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) {
        r[i] = static_cast<size_t>(i) < lanes
                   ? _mm512_maskz_loadu_ps(depthMask, src + (i0 + i) * ld + p0)
                   : _mm512_setzero_ps();
      }
      transpose16(r);
      for (size_t q = 0; q < depth; ++q) {
        _mm512_mask_storeu_ps(dst + (p0 + q) * width + i0, laneMask, r[q]);
      }
    }
  }
}

#pragma GCC diagnostic pop

bool supported() { return __builtin_cpu_supports("avx512f"); }

}  // namespace

// Block sizes measured with bench/gemm_bench --clock cpu on a 2-core AMD EPYC with AVX-512
// (1 MB L2 per core, 32 MB L3): mc = 140 and kc = 512 beat 280 x 384 and 420 x 256 on 1024^3 by a
// few percent and tie on the MLP shapes. mc x kc of A (280 KB) stays in L2 while each kc x nr
// panel of B (64 KB) is reused by the mc / mr micro-tiles of a block; kc x nc of B (8 MB) in L3.
const GemmIsa kGemmAvx512 = {
    "avx512", supported, microKernel, packTransposed, 16, kMR, 16 * kVectors, 140, 512, 4096};

}  // namespace digitnet

#else  // not x86-64 with GCC or Clang: never supported, never called

namespace digitnet {
namespace {
bool supported() { return false; }
}  // namespace
const GemmIsa kGemmAvx512 = {
    "avx512", supported, nullptr, nullptr, 16, 14, 32, 140, 512, 4096};
}  // namespace digitnet

#endif
