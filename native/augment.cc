// Augmentation (augment.h): the fields of an image through per-thread padded rows, so that every
// pass is a tap-by-tap loop over contiguous pixels the compiler vectorizes; the bilinear sampling
// one pixel at a time. The split over the pool is by whole images.
#include "augment.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>

#include "aligned_buffer.h"
#include "dropout.h"
#include "gemm.h"
#include "parallel.h"

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

// ---- the fast fields ---------------------------------------------------------------------------

// Scratch floats for fieldsPadded: a padded noise row, the padded row pass, both fields.
size_t scratchFloats(size_t h, size_t w, size_t rx, size_t ry) {
  return (w + 2 * rx) + (h + 2 * ry) * w + 2 * h * w;
}

#if defined(__GNUC__) || defined(__clang__)
#define DIGITNET_INLINE inline __attribute__((always_inline))
#else
#define DIGITNET_INLINE inline
#endif

// out[px] = sum over k < count of taps[k] * in[k * stride + px], for px < len: each sum from 0,
// in ascending k. Sixteen (then four) outputs at a time stay in registers across the taps.
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

DIGITNET_INLINE void tapSums(const float* in, size_t stride, const float* taps, size_t count, size_t len, float* out) {
  size_t px = 0;
  for (; px + 16 <= len; px += 16) tapBlock<16>(in + px, stride, taps, count, out + px);
  for (; px + 4 <= len; px += 4) tapBlock<4>(in + px, stride, taps, count, out + px);
  for (; px < len; ++px) tapBlock<1>(in + px, stride, taps, count, out + px);
}

// Both fields of image i into fx and fy, for taps that are all finite: a padding term then adds
// blur[k] * 0 = +-0, which leaves every sum as the definition's (a sum starting from +0 is never
// -0). Only taps within rx of the centre can reach a pixel of a row (rx = min(r, w - 1)), ry of a
// column.
DIGITNET_INLINE void fieldsPaddedBody(const Plan& p, size_t i, size_t rx, size_t ry, float* scratch, float* fx, float* fy) {
  const size_t h = p.h, w = p.w, r = p.taps / 2;
  const size_t pw = w + 2 * rx;
  float* const row = scratch;
  float* const tmp = scratch + pw;  // (h + 2 ry) rows of w: rows ry .. ry + h - 1 hold the row pass
  std::fill(row, row + pw, 0.0f);
  std::fill(tmp, tmp + ry * w, 0.0f);
  std::fill(tmp + (ry + h) * w, tmp + (h + 2 * ry) * w, 0.0f);
  const size_t base = i * h * w;
  for (int d = 0; d < 2; ++d) {
    for (size_t py = 0; py < h; ++py) {
      float* const noiseRow = row + rx;
      const size_t first = 2 * (base + py * w) + d;
      for (size_t px = 0; px < w; ++px) noiseRow[px] = noise(p.salt, first + 2 * px);
      tapSums(row, 1, p.blur + (r - rx), 2 * rx + 1, w, tmp + (ry + py) * w);
    }
    float* const out = d == 0 ? fx : fy;
    for (size_t py = 0; py < h; ++py) tapSums(tmp + py * w, w, p.blur + (r - ry), 2 * ry + 1, w, out + py * w);
  }
}

using FieldsFn = void (*)(const Plan&, size_t, size_t, size_t, float*, float*, float*);

void fieldsPaddedPortable(const Plan& p, size_t i, size_t rx, size_t ry, float* scratch, float* fx, float* fy) {
  fieldsPaddedBody(p, i, rx, ry, scratch, fx, fy);
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
// The same code compiled for AVX2 (eight lanes, a 32-bit vector multiply for the hash). Only
// "avx2": no FMA is enabled, and -ffp-contract=off would keep products and sums apart anyway.
__attribute__((target("avx2"))) void fieldsPaddedAvx2(const Plan& p, size_t i, size_t rx, size_t ry, float* scratch,
                                                      float* fx, float* fy) {
  fieldsPaddedBody(p, i, rx, ry, scratch, fx, fy);
}

FieldsFn chooseFields() {
  const char* isa = sgemm_kernel_name();
  const bool vector = std::strcmp(isa, "avx2") == 0 || std::strcmp(isa, "avx512") == 0;
  return vector && __builtin_cpu_supports("avx2") ? fieldsPaddedAvx2 : fieldsPaddedPortable;
}
#else
FieldsFn chooseFields() { return fieldsPaddedPortable; }
#endif

// The instruction set follows sgemm's choice (DIGITNET_ISA=scalar forces the portable code).
FieldsFn fieldsPadded() {
  static const FieldsFn chosen = chooseFields();
  return chosen;
}

thread_local AlignedBuffer t_scratch;

// Images per block of the split: tens of microseconds of work each with the fields.
constexpr size_t kBlock = 4;
constexpr size_t kMinParallel = 8;

}  // namespace

void augment(size_t n, size_t c, size_t h, size_t w, const float* x, float* y,
             const float* transforms, uint32_t key, float alpha, const float* blur, size_t taps) {
  if (n == 0 || c == 0 || h == 0 || w == 0) return;
  const Plan p = planOf(c, h, w, key, alpha, blur, taps);
  const size_t plane = h * w, image = c * plane;
  const bool elastic = alpha != 0.0f;
  const bool finiteTaps = std::all_of(blur, blur + taps, [](float b) { return std::isfinite(b); });
  const size_t r = taps / 2;
  const size_t rx = std::min(r, w - 1), ry = std::min(r, h - 1);
  const FieldsFn fields = fieldsPadded();
  parallel_ranges(n, kBlock, kMinParallel, [&](size_t first, size_t last) {
    // The fields need scratch; without it (no memory, or a tap that is not finite), the definition.
    float* scratch = elastic && finiteTaps ? t_scratch.reserve(scratchFloats(h, w, rx, ry)) : nullptr;
    for (size_t i = first; i < last; ++i) {
      const float* xi = x + i * image;
      float* yi = y + i * image;
      const float* t = transforms + 6 * i;
      if (!elastic) {
        sampleImage(p, xi, yi, t, [](size_t, size_t, float&, float&) {});
      } else if (scratch == nullptr) {
        imageByDefinition(p, i, x, y, transforms);
      } else {
        float* const fx = scratch + (w + 2 * rx) + (h + 2 * ry) * w;
        float* const fy = fx + plane;
        fields(p, i, rx, ry, scratch, fx, fy);
        sampleImage(p, xi, yi, t, [&](size_t py, size_t px, float& sx, float& sy) {
          const size_t at = py * w + px;
          sx = sx + p.alpha * fx[at];
          sy = sy + p.alpha * fy[at];
        });
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
