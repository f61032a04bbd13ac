// Augmentation (augment.h): the definition, one value at a time (the reference), and the fast
// path below it (per-thread scratch, loops the compiler vectorizes, an AVX2 build of them when
// sgemm uses AVX2 or AVX-512). The split over the pool is by whole images.
#include "augment.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "aligned_buffer.h"
#include "dropout.h"
#include "gemm.h"
#include "parallel.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define DIGITNET_AUGMENT_X86 1
#include <immintrin.h>
#endif

namespace digitnet {
namespace {

using std::ptrdiff_t;
using std::size_t;
using std::uint32_t;

constexpr uint32_t kGolden = 0x9e3779b9u;  // the counter's multiplier (lib/core/random.ts hashAt)

// Noise value `counter` of the stream `salt`: uniform on [-1, 1) in steps of 2^-23, exact in float.
inline float noise(uint32_t salt, size_t counter) {
  const uint32_t h = dropoutMix(static_cast<uint32_t>(counter) * kGolden + salt);
  return static_cast<float>(h >> 8) * 0x1p-23f - 1.0f;
}

// One call's constants.
struct Plan {
  size_t c, h, w;
  uint32_t salt;
  float alpha;
  const float* blur;
  size_t taps;
  float cx, cy, fw, fh;  // the centre, and the width and height as floats
};

Plan planOf(size_t c, size_t h, size_t w, uint32_t key, float alpha, const float* blur, size_t taps) {
  return {c, h, w, dropoutMix(key), alpha, blur, taps,
          static_cast<float>(w - 1) * 0.5f, static_cast<float>(h - 1) * 0.5f,
          static_cast<float>(w), static_cast<float>(h)};
}

// Resamples image xi (c, h, w) into yi through the map t; displace(py, px, sx, sy) adds the
// elastic displacement (or nothing) to the source point.
template <typename Displace>
void sampleImage(const Plan& p, const float* xi, float* yi, const float* t, Displace displace) {
  const size_t plane = p.h * p.w;
  // Signed coordinates: a signed integer converts to float in one instruction.
  const ptrdiff_t h = static_cast<ptrdiff_t>(p.h), w = static_cast<ptrdiff_t>(p.w);
  const float t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5];
  // In registers: the stores to yi could alias p's fields as far as the compiler knows.
  const float cx = p.cx, cy = p.cy, fw = p.fw, fh = p.fh;
  const size_t c = p.c;
  for (ptrdiff_t py = 0; py < h; ++py) {
    const float v = static_cast<float>(py) - cy;
    const float t1v = t1 * v, t3v = t3 * v;
    for (ptrdiff_t px = 0; px < w; ++px) {
      const size_t at = static_cast<size_t>(py * w + px);
      const float u = static_cast<float>(px) - cx;
      float sx = ((t0 * u + t1v) + cx) + t4;
      float sy = ((t2 * u + t3v) + cy) + t5;
      displace(static_cast<size_t>(py), static_cast<size_t>(px), sx, sy);
      if (!(sx > -1.0f && sx < fw && sy > -1.0f && sy < fh)) {  // NaN too
        for (size_t j = 0; j < c; ++j) yi[j * plane + at] = 0.0f;
        continue;
      }
      // floor(sx), from truncation (floorf is a call without SSE4.1): sx is in (-1, w), and the
      // integer part of a float is a float.
      ptrdiff_t x0 = static_cast<ptrdiff_t>(sx), y0 = static_cast<ptrdiff_t>(sy);
      if (static_cast<float>(x0) > sx) --x0;
      if (static_cast<float>(y0) > sy) --y0;
      const float ax = sx - static_cast<float>(x0), ay = sy - static_cast<float>(y0);
      const float bx = 1.0f - ax, by = 1.0f - ay;
      if (x0 >= 0 && x0 + 1 < w && y0 >= 0 && y0 + 1 < h) {  // all four neighbours inside
        const float* q = xi + (y0 * w + x0);
        for (size_t j = 0; j < c; ++j, q += plane) {
          const float upper = bx * q[0] + ax * q[1];
          const float lower = bx * q[w] + ax * q[w + 1];
          yi[j * plane + at] = by * upper + ay * lower;
        }
        continue;
      }
      const bool left = x0 >= 0 && x0 < w, right = x0 + 1 >= 0 && x0 + 1 < w;
      const bool upperIn = y0 >= 0 && y0 < h, lowerIn = y0 + 1 >= 0 && y0 + 1 < h;
      for (size_t j = 0; j < c; ++j) {
        const float* img = xi + j * plane;
        const float p00 = upperIn && left ? img[y0 * w + x0] : 0.0f;
        const float p01 = upperIn && right ? img[y0 * w + x0 + 1] : 0.0f;
        const float p10 = lowerIn && left ? img[(y0 + 1) * w + x0] : 0.0f;
        const float p11 = lowerIn && right ? img[(y0 + 1) * w + x0 + 1] : 0.0f;
        const float upper = bx * p00 + ax * p01;
        const float lower = bx * p10 + ax * p11;
        yi[j * plane + at] = by * upper + ay * lower;
      }
    }
  }
}

// ---- the definition ---------------------------------------------------------------------------

// Field d of image i at (py, px), as augment.h defines it: the column sum of row sums, each
// taking only the terms inside the image.
float fieldByDefinition(const Plan& p, size_t i, int d, size_t py, size_t px) {
  const ptrdiff_t r = static_cast<ptrdiff_t>(p.taps / 2);
  const ptrdiff_t h = static_cast<ptrdiff_t>(p.h), w = static_cast<ptrdiff_t>(p.w);
  const size_t base = i * p.h * p.w;
  float sum = 0.0f;
  for (size_t k = 0; k < p.taps; ++k) {
    const ptrdiff_t yy = static_cast<ptrdiff_t>(py + k) - r;
    if (yy < 0 || yy >= h) continue;
    float row = 0.0f;
    for (size_t k2 = 0; k2 < p.taps; ++k2) {
      const ptrdiff_t xx = static_cast<ptrdiff_t>(px + k2) - r;
      if (xx < 0 || xx >= w) continue;
      row = row + p.blur[k2] * noise(p.salt, 2 * (base + static_cast<size_t>(yy * w + xx)) + d);
    }
    sum = sum + p.blur[k] * row;
  }
  return sum;
}

// Image i by the definition, each field value computed where it is used.
void imageByDefinition(const Plan& p, size_t i, const float* x, float* y, const float* transforms) {
  const size_t image = p.c * p.h * p.w;
  const float* xi = x + i * image;
  float* yi = y + i * image;
  if (p.alpha == 0.0f) {
    sampleImage(p, xi, yi, transforms + 6 * i, [](size_t, size_t, float&, float&) {});
    return;
  }
  sampleImage(p, xi, yi, transforms + 6 * i, [&](size_t py, size_t px, float& sx, float& sy) {
    sx = sx + p.alpha * fieldByDefinition(p, i, 0, py, px);
    sy = sy + p.alpha * fieldByDefinition(p, i, 1, py, px);
  });
}

// ---- the fast path ----------------------------------------------------------------------------
// Per image, in per-thread scratch: the fields through padded rows, so that every blur pass is a
// tap-by-tap loop over contiguous pixels; the source points of all pixels with their bilinear
// weights and neighbour offsets; then, per channel, a copy of the plane inside a border of zeros
// (1 pixel above and left, 2 below and right), from which every point, clamped to [-1, w] x
// [-1, h], reads its four neighbours without a test. A point outside the image is computed from
// its clamped coordinates like any other and then replaced by 0 (a select, not a branch). For
// images below 2^24 pixels a side (float holds their coordinates exactly; int32 their offsets).

#if defined(__GNUC__) || defined(__clang__)
#define DIGITNET_INLINE inline __attribute__((always_inline))
#else
#define DIGITNET_INLINE inline
#endif

// out[px] = sum over k < count of taps[k] * in[k * stride + px], for px < len: each sum from 0,
// in ascending k (tapSums, below, runs it sixteen, eight or four outputs at a time in registers).
template <size_t kLanes>
DIGITNET_INLINE void tapBlock(const float* in, size_t stride, const float* taps, size_t count, float* out) {
  float acc[kLanes] = {};
  for (size_t k = 0; k < count; ++k) {
    const float b = taps[k];
    const float* src = in + k * stride;
    for (size_t j = 0; j < kLanes; ++j) acc[j] = acc[j] + b * src[j];
  }
  for (size_t j = 0; j < kLanes; ++j) out[j] = acc[j];
}

#if defined(__GNUC__) || defined(__clang__)
// Four lanes of GCC / Clang's portable vectors (SSE2, NEON, or scalar code where there are none):
// the same float products and sums lane by lane.
typedef float Float4 __attribute__((vector_size(16)));

DIGITNET_INLINE Float4 load4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// tapBlock<4 kVectors> in kVectors vector registers.
template <size_t kVectors>
DIGITNET_INLINE void tapBlockVectors(const float* in, size_t stride, const float* taps, size_t count, float* out) {
  Float4 acc[kVectors];
  for (size_t v = 0; v < kVectors; ++v) acc[v] = Float4{0.0f, 0.0f, 0.0f, 0.0f};
  for (size_t k = 0; k < count; ++k) {
    const float t = taps[k];
    const Float4 b = {t, t, t, t};
    const float* src = in + k * stride;
    for (size_t v = 0; v < kVectors; ++v) acc[v] = acc[v] + b * load4(src + 4 * v);
  }
  std::memcpy(out, acc, sizeof acc);
}

DIGITNET_INLINE void tapSums(const float* in, size_t stride, const float* taps, size_t count, size_t len, float* out) {
  size_t px = 0;
  for (; px + 16 <= len; px += 16) tapBlockVectors<4>(in + px, stride, taps, count, out + px);
  for (; px + 8 <= len; px += 8) tapBlockVectors<2>(in + px, stride, taps, count, out + px);
  for (; px + 4 <= len; px += 4) tapBlockVectors<1>(in + px, stride, taps, count, out + px);
  for (; px < len; ++px) tapBlock<1>(in + px, stride, taps, count, out + px);
}
#else
DIGITNET_INLINE void tapSums(const float* in, size_t stride, const float* taps, size_t count, size_t len, float* out) {
  size_t px = 0;
  for (; px + 16 <= len; px += 16) tapBlock<16>(in + px, stride, taps, count, out + px);
  for (; px + 4 <= len; px += 4) tapBlock<4>(in + px, stride, taps, count, out + px);
  for (; px < len; ++px) tapBlock<1>(in + px, stride, taps, count, out + px);
}
#endif

#if defined(DIGITNET_AUGMENT_X86)
// tapSums with AVX2 registers: 32, 8 or 4 outputs at a time, the same products and sums in the
// same order (a vector multiply or add rounds each lane as the scalar one does).
__attribute__((target("avx2"))) void tapSumsAvx2(const float* in, size_t stride, const float* taps,
                                                 size_t count, size_t len, float* out) {
  size_t px = 0;
  for (; px + 32 <= len; px += 32) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t k = 0; k < count; ++k) {
      const __m256 b = _mm256_set1_ps(taps[k]);
      const float* src = in + k * stride + px;
      a0 = _mm256_add_ps(a0, _mm256_mul_ps(b, _mm256_loadu_ps(src)));
      a1 = _mm256_add_ps(a1, _mm256_mul_ps(b, _mm256_loadu_ps(src + 8)));
      a2 = _mm256_add_ps(a2, _mm256_mul_ps(b, _mm256_loadu_ps(src + 16)));
      a3 = _mm256_add_ps(a3, _mm256_mul_ps(b, _mm256_loadu_ps(src + 24)));
    }
    _mm256_storeu_ps(out + px, a0);
    _mm256_storeu_ps(out + px + 8, a1);
    _mm256_storeu_ps(out + px + 16, a2);
    _mm256_storeu_ps(out + px + 24, a3);
  }
  // The rest (at most 31) in one pass over the taps: up to three vectors of 8 and one of 4.
  const size_t eights = (len - px) / 8, fours = (len - px) % 8 >= 4 ? 1 : 0;
  if (eights + fours > 0) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0;
    __m128 a3 = _mm_setzero_ps();
    for (size_t k = 0; k < count; ++k) {
      const __m256 b = _mm256_set1_ps(taps[k]);
      const float* src = in + k * stride + px;
      if (eights > 0) a0 = _mm256_add_ps(a0, _mm256_mul_ps(b, _mm256_loadu_ps(src)));
      if (eights > 1) a1 = _mm256_add_ps(a1, _mm256_mul_ps(b, _mm256_loadu_ps(src + 8)));
      if (eights > 2) a2 = _mm256_add_ps(a2, _mm256_mul_ps(b, _mm256_loadu_ps(src + 16)));
      if (fours) a3 = _mm_add_ps(a3, _mm_mul_ps(_mm256_castps256_ps128(b), _mm_loadu_ps(src + 8 * eights)));
    }
    if (eights > 0) _mm256_storeu_ps(out + px, a0);
    if (eights > 1) _mm256_storeu_ps(out + px + 8, a1);
    if (eights > 2) _mm256_storeu_ps(out + px + 16, a2);
    if (fours) _mm_storeu_ps(out + px + 8 * eights, a3);
    px += 8 * eights + 4 * fours;
  }
  for (; px < len; ++px) tapBlock<1>(in + px, stride, taps, count, out + px);
}
#endif

// Where one image's work lives in the thread's scratch (offsets in floats).
struct Layout {
  size_t rx, ry;           // how far the taps reach along a row, a column: min(r, w - 1), min(r, h - 1)
  size_t row, tmp, fx, fy;  // a padded noise row, the padded row pass, the two fields (elastic only)
  size_t pad;              // one plane inside its border of zeros, (h + 3) x (w + 3)
  size_t ax, ay, at, keep;  // per pixel: weights, neighbour offset (int32), inside (int32 0 / -1)
  size_t total;
};

Layout layoutOf(size_t h, size_t w, size_t taps, bool elastic) {
  Layout L{};
  const size_t plane = h * w, r = taps / 2;
  L.rx = elastic ? std::min(r, w - 1) : 0;
  L.ry = elastic ? std::min(r, h - 1) : 0;
  L.row = 0;
  L.tmp = L.row + (elastic ? w + 2 * L.rx : 0);
  L.fx = L.tmp + (elastic ? (h + 2 * L.ry) * w : 0);
  L.fy = L.fx + (elastic ? plane : 0);
  L.pad = L.fy + (elastic ? plane : 0);
  L.ax = L.pad + (h + 3) * (w + 3);
  L.ay = L.ax + plane;
  L.at = L.ay + plane;
  L.keep = L.at + plane;
  L.total = L.keep + plane;
  return L;
}

// Whether the fast path can take images of h x w: coordinates exact in float, offsets in int32.
bool fastSizes(size_t h, size_t w) {
  constexpr size_t kSide = size_t{1} << 24;
  return h < kSide && w < kSide && (h + 3) * (w + 3) < (size_t{1} << 31);
}

// tapSums on the instruction set of the caller.
template <bool kAvx2>
DIGITNET_INLINE void taps(const float* in, size_t stride, const float* blur, size_t count, size_t len, float* out) {
#if defined(DIGITNET_AUGMENT_X86)
  if constexpr (kAvx2) {
    tapSumsAvx2(in, stride, blur, count, len, out);
    return;
  }
#endif
  tapSums(in, stride, blur, count, len, out);
}

// Both fields of image i (Layout's fx and fy), for taps that are all finite: a padding term then
// adds blur[k] * 0 = +-0, which leaves every sum as the definition's (a sum starting from +0 is
// never -0). Taps further than rx (ry) from the centre reach no pixel of a row (column).
template <bool kAvx2>
DIGITNET_INLINE void fieldsFast(const Plan& p, const Layout& L, size_t i, float* s) {
  const size_t h = p.h, w = p.w, r = p.taps / 2, rx = L.rx, ry = L.ry;
  const size_t pw = w + 2 * rx;
  float* const row = s + L.row;
  float* const tmp = s + L.tmp;  // (h + 2 ry) rows of w: rows ry .. ry + h - 1 hold the row pass
  std::fill(row, row + pw, 0.0f);
  std::fill(tmp, tmp + ry * w, 0.0f);
  std::fill(tmp + (ry + h) * w, tmp + (h + 2 * ry) * w, 0.0f);
  const size_t base = i * h * w;
  for (int d = 0; d < 2; ++d) {
    for (size_t py = 0; py < h; ++py) {
      float* const noiseRow = row + rx;
      const size_t first = 2 * (base + py * w) + d;
      for (size_t px = 0; px < w; ++px) noiseRow[px] = noise(p.salt, first + 2 * px);
      taps<kAvx2>(row, 1, p.blur + (r - rx), 2 * rx + 1, w, tmp + (ry + py) * w);
    }
    float* const out = s + (d == 0 ? L.fx : L.fy);
    for (size_t py = 0; py < h; ++py) taps<kAvx2>(tmp + py * w, w, p.blur + (r - ry), 2 * ry + 1, w, out + py * w);
  }
}

// The source points of image i's pixels: weights ax, ay, the offset of the upper left neighbour
// in the padded plane, and whether the point is inside (sampleImage's arithmetic, point for point).
template <bool kElastic>
DIGITNET_INLINE void pointsFast(const Plan& p, const Layout& L, const float* t, float* s) {
  const std::int32_t h = static_cast<std::int32_t>(p.h), w = static_cast<std::int32_t>(p.w), pw = w + 3;
  const float t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5];
  const float cx = p.cx, cy = p.cy, fw = p.fw, fh = p.fh, alpha = p.alpha;
  const float* const fx = s + L.fx;
  const float* const fy = s + L.fy;
  float* const ax = s + L.ax;
  float* const ay = s + L.ay;
  std::int32_t* const at = reinterpret_cast<std::int32_t*>(s + L.at);
  std::int32_t* const keep = reinterpret_cast<std::int32_t*>(s + L.keep);
  for (std::int32_t py = 0; py < h; ++py) {
    const float v = static_cast<float>(py) - cy;
    const float t1v = t1 * v, t3v = t3 * v;
    const std::int32_t rowAt = py * w;
    for (std::int32_t px = 0; px < w; ++px) {
      const std::int32_t q = rowAt + px;
      const float u = static_cast<float>(px) - cx;
      float sx = ((t0 * u + t1v) + cx) + t4;
      float sy = ((t2 * u + t3v) + cy) + t5;
      if (kElastic) {
        sx = sx + alpha * fx[q];
        sy = sy + alpha * fy[q];
      }
      const bool inside = sx > -1.0f && sx < fw && sy > -1.0f && sy < fh;  // false for NaN
      // Clamped to [-1, w] x [-1, h] (NaN to -1): every point reads inside the padded plane.
      float cxl = sx > -1.0f ? sx : -1.0f;
      cxl = cxl < fw ? cxl : fw;
      float cyl = sy > -1.0f ? sy : -1.0f;
      cyl = cyl < fh ? cyl : fh;
      std::int32_t x0 = static_cast<std::int32_t>(cxl), y0 = static_cast<std::int32_t>(cyl);
      x0 -= static_cast<float>(x0) > cxl ? 1 : 0;  // floor: truncation moves negatives up
      y0 -= static_cast<float>(y0) > cyl ? 1 : 0;
      ax[q] = cxl - static_cast<float>(x0);
      ay[q] = cyl - static_cast<float>(y0);
      at[q] = (y0 + 1) * pw + (x0 + 1);
      keep[q] = inside ? -1 : 0;
    }
  }
}

// Image i through the fast path: xi, yi its planes, t its map, s the thread's scratch.
template <bool kElastic, bool kAvx2>
DIGITNET_INLINE void imageFastBody(const Plan& p, const Layout& L, size_t i, const float* xi, float* yi, const float* t,
                                   float* s) {
  if (kElastic) fieldsFast<kAvx2>(p, L, i, s);
  pointsFast<kElastic>(p, L, t, s);
  const size_t h = p.h, w = p.w, plane = h * w, pw = w + 3;
  float* const pad = s + L.pad;
  const float* const ax = s + L.ax;
  const float* const ay = s + L.ay;
  const std::int32_t* const at = reinterpret_cast<const std::int32_t*>(s + L.at);
  const std::int32_t* const keep = reinterpret_cast<const std::int32_t*>(s + L.keep);
  std::fill(pad, pad + (h + 3) * pw, 0.0f);
  for (size_t j = 0; j < p.c; ++j) {
    const float* src = xi + j * plane;
    for (size_t py = 0; py < h; ++py) std::copy(src + py * w, src + py * w + w, pad + (py + 1) * pw + 1);
    float* out = yi + j * plane;
    for (size_t q = 0; q < plane; ++q) {
      const float* n = pad + at[q];
      const float bx = 1.0f - ax[q], by = 1.0f - ay[q];
      const float upper = bx * n[0] + ax[q] * n[1];
      const float lower = bx * n[pw] + ax[q] * n[pw + 1];
      const float value = by * upper + ay[q] * lower;
      out[q] = keep[q] != 0 ? value : 0.0f;
    }
  }
}

using ImageFn = void (*)(const Plan&, const Layout&, size_t, const float*, float*, const float*, float*);

template <bool kElastic>
void imageFastPortable(const Plan& p, const Layout& L, size_t i, const float* xi, float* yi, const float* t, float* s) {
  imageFastBody<kElastic, false>(p, L, i, xi, yi, t, s);
}

#if defined(DIGITNET_AUGMENT_X86)
// The same code compiled for AVX2: eight lanes, a 32-bit vector multiply for the hash, gathers.
// Only "avx2": no FMA is enabled (and -ffp-contract=off keeps products and sums apart anyway).
template <bool kElastic>
__attribute__((target("avx2"))) void imageFastAvx2(const Plan& p, const Layout& L, size_t i, const float* xi, float* yi,
                                                   const float* t, float* s) {
  imageFastBody<kElastic, true>(p, L, i, xi, yi, t, s);
}

bool useAvx2() {
  const char* isa = sgemm_kernel_name();
  const bool vector = std::strcmp(isa, "avx2") == 0 || std::strcmp(isa, "avx512") == 0;
  return vector && __builtin_cpu_supports("avx2");
}

ImageFn chooseImageFn(bool elastic) {
  static const bool avx2 = useAvx2();
  if (avx2) return elastic ? imageFastAvx2<true> : imageFastAvx2<false>;
  return elastic ? imageFastPortable<true> : imageFastPortable<false>;
}
#else
// The instruction set follows sgemm's choice (DIGITNET_ISA=scalar forces the portable code).
ImageFn chooseImageFn(bool elastic) { return elastic ? imageFastPortable<true> : imageFastPortable<false>; }
#endif

thread_local AlignedBuffer t_scratch;

// Images per block of the split: microseconds to tens of microseconds of work each.
constexpr size_t kBlock = 4;
constexpr size_t kMinParallel = 8;

}  // namespace

void augment(size_t n, size_t c, size_t h, size_t w, const float* x, float* y,
             const float* transforms, uint32_t key, float alpha, const float* blur, size_t taps) {
  if (n == 0 || c == 0 || h == 0 || w == 0) return;
  const Plan p = planOf(c, h, w, key, alpha, blur, taps);
  const size_t image = c * h * w;
  const bool elastic = alpha != 0.0f;
  // A tap that is not finite makes the padding's terms NaN: only the definition skips them.
  const bool fast = fastSizes(h, w) && std::all_of(blur, blur + taps, [](float b) { return std::isfinite(b); });
  const Layout L = layoutOf(h, w, taps, elastic);
  const ImageFn run = chooseImageFn(elastic);
  parallel_ranges(n, kBlock, kMinParallel, [&](size_t first, size_t last) {
    float* scratch = fast ? t_scratch.reserve(L.total) : nullptr;
    for (size_t i = first; i < last; ++i) {
      if (scratch == nullptr) {
        imageByDefinition(p, i, x, y, transforms);  // no scratch: the definition, a value at a time
      } else {
        run(p, L, i, x + i * image, y + i * image, transforms + 6 * i, scratch);
      }
    }
  });
}

void augmentReference(size_t n, size_t c, size_t h, size_t w, const float* x, float* y,
                      const float* transforms, uint32_t key, float alpha, const float* blur,
                      size_t taps) {
  if (n == 0 || c == 0 || h == 0 || w == 0) return;
  const Plan p = planOf(c, h, w, key, alpha, blur, taps);
  for (size_t i = 0; i < n; ++i) imageByDefinition(p, i, x, y, transforms);
}

}  // namespace digitnet
