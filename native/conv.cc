// Convolution forward and backward (conv.h) as implicit GEMMs over the column matrix:
//   columns (K, P): row k = (j*kh + ky)*kw + kx holds, for each output pixel p = oy*ow + ox of one
//   image, x[j, oy*stride - padTop + ky, ox*stride - padLeft + kx] (0 outside x).
// With K = c*kh*kw and P = oh*ow, per image:
//   forward          y (f,P)        = weight (f,K) columns (K,P) + bias
//   input gradient   dcolumns (K,P) = weight^T (K,f) dy (f,P), each entry added back into dx
//   filter gradient  dweight (f,K) += dy (f,P) columns^T (P,K), summed over the images
// on the micro-kernels of conv_tiles.h: outer products for the first two, inner products along
// the pixels for the third (dy and the columns are both contiguous along them). The forward
// pass may also run transposed, y^T (P,f) = columns^T (P,K) weight^T (K,f): filters as the
// vector lanes (Tiling below).
//
// The micro-kernels read the column matrix's rows through a table of offsets, from one of two
// layouts (chosen per call):
//   pitch     stride 1, an image small enough: the image copied with its padding into planes of
//             Hp x Wp (Hp = oh + kh - 1, Wp = ow + kw - 1), pixels placed at q = oy*Wp + ox.
//             Row k of the column matrix is then the plane's floats from j*Hp*Wp + ky*Wp + kx on:
//             no im2col at all, for (Wp - ow) / Wp of extra work on the positions ox >= ow (their
//             results dropped, or their gradients zeros). The input gradient adds each tile's
//             rows straight into a padded dx the same way, and crops it at the end.
//   columns   anything else: the column matrix built per chunk of at most kColumnFloats (im2col),
//             and the input gradient's added back (col2im).
// Scratch is per thread and only grows; a chunk whose scratch cannot be allocated runs the naive
// loops instead.
#include "conv.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

#include "aligned_buffer.h"
#include "conv_tiles.h"
#include "double_sum.h"
#include "parallel.h"
#include "to_float.h"

// SSE2 is part of x86-64 itself: every x86-64 CPU runs it, no dispatch needed.
#if defined(__x86_64__) || defined(_M_X64)
#define DIGITNET_CONV_SSE2 1
#include <emmintrin.h>
#endif

namespace digitnet {
namespace {

using std::size_t;

size_t ceilDiv(size_t x, size_t y) { return (x + y - 1) / y; }
size_t roundUp(size_t x, size_t to) { return ceilDiv(x, to) * to; }

// Splits [0, total) into the fewest steps of at most `most`, of equal size rounded up to `unit`.
size_t balancedStep(size_t total, size_t most, size_t unit) {
  return roundUp(ceilDiv(total, ceilDiv(total, most)), unit);
}

// Floats of columns per chunk: 256 KB, half of the smallest L2 the kernels meet (Zen 3).
constexpr size_t kColumnFloats = size_t{1} << 16;

// ---- geometry ------------------------------------------------------------------------------

// The outputs o in [lo, hi) (hi <= count) whose input position o*stride + k - pad lies in
// [0, size), for kernel offset k. Computed by division, so that o*stride is only ever formed for
// those outputs (stride and pad may be 2^53); without one at stride 1, the common case.
struct Range {
  size_t lo, hi;
  bool contains(size_t o) const { return o >= lo && o < hi; }
};

Range validOutputs(size_t k, size_t stride, size_t pad, size_t size, size_t count) {
  const size_t end = pad + size;  // <= 2^54
  size_t lo = 0, hi = 0;
  if (stride == 1) {
    lo = k >= pad ? 0 : pad - k;
    hi = end > k ? end - k : 0;
  } else {
    lo = k >= pad ? 0 : ceilDiv(pad - k, stride);
    hi = end > k ? ceilDiv(end - k, stride) : 0;
  }
  lo = std::min(lo, count);
  return {lo, std::max(lo, std::min(hi, count))};
}

// The input position of output o with kernel offset k, for o inside validOutputs.
size_t inputAt(size_t o, size_t k, size_t stride, size_t pad) { return o * stride + k - pad; }

// Every run of the column matrix's rows [k0, k1) over the pixels [p0, p1) of one image that
// lies in one output row and is either all padding or all inside x, in batches of `reps` runs
// of the same length in consecutive output rows:
//   run(row, at, count, in, reps, inStep)  for r < reps, pixels at + r*ow .. + count - 1 of row
//                                          k0+row (relative to p0) read the image's (c,h,w)
//                                          block at in + r*inStep, + stride, ...
//   pad(row, at, count, reps)              those pixels read zeros
// This is the inner loop of im2col and col2im, where runs are short (an output row: 10 pixels in
// the reference net's second layer): the callbacks loop over a batch with nothing to decide.
template <typename Run, typename Pad>
void forEachRun(const ConvGeometry& g, size_t k0, size_t k1, size_t p0, size_t p1, Run run, Pad pad) {
  const size_t taps = g.kh * g.kw, plane = g.h * g.w, inStep = g.stride * g.w;
  // The chunk's output rows: a partial first and last one, and whole ones between.
  const size_t oyFirst = p0 / g.ow, oyEnd = (p1 - 1) / g.ow + 1;
  const size_t firstFrom = p0 - oyFirst * g.ow, lastTo = p1 - (oyEnd - 1) * g.ow;
  size_t j = k0 / taps, ky = k0 % taps / g.kw, kx = k0 % g.kw;
  for (size_t row = 0; row < k1 - k0; ++row) {
    const Range rows = validOutputs(ky, g.stride, g.padTop, g.h, g.oh);
    const Range cols = validOutputs(kx, g.stride, g.padLeft, g.w, g.ow);
    // Output rows [oy0, oy1), pixels [oxa, oxb) of each, the first at `at`.
    const auto outputRows = [&](size_t oy0, size_t oy1, size_t oxa, size_t oxb, size_t at) {
      const size_t width = oxb - oxa;
      const size_t vlo = std::min(std::max(rows.lo, oy0), oy1), vhi = std::min(std::max(rows.hi, vlo), oy1);
      if (vlo > oy0) pad(row, at, width, vlo - oy0);
      if (vhi > vlo) {
        const size_t lo = std::min(std::max(cols.lo, oxa), oxb), hi = std::min(std::max(cols.hi, lo), oxb);
        const size_t rowAt = at + (vlo - oy0) * g.ow, reps = vhi - vlo;
        if (lo > oxa) pad(row, rowAt, lo - oxa, reps);
        if (hi > lo) {
          const size_t iy = inputAt(vlo, ky, g.stride, g.padTop), ix = inputAt(lo, kx, g.stride, g.padLeft);
          run(row, rowAt + lo - oxa, hi - lo, j * plane + iy * g.w + ix, reps, inStep);
        }
        if (oxb > hi) pad(row, rowAt + hi - oxa, oxb - hi, reps);
      }
      if (oy1 > vhi) pad(row, at + (vhi - oy0) * g.ow, width, oy1 - vhi);
    };
    if (oyEnd - oyFirst == 1) {
      outputRows(oyFirst, oyEnd, firstFrom, lastTo, 0);
    } else {
      // Whole rows in one batch, the end rows with them when they are whole too.
      const size_t wholeFrom = firstFrom == 0 ? oyFirst : oyFirst + 1;
      const size_t wholeTo = lastTo == g.ow ? oyEnd : oyEnd - 1;
      if (firstFrom != 0) outputRows(oyFirst, oyFirst + 1, firstFrom, g.ow, 0);
      if (wholeTo > wholeFrom) outputRows(wholeFrom, wholeTo, 0, g.ow, wholeFrom * g.ow - p0);
      if (lastTo != g.ow) outputRows(oyEnd - 1, oyEnd, 0, lastTo, (oyEnd - 1) * g.ow - p0);
    }
    if (++kx == g.kw) {
      kx = 0;
      if (++ky == g.kh) ky = 0, ++j;
    }
  }
}

// Runs of an output row are short (10 pixels in the reference net's second layer), and what a
// run costs beyond its moves counts: up to 32 floats, these are moves of 4 floats, the last one
// overlapping the one before, with no loop (compilers turn a loop of moves into a call of memmove
// or memset, which costs as much as a short run); longer runs are such calls.
constexpr size_t kShortRun = 32;

// d[0, count) = s[0, count).
inline void copyRun(float* __restrict d, const float* __restrict s, size_t count) {
#if defined(DIGITNET_CONV_SSE2)
  if (count >= 4 && count <= kShortRun) {
    const auto move = [&](size_t t) { _mm_storeu_ps(d + t, _mm_loadu_ps(s + t)); };
    for (size_t t = 0; t < kShortRun - 4; t += 4) {  // unrolled: a fixed count
      if (count > t + 4) move(t);
    }
    move(count - 4);
    return;
  }
#endif
  if (count > kShortRun) return static_cast<void>(std::memcpy(d, s, count * sizeof(float)));
  for (size_t t = 0; t < count; ++t) d[t] = s[t];
}

// d[0, count) = 0.
inline void zeroRun(float* d, size_t count) {
#if defined(DIGITNET_CONV_SSE2)
  if (count >= 4 && count <= kShortRun) {
    const __m128 zero = _mm_setzero_ps();
    for (size_t t = 0; t < kShortRun - 4; t += 4) {
      if (count > t + 4) _mm_storeu_ps(d + t, zero);
    }
    _mm_storeu_ps(d + count - 4, zero);
    return;
  }
#endif
  std::fill_n(d, count, 0.0f);
}

// d[0, count) += s[0, count) (no overlapping moves here: an element must be added once).
inline void addRun(float* __restrict d, const float* __restrict s, size_t count) {
  size_t t = 0;
#if defined(DIGITNET_CONV_SSE2)
  for (; t + 4 <= count; t += 4) _mm_storeu_ps(d + t, _mm_add_ps(_mm_loadu_ps(d + t), _mm_loadu_ps(s + t)));
#endif
  for (; t < count; ++t) d[t] += s[t];
}

// columns[row*ld + p - p0] for rows [k0, k1) and pixels [p0, p1) of the image xi (c,h,w).
void im2col(const ConvGeometry& g, const float* xi, size_t k0, size_t k1, size_t p0, size_t p1,
            float* columns, size_t ld) {
  const size_t stride = g.stride, ow = g.ow;
  forEachRun(
      g, k0, k1, p0, p1,
      [=](size_t row, size_t at, size_t count, size_t in, size_t reps, size_t inStep) {
        float* d = columns + row * ld + at;
        const float* s = xi + in;
        for (size_t r = 0; r < reps; ++r, d += ow, s += inStep) {
          if (stride == 1) {
            copyRun(d, s, count);
          } else {
            for (size_t t = 0; t < count; ++t) d[t] = s[t * stride];
          }
        }
      },
      [=](size_t row, size_t at, size_t count, size_t reps) {
        float* d = columns + row * ld + at;
        if (count == ow) return zeroRun(d, count * reps);  // whole rows: one run
        for (size_t r = 0; r < reps; ++r, d += ow) zeroRun(d, count);
      });
}

// dxi (c,h,w) += the column matrix dcolumns[row*ld + p - p0] (rows [k0, k1), pixels [p0, p1)),
// each column entry added to the input position it was read from.
void col2im(const ConvGeometry& g, const float* dcolumns, size_t ld, size_t k0, size_t k1,
            size_t p0, size_t p1, float* dxi) {
  const size_t stride = g.stride, ow = g.ow;
  forEachRun(
      g, k0, k1, p0, p1,
      [=](size_t row, size_t at, size_t count, size_t in, size_t reps, size_t inStep) {
        const float* s = dcolumns + row * ld + at;
        float* d = dxi + in;
        for (size_t r = 0; r < reps; ++r, s += ow, d += inStep) {
          if (stride == 1) {
            addRun(d, s, count);
          } else {
            for (size_t t = 0; t < count; ++t) d[t * stride] += s[t];
          }
        }
      },
      [](size_t, size_t, size_t, size_t) {});
}

// Whether every read of x is padding (or there is nothing to read): the convolution is then
// bias alone. Checked factor by factor: a product may be huge where another factor is 0.
bool readsNothing(const ConvGeometry& g) {
  return g.c == 0 || g.kh == 0 || g.kw == 0 || g.h == 0 || g.w == 0;
}

// ---- scratch -------------------------------------------------------------------------------

// One per thread, reused across calls. Its size is bounded by kColumnFloats (and by the filter
// count, for the filter gradient's dy rows), or by kPitchFloats in the pitch layout.
thread_local AlignedBuffer t_scratch;

// A buffer for one call, or nullptr when it cannot be allocated.
std::unique_ptr<float[]> tryAllocate(size_t count) {
  return std::unique_ptr<float[]>(new (std::nothrow) float[count]);
}

// ---- naive loops ---------------------------------------------------------------------------
// The definitions, sums in double: the references, and each fast kernel's fallback for a chunk
// whose scratch could not be allocated.

// y (f,P) of image xi for the pixels [p0, p1); K > 0.
void forwardNaive(const ConvGeometry& g, const float* xi, const float* weight, const float* bias,
                  float* yi, size_t p0, size_t p1) {
  const size_t pixels = g.oh * g.ow, K = g.c * g.kh * g.kw;
  for (size_t o = 0; o < g.f; ++o) {
    for (size_t p = p0; p < p1; ++p) {
      const size_t oy = p / g.ow, ox = p % g.ow;
      double sum = bias[o];
      for (size_t ky = 0; ky < g.kh; ++ky) {
        if (!validOutputs(ky, g.stride, g.padTop, g.h, g.oh).contains(oy)) continue;
        const size_t iy = inputAt(oy, ky, g.stride, g.padTop);
        for (size_t kx = 0; kx < g.kw; ++kx) {
          if (!validOutputs(kx, g.stride, g.padLeft, g.w, g.ow).contains(ox)) continue;
          const size_t ix = inputAt(ox, kx, g.stride, g.padLeft);
          for (size_t j = 0; j < g.c; ++j) {
            sum += static_cast<double>(weight[o * K + (j * g.kh + ky) * g.kw + kx]) *
                   xi[(j * g.h + iy) * g.w + ix];
          }
        }
      }
      yi[o * pixels + p] = toFloat(sum);
    }
  }
}

// dx of image i for the channels [c0, c1), overwritten; f, oh, ow, kh, kw > 0.
void backwardDataNaive(const ConvGeometry& g, const float* dyi, const float* weight, float* dxi,
                       size_t c0, size_t c1) {
  const size_t pixels = g.oh * g.ow, K = g.c * g.kh * g.kw;
  for (size_t j = c0; j < c1; ++j) {
    for (size_t iy = 0; iy < g.h; ++iy) {
      for (size_t ix = 0; ix < g.w; ++ix) {
        double sum = 0.0;
        // Output oy reads input row iy with kernel row ky when oy*stride + ky = iy + padTop.
        for (size_t ky = 0; ky < g.kh && ky <= iy + g.padTop; ++ky) {
          const size_t ty = iy + g.padTop - ky;
          if (ty % g.stride != 0 || ty / g.stride >= g.oh) continue;
          for (size_t kx = 0; kx < g.kw && kx <= ix + g.padLeft; ++kx) {
            const size_t tx = ix + g.padLeft - kx;
            if (tx % g.stride != 0 || tx / g.stride >= g.ow) continue;
            const size_t p = ty / g.stride * g.ow + tx / g.stride;
            for (size_t o = 0; o < g.f; ++o) {
              sum += static_cast<double>(weight[o * K + (j * g.kh + ky) * g.kw + kx]) * dyi[o * pixels + p];
            }
          }
        }
        dxi[(j * g.h + iy) * g.w + ix] = toFloat(sum);
      }
    }
  }
}

// grad (f,K) += the filter gradient of images [i0, i1), and with sums, sums[o] += their dy for
// filter o; oh, ow > 0 and no factor of K or of the image is 0.
void backwardFilterNaive(const ConvGeometry& g, const float* x, const float* dy, size_t i0, size_t i1,
                         float* grad, double* sums) {
  const size_t pixels = g.oh * g.ow, K = g.c * g.kh * g.kw;
  for (size_t o = 0; o < g.f && sums != nullptr; ++o) {
    DoubleSum sum;
    for (size_t i = i0; i < i1; ++i) {
      const float* dyo = dy + (i * g.f + o) * pixels;
      sum.add(pixels, [=](size_t p) { return static_cast<double>(dyo[p]); });
    }
    sums[o] += sum.total();
  }
  for (size_t o = 0; o < g.f; ++o) {
    for (size_t k = 0; k < K; ++k) {
      const size_t j = k / (g.kh * g.kw), ky = k / g.kw % g.kh, kx = k % g.kw;
      const Range rows = validOutputs(ky, g.stride, g.padTop, g.h, g.oh);
      const Range cols = validOutputs(kx, g.stride, g.padLeft, g.w, g.ow);
      double sum = 0.0;
      for (size_t i = i0; i < i1; ++i) {
        const float* xj = x + (i * g.c + j) * g.h * g.w;
        const float* dyo = dy + (i * g.f + o) * pixels;
        for (size_t oy = rows.lo; oy < rows.hi; ++oy) {
          const size_t iy = inputAt(oy, ky, g.stride, g.padTop);
          for (size_t ox = cols.lo; ox < cols.hi; ++ox) {
            sum += static_cast<double>(dyo[oy * g.ow + ox]) * xj[iy * g.w + inputAt(ox, kx, g.stride, g.padLeft)];
          }
        }
      }
      grad[o * K + k] = toFloat(grad[o * K + k] + sum);
    }
  }
}

// The sum of x[0, count) for the bias gradient: 32 running float sums, added pairwise at the end.
// Summing each term in double instead (a chain of dependent adds per lane) took half as long as
// the first layer's weight gradient itself. A lane adds count / 32 terms (18 for an image's
// filter in the reference net's first layer): the float sum is then as exact as the weight
// gradient's own.
double laneSum(const float* x, size_t count) {
  size_t i = 0;
  double sum = 0.0;
#if defined(DIGITNET_CONV_SSE2)
  if (count >= 32) {
    __m128 acc[8];
    for (size_t v = 0; v < 8; ++v) acc[v] = _mm_loadu_ps(x + 4 * v);
    for (i = 32; i + 32 <= count; i += 32) {
      for (size_t v = 0; v < 8; ++v) acc[v] = _mm_add_ps(acc[v], _mm_loadu_ps(x + i + 4 * v));
    }
    for (size_t half = 4; half > 0; half /= 2) {
      for (size_t v = 0; v < half; ++v) acc[v] = _mm_add_ps(acc[v], acc[v + half]);
    }
    float lanes[4];
    _mm_storeu_ps(lanes, acc[0]);
    sum = static_cast<double>((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]));
  }
#endif
  for (; i < count; ++i) sum += x[i];
  return sum;
}

// x = beta * x over n floats; beta == 0 overwrites.
void scale(size_t n, float* x, float beta) {
  if (beta == 0.0f) {
    std::fill_n(x, n, 0.0f);
  } else if (beta != 1.0f) {
    for (size_t i = 0; i < n; ++i) x[i] *= beta;
  }
}

// ---- tile plans ----------------------------------------------------------------------------

// Accumulators a tile needs to hide the FMA latency on both FMA units (4 cycles x 2 units): a
// tile with fewer takes as long as one with that many.
constexpr size_t kMinAccumulators = 8;

// A step of a tile of r rows and v vectors: r*v multiply-adds and r + v loads (v of B, r
// broadcasts of A), two of each a cycle at best; in units of half a cycle.
size_t stepCost(size_t r, size_t v) { return std::max({r * v, r + v, kMinAccumulators}); }

// Epilogue cost, in vector operations per row and vector of a tile: storing, adding into C (load,
// add, store), or storing into a scratch tile and copying its runs into C.
constexpr double kStoreEpilogue = 1, kAddEpilogue = 3, kScratchEpilogue = 6;

// The epilogue of a tile whose lanes are filters: a vector stored into a scratch tile, then its
// lanes copied one by one into y's filter rows.
double transposeEpilogue(const ConvTiles& t) { return 2.0 + static_cast<double>(t.lanes); }

// How the forward pass in the pitch layout cuts its tiles:
//   span          filters as rows, positions as lanes, over the whole pitch space (kept runs
//                 copied into y)
//   rows          filters as rows, positions as lanes, inside output rows (written into y)
//   filterLanes   an output row's pixels as rows, filters as lanes (copied into y transposed):
//                 no lane computes a dropped position, which pays where the filters fill whole
//                 vectors and output rows are short (the reference net's second layer: 32
//                 filters, rows of 10)
enum class Tiling { span, rows, filterLanes };

// How outputs are cut into outer tiles (conv_tiles.h): `width` lanes (`vectors` vectors) by
// `rows` rows.
struct OuterPlan {
  size_t vectors, rows, width;
  Tiling tiling;  // pitch layout, forward; span elsewhere
  double cost;
};

// The time of `count` tiles of `lanes` positions over `height` rows of output, `depth` steps
// deep, in vector multiply-adds (and epilogue operations, counted alike).
double tilesCost(const ConvTiles& t, size_t rows, double count, size_t lanes, size_t height, size_t depth,
                 double epilogue) {
  if (count == 0 || lanes == 0) return 0;
  const size_t v = ceilDiv(lanes, t.lanes);
  const auto tile = [&](size_t r) {
    return static_cast<double>(stepCost(r, v)) * static_cast<double>(depth) + epilogue * r * v;
  };
  const size_t rest = height % rows;
  return count * (static_cast<double>(height / rows) * tile(rows) + (rest != 0 ? tile(rest) : 0));
}

// The cheapest tile shape for `positions` positions in tiles cut end to end (the last one
// shorter), over `height` rows, `depth` deep.
OuterPlan planRun(const ConvTiles& t, size_t positions, size_t height, size_t depth, double epilogue) {
  OuterPlan best{};
  for (size_t v = 1; v <= kMaxOuterVectors; ++v) {
    const size_t rows = t.outerRows[v - 1], width = v * t.lanes;
    const double cost = tilesCost(t, rows, static_cast<double>(positions / width), width, height, depth, epilogue) +
                        tilesCost(t, rows, 1, positions % width, height, depth, epilogue);
    if (v == 1 || cost < best.cost) best = {v, rows, width, Tiling::span, cost};
  }
  return best;
}

// ---- the pitch layout ----------------------------------------------------------------------

// Floats a tile may read or write past the last plane of a padded image: its lanes past the last
// position (a tile is at most 3 x 16 wide; the filter gradient pads to kInnerStep).
constexpr size_t kPitchSlack = 64;

// Floats of pitch-layout scratch an image may take per thread (8 MB): above, the column layout,
// whose chunks are bounded whatever the image.
constexpr double kPitchFloats = 2097152;

struct Pitch {
  size_t hp, wp, plane;  // padded planes: hp x wp
  size_t positions;      // (oh - 1) * wp + ow: pitch space up to the last output pixel
  size_t imageFloats;    // c * plane + kPitchSlack
  // No padding, and x's planes are exactly the padded ones (a 'valid' convolution whose outputs
  // read every row and column): the kernels read x, and write dx, in place.
  bool inPlace;
};

// The pitch layout of g, when it applies: stride 1, and an image's padded planes fit kPitchFloats
// with `planesMore` planes' worth of floats more (dy in pitch space, for the gradients).
bool pitchLayout(const ConvGeometry& g, double planesMore, Pitch* pitch) {
  if (g.stride != 1) return false;
  // oh, ow, kh, kw are each at most a buffer's length: their sums fit, their products may not.
  const double hp = static_cast<double>(g.oh + g.kh - 1), wp = static_cast<double>(g.ow + g.kw - 1);
  if ((static_cast<double>(g.c) + planesMore) * hp * wp > kPitchFloats) return false;
  pitch->hp = g.oh + g.kh - 1;
  pitch->wp = g.ow + g.kw - 1;
  pitch->plane = pitch->hp * pitch->wp;
  pitch->positions = (g.oh - 1) * pitch->wp + g.ow;
  pitch->imageFloats = g.c * pitch->plane + kPitchSlack;
  pitch->inPlace = g.padTop == 0 && g.padLeft == 0 && pitch->hp == g.h && pitch->wp == g.w;
  return true;
}

// xp = the image xi in the pitch layout: planes of x with their padding, zeros elsewhere (the
// slack too).
void padImage(const ConvGeometry& g, const Pitch& L, const float* xi, float* xp) {
  std::fill_n(xp, L.imageFloats, 0.0f);
  // Padded rows [padTop, padTop + h) and columns [padLeft, padLeft + w) hold x, cut to the plane.
  if (g.padTop >= L.hp || g.padLeft >= L.wp) return;
  const size_t rows = std::min(g.h, L.hp - g.padTop), cols = std::min(g.w, L.wp - g.padLeft);
  for (size_t j = 0; j < g.c; ++j) {
    for (size_t iy = 0; iy < rows; ++iy) {
      copyRun(xp + j * L.plane + (iy + g.padTop) * L.wp + g.padLeft, xi + (j * g.h + iy) * g.w, cols);
    }
  }
}

// rows (count, oh, ow) -> (count, width): each row's pixels placed at oy*wp + ox, zeros between
// and after (dy in pitch space, for the gradients). With sums, sums[o] also adds row o's values.
void pitchRows(const ConvGeometry& g, const Pitch& L, size_t count, const float* rows, size_t width, float* out,
               double* sums) {
  const size_t pixels = g.oh * g.ow;
  for (size_t o = 0; o < count; ++o) {
    float* to = out + o * width;
    for (size_t oy = 0; oy < g.oh; ++oy) {
      copyRun(to + oy * L.wp, rows + o * pixels + oy * g.ow, g.ow);
      if (oy + 1 < g.oh) zeroRun(to + oy * L.wp + g.ow, L.wp - g.ow);
    }
    zeroRun(to + L.positions, width - L.positions);
    if (sums != nullptr) sums[o] += laneSum(rows + o * pixels, pixels);
  }
}

// Offsets of the column matrix's rows in the pitch layout: j*plane + ky*wp + kx for k = (j, ky,
// kx), k in the natural order or (kx, ky, j) order (tapsOuter).
std::unique_ptr<size_t[]> pitchOffsets(const ConvGeometry& g, const Pitch& L, bool tapsOuter) {
  const size_t K = g.c * g.kh * g.kw;
  std::unique_ptr<size_t[]> offsets(new (std::nothrow) size_t[K]);
  if (!offsets) return offsets;
  size_t k = 0;
  for (size_t outer = 0; outer < (tapsOuter ? g.kw : g.c); ++outer) {
    for (size_t ky = 0; ky < g.kh; ++ky) {
      for (size_t inner = 0; inner < (tapsOuter ? g.c : g.kw); ++inner) {
        const size_t j = tapsOuter ? inner : outer, kx = tapsOuter ? outer : inner;
        offsets[k++] = j * L.plane + ky * L.wp + kx;
      }
    }
  }
  return offsets;
}

// Offsets 0, step, 2*step, ...: rows of a matrix, for the micro-kernels' tables.
std::unique_ptr<size_t[]> rowOffsets(size_t count, size_t step) {
  std::unique_ptr<size_t[]> offsets(new (std::nothrow) size_t[count]);
  if (offsets) {
    for (size_t r = 0; r < count; ++r) offsets[r] = r * step;
  }
  return offsets;
}

// The first output pixel at or after pitch position q (P past the last).
size_t pixelAtOrAfter(const ConvGeometry& g, const Pitch& L, size_t q) {
  if (q >= L.positions) return g.oh * g.ow;
  return q / L.wp * g.ow + std::min(q % L.wp, g.ow);
}

// A run of a tile's lanes that are output pixels: lanes [lane, lane + count) are pixels from `pixel`.
struct PixelRun {
  size_t lane, count, pixel;
};

// The runs of pixels among the pitch positions [q0, q0 + lanes); at most lanes / 2 + 2 of them
// in span mode (wp > ow: a row's run is followed by at least one dropped position).
size_t pixelRuns(const ConvGeometry& g, const Pitch& L, size_t q0, size_t lanes, PixelRun* runs) {
  size_t count = 0;
  for (size_t lane = 0; lane < lanes;) {
    const size_t q = q0 + lane, oy = q / L.wp, ox = q % L.wp;
    if (ox >= g.ow) {
      lane += L.wp - ox;
      continue;
    }
    const size_t n = std::min(g.ow - ox, lanes - lane);
    runs[count++] = {lane, n, oy * g.ow + ox};
    lane += n;
  }
  return count;
}

// The forward pass's tiles in the pitch layout (Tiling): the cheapest for this shape.
OuterPlan planForwardPitch(const ConvTiles& t, const ConvGeometry& g, const Pitch& L, size_t K) {
  OuterPlan best = planRun(t, g.ow, g.f, K, kStoreEpilogue);
  best.cost *= static_cast<double>(g.oh);
  best.tiling = Tiling::rows;
  if (L.wp > g.ow) {
    const OuterPlan span = planRun(t, L.positions, g.f, K, kScratchEpilogue);
    if (span.cost < best.cost) best = span;
  }
  // Filter lanes: blocks of `width` filters over each output row's pixels.
  for (size_t v = 1; v <= kMaxOuterVectors; ++v) {
    const size_t rows = t.outerRows[v - 1], width = v * t.lanes;
    const double cost = static_cast<double>(g.oh) *
                        (tilesCost(t, rows, static_cast<double>(g.f / width), width, g.ow, K, transposeEpilogue(t)) +
                         tilesCost(t, rows, 1, g.f % width, g.ow, K, transposeEpilogue(t)));
    if (cost < best.cost) best = {v, rows, width, Tiling::filterLanes, cost};
  }
  return best;
}

// ---- tile loops ----------------------------------------------------------------------------

// The forward pass's tiles of one image in the pitch layout, in the plan's order: in span mode
// runs of `width` positions; in row mode those inside an output row; with filter lanes runs of
// `rows` pixels of an output row.
size_t forwardTiles(const ConvGeometry& g, const Pitch& L, const OuterPlan& plan) {
  switch (plan.tiling) {
    case Tiling::span: return ceilDiv(L.positions, plan.width);
    case Tiling::rows: return g.oh * ceilDiv(g.ow, plan.width);
    case Tiling::filterLanes: return g.oh * ceilDiv(g.ow, plan.rows);
  }
  return 0;
}

// A forward tile's first pitch position, how many positions it covers, and (inside an output
// row, outside span mode) its first output pixel.
struct TileSpan {
  size_t q0, count, pixel;
};
TileSpan forwardTileSpan(const ConvGeometry& g, const Pitch& L, const OuterPlan& plan, size_t tileIndex) {
  if (plan.tiling == Tiling::span) {
    const size_t q0 = tileIndex * plan.width;
    return {q0, std::min(plan.width, L.positions - q0), 0};
  }
  const size_t run = plan.tiling == Tiling::rows ? plan.width : plan.rows, perRow = ceilDiv(g.ow, run);
  const size_t oy = tileIndex / perRow, ox0 = tileIndex % perRow * run;
  return {oy * L.wp + ox0, std::min(run, g.ow - ox0), oy * g.ow + ox0};
}

// Forward tiles [t0, t1) of one image in the pitch layout. wt is weight^T (K, f), wtOffsets its
// rows' offsets (k * f, for filter lanes); xp the padded image, offsets its rows of the column
// matrix; tile a scratch tile of kMaxOuterRows x plan.width floats.
void forwardPitchTiles(const ConvTiles& t, const ConvGeometry& g, const Pitch& L, const OuterPlan& plan,
                       const float* wt, const size_t* wtOffsets, const size_t* offsets, const float* xp,
                       const float* bias, float* yi, size_t t0, size_t t1, float* tile) {
  const size_t K = g.c * g.kh * g.kw, pixels = g.oh * g.ow;
  PixelRun runs[kMaxOuterVectors * 16 / 2 + 2];
  float* rowsOfC[kMaxOuterRows];
  for (size_t tileIndex = t0; tileIndex < t1; ++tileIndex) {
    const TileSpan span = forwardTileSpan(g, L, plan, tileIndex);
    if (plan.tiling == Tiling::filterLanes) {
      for (size_t i = 0; i < span.count; ++i) rowsOfC[i] = tile + i * plan.width;
      for (size_t o = 0; o < g.f; o += plan.width) {
        const size_t lanes = std::min(plan.width, g.f - o);
        t.outer({span.count, lanes, K, xp + span.q0, 0, offsets, wt + o, wtOffsets, rowsOfC, false, nullptr});
        for (size_t l = 0; l < lanes; ++l) {
          float* yRow = yi + (o + l) * pixels + span.pixel;
          for (size_t i = 0; i < span.count; ++i) yRow[i] = bias[o + l] + tile[i * plan.width + l];
        }
      }
      continue;
    }
    size_t runCount = 1;
    if (plan.tiling == Tiling::span) {
      runCount = pixelRuns(g, L, span.q0, span.count, runs);
    } else {
      runs[0] = {0, span.count, span.pixel};
    }
    const bool direct = runCount == 1 && runs[0].count == span.count;
    for (size_t o = 0; o < g.f; o += plan.rows) {
      const size_t rows = std::min(plan.rows, g.f - o);
      for (size_t i = 0; i < rows; ++i) {
        rowsOfC[i] = direct ? yi + (o + i) * pixels + runs[0].pixel : tile + i * plan.width;
      }
      t.outer({rows, span.count, K, wt + o, g.f, nullptr, xp + span.q0, offsets, rowsOfC, false, bias + o});
      if (direct) continue;
      for (size_t i = 0; i < rows; ++i) {
        for (size_t r = 0; r < runCount; ++r) {
          copyRun(yi + (o + i) * pixels + runs[r].pixel, tile + i * plan.width + runs[r].lane, runs[r].count);
        }
      }
    }
  }
}

// grad (f, cols) += the inner products of the f rows of A (lda apart) with `cols` rows of B (at
// offsets), over `segments` pairs of blocks (aStep and bStep apart), in tiles of the ISA; grad's
// rows are ldg apart.
void innerProducts(const ConvTiles& t, size_t f, size_t cols, size_t segments, size_t len, const float* a,
                   size_t lda, size_t aStep, const float* b, const size_t* offsets, size_t bStep, float* grad,
                   size_t ldg) {
  // Rows of A outermost: a tile's rows of A (over every segment) stay in L1 while the rows of B
  // pass them, which in the pitch layout are windows of a few images that overlap each other.
  for (size_t o = 0; o < f; o += t.innerRows) {
    const size_t tileRows = std::min(t.innerRows, f - o);
    for (size_t k = 0; k < cols; k += t.innerCols) {
      t.inner(tileRows, std::min(t.innerCols, cols - k), segments, len, a + o * lda, lda, aStep, b, offsets + k,
              bStep, grad + o * ldg + k, ldg);
    }
  }
}

}  // namespace

// ---- forward -------------------------------------------------------------------------------

void conv2d(const ConvGeometry& g, const float* x, const float* weight, const float* bias, float* y) {
  if (g.n == 0 || g.f == 0 || g.oh == 0 || g.ow == 0) return;
  const size_t pixels = g.oh * g.ow;
  if (readsNothing(g)) return conv2dReference(g, x, weight, bias, y);
  const ConvTiles& t = convTiles();
  const size_t K = g.c * g.kh * g.kw, imageFloats = g.c * g.h * g.w;
  // weight^T (K, f): row k of it is the micro-kernel's A at step k, for any rows of filters.
  const std::unique_ptr<float[]> wt = tryAllocate(K * g.f);
  if (!wt) return conv2dReference(g, x, weight, bias, y);
  for (size_t o = 0; o < g.f; ++o) {
    for (size_t k = 0; k < K; ++k) wt[k * g.f + o] = weight[o * K + k];
  }
  const size_t threads = static_cast<size_t>(getThreads());
  Pitch L{};
  if (pitchLayout(g, 0, &L)) {
    const std::unique_ptr<size_t[]> offsets = pitchOffsets(g, L, false), wtOffsets = rowOffsets(K, g.f);
    if (!offsets || !wtOffsets) return conv2dReference(g, x, weight, bias, y);
    const OuterPlan plan = planForwardPitch(t, g, L, K);
    const size_t tiles = forwardTiles(g, L, plan);
    // Images split into groups of tiles only as far as it takes to give every thread a block.
    const size_t groups = std::min(tiles, g.n >= threads ? size_t{1} : ceilDiv(threads, g.n));
    const auto tileStart = [&](size_t tileIndex) {
      return tileIndex == tiles ? L.positions : forwardTileSpan(g, L, plan, tileIndex).q0;
    };
    parallel_for(g.n * groups, [&](size_t block) {
      const size_t i = block / groups, group = block % groups;
      const size_t t0 = tiles * group / groups, t1 = tiles * (group + 1) / groups;
      const float* xi = x + i * imageFloats;
      float* yi = y + i * g.f * pixels;
      const size_t p0 = pixelAtOrAfter(g, L, tileStart(t0)), p1 = pixelAtOrAfter(g, L, tileStart(t1));
      // Tiles read only lanes up to the last position: x itself when it is in the layout.
      float* scratch = t_scratch.reserve((L.inPlace ? 0 : L.imageFloats) + kMaxOuterRows * plan.width);
      if (scratch == nullptr) return forwardNaive(g, xi, weight, bias, yi, p0, p1);
      if (!L.inPlace) padImage(g, L, xi, scratch);
      forwardPitchTiles(t, g, L, plan, wt.get(), wtOffsets.get(), offsets.get(), L.inPlace ? xi : scratch, bias, yi, t0,
                        t1, L.inPlace ? scratch : scratch + L.imageFloats);
    });
    return;
  }
  // Column layout: chunks of pixels of one image, k blocks of at most 256 rows.
  const size_t kc = balancedStep(K, 256, 1);
  const size_t chunk = std::min(pixels, std::max(size_t{64}, kColumnFloats / kc / 16 * 16));
  const size_t ld = roundUp(chunk, 16), chunks = ceilDiv(pixels, chunk);
  const std::unique_ptr<size_t[]> offsets = rowOffsets(kc, ld);
  if (!offsets) return conv2dReference(g, x, weight, bias, y);
  const OuterPlan plan = planRun(t, chunk, g.f, kc, kStoreEpilogue);
  parallel_for(g.n * chunks, [&](size_t block) {
    const size_t i = block / chunks, p0 = block % chunks * chunk, p1 = std::min(pixels, p0 + chunk);
    const float* xi = x + i * imageFloats;
    float* yi = y + i * g.f * pixels;
    float* columns = t_scratch.reserve(kc * ld);
    if (columns == nullptr) return forwardNaive(g, xi, weight, bias, yi, p0, p1);
    float* rowsOfC[kMaxOuterRows];
    for (size_t k0 = 0; k0 < K; k0 += kc) {
      const size_t kb = std::min(kc, K - k0);
      im2col(g, xi, k0, k0 + kb, p0, p1, columns, ld);
      for (size_t q0 = p0; q0 < p1; q0 += plan.width) {
        const size_t lanes = std::min(plan.width, p1 - q0);
        for (size_t o = 0; o < g.f; o += plan.rows) {
          const size_t rows = std::min(plan.rows, g.f - o);
          for (size_t r = 0; r < rows; ++r) rowsOfC[r] = yi + (o + r) * pixels + q0;
          // The first k block starts from the bias, the others add to it.
          t.outer({rows, lanes, kb, wt.get() + k0 * g.f + o, g.f, nullptr, columns + (q0 - p0), offsets.get(), rowsOfC,
                   k0 > 0, bias + o});
        }
      }
    }
  });
}

// ---- input gradient ------------------------------------------------------------------------

void conv2dBackwardData(const ConvGeometry& g, const float* dy, const float* weight, float* dx) {
  if (g.n == 0 || g.c == 0 || g.h == 0 || g.w == 0) return;
  const size_t imageFloats = g.c * g.h * g.w;
  if (g.f == 0 || g.oh == 0 || g.ow == 0 || g.kh == 0 || g.kw == 0) {
    std::fill_n(dx, g.n * imageFloats, 0.0f);
    return;
  }
  const ConvTiles& t = convTiles();
  const size_t taps = g.kh * g.kw, K = g.c * taps, pixels = g.oh * g.ow, plane = g.h * g.w;
  Pitch L{};
  // dy in pitch space takes f rows of up to positions + a tile.
  if (g.n >= static_cast<size_t>(getThreads()) && pitchLayout(g, static_cast<double>(g.f), &L)) {
    const OuterPlan plan = planRun(t, L.positions, K, g.f, kAddEpilogue);
    const size_t width = roundUp(L.positions, plan.width);  // whole tiles: dy is 0 past the pixels
    // Rows of the column matrix in (kx, ky, j) order: the rows of a tile are other channels'
    // (other planes) or other kernel rows' (wp apart), so that the tile's rows of dx, added one
    // after the other, rarely overlap (a load overlapping a store just made waits for it).
    const std::unique_ptr<size_t[]> offsets = pitchOffsets(g, L, true);
    const std::unique_ptr<size_t[]> dyOffsets = rowOffsets(g.f, width);
    const std::unique_ptr<float[]> wt = tryAllocate(g.f * K);  // weight (f, K) in that order
    if (!offsets || !dyOffsets || !wt) return conv2dBackwardDataReference(g, dy, weight, dx);
    for (size_t o = 0; o < g.f; ++o) {
      size_t kk = 0;
      for (size_t kx = 0; kx < g.kw; ++kx) {
        for (size_t ky = 0; ky < g.kh; ++ky) {
          for (size_t j = 0; j < g.c; ++j) wt[o * K + kk++] = weight[o * K + (j * g.kh + ky) * g.kw + kx];
        }
      }
    }
    parallel_for(g.n, [&](size_t i) {
      const float* dyi = dy + i * g.f * pixels;
      float* dxi = dx + i * imageFloats;
      // In place, tiles add into dx itself, their lanes cut at the last position (past it they
      // would add zeros to the next image, which another thread may be writing); otherwise into
      // a padded dx, whole tiles, then cropped.
      float* scratch = t_scratch.reserve((L.inPlace ? 0 : L.imageFloats) + g.f * width);
      if (scratch == nullptr) return backwardDataNaive(g, dyi, weight, dxi, 0, g.c);
      float* dxp = L.inPlace ? dxi : scratch;
      float* dyp = L.inPlace ? scratch : scratch + L.imageFloats;
      std::fill_n(dxp, L.inPlace ? imageFloats : L.imageFloats, 0.0f);
      pitchRows(g, L, g.f, dyi, width, dyp, nullptr);
      float* rowsOfC[kMaxOuterRows];
      for (size_t q0 = 0; q0 < width; q0 += plan.width) {
        const size_t lanes = L.inPlace ? std::min(plan.width, L.positions - q0) : plan.width;
        for (size_t r0 = 0; r0 < K; r0 += plan.rows) {
          const size_t rows = std::min(plan.rows, K - r0);
          for (size_t r = 0; r < rows; ++r) rowsOfC[r] = dxp + offsets[r0 + r] + q0;
          t.outer({rows, lanes, g.f, wt.get() + r0, K, nullptr, dyp + q0, dyOffsets.get(), rowsOfC, true, nullptr});
        }
      }
      if (L.inPlace) return;
      // dx = the padded gradient cut to x: positions no output read get 0.
      for (size_t j = 0; j < g.c; ++j) {
        for (size_t iy = 0; iy < g.h; ++iy) {
          float* row = dxi + (j * g.h + iy) * g.w;
          const size_t py = iy + g.padTop, cols = g.padLeft < L.wp ? std::min(g.w, L.wp - g.padLeft) : 0;
          if (py >= L.hp) {
            std::fill_n(row, g.w, 0.0f);
            continue;
          }
          copyRun(row, dxp + j * L.plane + py * L.wp + g.padLeft, cols);
          std::fill(row + cols, row + g.w, 0.0f);
        }
      }
    });
    return;
  }
  // Column layout: blocks are (image, group of channels), the channels' dx theirs alone; channels
  // are split only as far as it takes to give every thread a block.
  const size_t threads = static_cast<size_t>(getThreads());
  const size_t groups = std::min(g.c, g.n >= threads ? size_t{1} : ceilDiv(threads, g.n));
  const size_t rowsMax = std::min(K, size_t{256});
  const size_t chunk = std::min(pixels, std::max(size_t{64}, kColumnFloats / rowsMax / 16 * 16));
  const size_t ld = roundUp(chunk, 16);
  const std::unique_ptr<size_t[]> dyOffsets = rowOffsets(g.f, pixels);
  if (!dyOffsets) return conv2dBackwardDataReference(g, dy, weight, dx);
  const OuterPlan plan = planRun(t, chunk, rowsMax, g.f, 1);
  parallel_for(g.n * groups, [&](size_t block) {
    const size_t i = block / groups, group = block % groups;
    const size_t c0 = g.c * group / groups, c1 = g.c * (group + 1) / groups;
    const float* dyi = dy + i * g.f * pixels;
    float* dxi = dx + i * imageFloats;
    float* dcolumns = t_scratch.reserve(rowsMax * ld);
    if (dcolumns == nullptr) return backwardDataNaive(g, dyi, weight, dxi, c0, c1);
    std::fill(dxi + c0 * plane, dxi + c1 * plane, 0.0f);
    float* rowsOfC[kMaxOuterRows];
    for (size_t k0 = c0 * taps; k0 < c1 * taps; k0 += rowsMax) {
      const size_t kb = std::min(rowsMax, c1 * taps - k0);
      for (size_t p0 = 0; p0 < pixels; p0 += chunk) {
        const size_t width = std::min(chunk, pixels - p0);
        // weight^T read in place (row k of weight^T is column k of weight: as = K), dy too.
        for (size_t q0 = 0; q0 < width; q0 += plan.width) {
          const size_t lanes = std::min(plan.width, width - q0);
          for (size_t r0 = 0; r0 < kb; r0 += plan.rows) {
            const size_t rows = std::min(plan.rows, kb - r0);
            for (size_t r = 0; r < rows; ++r) rowsOfC[r] = dcolumns + (r0 + r) * ld + q0;
            t.outer({rows, lanes, g.f, weight + k0 + r0, K, nullptr, dyi + p0 + q0, dyOffsets.get(), rowsOfC, false, nullptr});
          }
        }
        col2im(g, dcolumns, ld, k0, k0 + kb, p0, p0 + width, dxi);
      }
    }
  });
}

// ---- filter gradient -----------------------------------------------------------------------

void conv2dBackwardFilter(const ConvGeometry& g, const float* x, const float* dy, float* dWeight,
                          float* dBias, float beta) {
  if (g.f == 0) return;
  // Without weights, or without a product of x and dy (no pixels, or every read of x is padding),
  // what is left is dBias's sums over dy (and dWeight's beta).
  if (g.c == 0 || g.kh == 0 || g.kw == 0 || g.n == 0 || g.oh == 0 || g.ow == 0 || g.h == 0 || g.w == 0) {
    return conv2dBackwardFilterReference(g, x, dy, dWeight, dBias, beta);
  }
  const ConvTiles& t = convTiles();
  const size_t K = g.c * g.kh * g.kw, pixels = g.oh * g.ow, imageFloats = g.c * g.h * g.w;
  // Groups of images, one per thread; group 0 sums into dWeight, the others into partial sums
  // added in order at the end. dBias's sums, in double, are taken per group as dy is copied.
  size_t groups = std::min(g.n, static_cast<size_t>(getThreads()));
  std::unique_ptr<float[]> partials;
  if (groups > 1) partials = tryAllocate((groups - 1) * g.f * K);
  if (!partials) groups = 1;
  const std::unique_ptr<double[]> sums(new (std::nothrow) double[groups * g.f]());
  if (!sums) return conv2dBackwardFilterReference(g, x, dy, dWeight, dBias, beta);
  scale(g.f * K, dWeight, beta);
  const auto gradOf = [&](size_t group) {
    float* grad = group == 0 ? dWeight : partials.get() + (group - 1) * g.f * K;
    if (group > 0) std::fill_n(grad, g.f * K, 0.0f);
    return grad;
  };
  Pitch L{};
  if (pitchLayout(g, static_cast<double>(g.f), &L)) {
    // Per image: dy's rows in pitch space, and the image's padded copy (or x itself, in place);
    // the inner products run over several images at a time (segments), summing each tile once.
    // In place, an image's rows of the column matrix are read len - positions floats past its
    // planes, into the next image: the batch's last image is read from a copy.
    // Images per block: as many as keep a tile's rows of A over all of them within t.innerFloats.
    const size_t len = roundUp(L.positions, kInnerStep), dyStep = g.f * len;
    const size_t perBlock = std::max(size_t{1}, t.innerFloats / (t.innerRows * len));
    const std::unique_ptr<size_t[]> offsets = pitchOffsets(g, L, false);
    if (!offsets) return conv2dBackwardFilterReference(g, x, dy, dWeight, dBias, beta);
    parallel_for(groups, [&](size_t group) {
      const size_t i0 = g.n * group / groups, i1 = g.n * (group + 1) / groups;
      float* grad = gradOf(group);
      double* groupSums = sums.get() + group * g.f;
      const size_t perGroup = std::min(perBlock, i1 - i0);
      float* dyBlock = t_scratch.reserve(perGroup * dyStep + (L.inPlace ? L.imageFloats : perGroup * L.imageFloats));
      if (dyBlock == nullptr) return backwardFilterNaive(g, x, dy, i0, i1, grad, groupSums);
      float* xBlock = dyBlock + perGroup * dyStep;
      // Images [first, first + count), their planes `xStep` apart from xs on.
      const auto images = [&](size_t first, size_t count, const float* xs, size_t xStep) {
        for (size_t s = 0; s < count; ++s) {
          pitchRows(g, L, g.f, dy + (first + s) * g.f * pixels, len, dyBlock + s * dyStep, groupSums);
        }
        innerProducts(t, g.f, K, count, len, dyBlock, len, dyStep, xs, offsets.get(), xStep, grad, K);
      };
      for (size_t b0 = i0; b0 < i1; b0 += perBlock) {
        const size_t count = std::min(perBlock, i1 - b0);
        if (!L.inPlace) {
          for (size_t s = 0; s < count; ++s) padImage(g, L, x + (b0 + s) * imageFloats, xBlock + s * L.imageFloats);
          images(b0, count, xBlock, L.imageFloats);
          continue;
        }
        const size_t last = b0 + count == g.n ? 1 : 0;
        if (count > last) images(b0, count - last, x + b0 * imageFloats, imageFloats);
        if (last != 0) {
          padImage(g, L, x + (g.n - 1) * imageFloats, xBlock);
          images(g.n - 1, 1, xBlock, 0);
        }
      }
    });
  } else {
    // Column layout: chunks of pixels that may span images; rows of columns (all of K when it
    // fits) and dy's f rows for the chunk, both padded to kInnerStep with zeros.
    const size_t rows = balancedStep(K, 256, 1);
    const size_t chunk = std::max(kInnerStep, kColumnFloats / (rows + g.f) / kInnerStep * kInnerStep);
    const std::unique_ptr<size_t[]> offsets = rowOffsets(rows, chunk);
    if (!offsets) return conv2dBackwardFilterReference(g, x, dy, dWeight, dBias, beta);
    parallel_for(groups, [&](size_t group) {
      const size_t i0 = g.n * group / groups, i1 = g.n * (group + 1) / groups;
      float* grad = gradOf(group);
      double* groupSums = sums.get() + group * g.f;
      const size_t total = (i1 - i0) * pixels;
      const size_t len = std::min(chunk, roundUp(total, kInnerStep));
      float* columns = t_scratch.reserve((rows + g.f) * chunk);
      if (columns == nullptr) return backwardFilterNaive(g, x, dy, i0, i1, grad, groupSums);
      float* dyRows = columns + rows * chunk;
      for (size_t q0 = 0; q0 < total; q0 += len) {
        const size_t q1 = std::min(total, q0 + len), used = q1 - q0;
        // The chunk's pixels, image by image: dy's rows copied, padded with zeros, and summed.
        for (size_t q = q0; q < q1;) {
          const size_t i = i0 + q / pixels, p0 = q % pixels, p1 = std::min(pixels, p0 + q1 - q);
          for (size_t o = 0; o < g.f; ++o) copyRun(dyRows + o * chunk + q - q0, dy + (i * g.f + o) * pixels + p0, p1 - p0);
          q += p1 - p0;
        }
        for (size_t o = 0; o < g.f; ++o) {
          float* row = dyRows + o * chunk;
          std::fill(row + used, row + len, 0.0f);
          groupSums[o] += laneSum(row, len);
        }
        for (size_t k0 = 0; k0 < K; k0 += rows) {
          const size_t kb = std::min(rows, K - k0);
          for (size_t q = q0; q < q1;) {
            const size_t i = i0 + q / pixels, p0 = q % pixels, p1 = std::min(pixels, p0 + q1 - q);
            im2col(g, x + i * imageFloats, k0, k0 + kb, p0, p1, columns + q - q0, chunk);
            q += p1 - p0;
          }
          for (size_t r = 0; r < kb; ++r) std::fill(columns + r * chunk + used, columns + r * chunk + len, 0.0f);
          innerProducts(t, g.f, kb, 1, len, dyRows, chunk, 0, columns, offsets.get(), 0, grad + k0, K);
        }
      }
    });
  }
  for (size_t group = 1; group < groups; ++group) {
    const float* partial = partials.get() + (group - 1) * g.f * K;
    for (size_t e = 0; e < g.f * K; ++e) dWeight[e] += partial[e];
  }
  for (size_t o = 0; o < g.f; ++o) {
    double sum = 0.0;
    for (size_t group = 0; group < groups; ++group) sum += sums[group * g.f + o];
    dBias[o] = toFloat(beta == 0.0f ? sum : static_cast<double>(beta) * dBias[o] + sum);
  }
}

// ---- references ----------------------------------------------------------------------------

void conv2dReference(const ConvGeometry& g, const float* x, const float* weight, const float* bias,
                     float* y) {
  if (g.n == 0 || g.f == 0 || g.oh == 0 || g.ow == 0) return;
  const size_t pixels = g.oh * g.ow;
  for (size_t i = 0; i < g.n; ++i) {
    float* yi = y + i * g.f * pixels;
    if (readsNothing(g)) {
      for (size_t o = 0; o < g.f; ++o) std::fill_n(yi + o * pixels, pixels, bias[o]);
    } else {
      forwardNaive(g, x + i * g.c * g.h * g.w, weight, bias, yi, 0, pixels);
    }
  }
}

void conv2dBackwardDataReference(const ConvGeometry& g, const float* dy, const float* weight, float* dx) {
  if (g.n == 0 || g.c == 0 || g.h == 0 || g.w == 0) return;
  const size_t imageFloats = g.c * g.h * g.w;
  if (g.f == 0 || g.oh == 0 || g.ow == 0 || g.kh == 0 || g.kw == 0) {
    std::fill_n(dx, g.n * imageFloats, 0.0f);
    return;
  }
  for (size_t i = 0; i < g.n; ++i) {
    backwardDataNaive(g, dy + i * g.f * g.oh * g.ow, weight, dx + i * imageFloats, 0, g.c);
  }
}

void conv2dBackwardFilterReference(const ConvGeometry& g, const float* x, const float* dy,
                                   float* dWeight, float* dBias, float beta) {
  if (g.f == 0) return;
  const size_t pixels = g.n == 0 ? 0 : g.oh * g.ow;  // oh*ow may be huge when n is 0
  const bool products = g.c != 0 && g.kh != 0 && g.kw != 0 && pixels != 0 && g.h != 0 && g.w != 0;
  if (g.c != 0 && g.kh != 0 && g.kw != 0) scale(g.f * g.c * g.kh * g.kw, dWeight, beta);
  for (size_t o = 0; o < g.f; ++o) {
    DoubleSum sum;
    for (size_t i = 0; i < (pixels == 0 ? 0 : g.n); ++i) {  // no pixels: n may be huge
      const float* dyo = dy + (i * g.f + o) * pixels;
      sum.add(pixels, [=](size_t p) { return static_cast<double>(dyo[p]); });
    }
    dBias[o] = toFloat(beta == 0.0f ? sum.total() : static_cast<double>(beta) * dBias[o] + sum.total());
  }
  if (products) backwardFilterNaive(g, x, dy, 0, g.n, dWeight, nullptr);
}

}  // namespace digitnet
