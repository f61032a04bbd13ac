// The convolutions' micro-kernels (conv_tiles.h) for AVX-512, AVX2 + FMA and plain C++. The AVX
// functions are compiled for their instruction set through a function target attribute, so the
// binary still runs on CPUs without it (they are then never called).
#include "conv_tiles.h"

#include <array>
#include <cstring>
#include <utility>

#include "gemm.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define DIGITNET_TILES_X86 1
#include <immintrin.h>
#endif

namespace digitnet {
namespace {

using std::size_t;

bool always() { return true; }

// ---- tables of tiles by their compile-time shape ---------------------------------------------

using OuterFixedFn = void (*)(const OuterTile& tile);
using InnerFixedFn = void (*)(size_t segments, size_t len, const float* a, size_t lda, size_t aStep,
                              const float* b, const size_t* boff, size_t bStep, float* c, size_t ldc);

// Outer tiles 1..rows(V) rows high, V vectors wide (unused entries stay null).
template <template <int, int> class Tile, int V, int... R>
constexpr std::array<OuterFixedFn, kMaxOuterRows> outerRowsOf(std::integer_sequence<int, R...>) {
  return {Tile<R + 1, V>::run...};
}

// Inner tiles of every rows x cols up to a shape (cols at most kMaxInnerCols).
constexpr size_t kMaxInnerCols = 6;

template <template <int, int> class Tile, int Rows, int... C>
constexpr std::array<InnerFixedFn, kMaxInnerCols> innerColsOf(std::integer_sequence<int, C...>) {
  return {Tile<Rows, C + 1>::run...};
}

template <template <int, int> class Tile, int Cols, int... R>
constexpr std::array<std::array<InnerFixedFn, kMaxInnerCols>, sizeof...(R)> innerTable(std::integer_sequence<int, R...>) {
  return {innerColsOf<Tile, R + 1>(std::make_integer_sequence<int, Cols>())...};
}

// ---- plain C++ -------------------------------------------------------------------------------

constexpr size_t kScalarLanes = 4, kScalarRows = 4;

// Runtime shapes: the compiler vectorizes the lane loops for the baseline ISA.
void outerScalar(const OuterTile& tile) {
  const size_t rows = tile.rows, lanes = tile.lanes, as = tile.as;
  const size_t* aoff = tile.aoff;
  const float* a = tile.a;
  float* const* c = tile.c;
  float acc[kScalarRows][kMaxOuterVectors * kScalarLanes] = {};
  for (size_t p = 0; p < tile.depth; ++p) {
    const float* bp = tile.b + tile.boff[p];
    for (size_t i = 0; i < rows; ++i) {
      const float ai = aoff != nullptr ? a[aoff[p] + i] : a[p * as + i];
      for (size_t l = 0; l < lanes; ++l) acc[i][l] += ai * bp[l];
    }
  }
  for (size_t i = 0; i < rows; ++i) {
    const float start = tile.bias != nullptr ? tile.bias[i] : 0.0f;
    for (size_t l = 0; l < lanes; ++l) c[i][l] = (tile.accumulate ? c[i][l] : start) + acc[i][l];
  }
}

// Lanes of kInnerStep partial sums per element: each lane is its own sum, so the compiler
// vectorizes them without reordering a sum.
void innerScalar(size_t rows, size_t cols, size_t segments, size_t len, const float* a, size_t lda,
                 size_t aStep, const float* b, const size_t* boff, size_t bStep, float* c, size_t ldc) {
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; ++j) {
      float lanes[kInnerStep] = {};
      for (size_t s = 0; s < segments; ++s) {
        const float* ai = a + s * aStep + i * lda;
        const float* bj = b + s * bStep + boff[j];
        for (size_t p = 0; p < len; p += kInnerStep) {
          for (size_t l = 0; l < kInnerStep; ++l) lanes[l] += ai[p + l] * bj[p + l];
        }
      }
      float sum = 0.0f;
      for (const float lane : lanes) sum += lane;
      c[i * ldc + j] += sum;
    }
  }
}

#if defined(DIGITNET_TILES_X86)

// ---- AVX2 + FMA ------------------------------------------------------------------------------

// Lane j of the mask is set (all ones) when j < left: maskload / maskstore touch only those.
__attribute__((target("avx2"))) inline __m256i laneMask(size_t left) {
  const int n = left >= 8 ? 8 : static_cast<int>(left);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// R x V vectors: R * V accumulators, V vectors of B and a broadcast of A in the 16 ymm registers.
template <int R, int V>
struct OuterAvx2 {
  __attribute__((target("avx2,fma"))) static void run(const OuterTile& tile) {
    const size_t lanes = tile.lanes, depth = tile.depth, as = tile.as;
    const size_t* aoff = tile.aoff;
    const float* a = tile.a;
    const float* b = tile.b;
    const size_t* boff = tile.boff;
    float* const* c = tile.c;
    const bool accumulate = tile.accumulate;
    const float* bias = tile.bias;
    const __m256i mask = laneMask(lanes - 8 * (V - 1));
    // Only a partial last vector is masked (the test is loop-invariant: GCC unswitches on it).
    const bool full = lanes == 8 * V;
    __m256 acc[R][V];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[i][v] = _mm256_setzero_ps();
    }
    for (size_t p = 0; p < depth; ++p) {
      const float* bp = b + boff[p];
      const float* ap = aoff != nullptr ? a + aoff[p] : a + p * as;
      __m256 bv[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        bv[v] = full || v < V - 1 ? _mm256_loadu_ps(bp + 8 * v) : _mm256_maskload_ps(bp + 8 * v, mask);
      }
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i) {
        const __m256 ai = _mm256_broadcast_ss(ap + i);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[i][v] = _mm256_fmadd_ps(ai, bv[v], acc[i][v]);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const __m256 start = bias != nullptr ? _mm256_broadcast_ss(bias + i) : _mm256_setzero_ps();
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        float* cv = c[i] + 8 * v;
        if (full || v < V - 1) {
          _mm256_storeu_ps(cv, _mm256_add_ps(accumulate ? _mm256_loadu_ps(cv) : start, acc[i][v]));
        } else {
          _mm256_maskstore_ps(cv, mask, _mm256_add_ps(accumulate ? _mm256_maskload_ps(cv, mask) : start, acc[i][v]));
        }
      }
    }
  }
};

constexpr std::array<OuterFixedFn, kMaxOuterRows> kOuterAvx2[kMaxOuterVectors] = {
    outerRowsOf<OuterAvx2, 1>(std::make_integer_sequence<int, 8>()),
    outerRowsOf<OuterAvx2, 2>(std::make_integer_sequence<int, 6>()),
    outerRowsOf<OuterAvx2, 3>(std::make_integer_sequence<int, 4>()),
};

void outerAvx2(const OuterTile& tile) { kOuterAvx2[(tile.lanes - 1) / 8][tile.rows - 1](tile); }

__attribute__((target("avx2"))) inline float sumLanes(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 4 x 3: 12 accumulators, 3 vectors of B and one of A in the 16 ymm registers.
template <int R, int C>
struct InnerAvx2 {
  __attribute__((target("avx2,fma"))) static void run(size_t segments, size_t len, const float* a, size_t lda,
                                                      size_t aStep, const float* b, const size_t* boff,
                                                      size_t bStep, float* c, size_t ldc) {
    __m256 acc[R][C];
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < C; ++j) acc[i][j] = _mm256_setzero_ps();
    }
    for (size_t s = 0; s < segments; ++s) {
      const float* as = a + s * aStep;
      const float* bs[C];
#pragma GCC unroll 4
      for (int j = 0; j < C; ++j) bs[j] = b + s * bStep + boff[j];
      for (size_t p = 0; p < len; p += 8) {
        __m256 bv[C];
#pragma GCC unroll 4
        for (int j = 0; j < C; ++j) bv[j] = _mm256_loadu_ps(bs[j] + p);
#pragma GCC unroll 4
        for (int i = 0; i < R; ++i) {
          const __m256 av = _mm256_loadu_ps(as + i * lda + p);
#pragma GCC unroll 4
          for (int j = 0; j < C; ++j) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
        }
      }
    }
#pragma GCC unroll 4
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
      for (int j = 0; j < C; ++j) c[i * ldc + j] += sumLanes(acc[i][j]);
    }
  }
};

constexpr int kInnerAvx2Rows = 4, kInnerAvx2Cols = 3;
constexpr auto kInnerAvx2 = innerTable<InnerAvx2, kInnerAvx2Cols>(std::make_integer_sequence<int, kInnerAvx2Rows>());

void innerAvx2(size_t rows, size_t cols, size_t segments, size_t len, const float* a, size_t lda, size_t aStep,
               const float* b, const size_t* boff, size_t bStep, float* c, size_t ldc) {
  kInnerAvx2[rows - 1][cols - 1](segments, len, a, lda, aStep, b, boff, bStep, c, ldc);
}

bool avx2Supported() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

// ---- AVX-512 ---------------------------------------------------------------------------------

__attribute__((target("avx512f"))) inline __mmask16 laneMask16(size_t left) {
  return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
}

// R x V vectors: up to 24 accumulators, V vectors of B and a broadcast of A in 32 zmm registers.
template <int R, int V>
struct OuterAvx512 {
  __attribute__((target("avx512f"))) static void run(const OuterTile& tile) {
    const size_t lanes = tile.lanes, depth = tile.depth, as = tile.as;
    const size_t* aoff = tile.aoff;
    const float* a = tile.a;
    const float* b = tile.b;
    const size_t* boff = tile.boff;
    float* const* c = tile.c;
    const bool accumulate = tile.accumulate;
    const float* bias = tile.bias;
    const __mmask16 mask = laneMask16(lanes - 16 * (V - 1));
    const bool full = lanes == 16 * V;
    __m512 acc[R][V];
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[i][v] = _mm512_setzero_ps();
    }
    for (size_t p = 0; p < depth; ++p) {
      const float* bp = b + boff[p];
      const float* ap = aoff != nullptr ? a + aoff[p] : a + p * as;
      __m512 bv[V];
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        bv[v] = full || v < V - 1 ? _mm512_loadu_ps(bp + 16 * v) : _mm512_maskz_loadu_ps(mask, bp + 16 * v);
      }
#pragma GCC unroll 16
      for (int i = 0; i < R; ++i) {
        const __m512 ai = _mm512_set1_ps(ap[i]);
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const __m512 start = bias != nullptr ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) {
        float* cv = c[i] + 16 * v;
        const __mmask16 m = full || v < V - 1 ? __mmask16(0xFFFF) : mask;
        _mm512_mask_storeu_ps(cv, m, _mm512_add_ps(accumulate ? _mm512_maskz_loadu_ps(m, cv) : start, acc[i][v]));
      }
    }
  }
};

constexpr std::array<OuterFixedFn, kMaxOuterRows> kOuterAvx512[kMaxOuterVectors] = {
    outerRowsOf<OuterAvx512, 1>(std::make_integer_sequence<int, 14>()),
    outerRowsOf<OuterAvx512, 2>(std::make_integer_sequence<int, 12>()),
    outerRowsOf<OuterAvx512, 3>(std::make_integer_sequence<int, 8>()),
};

void outerAvx512(const OuterTile& tile) { kOuterAvx512[(tile.lanes - 1) / 16][tile.rows - 1](tile); }

// Halves extracted through an all-ones zeroing mask: the same instruction as
// _mm512_extractf64x4_pd, whose header body (like _mm512_castps512_ps256's and
// _mm512_reduce_add_ps's) trips GCC 12's -Wuninitialized.
__attribute__((target("avx512f"))) inline float sumLanes(__m512 v) {
  const __m512d d = _mm512_castps_pd(v);
  return sumLanes(_mm256_add_ps(_mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, d, 0)),
                                _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, d, 1))));
}

// 4 x 6: 24 accumulators, 6 vectors of B and one of A in the 32 zmm registers.
template <int R, int C>
struct InnerAvx512 {
  __attribute__((target("avx512f"))) static void run(size_t segments, size_t len, const float* a, size_t lda,
                                                     size_t aStep, const float* b, const size_t* boff,
                                                     size_t bStep, float* c, size_t ldc) {
    __m512 acc[R][C];
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < C; ++j) acc[i][j] = _mm512_setzero_ps();
    }
    for (size_t s = 0; s < segments; ++s) {
      const float* as = a + s * aStep;
      const float* bs[C];
#pragma GCC unroll 8
      for (int j = 0; j < C; ++j) bs[j] = b + s * bStep + boff[j];
      for (size_t p = 0; p < len; p += 16) {
        __m512 bv[C];
#pragma GCC unroll 8
        for (int j = 0; j < C; ++j) bv[j] = _mm512_loadu_ps(bs[j] + p);
#pragma GCC unroll 8
        for (int i = 0; i < R; ++i) {
          const __m512 av = _mm512_loadu_ps(as + i * lda + p);
#pragma GCC unroll 8
          for (int j = 0; j < C; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
        }
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; ++i) {
#pragma GCC unroll 8
      for (int j = 0; j < C; ++j) c[i * ldc + j] += sumLanes(acc[i][j]);
    }
  }
};

constexpr int kInnerAvx512Rows = 4, kInnerAvx512Cols = 6;
constexpr auto kInnerAvx512 =
    innerTable<InnerAvx512, kInnerAvx512Cols>(std::make_integer_sequence<int, kInnerAvx512Rows>());

void innerAvx512(size_t rows, size_t cols, size_t segments, size_t len, const float* a, size_t lda, size_t aStep,
                 const float* b, const size_t* boff, size_t bStep, float* c, size_t ldc) {
  kInnerAvx512[rows - 1][cols - 1](segments, len, a, lda, aStep, b, boff, bStep, c, ldc);
}

bool avx512Supported() { return __builtin_cpu_supports("avx512f"); }

#else  // not x86-64 with GCC or Clang: never supported, never called

constexpr int kInnerAvx2Rows = 1, kInnerAvx2Cols = 1, kInnerAvx512Rows = 1, kInnerAvx512Cols = 1;
bool avx2Supported() { return false; }
bool avx512Supported() { return false; }
constexpr OuterTileFn outerAvx2 = nullptr, outerAvx512 = nullptr;
constexpr InnerTileFn innerAvx2 = nullptr, innerAvx512 = nullptr;

#endif

const ConvTiles& chooseIsa() {
  const char* name = sgemm_kernel_name();
  for (const ConvTiles* isa : {&kConvTilesAvx512, &kConvTilesAvx2}) {
    if (std::strcmp(name, isa->name) == 0 && isa->supported()) return *isa;
  }
  return kConvTilesScalar;
}

}  // namespace

// innerFloats: AVX2 8 KB of A, a quarter of the smallest L1 (Zen 3: 4 images of 128 positions a
// tile call, 66% of peak, against 50-58% for 8 to 16). AVX-512 64 KB, from L2: its tile sums 24
// accumulators of 16 lanes at the end, by count of operations 2.5 times the AVX2 tile's share of
// a call (Zen 5: 32 images of 128 positions, 174 GFLOPS, 66% of peak, against 154 for 4 images
// and 172 for 16).
const ConvTiles kConvTilesAvx512 = {"avx512", avx512Supported, 16, {14, 12, 8}, outerAvx512,
                                    kInnerAvx512Rows, kInnerAvx512Cols, innerAvx512, size_t{1} << 14};
const ConvTiles kConvTilesAvx2 = {"avx2", avx2Supported, 8, {8, 6, 4}, outerAvx2,
                                  kInnerAvx2Rows, kInnerAvx2Cols, innerAvx2, size_t{1} << 11};
const ConvTiles kConvTilesScalar = {"scalar", always, kScalarLanes, {kScalarRows, kScalarRows, kScalarRows},
                                    outerScalar, kScalarRows, kScalarRows, innerScalar, size_t{1} << 11};

const ConvTiles& convTiles() {
  static const ConvTiles& chosen = chooseIsa();
  return chosen;
}

}  // namespace digitnet
