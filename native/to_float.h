// The one double -> float conversion of the native core for values that may lie beyond float's
// range (sums, products of a scale and the data, results of the reference gemm).
#pragma once

#include <cfloat>
#include <cmath>

namespace digitnet {

// double -> float with IEEE round-to-nearest, without C++'s undefined behaviour for finite values
// beyond float's range: those round to +-FLT_MAX or +-infinity exactly as JavaScript's
// Math.fround (and so a Float32Array store in the TypeScript backend) rounds them.
inline float toFloat(double x) {
  if (!(std::fabs(x) > FLT_MAX)) return static_cast<float>(x);  // in range, or NaN
  // Halfway between FLT_MAX and 2^128 and above rounds to infinity (ties to even: FLT_MAX is odd).
  constexpr double kOverflow = 340282356779733661637539395458142568448.0;  // 2^128 - 2^103
  const float magnitude = std::fabs(x) >= kOverflow ? INFINITY : FLT_MAX;
  return x < 0 ? -magnitude : magnitude;
}

}  // namespace digitnet
