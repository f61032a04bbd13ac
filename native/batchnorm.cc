// Batch normalization (batchnorm.h), split over the pool by channels: each channel's statistics
// are one thread's, summed in one order.
#include "batchnorm.h"

#include <cmath>

#include "double_sum.h"
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

// The sum over the channel's values of term(value index), in double.
template <typename At, typename Term>
double channelSum(size_t n, size_t s, At at, Term term) {
  DoubleSum sum;
  for (size_t i = 0; i < n; ++i) {
    const size_t row = at(i);
    sum.add(s, [&](size_t k) { return term(row + k); });
  }
  return sum.total();
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
    const double mean = channelSum(n, s, at, [&](size_t k) { return static_cast<double>(x[k]); }) / m;
    const double var = channelSum(n, s, at, [&](size_t k) {
      const double d = x[k] - mean;
      return d * d;
    }) / m;
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
    const double scale = invstd * weight[j], shift = bias[j];
    for (size_t i = 0; i < n; ++i) {
      const size_t row = at(i);
      for (size_t k = row; k < row + s; ++k) y[k] = toFloat((x[k] - mean) * scale + shift);
    }
    saved[j] = toFloat(mean);
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
    const double mean = runningMean[j];
    const double scale = weight[j] / std::sqrt(static_cast<double>(runningVar[j]) + eps), shift = bias[j];
    for (size_t i = 0; i < n; ++i) {
      const size_t row = at(i);
      for (size_t k = row; k < row + s; ++k) y[k] = toFloat((x[k] - mean) * scale + shift);
    }
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
    const double mean = saved[j], invstd = saved[c + j];
    const double sumDy = channelSum(n, s, at, [&](size_t k) { return static_cast<double>(dy[k]); });
    const double sumDyXhat = channelSum(n, s, at, [&](size_t k) { return dy[k] * ((x[k] - mean) * invstd); });
    dWeight[j] = accumulate(beta, dWeight[j], sumDyXhat);
    dBias[j] = accumulate(beta, dBias[j], sumDy);
    const double meanDy = sumDy / m, meanDyXhat = sumDyXhat / m, scale = weight[j] * invstd;
    for (size_t i = 0; i < n; ++i) {
      const size_t row = at(i);
      for (size_t k = row; k < row + s; ++k) {
        const double xhat = (x[k] - mean) * invstd;
        dx[k] = toFloat(scale * (dy[k] - meanDy - xhat * meanDyXhat));  // dy[k] read before dx[k]
      }
    }
  });
}

}  // namespace digitnet
