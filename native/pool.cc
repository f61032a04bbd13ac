// Max pooling forward and backward (pool.h), split over the pool by planes (image, channel): every
// plane is computed on its own.
#include "pool.h"

#include <algorithm>
#include <mutex>

#include "parallel.h"
#include "read_once.h"

// SSE2 is part of x86-64 itself: every x86-64 CPU runs it, no dispatch needed. The AVX-512
// functions are compiled for it through a function target attribute and called only when sgemm
// chose AVX-512 (native/gemm.h sgemm_kernel_name), so the binary still runs on CPUs without it.
#if defined(__x86_64__) || defined(_M_X64)
#define DIGITNET_POOL_SSE2 1
#include <emmintrin.h>

#include <cstring>

#include "gemm.h"
#endif
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define DIGITNET_POOL_AVX512 1
#include <immintrin.h>
#endif

namespace digitnet {
namespace {

using std::size_t;

// Planes per block of the split, or all of them (one block) when the work, in elements touched,
// is done before a second thread would have joined.
size_t planesPerBlock(size_t planes, size_t work) {
  constexpr size_t kMinParallelWork = size_t{1} << 15;
  const size_t threads = static_cast<size_t>(getThreads());
  if (work < kMinParallelWork || threads <= 1) return planes;
  return (planes + threads - 1) / threads;
}

// The winner of window rows [y0, y1) x columns [x0, x1) of plane xp (row length w): greater wins;
// a NaN wins over anything but an earlier NaN. Selects, not branches: which value wins is data,
// and mispredicted branches cost more than the comparisons.
struct Winner {
  float value;
  size_t at;
};
inline Winner windowMax(const float* xp, size_t w, size_t y0, size_t y1, size_t x0, size_t x1) {
  Winner best{xp[y0 * w + x0], y0 * w + x0};
  for (size_t iy = y0; iy < y1; ++iy) {
    for (size_t ix = x0; ix < x1; ++ix) {
      const float v = xp[iy * w + ix];
      const bool wins = v > best.value || (v != v && best.value == best.value);
      best.value = wins ? v : best.value;
      best.at = wins ? iy * w + ix : best.at;
    }
  }
  return best;
}

// The general plane: xp (h,w) -> yp, ap (oh,ow), any size and stride, windows cut at the edge.
void poolPlane(const PoolGeometry& g, const float* xp, float* yp, std::uint32_t* ap, size_t fromRow) {
  for (size_t oy = fromRow; oy < g.oh; ++oy) {
    const size_t y0 = oy * g.stride, y1 = std::min(g.h, y0 + g.size);  // y0 < h (oh's bound)
    for (size_t ox = 0; ox < g.ow; ++ox) {
      const size_t x0 = ox * g.stride, x1 = std::min(g.w, x0 + g.size);
      const Winner best = windowMax(xp, g.w, y0, y1, x0, x1);
      yp[oy * g.ow + ox] = best.value;
      ap[oy * g.ow + ox] = static_cast<std::uint32_t>(best.at);
    }
  }
}

#if defined(DIGITNET_POOL_SSE2)
// 2 x 2 windows side by side, four outputs at a time: the columns of two input rows split into
// even and odd ones, and the four candidates taken in window order with the rule of windowMax.
// The compiler's own vectorization of the loop below gathers the strided columns one by one and
// runs at a third of this speed. Returns the first output column it left undone.
size_t poolRowPair2(const float* row, size_t w, std::uint32_t base, size_t columns, float* yRow, std::uint32_t* aRow) {
  const __m128i eight = _mm_set1_epi32(8);
  const __m128i step[4] = {_mm_set1_epi32(0), _mm_set1_epi32(1), _mm_set1_epi32(static_cast<int>(w)),
                           _mm_set1_epi32(static_cast<int>(w + 1))};
  __m128i evens = _mm_add_epi32(_mm_set1_epi32(static_cast<int>(base)), _mm_setr_epi32(0, 2, 4, 6));
  size_t ox = 0;
  for (; ox + 4 <= columns; ox += 4, evens = _mm_add_epi32(evens, eight)) {
    const float* top = row + 2 * ox;
    const float* bottom = top + w;
    const __m128 t0 = _mm_loadu_ps(top), t1 = _mm_loadu_ps(top + 4);
    const __m128 b0 = _mm_loadu_ps(bottom), b1 = _mm_loadu_ps(bottom + 4);
    const __m128 candidates[4] = {_mm_shuffle_ps(t0, t1, _MM_SHUFFLE(2, 0, 2, 0)), _mm_shuffle_ps(t0, t1, _MM_SHUFFLE(3, 1, 3, 1)),
                                  _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(2, 0, 2, 0)), _mm_shuffle_ps(b0, b1, _MM_SHUFFLE(3, 1, 3, 1))};
    __m128 best = candidates[0];
    __m128i at = evens;
    for (int k = 1; k < 4; ++k) {
      const __m128 v = candidates[k];
      const __m128 wins = _mm_or_ps(_mm_cmpgt_ps(v, best), _mm_and_ps(_mm_cmpunord_ps(v, v), _mm_cmpord_ps(best, best)));
      const __m128i mask = _mm_castps_si128(wins);
      best = _mm_or_ps(_mm_and_ps(wins, v), _mm_andnot_ps(wins, best));
      at = _mm_or_si128(_mm_and_si128(mask, _mm_add_epi32(evens, step[k])), _mm_andnot_si128(mask, at));
    }
    _mm_storeu_ps(yRow + ox, best);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(aRow + ox), at);
  }
  return ox;
}

using RowPairFn = size_t (*)(const float* row, size_t w, std::uint32_t base, size_t columns, float* yRow, std::uint32_t* aRow);

// sse2, or avx512 where this build has it and sgemm chose AVX-512 (native/gemm.h
// sgemm_kernel_name).
template <typename Fn>
Fn widest(Fn sse2, Fn avx512) {
  return avx512 != nullptr && std::strcmp(sgemm_kernel_name(), "avx512") == 0 ? avx512 : sse2;
}
#endif

#if defined(DIGITNET_POOL_AVX512)
// The lanes [0, count) of a 16-float vector, count <= 16 (also a half of a 32-float pair of them).
inline __mmask16 firstLanes(size_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1);
}

// poolRowPair2 sixteen outputs a step, the row's last ones under a mask: every output column
// done (a row of the reference net's first pooling is 12 outputs, of its second 5: one step).
__attribute__((target("avx512f"))) size_t poolRowPair2Avx512(const float* row, size_t w, std::uint32_t base, size_t columns,
                                                            float* yRow, std::uint32_t* aRow) {
  const __m512i twice = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(twice, _mm512_set1_epi32(1));
  const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32(static_cast<int>(w));
  for (size_t ox = 0; ox < columns; ox += 16) {
    const size_t count = std::min<size_t>(16, columns - ox);
    const __mmask16 out = firstLanes(count), low = firstLanes(2 * count), high = firstLanes(2 * count - std::min<size_t>(2 * count, 16));
    const float* top = row + 2 * ox;
    const float* bottom = top + w;
    const __m512 t0 = _mm512_maskz_loadu_ps(low, top), t1 = _mm512_maskz_loadu_ps(high, top + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(low, bottom), b1 = _mm512_maskz_loadu_ps(high, bottom + 16);
    const __m512 c0 = _mm512_permutex2var_ps(t0, twice, t1), c1 = _mm512_permutex2var_ps(t0, odd, t1);
    const __m512 c2 = _mm512_permutex2var_ps(b0, twice, b1), c3 = _mm512_permutex2var_ps(b0, odd, b1);
    // windowMax's rule as a tree, each row's pair first, side by side (in a chain of three steps
    // each waits on a compare): the later value wins where it is greater or NaN, unless the
    // earlier one is NaN ("not less or equal, unordered" under the earlier one's "ordered").
    const __mmask16 right1 = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(c0, c0, _CMP_ORD_Q), c1, c0, _CMP_NLE_UQ);
    const __mmask16 right2 = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(c2, c2, _CMP_ORD_Q), c3, c2, _CMP_NLE_UQ);
    const __m512 upper = _mm512_mask_mov_ps(c0, right1, c1), lower = _mm512_mask_mov_ps(c2, right2, c3);
    // The upper winner is NaN when either of its pair is.
    const __mmask16 below = _mm512_mask_cmp_ps_mask(_mm512_cmp_ps_mask(c0, c1, _CMP_ORD_Q), lower, upper, _CMP_NLE_UQ);
    const __m512 best = _mm512_mask_mov_ps(upper, below, lower);
    const __m512i evens = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(base + 2 * ox)), twice);
    const __m512i upperAt = _mm512_mask_add_epi32(evens, right1, evens, one);
    const __m512i lowerAt = _mm512_add_epi32(_mm512_mask_add_epi32(evens, right2, evens, one), down);
    const __m512i at = _mm512_mask_mov_epi32(upperAt, below, lowerAt);
    _mm512_mask_storeu_ps(yRow + ox, out, best);
    _mm512_mask_storeu_epi32(aRow + ox, out, at);
  }
  return columns;
}
#elif defined(DIGITNET_POOL_SSE2)
constexpr RowPairFn poolRowPair2Avx512 = nullptr;
#endif

#if defined(DIGITNET_POOL_SSE2)
// The row pairs of side-by-side 2 x 2 windows, on the widest vectors sgemm uses.
RowPairFn rowPair2() {
  static const RowPairFn chosen = widest<RowPairFn>(poolRowPair2, poolRowPair2Avx512);
  return chosen;
}
#endif

// Side-by-side S x S windows (size = stride = S, the common case): the rows of whole windows with
// the window's shape known at compile time, a loop over the output columns GCC vectorizes (10x
// the general loop's speed on 2 x 2); what the input's edge cuts goes to the general loop.
template <size_t S>
void poolPlaneTiled(const PoolGeometry& g, const float* xp, float* yp, std::uint32_t* ap) {
  const size_t wholeRows = std::min(g.oh, g.h / S), wholeCols = std::min(g.ow, g.w / S);
  for (size_t oy = 0; oy < wholeRows; ++oy) {
    const float* row = xp + oy * S * g.w;
    const std::uint32_t base = static_cast<std::uint32_t>(oy * S * g.w);  // < h*w, which fits
    float* yRow = yp + oy * g.ow;
    std::uint32_t* aRow = ap + oy * g.ow;
    size_t ox = 0;
#if defined(DIGITNET_POOL_SSE2)
    if (S == 2) ox = rowPair2()(row, g.w, base, wholeCols, yRow, aRow);
#endif
    for (; ox < wholeCols; ++ox) {
      float best = row[S * ox];
      std::uint32_t at = base + static_cast<std::uint32_t>(S * ox);
      for (size_t iy = 0; iy < S; ++iy) {
        for (size_t ix = 0; ix < S; ++ix) {
          const float v = row[iy * g.w + S * ox + ix];
          const bool wins = v > best || (v != v && best == best);
          best = wins ? v : best;
          at = wins ? base + static_cast<std::uint32_t>(iy * g.w + S * ox + ix) : at;
        }
      }
      yRow[ox] = best;
      aRow[ox] = at;
    }
    for (size_t ox = wholeCols; ox < g.ow; ++ox) {
      const size_t x0 = ox * S;
      const Winner best = windowMax(xp, g.w, oy * S, oy * S + S, x0, std::min(g.w, x0 + S));
      yRow[ox] = best.value;
      aRow[ox] = static_cast<std::uint32_t>(best.at);
    }
  }
  poolPlane(g, xp, yp, ap, wholeRows);
}

void poolAnyPlane(const PoolGeometry& g, const float* xp, float* yp, std::uint32_t* ap) {
  if (g.size == 2 && g.stride == 2) return poolPlaneTiled<2>(g, xp, yp, ap);
  if (g.size == 3 && g.stride == 3) return poolPlaneTiled<3>(g, xp, yp, ap);
  poolPlane(g, xp, yp, ap, 0);
}

}  // namespace

void maxPool2d(const PoolGeometry& g, const float* x, float* y, std::uint32_t* argmax) {
  if (g.n == 0 || g.c == 0 || g.oh == 0 || g.ow == 0) return;
  // oh, ow >= 1 imply h, w >= 1: every size below is one a buffer holds.
  const size_t planes = g.n * g.c, plane = g.h * g.w, out = g.oh * g.ow;
  parallel_ranges(planes, planesPerBlock(planes, planes * (plane + out)), 0, [&](size_t first, size_t last) {
    for (size_t p = first; p < last; ++p) poolAnyPlane(g, x + p * plane, y + p * out, argmax + p * out);
  });
}

#if defined(DIGITNET_POOL_SSE2)
// One row pair of unpoolHomeSquares: the home squares of outputs [0, cols) of one output row,
// written into the input rows top and bottom (row length w; the first square's top left at
// `base` in the plane). False, the rows partly written, at a value outside its home square.
bool unpoolRowPair(const float* d, const std::uint32_t* at, std::uint32_t base, size_t w, size_t cols, float* top, float* bottom) {
  const __m128i eight = _mm_set1_epi32(8), one = _mm_set1_epi32(1), down = _mm_set1_epi32(static_cast<int>(w));
  __m128i evens = _mm_add_epi32(_mm_set1_epi32(static_cast<int>(base)), _mm_setr_epi32(0, 2, 4, 6));
  size_t ox = 0;
  for (; ox + 4 <= cols; ox += 4, evens = _mm_add_epi32(evens, eight)) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(at + ox));  // each value read once
    const __m128 v = _mm_loadu_ps(d + ox);
    const __m128i lower = _mm_add_epi32(evens, down);
    const __m128 m[4] = {_mm_castsi128_ps(_mm_cmpeq_epi32(a, evens)), _mm_castsi128_ps(_mm_cmpeq_epi32(a, _mm_add_epi32(evens, one))),
                         _mm_castsi128_ps(_mm_cmpeq_epi32(a, lower)), _mm_castsi128_ps(_mm_cmpeq_epi32(a, _mm_add_epi32(lower, one)))};
    if (_mm_movemask_ps(_mm_or_ps(_mm_or_ps(m[0], m[1]), _mm_or_ps(m[2], m[3]))) != 0xF) return false;
    const __m128 te = _mm_and_ps(m[0], v), to = _mm_and_ps(m[1], v), be = _mm_and_ps(m[2], v), bo = _mm_and_ps(m[3], v);
    _mm_storeu_ps(top + 2 * ox, _mm_unpacklo_ps(te, to));
    _mm_storeu_ps(top + 2 * ox + 4, _mm_unpackhi_ps(te, to));
    _mm_storeu_ps(bottom + 2 * ox, _mm_unpacklo_ps(be, bo));
    _mm_storeu_ps(bottom + 2 * ox + 4, _mm_unpackhi_ps(be, bo));
  }
  for (; ox < cols; ++ox) {
    const std::uint32_t a = at[ox], home = base + static_cast<std::uint32_t>(2 * ox);
    if (a != home && a != home + 1 && a != home + w && a != home + w + 1) return false;
    top[2 * ox] = a == home ? d[ox] : 0.0f;
    top[2 * ox + 1] = a == home + 1 ? d[ox] : 0.0f;
    bottom[2 * ox] = a == home + w ? d[ox] : 0.0f;
    bottom[2 * ox + 1] = a == home + w + 1 ? d[ox] : 0.0f;
  }
  return true;
}

using UnpoolRowPairFn = bool (*)(const float* d, const std::uint32_t* at, std::uint32_t base, size_t w, size_t cols, float* top,
                                 float* bottom);

#if defined(DIGITNET_POOL_AVX512)
// unpoolRowPair sixteen squares a step, the row's last ones under a mask.
__attribute__((target("avx512f"))) bool unpoolRowPairAvx512(const float* d, const std::uint32_t* at, std::uint32_t base, size_t w,
                                                           size_t cols, float* top, float* bottom) {
  const __m512i twice = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i high = _mm512_add_epi32(low, _mm512_set1_epi32(8));
  const __m512i one = _mm512_set1_epi32(1), down = _mm512_set1_epi32(static_cast<int>(w));
  for (size_t ox = 0; ox < cols; ox += 16) {
    const size_t count = std::min<size_t>(16, cols - ox);
    const __mmask16 out = firstLanes(count), first = firstLanes(2 * count), second = firstLanes(2 * count - std::min<size_t>(2 * count, 16));
    const __m512i a = _mm512_maskz_loadu_epi32(out, at + ox);  // each value read once
    const __m512 v = _mm512_maskz_loadu_ps(out, d + ox);
    const __m512i evens = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(base + 2 * ox)), twice);
    const __m512i lower = _mm512_add_epi32(evens, down);
    const __mmask16 m[4] = {_mm512_mask_cmpeq_epi32_mask(out, a, evens), _mm512_mask_cmpeq_epi32_mask(out, a, _mm512_add_epi32(evens, one)),
                            _mm512_mask_cmpeq_epi32_mask(out, a, lower), _mm512_mask_cmpeq_epi32_mask(out, a, _mm512_add_epi32(lower, one))};
    if (static_cast<__mmask16>(m[0] | m[1] | m[2] | m[3]) != out) return false;
    const __m512 te = _mm512_maskz_mov_ps(m[0], v), to = _mm512_maskz_mov_ps(m[1], v);
    const __m512 be = _mm512_maskz_mov_ps(m[2], v), bo = _mm512_maskz_mov_ps(m[3], v);
    _mm512_mask_storeu_ps(top + 2 * ox, first, _mm512_permutex2var_ps(te, low, to));
    _mm512_mask_storeu_ps(top + 2 * ox + 16, second, _mm512_permutex2var_ps(te, high, to));
    _mm512_mask_storeu_ps(bottom + 2 * ox, first, _mm512_permutex2var_ps(be, low, bo));
    _mm512_mask_storeu_ps(bottom + 2 * ox + 16, second, _mm512_permutex2var_ps(be, high, bo));
  }
  return true;
}
#else
constexpr UnpoolRowPairFn unpoolRowPairAvx512 = nullptr;
#endif

// unpoolRowPair on the widest vectors sgemm uses.
UnpoolRowPairFn unpoolRowPairFn() {
  static const UnpoolRowPairFn chosen = widest<UnpoolRowPairFn>(unpoolRowPair, unpoolRowPairAvx512);
  return chosen;
}

// dx of one plane when every output q = (oy, ox) with oy < h/2 and ox < w/2 (q's home square: rows
// 2oy, 2oy+1, columns 2ox, 2ox+1) has its argmax in its home square, as side-by-side 2 x 2 windows
// give: home squares do not overlap, so each of their positions is the one gradient it holds or 0,
// written at once, a row pair of squares at a time (no zeroing pass, no scatter). Positions
// outside every home square are zeroed and the outputs outside the home region added by the
// caller. False, dx partly written, when a value lies outside its home square: the caller redoes
// the plane.
bool unpoolHomeSquares(const PoolGeometry& g, const float* dyp, const std::uint32_t* ap, float* dxp) {
  const size_t rows = std::min(g.oh, g.h / 2), cols = std::min(g.ow, g.w / 2);
  const UnpoolRowPairFn rowPair = unpoolRowPairFn();
  for (size_t oy = 0; oy < rows; ++oy) {
    float* top = dxp + 2 * oy * g.w;
    float* bottom = top + g.w;
    const std::uint32_t base = static_cast<std::uint32_t>(2 * oy * g.w);  // < h*w
    if (!rowPair(dyp + oy * g.ow, ap + oy * g.ow, base, g.w, cols, top, bottom)) return false;
    std::fill(top + 2 * cols, top + g.w, 0.0f);
    std::fill(bottom + 2 * cols, bottom + g.w, 0.0f);
  }
  std::fill(dxp + 2 * rows * g.w, dxp + g.h * g.w, 0.0f);
  return true;
}
#endif

IndexStatus maxPool2dBackward(const PoolGeometry& g, const float* dy, const std::uint32_t* argmax,
                              float* dx) {
  if (g.n == 0 || g.c == 0) return {};
  const size_t plane = g.h * g.w, out = g.oh * g.ow;
  // Nothing to zero and nothing to add: n*c may be huge. Otherwise dx or dy holds n*c planes.
  if (plane == 0 && out == 0) return {};
  const size_t planes = g.n * g.c;
  IndexStatus firstBad;  // the lowest bad position any block met
  std::mutex firstBadLock;
  // Outputs (rows [oy0, oy1), columns [ox0, ox1)) of plane p added into dx: false (reported) at a
  // value out of range.
  const auto scatter = [&](size_t p, size_t oy0, size_t oy1, size_t ox0, size_t ox1) {
    if (ox0 >= ox1) return true;  // no columns: oh may be huge when ow is 0
    float* dxp = dx + p * plane;
    for (size_t oy = oy0; oy < oy1; ++oy) {
      for (size_t q = p * out + oy * g.ow + ox0; q < p * out + oy * g.ow + ox1; ++q) {
        const std::uint32_t at = readOnce(argmax + q);
        if (at >= plane) {
          const std::lock_guard<std::mutex> guard(firstBadLock);
          if (firstBad.ok || q < firstBad.position) firstBad = {false, q, at};
          return false;
        }
        dxp[at] += dy[q];
      }
    }
    return true;
  };
  parallel_ranges(planes, planesPerBlock(planes, planes * (plane + out)), 0, [&](size_t first, size_t last) {
    for (size_t p = first; p < last; ++p) {
#if defined(DIGITNET_POOL_SSE2)
      if (unpoolHomeSquares(g, dy + p * out, argmax + p * out, dx + p * plane)) {
        // The outputs outside the home region: rows from h/2 on, and columns from w/2 on above them.
        const size_t rows = std::min(g.oh, g.h / 2), cols = std::min(g.ow, g.w / 2);
        if (!scatter(p, 0, rows, cols, g.ow) || !scatter(p, rows, g.oh, 0, g.ow)) return;
        continue;
      }
#endif
      std::fill(dx + p * plane, dx + (p + 1) * plane, 0.0f);
      if (!scatter(p, 0, g.oh, 0, g.ow)) return;
    }
  });
  return firstBad;
}

}  // namespace digitnet
