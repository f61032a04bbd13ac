// Data augmentation for training: a random affine map and an elastic distortion (Simard, Steinkraus
// and Platt, 2003) per image, bilinear resampling. lib/backend/ts-augment.ts computes the same
// bits: every value is a float and every operation a float operation, in the order written here
// (no FMA contraction: the build passes -ffp-contract=off), sums over the blur taps in ascending
// tap order, and the only transcendental values (the maps' sines and cosines, the Gaussian taps)
// come in from TypeScript.
//
//   x, y (n, c, h, w), transforms (n, 6), blur (taps), taps odd, r = (taps - 1) / 2.
//   Image i's map t = transforms[6i .. 6i+6) sends output pixel (px, py) to the source point
//     u  = float(px) - cx,               v  = float(py) - cy,    cx = float(w - 1) * 0.5, cy likewise
//     sx = (((t0 * u) + (t1 * v)) + cx) + t4  [+ alpha * dx[py, px]]
//     sy = (((t2 * u) + (t3 * v)) + cy) + t5  [+ alpha * dy[py, px]]
//   (the bracket only when alpha != 0). Every channel of the image is sampled there, bilinearly,
//   with 0 outside the image: for a point with sx > -1, sx < float(w), sy > -1, sy < float(h)
//   (any other point, NaN included, gives 0), x0 = floor(sx), ax = sx - x0, bx = 1 - ax (y alike),
//     y = (by * ((bx * p00) + (ax * p01))) + (ay * ((bx * p10) + (ax * p11)))
//   where p00 = x[y0, x0], p01 = x[y0, x0 + 1], p10 = x[y0 + 1, x0], p11 = x[y0 + 1, x0 + 1], each
//   0 when outside the image.
//
//   The displacement fields dx and dy (h, w) of image i: uniform(-1, 1) noise,
//     raw_d[p] = float(hashAt(mix(key), u32(2 * (i * h * w + p) + d)) >> 8) * 2^-23 - 1
//   (d = 0 for dx, 1 for dy; p = py * w + px; exact in float; the counter wraps at 2^32),
//   smoothed by the separable blur with zero padding: first along rows, tmp[py, px] = sum of
//   blur[k] * raw[py, px + k - r], then along columns, d[py, px] = sum of blur[k] * tmp[py + k - r, px],
//   each sum starting from 0 and adding, in ascending k, the terms whose pixel lies inside the
//   image (the padding adds nothing, even where a tap is not finite).
#pragma once

#include <cstddef>
#include <cstdint>

namespace digitnet {

// The kernel, split over the pool by images (so the split never changes a result), with
// per-thread scratch for the fields; an image whose scratch cannot be allocated is computed by
// augmentReference's loops instead (same bits). y must not overlap x, transforms or blur.
void augment(std::size_t n, std::size_t c, std::size_t h, std::size_t w, const float* x, float* y,
             const float* transforms, std::uint32_t key, float alpha, const float* blur,
             std::size_t taps);

// The definition, one pixel at a time, each field value recomputed from the noise (taps^2 hashes
// a value): the reference of the C++ tests and the fallback above. Single-threaded.
void augmentReference(std::size_t n, std::size_t c, std::size_t h, std::size_t w, const float* x,
                      float* y, const float* transforms, std::uint32_t key, float alpha,
                      const float* blur, std::size_t taps);

}  // namespace digitnet
