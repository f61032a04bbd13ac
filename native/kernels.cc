#include "kernels.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <mutex>

#include "parallel.h"
#include "to_float.h"

namespace digitnet {

using std::size_t;

// Reads *p exactly once. A plain load lets the compiler read shared memory again (it may assume
// no other thread writes it), and then the value checked and the value used could differ.
template <typename T>
static T readOnce(const T* p) {
#if defined(__GNUC__) || defined(__clang__)
  return __atomic_load_n(p, __ATOMIC_RELAXED);
#else
  return *static_cast<const volatile T*>(p);
#endif
}

// The elementwise loops below run in place (y == x, dx == dy) in the network. GCC then finds the
// pointers overlapping and takes its scalar fallback loop; each element only reads its own index,
// so there is no loop-carried dependency and the vector loop is correct even in place.
#if defined(__GNUC__) && !defined(__clang__)
#define DIGITNET_ELEMENTWISE _Pragma("GCC ivdep")
#elif defined(__clang__)
#define DIGITNET_ELEMENTWISE _Pragma("clang loop vectorize(assume_safety)")
#else
#define DIGITNET_ELEMENTWISE
#endif

// ---- bias --------------------------------------------------------------------------------

void addBias(size_t rows, size_t cols, float* x, const float* bias) {
  if (cols == 0) return;
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    for (size_t c = 0; c < cols; ++c) row[c] += bias[c];
  }
}

void biasGrad(size_t rows, size_t cols, const float* dy, float* db, float beta) {
  // Column sums in double, a strip of columns at a time so that the sums stay on the stack and
  // the row-major walk over dy stays contiguous: a full-batch gradient sums 60000 rows.
  constexpr size_t kStrip = 256;
  double sums[kStrip];
  for (size_t c0 = 0; c0 < cols; c0 += kStrip) {
    const size_t width = std::min(kStrip, cols - c0);
    std::fill(sums, sums + width, 0.0);
    for (size_t r = 0; r < rows; ++r) {
      const float* row = dy + r * cols + c0;
      for (size_t c = 0; c < width; ++c) sums[c] += row[c];
    }
    float* out = db + c0;
    for (size_t c = 0; c < width; ++c) {
      out[c] = toFloat(beta == 0.0f ? sums[c] : static_cast<double>(beta) * out[c] + sums[c]);
    }
  }
}

// ---- activations -------------------------------------------------------------------------

bool parseActivation(const char* name, size_t length, Activation* kind) {
  struct Entry {
    const char* name;
    Activation kind;
  };
  static const Entry kEntries[] = {
      {"identity", Activation::Identity}, {"relu", Activation::Relu},
      {"leaky-relu", Activation::LeakyRelu}, {"sigmoid", Activation::Sigmoid},
      {"tanh", Activation::Tanh},
  };
  for (const Entry& e : kEntries) {
    if (std::strlen(e.name) == length && std::memcmp(e.name, name, length) == 0) {
      *kind = e.kind;
      return true;
    }
  }
  return false;
}

static void activationForwardRange(Activation kind, size_t n, const float* x, float* y, float slope,
                                   float factor) {
  switch (kind) {
    case Activation::Identity:
      DIGITNET_ELEMENTWISE
      for (size_t i = 0; i < n; ++i) y[i] = factor * x[i];
      return;
    case Activation::Relu:
      DIGITNET_ELEMENTWISE
      for (size_t i = 0; i < n; ++i) {
        const float z = factor * x[i];
        y[i] = z > 0.0f ? z : 0.0f;
      }
      return;
    case Activation::LeakyRelu:
      DIGITNET_ELEMENTWISE
      for (size_t i = 0; i < n; ++i) {
        // max + slope * min is z >= 0 ? z : slope * z (also for -0 and NaN) in a form GCC
        // vectorizes: a multiply under a condition is control flow it will not if-convert.
        const float z = factor * x[i];
        y[i] = std::max(z, 0.0f) + slope * std::min(z, 0.0f);
      }
      return;
    case Activation::Sigmoid:
      DIGITNET_ELEMENTWISE
      for (size_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-factor * x[i]));
      return;
    case Activation::Tanh:
      DIGITNET_ELEMENTWISE
      for (size_t i = 0; i < n; ++i) y[i] = std::tanh(factor * x[i]);
      return;
  }
}

static void activationBackwardRange(Activation kind, size_t n, const float* y, const float* dy, float* dx,
                                   float slope, float factor) {
  switch (kind) {
    case Activation::Identity:
      DIGITNET_ELEMENTWISE
      for (size_t i = 0; i < n; ++i) dx[i] = factor * dy[i];
      return;
    case Activation::Relu:
      DIGITNET_ELEMENTWISE
      for (size_t i = 0; i < n; ++i) {
        // dx = y > 0 ? factor * dy : 0 (exactly 0, whatever dy holds) as a bit mask: GCC keeps the
        // conditional form a branch, which random signs mispredict half the time (7 ns a value).
        const float g = factor * dy[i];
        std::uint32_t bits;
        std::memcpy(&bits, &g, sizeof bits);
        bits &= 0u - static_cast<std::uint32_t>(y[i] > 0.0f);
        std::memcpy(dx + i, &bits, sizeof bits);
      }
      return;
    case Activation::LeakyRelu: {
      const float below = factor * slope;
      DIGITNET_ELEMENTWISE
      for (size_t i = 0; i < n; ++i) dx[i] = (y[i] > 0.0f ? factor : below) * dy[i];
      return;
    }
    case Activation::Sigmoid:
      DIGITNET_ELEMENTWISE
      for (size_t i = 0; i < n; ++i) dx[i] = factor * (y[i] * (1.0f - y[i])) * dy[i];
      return;
    case Activation::Tanh:
      DIGITNET_ELEMENTWISE
      for (size_t i = 0; i < n; ++i) dx[i] = factor * (1.0f - y[i] * y[i]) * dy[i];
      return;
  }
}

// A convolution's activations (tens of thousands of values a call) stream through memory at a
// fraction of a nanosecond each, tens of microseconds a call: a second thread joins in one.
constexpr size_t kActivationBlock = size_t{1} << 14;
constexpr size_t kActivationMinParallel = size_t{1} << 15;

void activationForward(Activation kind, size_t n, const float* x, float* y, float slope, float factor) {
  parallel_ranges(n, kActivationBlock, kActivationMinParallel, [=](size_t first, size_t last) {
    activationForwardRange(kind, last - first, x + first, y + first, slope, factor);
  });
}

void activationBackward(Activation kind, size_t n, const float* y, const float* dy, float* dx, float slope,
                        float factor) {
  parallel_ranges(n, kActivationBlock, kActivationMinParallel, [=](size_t first, size_t last) {
    activationBackwardRange(kind, last - first, y + first, dy + first, dx + first, slope, factor);
  });
}

// ---- softmax and cross-entropy -----------------------------------------------------------

// probs[0:cols] = exp(logits - max) / sum, reading each logit before writing the same index (so
// probs may be logits). Returns log(sum exp(logits - max)) + max, the row's log-sum-exp.
static double softmaxRow(size_t cols, const float* logits, float* probs) {
  float max = logits[0];
  for (size_t c = 1; c < cols; ++c) max = std::max(max, logits[c]);
  double sum = 0.0;
  for (size_t c = 0; c < cols; ++c) {
    const float e = std::exp(logits[c] - max);
    probs[c] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (size_t c = 0; c < cols; ++c) probs[c] *= inv;
  return std::log(sum) + max;
}

void softmax(size_t rows, size_t cols, const float* logits, float* probs) {
  if (cols == 0) return;
  for (size_t r = 0; r < rows; ++r) softmaxRow(cols, logits + r * cols, probs + r * cols);
}

// softmaxCrossEntropy for either label width (Label is std::uint8_t or std::uint16_t).
template <typename Label>
static IndexStatus softmaxCrossEntropyOf(size_t rows, size_t cols, const float* logits,
                                         const Label* labels, float* probs, float* dlogits,
                                         float scale, double* loss) {
  double sum = 0.0;
  for (size_t r = 0; r < rows; ++r) {
    const Label label = readOnce(labels + r);
    if (label >= cols) return {false, r, label};
    const float* lrow = logits + r * cols;
    const double target = lrow[label];  // read before probs (maybe the same row) is written
    float* prow = probs + r * cols;
    sum += softmaxRow(cols, lrow, prow) - target;
    // dlogits is written after the whole probs row, and may alias it: keep p[label] first.
    const float plabel = prow[label];
    float* drow = dlogits + r * cols;
    for (size_t c = 0; c < cols; ++c) drow[c] = scale * prow[c];
    drow[label] = scale * (plabel - 1.0f);
  }
  *loss = sum;
  return {};
}

IndexStatus softmaxCrossEntropy(size_t rows, size_t cols, const float* logits,
                                const std::uint8_t* labels, float* probs, float* dlogits,
                                float scale, double* loss) {
  return softmaxCrossEntropyOf(rows, cols, logits, labels, probs, dlogits, scale, loss);
}

IndexStatus softmaxCrossEntropy(size_t rows, size_t cols, const float* logits,
                                const std::uint16_t* labels, float* probs, float* dlogits,
                                float scale, double* loss) {
  return softmaxCrossEntropyOf(rows, cols, logits, labels, probs, dlogits, scale, loss);
}

// ---- elementwise product -----------------------------------------------------------------

void multiply(size_t n, const float* a, const float* b, float* out) {
  // Memory-bound: a second thread pays only once the three arrays leave the first core's caches.
  constexpr size_t kBlock = 16384;
  constexpr size_t kMinParallel = size_t{1} << 18;
  parallel_ranges(n, kBlock, kMinParallel, [=](size_t first, size_t last) {
    DIGITNET_ELEMENTWISE
    for (size_t i = first; i < last; ++i) out[i] = a[i] * b[i];
  });
}

// ---- data --------------------------------------------------------------------------------

// dst rows [first, last) of gatherRows.
static IndexStatus gatherRange(const std::uint8_t* src, size_t srcRows, size_t rowLen,
                               const std::uint32_t* indices, size_t first, size_t last,
                               double scale, float* dst) {
  // A byte is at most 255: below this scale no product leaves float's range, and the plain
  // conversion (which the compiler vectorizes) is exact IEEE rounding.
  const bool productsFit = !(std::fabs(scale) > FLT_MAX / 255);
  for (size_t r = first; r < last; ++r) {
    const std::uint32_t index = readOnce(indices + r);
    if (index >= srcRows) return {false, r, index};
    const std::uint8_t* from = src + static_cast<size_t>(index) * rowLen;
    float* to = dst + r * rowLen;
    if (productsFit) {
      for (size_t j = 0; j < rowLen; ++j) to[j] = static_cast<float>(scale * from[j]);
    } else {
      for (size_t j = 0; j < rowLen; ++j) to[j] = toFloat(scale * from[j]);
    }
  }
  return {};
}

IndexStatus gatherRows(const std::uint8_t* src, size_t srcRows, size_t rowLen,
                       const std::uint32_t* indices, size_t count, double scale, float* dst) {
  if (rowLen == 0) return {};  // zero-length rows: nothing is read, any index is harmless
  // Rows picked at random from a set larger than the caches: each one waits on memory. A
  // minibatch of MNIST (256 rows) took 150 us on one thread and 74 us on two (Zen 5 class).
  constexpr size_t kRowsPerBlock = 32;
  const size_t blocks = (count + kRowsPerBlock - 1) / kRowsPerBlock;
  if (blocks < 2 || count * rowLen < (size_t{1} << 15)) {
    return gatherRange(src, srcRows, rowLen, indices, 0, count, scale, dst);
  }
  IndexStatus firstBad;  // the lowest bad position any block met
  std::mutex firstBadLock;
  parallel_for(blocks, [&](size_t b) {
    const IndexStatus status = gatherRange(src, srcRows, rowLen, indices, b * kRowsPerBlock,
                                           std::min(count, (b + 1) * kRowsPerBlock), scale, dst);
    if (status.ok) return;
    const std::lock_guard<std::mutex> guard(firstBadLock);
    if (firstBad.ok || status.position < firstBad.position) firstBad = status;
  });
  return firstBad;
}

// ---- optimizer steps ---------------------------------------------------------------------

void sgdStep(size_t n, float lr, float* w, const float* g) {
  for (size_t i = 0; i < n; ++i) w[i] -= lr * g[i];
}

void momentumStep(size_t n, float lr, float mu, float* w, const float* g, float* v) {
  for (size_t i = 0; i < n; ++i) {
    v[i] = mu * v[i] + g[i];
    w[i] -= lr * v[i];
  }
}

void adamStep(size_t n, float lr, float beta1, float beta2, float eps, double t, float* w,
              const float* g, float* m, float* v) {
  // Bias corrections in double: 1 - b^t loses most of its digits in float for b2 = 0.999.
  const float correct1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(beta1), t)));
  const float correct2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(beta2), t)));
  const float keep1 = 1.0f - beta1, keep2 = 1.0f - beta2;
  // Half a nanosecond per weight vectorized (a square root and a division): a dense layer's
  // hundreds of thousands of weights (100 us for the reference CNN's 200,000) pay for a second
  // thread. Each weight is computed alone, so any split gives the same bits.
  constexpr size_t kBlock = 8192;
  constexpr size_t kMinParallel = size_t{1} << 15;
  parallel_ranges(n, kBlock, kMinParallel, [=](size_t first, size_t last) {
    for (size_t i = first; i < last; ++i) {
      m[i] = beta1 * m[i] + keep1 * g[i];
      v[i] = beta2 * v[i] + keep2 * g[i] * g[i];
      w[i] -= lr * (m[i] * correct1) / (std::sqrt(v[i] * correct2) + eps);
    }
  });
}

}  // namespace digitnet
