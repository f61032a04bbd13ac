// Max pooling forward and backward (pool.h), split over the pool by planes (image, channel): every
// plane is computed on its own.
#include "pool.h"

#include <algorithm>
#include <mutex>

#include "parallel.h"
#include "read_once.h"

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

// One plane: xp (h,w) -> yp, ap (oh,ow).
void poolPlane(const PoolGeometry& g, const float* xp, float* yp, std::uint32_t* ap) {
  for (size_t oy = 0; oy < g.oh; ++oy) {
    const size_t y0 = oy * g.stride, y1 = std::min(g.h, y0 + g.size);  // y0 < h (oh's bound)
    for (size_t ox = 0; ox < g.ow; ++ox) {
      const size_t x0 = ox * g.stride, x1 = std::min(g.w, x0 + g.size);
      size_t at = y0 * g.w + x0;
      float best = xp[at];
      for (size_t iy = y0; iy < y1; ++iy) {
        for (size_t ix = x0; ix < x1; ++ix) {
          const float v = xp[iy * g.w + ix];
          // Greater wins; a NaN wins over anything but an earlier NaN. Selects, not branches:
          // which value wins is data, and mispredicted branches cost more than the comparisons.
          const bool wins = v > best || (v != v && best == best);
          best = wins ? v : best;
          at = wins ? iy * g.w + ix : at;
        }
      }
      yp[oy * g.ow + ox] = best;
      ap[oy * g.ow + ox] = static_cast<std::uint32_t>(at);
    }
  }
}

}  // namespace

void maxPool2d(const PoolGeometry& g, const float* x, float* y, std::uint32_t* argmax) {
  if (g.n == 0 || g.c == 0 || g.oh == 0 || g.ow == 0) return;
  // oh, ow >= 1 imply h, w >= 1: every size below is one a buffer holds.
  const size_t planes = g.n * g.c, plane = g.h * g.w, out = g.oh * g.ow;
  parallel_ranges(planes, planesPerBlock(planes, planes * (plane + out)), 0, [&](size_t first, size_t last) {
    for (size_t p = first; p < last; ++p) poolPlane(g, x + p * plane, y + p * out, argmax + p * out);
  });
}

IndexStatus maxPool2dBackward(const PoolGeometry& g, const float* dy, const std::uint32_t* argmax,
                              float* dx) {
  if (g.n == 0 || g.c == 0) return {};
  const size_t planes = g.n * g.c, plane = g.h * g.w;
  const size_t out = g.oh * g.ow;  // dy holds planes * out floats: no overflow once planes >= 1
  IndexStatus firstBad;  // the lowest bad position any block met
  std::mutex firstBadLock;
  parallel_ranges(planes, planesPerBlock(planes, planes * (plane + out)), 0, [&](size_t first, size_t last) {
    std::fill(dx + first * plane, dx + last * plane, 0.0f);
    for (size_t p = first; p < last; ++p) {
      float* dxp = dx + p * plane;
      for (size_t q = p * out; q < (p + 1) * out; ++q) {
        const std::uint32_t at = readOnce(argmax + q);
        if (at >= plane) {
          const std::lock_guard<std::mutex> guard(firstBadLock);
          if (firstBad.ok || q < firstBad.position) firstBad = {false, q, at};
          return;
        }
        dxp[at] += dy[q];
      }
    }
  });
  return firstBad;
}

}  // namespace digitnet
