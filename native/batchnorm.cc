// Batch normalization (batchnorm.h), split over the pool by channels: each channel's statistics
// are one thread's, summed in one order.
#include "batchnorm.h"

#include <cmath>

#include "parallel.h"
#include "to_float.h"

namespace digitnet {
namespace {

using std::size_t;

// Calls fn(j, at) for channels [0, c), where at(i) is the offset of channel j's row of image i,
// split over the pool when the n*c*s values are worth it.
template <typename Fn>
void forEachChannel(size_t n, size_t c, size_t s, Fn fn) {
  constexpr size_t kMinParallelValues = size_t{1} << 15;
  const size_t threads = n * c * s >= kMinParallelValues ? static_cast<size_t>(getThreads()) : 1;
  parallel_ranges(c, (c + threads - 1) / threads, 0, [&](size_t first, size_t last) {
    for (size_t j = first; j < last; ++j) fn(j, [=](size_t i) { return (i * c + j) * s; });
  });
}

// The sum over the channel's values of term(value index): each row (one image's s values) in 16
// float lanes, which vectorize, and the rows' totals in double. A row's lanes sum at most s/16
// terms each (36 for a 24x24 map), so float costs about as little precision as PyTorch's sums.
template <typename At, typename Term>
double channelSum(size_t n, size_t s, At at, Term term) {
  constexpr size_t kLanes = 16;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const size_t row = at(i), whole = s - s % kLanes;
    float lanes[kLanes] = {};
    for (size_t k = 0; k < whole; k += kLanes) {
      for (size_t l = 0; l < kLanes; ++l) lanes[l] += term(row + k + l);
    }
    for (size_t l = 0; l < s % kLanes; ++l) lanes[l] += term(row + whole + l);
    for (const float lane : lanes) sum += lane;
  }
  return sum;
}

// A double mean as two floats: x - hi is exact for x near the mean, so (x - hi) - lo keeps a small
// variance far from zero (a mean of 1000 is 3e-5 from its float) in float arithmetic.
struct SplitMean {
  float hi, lo;
  explicit SplitMean(double mean) : hi(toFloat(mean)), lo(toFloat(mean - hi)) {}
  float from(float x) const { return (x - hi) - lo; }
};

// y = (x - mean) * scale + shift over a channel's values, in float (vectorized).
template <typename At>
void normalize(size_t n, size_t s, At at, const float* x, SplitMean mean, float scale, float shift, float* y) {
  for (size_t i = 0; i < n; ++i) {
    const size_t row = at(i);
    for (size_t k = row; k < row + s; ++k) y[k] = mean.from(x[k]) * scale + shift;
  }
}

float accumulate(float beta, float old, double sum) {
  return toFloat(beta == 0.0f ? sum : static_cast<double>(beta) * old + sum);
}

}  // namespace

void batchNormTrain(size_t n, size_t c, size_t s, float momentum, float eps, const float* x,
                    const float* weight, const float* bias, float* runningMean, float* runningVar,
                    float* y, float* saved) {
  if (n == 0 || c == 0 || s == 0) return;
  const double m = static_cast<double>(n) * static_cast<double>(s);
  const double keep = 1.0 - static_cast<double>(momentum);
  forEachChannel(n, c, s, [&](size_t j, auto at) {
    const double mean = channelSum(n, s, at, [&](size_t k) { return x[k]; }) / m;
    const SplitMean split(mean);
    const double var = channelSum(n, s, at, [&](size_t k) {
      const float d = split.from(x[k]);
      return d * d;
    }) / m;
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
    normalize(n, s, at, x, split, toFloat(invstd * weight[j]), bias[j], y);
    saved[j] = split.hi;
    saved[c + j] = toFloat(invstd);
    const double unbiased = m > 1 ? var * m / (m - 1) : var;
    runningMean[j] = toFloat(keep * runningMean[j] + momentum * mean);
    runningVar[j] = toFloat(keep * runningVar[j] + momentum * unbiased);
  });
}

void batchNormInfer(size_t n, size_t c, size_t s, float eps, const float* x, const float* weight,
                    const float* bias, const float* runningMean, const float* runningVar, float* y) {
  if (n == 0 || c == 0 || s == 0) return;
  forEachChannel(n, c, s, [&](size_t j, auto at) {
    const double scale = weight[j] / std::sqrt(static_cast<double>(runningVar[j]) + eps);
    normalize(n, s, at, x, SplitMean(runningMean[j]), toFloat(scale), bias[j], y);
  });
}

void batchNormBackward(size_t n, size_t c, size_t s, const float* x, const float* dy,
                       const float* weight, const float* saved, float* dx, float* dWeight,
                       float* dBias, float beta) {
  if (c == 0) return;
  if (n == 0 || s == 0) {  // no values: the sums are 0
    for (size_t j = 0; j < c; ++j) {
      dWeight[j] = accumulate(beta, dWeight[j], 0.0);
      dBias[j] = accumulate(beta, dBias[j], 0.0);
    }
    return;
  }
  const double m = static_cast<double>(n) * static_cast<double>(s);
  forEachChannel(n, c, s, [&](size_t j, auto at) {
    const float mean = saved[j], invstd = saved[c + j];
    const double sumDy = channelSum(n, s, at, [&](size_t k) { return dy[k]; });
    const double sumDyXhat = channelSum(n, s, at, [&](size_t k) { return dy[k] * ((x[k] - mean) * invstd); });
    dWeight[j] = accumulate(beta, dWeight[j], sumDyXhat);
    dBias[j] = accumulate(beta, dBias[j], sumDy);
    // In float, as PyTorch's are: the sums above are what needs double.
    const float scale = weight[j] * invstd;
    const float meanDy = toFloat(sumDy / m), meanDyXhat = toFloat(sumDyXhat / m);
    for (size_t i = 0; i < n; ++i) {
      const size_t row = at(i);
      for (size_t k = row; k < row + s; ++k) {
        const float xhat = (x[k] - mean) * invstd;
        dx[k] = scale * (dy[k] - meanDy - xhat * meanDyXhat);  // dy[k] read before dx[k]
      }
    }
  });
}

}  // namespace digitnet
