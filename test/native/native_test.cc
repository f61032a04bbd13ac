// Tests of the native core below the addon, where addon.cc's argument checks cannot help:
// kernels called directly with labels and indices out of range (as another thread could make
// them after addon.cc looked), the float conversion, the CPU count behind the default thread
// count, and a thread pool whose workers cannot be started.
//   cmake -S . -B build-native-test -DDIGITNET_NATIVE_TESTS=ON
//   cmake --build build-native-test --target native_test && build-native-test/native_test
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../../native/augment.h"
#include "../../native/batchnorm.h"
#include "../../native/conv.h"
#include "../../native/conv_tiles.h"
#include "../../native/cpus.h"
#include "../../native/dropout.h"
#include "../../native/fma_peak.h"
#include "../../native/gemm.h"
#include "../../native/kernels.h"
#include "../../native/parallel.h"
#include "../../native/pool.h"
#include "../../native/to_float.h"
#include "report.h"

#if defined(__linux__)
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DIGITNET_SANITIZED 1
#endif

namespace {

using digitnet::IndexStatus;
using digitnet_test::Report;

constexpr float kUntouched = -7.0f;

std::string statusText(const IndexStatus& s) {
  return s.ok ? "ok" : "position " + std::to_string(s.position) + ", value " + std::to_string(s.value);
}

// The kernel stops at the first bad label, having written the rows before it and nothing else.
std::string softmaxCrossEntropyStopsAtBadLabel() {
  const std::size_t rows = 4, cols = 3;
  const std::vector<float> logits = {1, 2, 3, 0, 0, 0, 5, 1, 1, 2, 2, 2};
  const std::uint8_t labels[rows] = {0, 2, 3, 1};
  std::vector<float> probs(rows * cols + 1, kUntouched), dlogits(rows * cols + 1, kUntouched);
  double loss = 12345.0;
  const IndexStatus s = digitnet::softmaxCrossEntropy(rows, cols, logits.data(), labels, probs.data(),
                                                      dlogits.data(), 1.0f, &loss);
  if (s.ok || s.position != 2 || s.value != 3) return "status " + statusText(s) + ", want position 2, value 3";
  if (loss != 12345.0) return "loss was written";
  for (std::size_t i = 0; i < 2 * cols; ++i) {
    if (probs[i] == kUntouched || dlogits[i] == kUntouched) return "row " + std::to_string(i / cols) + " not written";
  }
  for (std::size_t i = 2 * cols; i < probs.size(); ++i) {
    if (probs[i] != kUntouched || dlogits[i] != kUntouched) return "wrote element " + std::to_string(i);
  }
  return "";
}

std::string softmaxCrossEntropyValidLabels() {
  const float logits[4] = {0, 0, 1, 1};
  const std::uint8_t labels[2] = {1, 0};
  float probs[4], dlogits[4];
  double loss = 0;
  const IndexStatus s = digitnet::softmaxCrossEntropy(2, 2, logits, labels, probs, dlogits, 1.0f, &loss);
  if (!s.ok) return "status " + statusText(s);
  if (std::fabs(loss - 2 * std::log(2.0)) > 1e-6) return "loss " + std::to_string(loss);
  return "";
}

// 16-bit labels: the same stop, at a label past a byte's range.
std::string softmaxCrossEntropyStopsAtBadWideLabel() {
  const std::size_t rows = 3, cols = 300;
  const std::vector<float> logits(rows * cols, 0.5f);
  const std::uint16_t labels[rows] = {299, 300, 0};
  std::vector<float> probs(rows * cols, kUntouched), dlogits(rows * cols, kUntouched);
  double loss = 12345.0;
  const IndexStatus s = digitnet::softmaxCrossEntropy(rows, cols, logits.data(), labels, probs.data(),
                                                      dlogits.data(), 1.0f, &loss);
  if (s.ok || s.position != 1 || s.value != 300) return "status " + statusText(s) + ", want position 1, value 300";
  if (loss != 12345.0) return "loss was written";
  for (std::size_t i = 0; i < cols; ++i) {
    if (probs[i] == kUntouched || dlogits[i] == kUntouched) return "row 0 not written";
  }
  for (std::size_t i = cols; i < probs.size(); ++i) {
    if (probs[i] != kUntouched || dlogits[i] != kUntouched) return "wrote element " + std::to_string(i);
  }
  return "";
}

// 16-bit labels past a byte's range pick their own column: equal logits give log(cols) a row,
// and dlogits[r, label] is the only entry below 0.
std::string softmaxCrossEntropyValidWideLabels() {
  const std::size_t rows = 2, cols = 65536;
  const std::vector<float> logits(rows * cols, 0.0f);
  const std::uint16_t labels[rows] = {65535, 256};
  std::vector<float> probs(rows * cols), dlogits(rows * cols);
  double loss = 0;
  const IndexStatus s = digitnet::softmaxCrossEntropy(rows, cols, logits.data(), labels, probs.data(),
                                                      dlogits.data(), 1.0f, &loss);
  if (!s.ok) return "status " + statusText(s);
  if (std::fabs(loss - 2 * std::log(static_cast<double>(cols))) > 1e-4) return "loss " + std::to_string(loss);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      if ((dlogits[r * cols + c] < 0) != (c == labels[r])) return "dlogits[" + std::to_string(r) + ", " + std::to_string(c) + "]";
    }
  }
  return "";
}

std::string gatherRowsStopsAtBadIndex() {
  const std::size_t rowLen = 3, srcRows = 4;
  std::vector<std::uint8_t> src(rowLen * srcRows, 10);
  const std::uint32_t indices[5] = {0, 3, 1, 4, 2};
  std::vector<float> dst(5 * rowLen + 1, kUntouched);
  const IndexStatus s = digitnet::gatherRows(src.data(), srcRows, rowLen, indices, 5, 0.5, dst.data());
  if (s.ok || s.position != 3 || s.value != 4) return "status " + statusText(s) + ", want position 3, value 4";
  for (std::size_t i = 0; i < 3 * rowLen; ++i) {
    if (dst[i] != 5.0f) return "dst[" + std::to_string(i) + "] = " + std::to_string(dst[i]);
  }
  for (std::size_t i = 3 * rowLen; i < dst.size(); ++i) {
    if (dst[i] != kUntouched) return "wrote dst[" + std::to_string(i) + "]";
  }
  return "";
}

// Large enough to be split over the pool: each block stops at its own first bad index, and the
// lowest of those is reported.
std::string gatherRowsOnThreadsReportsLowestBadIndex() {
  const std::size_t rowLen = 784, srcRows = 10, count = 2048;
  std::vector<std::uint8_t> src(rowLen * srcRows, 1);
  std::vector<std::uint32_t> indices(count, 5);
  indices[1500] = 10;
  indices[300] = 0xffffffffu;
  std::vector<float> dst(count * rowLen);
  digitnet::setThreads(4);
  const IndexStatus s = digitnet::gatherRows(src.data(), srcRows, rowLen, indices.data(), count, 1.0, dst.data());
  if (s.ok || s.position != 300 || s.value != 0xffffffffu) return "status " + statusText(s) + ", want position 300";
  return "";
}

std::string toFloatRoundsAsMathFround() {
  struct Case {
    double in;
    float want;
  };
  const double overflow = std::ldexp(1.0, 128) - std::ldexp(1.0, 103);  // halfway to 2^128
  const Case cases[] = {
      {0.1, 0.1f}, {-2.5, -2.5f}, {FLT_MAX, FLT_MAX}, {FLT_MAX + 1e31, FLT_MAX},
      {-(FLT_MAX + 1e31), -FLT_MAX}, {std::nextafter(overflow, 0.0), FLT_MAX}, {overflow, INFINITY},
      {1e300, INFINITY}, {-1e300, -INFINITY}, {INFINITY, INFINITY}, {1e-50, 0.0f},
  };
  for (const Case& c : cases) {
    const float got = digitnet::toFloat(c.in);
    if (got != c.want) return "toFloat(" + std::to_string(c.in) + ") = " + std::to_string(got);
  }
  if (!std::isnan(digitnet::toFloat(NAN))) return "toFloat(NaN) is not NaN";
  return "";
}

// sgemm against the reference at every thread count from 1 to max(8, the CPUs here), on
// shapes large enough to be split and ragged against the register tile: each count splits C
// its own way.
std::string sgemmMatchesReferenceAtEveryThreadCount() {
  const digitnet::GemmBlockSizes blocks = digitnet::sgemm_block_sizes();
  const std::size_t shapes[][3] = {
      {3 * blocks.mr + 1, 4 * blocks.nr + 5, 300}, {blocks.mc + blocks.mr + 3, 97, 200},
      {97, 14 * blocks.nr + 1, 256}, {256, 256, 256}, {1000, 64, 100}, {64, 1000, 100},
  };
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  const int most = std::max(8, digitnet::usableCpus());
  for (int threads = 1; threads <= most; ++threads) {
    digitnet::setThreads(threads);
    for (const auto& shape : shapes) {
      const std::size_t m = shape[0], n = shape[1], k = shape[2];
      for (const bool transA : {false, true}) {
        for (const bool transB : {false, true}) {
          const std::size_t lda = (transA ? m : k) + 1, ldb = (transB ? k : n) + 2, ldc = n + 3;
          std::vector<float> a((transA ? k : m) * lda), b((transB ? n : k) * ldb), c(m * ldc);
          for (float& x : a) x = uniform(rng);
          for (float& x : b) x = uniform(rng);
          for (float& x : c) x = uniform(rng);
          std::vector<float> want = c;
          digitnet::sgemm(transA, transB, m, n, k, 1.25f, a.data(), lda, b.data(), ldb, 0.5f, c.data(), ldc);
          digitnet::sgemm_reference(transA, transB, m, n, k, 1.25f, a.data(), lda, b.data(), ldb, 0.5f,
                                    want.data(), ldc);
          for (std::size_t i = 0; i < c.size(); ++i) {
            if (!(std::fabs(c[i] - want[i]) <= 1e-5f * static_cast<float>(k + 1) * (1 + std::fabs(want[i])))) {
              return std::to_string(threads) + " threads, " + std::to_string(m) + "x" + std::to_string(n) + "x" +
                     std::to_string(k) + (transA ? " A^T" : " A") + (transB ? " B^T" : " B") + ": C[" +
                     std::to_string(i) + "] = " + std::to_string(c[i]) + ", reference " + std::to_string(want[i]);
            }
          }
        }
      }
    }
  }
  return "";
}

// ---- dropout and multiply ---------------------------------------------------------------

// Value i's hash as lib/core/random.ts writes it, hashAt(streamSalt(key), i), spelled out here on
// its own rather than through native/dropout.h.
std::uint32_t lowbias32(std::uint32_t x) {
  x = (x ^ (x >> 16)) * 0x7feb352du;
  x = (x ^ (x >> 15)) * 0x846ca68bu;
  return x ^ (x >> 16);
}
std::uint32_t dropoutHash(std::uint32_t key, std::size_t i) {
  return lowbias32(static_cast<std::uint32_t>(i) * 0x9e3779b9u + lowbias32(key));
}

// The TypeScript backend's loop: keep when the hash, as a double, is below (1 - rate) * 2^32.
void dropoutByDefinition(std::size_t n, std::uint32_t key, double rate, const float* x, float* y, float* mask) {
  const double threshold = (1.0 - rate) * 4294967296.0;
  const float scale = static_cast<float>(1.0 / (1.0 - rate));
  for (std::size_t i = 0; i < n; ++i) {
    mask[i] = static_cast<double>(dropoutHash(key, i)) < threshold ? scale : 0.0f;
    y[i] = x[i] * mask[i];
  }
}

// The instruction sets this CPU runs, portable first.
std::vector<const digitnet::DropoutIsa*> dropoutIsas() {
  std::vector<const digitnet::DropoutIsa*> isas;
  for (const digitnet::DropoutIsa* isa : {&digitnet::kDropoutScalar, &digitnet::kDropoutAvx2, &digitnet::kDropoutAvx512}) {
    if (isa->supported()) isas.push_back(isa);
  }
  return isas;
}

// Random floats of every magnitude with zeros, infinities, NaN and subnormals among them.
std::vector<float> edgyFloats(std::size_t n, unsigned seed) {
  static const float kSpecial[] = {0.0f, -0.0f, -1.0f, INFINITY, -INFINITY, NAN, 1e-45f, -3e-39f, 3.4e38f, -3e38f};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-40, 40);
  std::vector<float> x(n);
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = i % 7 == 3 ? kSpecial[(i / 7) % 10] : uniform(rng) * std::pow(10.0f, static_cast<float>(exponent(rng)));
  }
  return x;
}

bool sameBits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// The first index where two float arrays differ in their bits, for messages.
std::string firstDifference(const std::vector<float>& got, const std::vector<float>& want) {
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      return "[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", want " + std::to_string(want[i]);
    }
  }
  return "";
}

// Hashes of lib/core/random.ts's hash32(key, i), printed by Node: a change to either side shows.
std::string dropoutHashIsRandomTs() {
  struct Case {
    std::uint32_t key;
    std::size_t i;
    std::uint32_t want;
  };
  const Case cases[] = {{0, 0, 0u},
                        {1, 1, 2988215890u},
                        {0xffffffffu, 12345, 1067365220u},
                        {0x9e3779b9u, 0xffffffffu, 1459486811u}};
  for (const Case& c : cases) {
    if (dropoutHash(c.key, c.i) != c.want) return "hash32(" + std::to_string(c.key) + ", " + std::to_string(c.i) + ")";
    // The kernel's own: keep everything at rate 0.5 whose hash is below 2^31.
    const digitnet::DropoutParams p = digitnet::dropoutParams(c.key, 0.5);
    const std::uint32_t counter = static_cast<std::uint32_t>(c.i) * 0x9e3779b9u;
    if (digitnet::dropoutMix(c.key) != p.salt || digitnet::dropoutMix(counter + p.salt) != c.want) {
      return "dropout.h's hash of key " + std::to_string(c.key) + ", i " + std::to_string(c.i);
    }
  }
  return "";
}

// maxKept = ceil((1 - rate) 2^32) - 1 at the ends of the rate range, and the scale as Math.fround.
std::string dropoutParamsAtTheEdges() {
  struct Case {
    double rate;
    std::uint32_t maxKept;
    float scale;
  };
  const Case cases[] = {
      {0.0, 0xffffffffu, 1.0f},
      {-0.0, 0xffffffffu, 1.0f},
      {std::ldexp(1.0, -53), 0xffffffffu, 1.0f},  // keep = 1 - 2^-53: (2^32 - 2^-21) rounds up to 2^32
      {0.5, 0x7fffffffu, 2.0f},
      {0.75, 0x3fffffffu, 4.0f},
      {1.0 - std::ldexp(1.0, -53), 0u, static_cast<float>(std::ldexp(1.0, 53))},  // keep 2^-53: only hash 0
      {0.1, static_cast<std::uint32_t>(std::ceil(0.9 * 4294967296.0) - 1), static_cast<float>(1.0 / 0.9)},
  };
  for (const Case& c : cases) {
    const digitnet::DropoutParams p = digitnet::dropoutParams(7, c.rate);
    if (p.maxKept != c.maxKept || p.scale != c.scale) {
      return "rate " + std::to_string(c.rate) + ": maxKept " + std::to_string(p.maxKept) + ", scale " +
             std::to_string(p.scale);
    }
  }
  return "";
}

// Every instruction set, on one thread and unaligned views, gives the definition's bits.
std::string dropoutMatchesDefinitionOnEveryIsa() {
  const std::size_t sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 65, 130, 1000, 8191, 8193, 100003};
  const std::uint32_t keys[] = {0, 1, 0x9e3779b9u, 0xffffffffu};
  const double rates[] = {0.0, 0.1, 0.5, 0.999, 1.0 - std::ldexp(1.0, -53)};
  const std::vector<float> x = edgyFloats(100003 + 1, 1);
  digitnet::setThreads(1);
  std::printf("# dropout instruction sets this CPU runs (the others are not tested here):");
  for (const digitnet::DropoutIsa* isa : dropoutIsas()) std::printf(" %s", isa->name);
  std::printf("\n");
  for (const digitnet::DropoutIsa* isa : dropoutIsas()) {
    for (const std::size_t n : sizes) {
      for (const std::uint32_t key : keys) {
        for (const double rate : rates) {
          std::vector<float> wantY(n), wantMask(n);
          dropoutByDefinition(n, key, rate, x.data() + 1, wantY.data(), wantMask.data());
          std::vector<float> y(n + 1, kUntouched), mask(n + 2, kUntouched);  // odd offsets: unaligned
          digitnet::dropoutOn(*isa, n, key, rate, x.data() + 1, y.data() + 1, mask.data() + 2);
          const std::vector<float> gotY(y.begin() + 1, y.end()), gotMask(mask.begin() + 2, mask.end());
          const std::string where = std::string(isa->name) + " n " + std::to_string(n) + " key " + std::to_string(key) +
                                    " rate " + std::to_string(rate);
          if (y[0] != kUntouched || mask[0] != kUntouched || mask[1] != kUntouched) {
            return where + ": wrote before the view";
          }
          if (!sameBits(gotMask, wantMask)) return where + ": mask" + firstDifference(gotMask, wantMask);
          if (!sameBits(gotY, wantY)) return where + ": y" + firstDifference(gotY, wantY);
        }
      }
    }
  }
  return "";
}

// Split over the pool (or not), in place (y = x) or not, every ISA and every thread count from 1
// to max(8, CPUs) gives the bits of one thread: each value depends on its index alone.
std::string dropoutSameBitsOnAnyThreadsAndIsa() {
  const std::size_t n = (std::size_t{1} << 20) + 13;
  const std::vector<float> x = edgyFloats(n, 2);
  std::vector<float> wantY(n), wantMask(n);
  dropoutByDefinition(n, 0xdecafbadu, 0.3, x.data(), wantY.data(), wantMask.data());
  const int most = std::max(8, digitnet::usableCpus());
  for (const digitnet::DropoutIsa* isa : dropoutIsas()) {
    for (int threads = 1; threads <= most; ++threads) {
      digitnet::setThreads(threads);
      std::vector<float> y(n), mask(n);
      digitnet::dropoutOn(*isa, n, 0xdecafbadu, 0.3, x.data(), y.data(), mask.data());
      const std::string where = std::string(isa->name) + " on " + std::to_string(threads) + " threads";
      if (!sameBits(mask, wantMask)) return where + ": mask" + firstDifference(mask, wantMask);
      if (!sameBits(y, wantY)) return where + ": y" + firstDifference(y, wantY);
      std::vector<float> inPlace = x;
      digitnet::dropoutOn(*isa, n, 0xdecafbadu, 0.3, inPlace.data(), inPlace.data(), mask.data());
      if (!sameBits(inPlace, wantY)) return where + ", in place: y" + firstDifference(inPlace, wantY);
    }
  }
  // dropout() itself uses the ISA sgemm chose.
  if (std::strcmp(digitnet::dropoutIsa().name, digitnet::sgemm_kernel_name()) != 0) {
    return std::string("dropout uses ") + digitnet::dropoutIsa().name + ", sgemm " + digitnet::sgemm_kernel_name();
  }
  std::vector<float> y(n), mask(n);
  digitnet::dropout(n, 0xdecafbadu, 0.3, x.data(), y.data(), mask.data());
  if (!sameBits(y, wantY) || !sameBits(mask, wantMask)) return "dropout() differs from the definition";
  return "";
}

// multiply is the float product, on any thread count, in place on either operand.
std::string multiplySameBitsOnAnyThreads() {
  const std::size_t n = (std::size_t{1} << 20) + 5;
  const std::vector<float> a = edgyFloats(n, 3), b = edgyFloats(n, 4);
  std::vector<float> want(n);
  for (std::size_t i = 0; i < n; ++i) want[i] = a[i] * b[i];
  const int most = std::max(8, digitnet::usableCpus());
  for (int threads = 1; threads <= most; ++threads) {
    digitnet::setThreads(threads);
    std::vector<float> out(n + 1, kUntouched);
    digitnet::multiply(n, a.data(), b.data(), out.data());
    if (out[n] != kUntouched) return "wrote past n";
    out.pop_back();
    const std::string where = "on " + std::to_string(threads) + " threads";
    if (!sameBits(out, want)) return where + firstDifference(out, want);
    std::vector<float> onA = a, onB = b;
    digitnet::multiply(n, onA.data(), b.data(), onA.data());
    digitnet::multiply(n, a.data(), onB.data(), onB.data());
    if (!sameBits(onA, want) || !sameBits(onB, want)) return where + ", in place";
  }
  return "";
}

// adamStep gives the bits of its definition, one weight at a time in float, on any thread count
// (the pool splits it from 2^15 weights on).
std::string adamSameBitsOnAnyThreads() {
  const std::size_t n = (std::size_t{1} << 18) + 7;
  const std::vector<float> w0 = edgyFloats(n, 5), g = edgyFloats(n, 6), m0 = edgyFloats(n, 7);
  std::vector<float> v0 = edgyFloats(n, 8);
  for (float& x : v0) x = std::fabs(x);
  const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  const double t = 3;
  const float correct1 = static_cast<float>(1.0 / (1.0 - std::pow(0.9f, t)));
  const float correct2 = static_cast<float>(1.0 / (1.0 - std::pow(0.999f, t)));
  std::vector<float> wantW = w0, wantM = m0, wantV = v0;
  for (std::size_t i = 0; i < n; ++i) {
    wantM[i] = beta1 * wantM[i] + (1.0f - beta1) * g[i];
    wantV[i] = beta2 * wantV[i] + (1.0f - beta2) * g[i] * g[i];
    wantW[i] -= lr * (wantM[i] * correct1) / (std::sqrt(wantV[i] * correct2) + eps);
  }
  const int most = std::max(8, digitnet::usableCpus());
  for (int threads = 1; threads <= most; ++threads) {
    digitnet::setThreads(threads);
    std::vector<float> w = w0, m = m0, v = v0;
    digitnet::adamStep(n, lr, beta1, beta2, eps, t, w.data(), g.data(), m.data(), v.data());
    const std::string where = "on " + std::to_string(threads) + " threads";
    if (!sameBits(m, wantM)) return where + ": m" + firstDifference(m, wantM);
    if (!sameBits(v, wantV)) return where + ": v" + firstDifference(v, wantV);
    if (!sameBits(w, wantW)) return where + ": w" + firstDifference(w, wantW);
  }
  return "";
}

// ---- augmentation ----------------------------------------------------------------------------

// augment (per-thread padded fields, the instruction set sgemm chose, split over the pool) gives
// the bits of augmentReference (native/augment.h's definition, one value at a time) on 1-4
// threads: odd sizes, rows of every vector remainder (1..70 pixels), several channels, fields off
// and on, taps longer than the image, maps that send pixels outside, and a tap that is not finite
// (the kernel then uses the definition itself). DIGITNET_ISA=scalar tests the portable build.
std::string augmentMatchesDefinitionOnEveryThreadCount() {
  struct Case {
    std::size_t n, c, h, w;
    float alpha;
    std::size_t taps;
  };
  const Case cases[] = {{6, 1, 28, 28, 34.0f, 25}, {6, 1, 28, 28, 0.0f, 1}, {3, 3, 13, 17, 3.0f, 7},
                        {4, 2, 5, 1, -5.0f, 41}, {2, 1, 1, 9, 2.0f, 1}, {9, 1, 16, 16, 34.0f, 25},
                        {2, 1, 40, 45, 34.0f, 25}, {2, 2, 7, 70, 5.0f, 9}, {1, 1, 33, 29, 1.0f, 3}};
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  const int threads = digitnet::getThreads();
  std::string failure;
  for (const Case& k : cases) {
    for (int bad = 0; bad < 2 && failure.empty(); ++bad) {
      std::vector<float> x(k.n * k.c * k.h * k.w), maps(6 * k.n), blur(k.taps);
      for (float& v : x) v = unit(rng);
      for (std::size_t i = 0; i < k.n; ++i) {
        const float theta = unit(rng) - 0.5f, s = 0.8f + 0.4f * unit(rng);
        const float m[6] = {std::cos(theta) / s, -std::sin(theta) / s + 0.1f, std::sin(theta) / s, std::cos(theta) / s,
                            6.0f * unit(rng) - 3.0f, 6.0f * unit(rng) - 3.0f};
        std::copy(m, m + 6, maps.begin() + 6 * i);
      }
      for (float& b : blur) b = unit(rng) / static_cast<float>(k.taps);
      if (bad == 1) blur[k.taps / 3] = NAN;
      std::vector<float> want(x.size(), 7.0f);
      digitnet::augmentReference(k.n, k.c, k.h, k.w, x.data(), want.data(), maps.data(), 42, k.alpha, blur.data(), k.taps);
      for (int t = 1; t <= 4 && failure.empty(); ++t) {
        digitnet::setThreads(t);
        std::vector<float> got(x.size(), 9.0f);
        digitnet::augment(k.n, k.c, k.h, k.w, x.data(), got.data(), maps.data(), 42, k.alpha, blur.data(), k.taps);
        if (!sameBits(got, want)) {
          failure = std::to_string(k.n) + "x" + std::to_string(k.c) + "x" + std::to_string(k.h) + "x" + std::to_string(k.w) +
                    (bad ? " with a NaN tap" : "") + " on " + std::to_string(t) + " thread(s): " + firstDifference(got, want);
        }
      }
    }
  }
  digitnet::setThreads(threads);
  return failure;
}

// ---- convolution, pooling, batch normalization ------------------------------------------

using digitnet::ConvGeometry;

std::vector<float> uniformFloats(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = uniform(rng);
  return v;
}

// The input position o*stride - pad + k when it lies in [0, size), else -1 (a padding read).
long long convInput(std::size_t o, std::size_t k, std::size_t stride, std::size_t pad, std::size_t size) {
  const long long at = static_cast<long long>(o * stride + k) - static_cast<long long>(pad);
  return at >= 0 && at < static_cast<long long>(size) ? at : -1;
}

// A double-precision reference result and, per element, the sum of its terms' magnitudes (what
// float rounding is relative to).
struct Expected {
  std::vector<double> value, magnitude;
};

// Visits every term weight[o,j,ky,kx] * x[i,j,iy,ix] of the convolution as fn(i, o, p, j, k, xAt),
// p = oy*ow + ox, k = (ky*kw + kx), xAt the offset of x[i,j,iy,ix].
template <typename Fn>
void forEachConvTerm(const ConvGeometry& g, Fn fn) {
  for (std::size_t i = 0; i < g.n; ++i) {
    for (std::size_t o = 0; o < g.f; ++o) {
      for (std::size_t oy = 0; oy < g.oh; ++oy) {
        for (std::size_t ox = 0; ox < g.ow; ++ox) {
          for (std::size_t j = 0; j < g.c; ++j) {
            for (std::size_t ky = 0; ky < g.kh; ++ky) {
              const long long iy = convInput(oy, ky, g.stride, g.padTop, g.h);
              if (iy < 0) continue;
              for (std::size_t kx = 0; kx < g.kw; ++kx) {
                const long long ix = convInput(ox, kx, g.stride, g.padLeft, g.w);
                if (ix < 0) continue;
                fn(i, o, oy * g.ow + ox, j, ky * g.kw + kx, ((i * g.c + j) * g.h + static_cast<std::size_t>(iy)) * g.w + static_cast<std::size_t>(ix));
              }
            }
          }
        }
      }
    }
  }
}

Expected convForwardByDefinition(const ConvGeometry& g, const std::vector<float>& x, const std::vector<float>& weight,
                                 const std::vector<float>& bias) {
  const std::size_t pixels = g.oh * g.ow, taps = g.kh * g.kw;
  Expected e{std::vector<double>(g.n * g.f * pixels), std::vector<double>(g.n * g.f * pixels)};
  for (std::size_t i = 0; i < g.n; ++i) {
    for (std::size_t o = 0; o < g.f; ++o) {
      for (std::size_t p = 0; p < pixels; ++p) {
        e.value[(i * g.f + o) * pixels + p] = bias[o];
        e.magnitude[(i * g.f + o) * pixels + p] = std::fabs(bias[o]);
      }
    }
  }
  forEachConvTerm(g, [&](std::size_t i, std::size_t o, std::size_t p, std::size_t j, std::size_t k, std::size_t xAt) {
    const double term = static_cast<double>(weight[(o * g.c + j) * taps + k]) * x[xAt];
    e.value[(i * g.f + o) * pixels + p] += term;
    e.magnitude[(i * g.f + o) * pixels + p] += std::fabs(term);
  });
  return e;
}

Expected convBackwardDataByDefinition(const ConvGeometry& g, const std::vector<float>& dy, const std::vector<float>& weight) {
  const std::size_t pixels = g.oh * g.ow, taps = g.kh * g.kw;
  Expected e{std::vector<double>(g.n * g.c * g.h * g.w), std::vector<double>(g.n * g.c * g.h * g.w)};
  forEachConvTerm(g, [&](std::size_t i, std::size_t o, std::size_t p, std::size_t j, std::size_t k, std::size_t xAt) {
    const double term = static_cast<double>(weight[(o * g.c + j) * taps + k]) * dy[(i * g.f + o) * pixels + p];
    e.value[xAt] += term;
    e.magnitude[xAt] += std::fabs(term);
  });
  return e;
}

// dWeight then dBias, one after the other (f*c*kh*kw + f values), for the old values and beta.
Expected convBackwardFilterByDefinition(const ConvGeometry& g, const std::vector<float>& x, const std::vector<float>& dy,
                                        const std::vector<float>& old, float beta) {
  const std::size_t pixels = g.oh * g.ow, taps = g.kh * g.kw, weights = g.f * g.c * taps;
  Expected e{std::vector<double>(old.size()), std::vector<double>(old.size())};
  for (std::size_t q = 0; q < old.size(); ++q) {
    e.value[q] = beta == 0.0f ? 0.0 : static_cast<double>(beta) * old[q];
    e.magnitude[q] = std::fabs(e.value[q]);
  }
  forEachConvTerm(g, [&](std::size_t i, std::size_t o, std::size_t p, std::size_t j, std::size_t k, std::size_t xAt) {
    const double term = static_cast<double>(dy[(i * g.f + o) * pixels + p]) * x[xAt];
    e.value[(o * g.c + j) * taps + k] += term;
    e.magnitude[(o * g.c + j) * taps + k] += std::fabs(term);
  });
  for (std::size_t i = 0; i < g.n; ++i) {
    for (std::size_t o = 0; o < g.f; ++o) {
      for (std::size_t p = 0; p < pixels; ++p) {
        e.value[weights + o] += dy[(i * g.f + o) * pixels + p];
        e.magnitude[weights + o] += std::fabs(dy[(i * g.f + o) * pixels + p]);
      }
    }
  }
  return e;
}

// "" when every element is within float rounding of the reference (relative to the magnitude of
// its terms), else the worst one. `largest` gets the largest difference over the magnitude.
std::string compareWithExpected(const std::vector<float>& got, const Expected& want, double* largest) {
  std::size_t worst = 0;
  double worstRatio = 0.0;
  for (std::size_t q = 0; q < got.size(); ++q) {
    const double diff = std::fabs(got[q] - want.value[q]);
    const double ratio = diff / (want.magnitude[q] + 1e-30);
    if (!(diff <= 1e-5 * want.magnitude[q] + 1e-30) && !(ratio <= worstRatio)) {
      worst = q;
      worstRatio = std::isnan(ratio) ? INFINITY : ratio;
    }
    if (ratio > *largest) *largest = ratio;
  }
  if (worstRatio == 0.0) return "";
  return "[" + std::to_string(worst) + "] = " + std::to_string(got[worst]) + ", reference " + std::to_string(want.value[worst]);
}

std::string geometryText(const ConvGeometry& g) {
  char text[200];
  std::snprintf(text, sizeof text, "n %zu c %zu %zux%zu f %zu k %zux%zu stride %zu pad %zu,%zu -> %zux%zu", g.n, g.c, g.h, g.w,
                g.f, g.kh, g.kw, g.stride, g.padTop, g.padLeft, g.oh, g.ow);
  return text;
}

// Geometries at the edges of the fast paths: kernels 1, 3, 5 (and 3x5), strides 1-3 with
// padding (top/left, and below/right as oh and ow imply), channels 1, 3 and 17, filters that are
// not a multiple of the micro-tile, K above the micro-kernel's depth (k blocks), more pixels than
// a chunk of columns, more filters than its depth, many images of few pixels (chunks that span
// images in the filter gradient), and one image (channel groups in the input gradient).
std::vector<ConvGeometry> convGeometries() {
  return {
      {2, 1, 28, 28, 24, 5, 5, 1, 0, 0, 24, 24},   // the reference net's first layer
      {3, 24, 12, 12, 32, 3, 3, 1, 0, 0, 10, 10},  // and its second
      {2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 9, 11},      // 'same' padding
      {2, 17, 7, 8, 7, 1, 1, 1, 0, 0, 7, 8},       // 1x1
      {1, 3, 10, 9, 13, 5, 5, 2, 2, 1, 5, 5},      // stride 2, uneven padding
      {2, 17, 9, 10, 6, 3, 5, 3, 1, 2, 4, 4},      // 3x5, stride 3, padding below/right implied
      {5, 2, 5, 5, 3, 3, 3, 2, 2, 2, 5, 5},        // padding wider than the kernel reaches
      {1, 30, 26, 26, 40, 3, 3, 1, 0, 0, 24, 24},  // K = 270: two k blocks; 576 pixels: two chunks
      {2, 4, 6, 6, 300, 3, 3, 1, 1, 1, 6, 6},      // 300 filters: two depth blocks of the input gradient
      {40, 3, 3, 3, 5, 3, 3, 1, 1, 1, 3, 3},       // 9 pixels an image: filter-gradient chunks span images
      {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1},
  };
}

// One geometry's three kernels at one thread count, with buffers one element too long (the
// sentinel after each must stay), against the references.
std::string convMatchesReference(const ConvGeometry& g, unsigned seed, double* largest) {
  const std::size_t xs = g.n * g.c * g.h * g.w, ws = g.f * g.c * g.kh * g.kw, ys = g.n * g.f * g.oh * g.ow;
  const std::vector<float> x = uniformFloats(xs, seed), weight = uniformFloats(ws, seed + 1),
                           bias = uniformFloats(g.f, seed + 2), dy = uniformFloats(ys, seed + 3);
  std::vector<float> y(ys + 1, kUntouched);
  digitnet::conv2d(g, x.data(), weight.data(), bias.data(), y.data());
  if (y[ys] != kUntouched) return "conv2d wrote past y";
  y.pop_back();
  std::string failure = compareWithExpected(y, convForwardByDefinition(g, x, weight, bias), largest);
  if (!failure.empty()) return "conv2d: y" + failure;

  std::vector<float> dx(xs + 1, kUntouched);
  digitnet::conv2dBackwardData(g, dy.data(), weight.data(), dx.data());
  if (dx[xs] != kUntouched) return "conv2dBackwardData wrote past dx";
  dx.pop_back();
  failure = compareWithExpected(dx, convBackwardDataByDefinition(g, dy, weight), largest);
  if (!failure.empty()) return "conv2dBackwardData: dx" + failure;

  for (const float beta : {0.0f, 1.0f, 0.5f}) {
    std::vector<float> old = uniformFloats(ws + g.f, seed + 4);
    if (beta == 0.0f) old[0] = old[ws] = NAN;  // overwritten, not scaled
    std::vector<float> dWeight(old.begin(), old.begin() + ws), dBias(old.begin() + ws, old.end());
    dWeight.push_back(kUntouched);
    dBias.push_back(kUntouched);
    digitnet::conv2dBackwardFilter(g, x.data(), dy.data(), dWeight.data(), dBias.data(), beta);
    if (dWeight[ws] != kUntouched || dBias[g.f] != kUntouched) return "conv2dBackwardFilter wrote past its outputs";
    std::vector<float> got(dWeight.begin(), dWeight.end() - 1);
    got.insert(got.end(), dBias.begin(), dBias.end() - 1);
    failure = compareWithExpected(got, convBackwardFilterByDefinition(g, x, dy, old, beta), largest);
    if (!failure.empty()) return "conv2dBackwardFilter beta " + std::to_string(beta) + ": dWeight, dBias" + failure;
  }
  return "";
}

std::string convMatchesReferenceOnEveryThreadCount() {
  double largest = 0.0;
  unsigned seed = 11;
  for (const ConvGeometry& g : convGeometries()) {
    for (int threads = 1; threads <= 4; ++threads) {
      digitnet::setThreads(threads);
      const std::string failure = convMatchesReference(g, seed, &largest);
      if (!failure.empty()) return geometryText(g) + " on " + std::to_string(threads) + " threads: " + failure;
    }
    seed += 10;
  }
  std::printf("# convolution: largest difference from the double reference %.2g of the terms' magnitude\n", largest);
  return "";
}

// A stride-1 image too large for the pitch layout's scratch runs in the column layout (chunks of
// pixels, k blocks) and gives the same results.
std::string convBeyondPitchLayoutMatchesReference() {
  const ConvGeometry g{1, 1, 1500, 1500, 2, 3, 3, 1, 1, 1, 1500, 1500};
  double largest = 0.0;
  for (int threads = 1; threads <= 2; ++threads) {
    digitnet::setThreads(threads);
    const std::string failure = convMatchesReference(g, 77, &largest);
    if (!failure.empty()) return "on " + std::to_string(threads) + " threads: " + failure;
  }
  return "";
}

// The naive references (each fast kernel's fallback) agree with the definitions too.
std::string convReferencesMatchDefinition() {
  double largest = 0.0;
  for (const ConvGeometry& g : {ConvGeometry{2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 9, 11}, ConvGeometry{2, 17, 9, 10, 6, 3, 5, 3, 1, 2, 4, 4}}) {
    const std::size_t xs = g.n * g.c * g.h * g.w, ws = g.f * g.c * g.kh * g.kw, ys = g.n * g.f * g.oh * g.ow;
    const std::vector<float> x = uniformFloats(xs, 1), weight = uniformFloats(ws, 2), bias = uniformFloats(g.f, 3),
                             dy = uniformFloats(ys, 4), old = uniformFloats(ws + g.f, 5);
    std::vector<float> y(ys), dx(xs), dWeight(old.begin(), old.begin() + ws), dBias(old.begin() + ws, old.end());
    digitnet::conv2dReference(g, x.data(), weight.data(), bias.data(), y.data());
    digitnet::conv2dBackwardDataReference(g, dy.data(), weight.data(), dx.data());
    digitnet::conv2dBackwardFilterReference(g, x.data(), dy.data(), dWeight.data(), dBias.data(), 0.5f);
    dWeight.insert(dWeight.end(), dBias.begin(), dBias.end());
    std::string failure = compareWithExpected(y, convForwardByDefinition(g, x, weight, bias), &largest);
    if (failure.empty()) failure = compareWithExpected(dx, convBackwardDataByDefinition(g, dy, weight), &largest);
    if (failure.empty()) failure = compareWithExpected(dWeight, convBackwardFilterByDefinition(g, x, dy, old, 0.5f), &largest);
    if (!failure.empty()) return geometryText(g) + ": " + failure;
  }
  return "";
}

// Sizes whose products overflow where a partner is 0 (nothing is read or written), and strides
// and paddings of 2^52 (every read is padding but the first): never a read outside the buffers.
std::string convHugeSizesWithEmptyPartners() {
  const std::size_t huge = std::size_t{1} << 50;
  float x[4] = {1, 2, 3, 4}, weight[4] = {1, 1, 1, 1}, bias[2] = {0.5f, -0.5f};
  float out[8];
  std::fill(out, out + 8, kUntouched);
  digitnet::conv2d({0, huge, huge, huge, 2, huge, huge, 1, 0, 0, huge, huge}, x, weight, bias, out);
  digitnet::conv2dBackwardData({0, huge, huge, huge, huge, 3, 3, 1, 0, 0, huge, huge}, x, weight, out);
  digitnet::conv2dBackwardFilter({0, 1, huge, huge, 2, 2, 2, 1, 0, 0, huge, huge}, x, x, out, out + 4, 1.0f);
  if (!std::all_of(out, out + 8, [](float v) { return v == kUntouched; })) return "wrote with n = 0";
  // c = 0: y is the bias; the input gradient of no channels writes nothing.
  digitnet::conv2d({1, 0, huge, huge, 2, huge, huge, 1, 0, 0, 2, 2}, x, weight, bias, out);
  if (out[0] != 0.5f || out[3] != 0.5f || out[4] != -0.5f || out[7] != -0.5f) return "c = 0: y is not the bias";
  // stride and padding 2^52: output (0, 0) reads x[0, 0] only at padTop = padLeft = 0.
  const std::size_t far = std::size_t{1} << 52;
  digitnet::conv2d({1, 1, 2, 2, 1, 1, 1, far, 0, 0, 2, 2}, x, weight, bias, out);
  if (out[0] != 1.5f || out[1] != 0.5f || out[2] != 0.5f || out[3] != 0.5f) return "stride 2^52: y wrong";
  digitnet::conv2d({1, 1, 2, 2, 1, 2, 2, 1, far, far, 2, 2}, x, weight, bias, out);
  if (out[0] != 0.5f || out[3] != 0.5f) return "padding 2^52: y wrong";
  // dy empty (oh = 0) beside n of 2^50: dBias is beta * dBias, found without walking the images.
  float bias1[1] = {4};
  digitnet::conv2dBackwardFilter({huge, 1, 0, 2, 1, 1, 1, 1, 0, 0, 0, huge}, x, x, out, bias1, 0.5f);
  if (bias1[0] != 2) return "n = 2^50 beside oh = 0: dBias " + std::to_string(bias1[0]);
  float dW[4] = {9, 9, 9, 9}, dB[1] = {9};
  digitnet::conv2dBackwardFilter({1, 1, 2, 2, 1, 2, 2, 1, far, far, 2, 2}, x, x, dW, dB, 0.0f);
  if (dW[0] != 0 || dW[3] != 0 || dB[0] != 10) return "filter gradient with padding 2^52: dWeight not 0 or dBias not the sum of dy";
  return "";
}

// Windows read row-major: NaN wins (the first NaN), ties go to the first maximum.
struct PoolExpected {
  std::vector<float> y;
  std::vector<std::uint32_t> argmax;
};

PoolExpected poolByDefinition(const digitnet::PoolGeometry& g, const std::vector<float>& x) {
  PoolExpected e{std::vector<float>(g.n * g.c * g.oh * g.ow), std::vector<std::uint32_t>(g.n * g.c * g.oh * g.ow)};
  for (std::size_t plane = 0; plane < g.n * g.c; ++plane) {
    for (std::size_t oy = 0; oy < g.oh; ++oy) {
      for (std::size_t ox = 0; ox < g.ow; ++ox) {
        bool seen = false, sawNan = false;
        float best = 0;
        std::size_t at = 0;
        for (std::size_t iy = oy * g.stride; iy < std::min(g.h, oy * g.stride + g.size); ++iy) {
          for (std::size_t ix = ox * g.stride; ix < std::min(g.w, ox * g.stride + g.size); ++ix) {
            const float v = x[plane * g.h * g.w + iy * g.w + ix];
            if (sawNan) continue;
            if (!seen || std::isnan(v) || v > best) {
              best = v;
              at = iy * g.w + ix;
              seen = true;
              sawNan = std::isnan(v);
            }
          }
        }
        e.y[(plane * g.oh + oy) * g.ow + ox] = best;
        e.argmax[(plane * g.oh + oy) * g.ow + ox] = static_cast<std::uint32_t>(at);
      }
    }
  }
  return e;
}

std::string maxPoolMatchesDefinition() {
  const digitnet::PoolGeometry geometries[] = {
      {256, 24, 24, 24, 2, 2, 12, 12}, {3, 5, 7, 9, 2, 2, 4, 5}, {2, 3, 7, 7, 3, 2, 3, 3}, {2, 2, 8, 5, 3, 1, 6, 3},
      {1, 2, 5, 5, 1, 2, 3, 3},        {2, 1, 6, 7, 4, 3, 2, 3}, {1, 1, 1, 1, 5, 5, 1, 1}, {2, 3, 6, 70, 2, 2, 3, 35},
  };
  for (const digitnet::PoolGeometry& g : geometries) {
    // Small integers: many ties; NaN now and then.
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> small(-3, 3);
    std::vector<float> x(g.n * g.c * g.h * g.w);
    for (std::size_t q = 0; q < x.size(); ++q) x[q] = q % 13 == 5 ? NAN : static_cast<float>(small(rng));
    const PoolExpected want = poolByDefinition(g, x);
    for (int threads = 1; threads <= 4; ++threads) {
      digitnet::setThreads(threads);
      std::vector<float> y(want.y.size() + 1, kUntouched);
      std::vector<std::uint32_t> argmax(want.y.size() + 1, 12345u);
      digitnet::maxPool2d(g, x.data(), y.data(), argmax.data());
      const std::string where = std::to_string(g.n) + "x" + std::to_string(g.c) + "x" + std::to_string(g.h) + "x" +
                                std::to_string(g.w) + " size " + std::to_string(g.size) + " stride " + std::to_string(g.stride) +
                                " on " + std::to_string(threads) + " threads";
      if (y.back() != kUntouched || argmax.back() != 12345u) return where + ": wrote past the outputs";
      for (std::size_t q = 0; q < want.y.size(); ++q) {
        const bool same = std::isnan(want.y[q]) ? std::isnan(y[q]) : y[q] == want.y[q];
        if (!same || argmax[q] != want.argmax[q]) {
          return where + ": [" + std::to_string(q) + "] = " + std::to_string(y[q]) + " at " + std::to_string(argmax[q]) +
                 ", want " + std::to_string(want.y[q]) + " at " + std::to_string(want.argmax[q]);
        }
      }
    }
  }
  return "";
}

// Overlapping windows send several gradients to one input; the sums match the scatter's.
std::string maxPoolBackwardAddsIntoArgmax() {
  const digitnet::PoolGeometry g{64, 3, 9, 9, 3, 2, 4, 4};
  const std::size_t out = g.n * g.c * g.oh * g.ow, in = g.n * g.c * g.h * g.w;
  const std::vector<float> x = uniformFloats(in, 8), dy = uniformFloats(out, 9);
  std::vector<float> y(out);
  std::vector<std::uint32_t> argmax(out);
  digitnet::maxPool2d(g, x.data(), y.data(), argmax.data());
  std::vector<double> want(in, 0.0);
  for (std::size_t q = 0; q < out; ++q) want[q / (g.oh * g.ow) * g.h * g.w + argmax[q]] += dy[q];
  for (int threads = 1; threads <= 4; ++threads) {
    digitnet::setThreads(threads);
    std::vector<float> dx(in + 1, kUntouched);
    const IndexStatus s = digitnet::maxPool2dBackward(g, dy.data(), argmax.data(), dx.data());
    if (!s.ok) return "status " + statusText(s);
    if (dx[in] != kUntouched) return "wrote past dx";
    for (std::size_t q = 0; q < in; ++q) {
      if (std::fabs(dx[q] - want[q]) > 1e-6) return "dx[" + std::to_string(q) + "] on " + std::to_string(threads) + " threads";
    }
  }
  return "";
}

// A value >= h*w stops its plane; split over threads, the lowest bad position is reported.
std::string maxPoolBackwardReportsLowestBadArgmax() {
  const digitnet::PoolGeometry g{64, 8, 12, 12, 2, 2, 6, 6};
  const std::size_t out = g.n * g.c * g.oh * g.ow;
  std::vector<std::uint32_t> argmax(out, 7);
  argmax[out - 3] = 144;
  argmax[1000] = 0xffffffffu;
  argmax[1001] = 150;
  const std::vector<float> dy(out, 1.0f);
  for (int threads = 1; threads <= 4; ++threads) {
    digitnet::setThreads(threads);
    std::vector<float> dx(g.n * g.c * g.h * g.w);
    const IndexStatus s = digitnet::maxPool2dBackward(g, dy.data(), argmax.data(), dx.data());
    if (s.ok || s.position != 1000 || s.value != 0xffffffffu) {
      return "on " + std::to_string(threads) + " threads: status " + statusText(s) + ", want position 1000";
    }
  }
  // Empty planes on both sides beside n and c of 2^50: nothing to loop over.
  const std::size_t huge = std::size_t{1} << 50;
  if (!digitnet::maxPool2dBackward({huge, huge, 0, 5, 1, 1, 3, 0}, dy.data(), argmax.data(), nullptr).ok) {
    return "n = c = 2^50 with no planes: not ok";
  }
  // No input (h*w = 0) and one output: its argmax cannot be valid.
  float dx[1] = {kUntouched};
  const IndexStatus s = digitnet::maxPool2dBackward({1, 1, 0, 5, 1, 1, 1, 1}, dy.data(), argmax.data(), dx);
  if (s.ok || s.position != 0 || s.value != 7 || dx[0] != kUntouched) return "h = 0: status " + statusText(s);
  return "";
}

// Batch norm by its definition in double: per channel mean, biased variance, the outputs.
std::string batchNormMatchesDefinition() {
  struct Shape {
    std::size_t n, c, s;
  };
  const float momentum = 0.1f, eps = 1e-5f;
  for (const Shape& sh : {Shape{256, 24, 576}, Shape{64, 256, 1}, Shape{3, 17, 10}, Shape{1, 5, 1}, Shape{1, 2, 7}}) {
    const std::size_t values = sh.n * sh.c * sh.s;
    const std::size_t m = sh.n * sh.s;
    std::vector<float> x = uniformFloats(values, 21);
    for (float& v : x) v = 3.0f + 2.0f * v;  // a mean away from 0
    const std::vector<float> weight = uniformFloats(sh.c, 22), bias = uniformFloats(sh.c, 23), dy = uniformFloats(values, 24);
    const std::vector<float> rm0 = uniformFloats(sh.c, 25);
    std::vector<float> rv0 = uniformFloats(sh.c, 26);
    for (float& v : rv0) v = std::fabs(v) + 0.5f;
    const auto at = [&](std::size_t i, std::size_t j, std::size_t k) { return (i * sh.c + j) * sh.s + k; };
    for (int threads = 1; threads <= 4; threads += 3) {
      digitnet::setThreads(threads);
      std::vector<float> rm = rm0, rv = rv0, y(values), saved(2 * sh.c), inferred = x;
      digitnet::batchNormTrain(sh.n, sh.c, sh.s, momentum, eps, x.data(), weight.data(), bias.data(), rm.data(), rv.data(),
                               y.data(), saved.data());
      digitnet::batchNormInfer(sh.n, sh.c, sh.s, eps, inferred.data(), weight.data(), bias.data(), rm0.data(), rv0.data(),
                               inferred.data());  // in place
      std::vector<float> dx = dy, dWeight(sh.c, NAN), dBias(sh.c, NAN);  // dx in place of dy; beta 0 overwrites NaN
      digitnet::batchNormBackward(sh.n, sh.c, sh.s, x.data(), dx.data(), weight.data(), saved.data(), dx.data(), dWeight.data(),
                                  dBias.data(), 0.0f);
      const std::string where = std::to_string(sh.n) + "x" + std::to_string(sh.c) + "x" + std::to_string(sh.s) + " on " +
                                std::to_string(threads) + " threads: ";
      const auto near = [](double got, double want, double tol) { return std::fabs(got - want) <= tol * (1 + std::fabs(want)); };
      for (std::size_t j = 0; j < sh.c; ++j) {
        double mean = 0, var = 0;
        for (std::size_t i = 0; i < sh.n; ++i) for (std::size_t k = 0; k < sh.s; ++k) mean += x[at(i, j, k)];
        mean /= m;
        for (std::size_t i = 0; i < sh.n; ++i) for (std::size_t k = 0; k < sh.s; ++k) var += (x[at(i, j, k)] - mean) * (x[at(i, j, k)] - mean);
        var /= m;
        const double invstd = 1 / std::sqrt(var + eps);
        const double unbiased = m > 1 ? var * m / (m - 1) : var;
        if (!near(saved[j], mean, 1e-6) || !near(saved[sh.c + j], invstd, 1e-6)) return where + "saved, channel " + std::to_string(j);
        if (!near(rm[j], 0.9 * rm0[j] + 0.1 * mean, 1e-6) || !near(rv[j], 0.9 * rv0[j] + 0.1 * unbiased, 1e-6)) {
          return where + "running statistics, channel " + std::to_string(j);
        }
        const double inferScale = weight[j] / std::sqrt(static_cast<double>(rv0[j]) + eps);
        double sumDy = 0, sumDyXhat = 0;
        for (std::size_t i = 0; i < sh.n; ++i) {
          for (std::size_t k = 0; k < sh.s; ++k) {
            const double xhat = (x[at(i, j, k)] - mean) * invstd;
            sumDy += dy[at(i, j, k)];
            sumDyXhat += dy[at(i, j, k)] * xhat;
            if (!near(y[at(i, j, k)], xhat * weight[j] + bias[j], 1e-5)) return where + "y at " + std::to_string(at(i, j, k));
            if (!near(inferred[at(i, j, k)], (x[at(i, j, k)] - rm0[j]) * inferScale + bias[j], 1e-5)) return where + "inferred y";
          }
        }
        if (!near(dWeight[j], sumDyXhat, 1e-5) || !near(dBias[j], sumDy, 1e-5)) return where + "dWeight, dBias, channel " + std::to_string(j);
        for (std::size_t i = 0; i < sh.n; ++i) {
          for (std::size_t k = 0; k < sh.s; ++k) {
            const double xhat = (x[at(i, j, k)] - mean) * invstd;
            const double want = weight[j] * invstd * (dy[at(i, j, k)] - sumDy / m - xhat * sumDyXhat / m);
            if (!near(dx[at(i, j, k)], want, 1e-4)) return where + "dx at " + std::to_string(at(i, j, k));
          }
        }
      }
    }
  }
  // No values (n = 0 with a huge c... and s): nothing changes; the backward pass only scales.
  float stats[2] = {kUntouched, kUntouched};
  digitnet::batchNormTrain(0, 1, std::size_t{1} << 50, 0.1f, 1e-5f, stats, stats, stats, stats, stats, stats, stats);
  if (stats[0] != kUntouched) return "n = 0 changed something";
  float dW[1] = {2}, dB[1] = {NAN};
  digitnet::batchNormBackward(1, 1, 0, stats, stats, stats, stats, stats, dW, dB, 0.0f);
  if (dW[0] != 0 || dB[0] != 0) return "s = 0 with beta 0: the parameter gradients are not 0";
  return "";
}

// Every instruction set's convolution tiles at every edge (rows, lanes, cols), against the
// definitions in double: outer products through B's offsets, stored or added into rows of C that
// lie anywhere; inner products over several segments.
std::string convTilesMatchDefinitionOnEveryIsa() {
  for (const digitnet::ConvTiles* isa : {&digitnet::kConvTilesScalar, &digitnet::kConvTilesAvx2, &digitnet::kConvTilesAvx512}) {
    if (!isa->supported()) continue;
    const std::string name = isa->name;
    const std::size_t depth = 7, ldb = 61;
    const std::vector<float> a = uniformFloats(depth * 20 + 16, 41), b = uniformFloats(depth * ldb + 64, 42);
    std::vector<std::size_t> aoff(depth), boff(depth);
    for (std::size_t p = 0; p < depth; ++p) {
      aoff[p] = (p * 29) % 7 + p * 20;  // rows anywhere
      boff[p] = (p * 37) % 11 + p * ldb;
    }
    for (std::size_t v = 1; v <= digitnet::kMaxOuterVectors; ++v) {
      for (std::size_t rows = 1; rows <= isa->outerRows[v - 1]; ++rows) {
        for (std::size_t lanes = (v - 1) * isa->lanes + 1; lanes <= v * isa->lanes; ++lanes) {
          for (const int start : {0, 1, 2}) {  // from 0, from a bias, added to C
            for (const bool table : {false, true}) {  // A's rows 20 apart, or anywhere
              const bool accumulate = start == 2;
              const std::vector<float> bias = uniformFloats(rows, 47);
              const std::size_t ldc = lanes + 3;
              std::vector<float> c = uniformFloats(rows * ldc, 43);
              std::vector<double> want(c.begin(), c.end());
              std::vector<float*> rowsOfC(rows);
              for (std::size_t i = 0; i < rows; ++i) {
                rowsOfC[i] = c.data() + (rows - 1 - i) * ldc;  // rows in any order
                for (std::size_t l = 0; l < lanes; ++l) {
                  double sum = 0;
                  for (std::size_t p = 0; p < depth; ++p) {
                    sum += static_cast<double>(a[(table ? aoff[p] : p * 20) + i]) * b[boff[p] + l];
                  }
                  double& w = want[(rows - 1 - i) * ldc + l];
                  w = sum + (start == 0 ? 0.0 : start == 1 ? bias[i] : w);
                }
              }
              isa->outer({rows, lanes, depth, a.data(), 20, table ? aoff.data() : nullptr, b.data(), boff.data(), rowsOfC.data(),
                          accumulate, start == 1 ? bias.data() : nullptr});
              for (std::size_t q = 0; q < c.size(); ++q) {
                if (std::fabs(c[q] - want[q]) > 1e-5) {
                  return name + " outer " + std::to_string(rows) + " x " + std::to_string(lanes) + " starting " +
                         std::to_string(start) + (table ? ", A through offsets" : "") + ": c[" + std::to_string(q) + "]";
                }
              }
            }
          }
        }
      }
    }
    for (std::size_t rows = 1; rows <= isa->innerRows + 1; ++rows) {
      for (std::size_t cols = 1; cols <= isa->innerCols + 1; ++cols) {
        for (const std::size_t segments : {std::size_t{1}, std::size_t{3}}) {
          // A segment holds the rows of B the tiles read (the last at 200 + (cols - 1) * 33) and A's.
          const std::size_t len = 32, lda = 35, step = 200 + cols * 33 + len, ldc = cols + 2;
          const std::vector<float> ai = uniformFloats(segments * step, 44), bi = uniformFloats(segments * step, 45);
          std::vector<std::size_t> offsets(cols);
          for (std::size_t j = 0; j < cols; ++j) offsets[j] = 200 + j * 33 - (j % 2) * 5;
          std::vector<float> c = uniformFloats(rows * ldc, 46);
          std::vector<double> want(c.begin(), c.end());
          for (std::size_t i = 0; i < rows; ++i) {
            for (std::size_t j = 0; j < cols; ++j) {
              for (std::size_t s = 0; s < segments; ++s) {
                for (std::size_t p = 0; p < len; ++p) {
                  want[i * ldc + j] += static_cast<double>(ai[s * step + i * lda + p]) * bi[s * step + offsets[j] + p];
                }
              }
            }
          }
          // Tiles up to the ISA's size; one row or column more runs as two tiles, as the drivers do.
          for (std::size_t i0 = 0; i0 < rows; i0 += isa->innerRows) {
            for (std::size_t j0 = 0; j0 < cols; j0 += isa->innerCols) {
              isa->inner(std::min(isa->innerRows, rows - i0), std::min(isa->innerCols, cols - j0), segments, len,
                         ai.data() + i0 * lda, lda, step, bi.data(), offsets.data() + j0, step, c.data() + i0 * ldc + j0, ldc);
            }
          }
          for (std::size_t q = 0; q < c.size(); ++q) {
            const bool inside = q % ldc < cols;
            if (inside ? std::fabs(c[q] - want[q]) > 1e-5 : c[q] != static_cast<float>(want[q])) {
              return name + " inner " + std::to_string(rows) + " x " + std::to_string(cols) + " over " +
                     std::to_string(segments) + " segments: c[" + std::to_string(q) + "]";
            }
          }
        }
      }
    }
  }
  return "";
}

std::string fmaPeakIsPositive() {
  const double gflops = digitnet::fmaPeakGflops(0.02);
  std::printf("# FMA peak of one thread (%s): %.1f GFLOPS\n", digitnet::sgemm_kernel_name(), gflops);
  return gflops > 0 ? "" : "fmaPeakGflops gave " + std::to_string(gflops);
}

std::string cpuQuotasParse() {
  struct Case {
    int got, want;
    const char* what;
  };
  const Case cases[] = {
      {digitnet::cpusFromCpuMax("max 100000"), 0, "max 100000"},
      {digitnet::cpusFromCpuMax("150000 100000"), 2, "150000 100000"},
      {digitnet::cpusFromCpuMax("100000 100000"), 1, "100000 100000"},
      {digitnet::cpusFromCpuMax("50000 100000"), 1, "50000 100000"},
      {digitnet::cpusFromCpuMax("800000 100000"), 8, "800000 100000"},
      {digitnet::cpusFromCpuMax(""), 0, "(empty)"},
      {digitnet::cpusFromCpuMax("12 x"), 0, "12 x"},
      {digitnet::cpusFromCfs("-1", "100000"), 0, "cfs -1 / 100000"},
      {digitnet::cpusFromCfs("250000", "100000"), 3, "cfs 250000 / 100000"},
      {digitnet::cpusFromCfs("250000", "0"), 0, "cfs 250000 / 0"},
  };
  for (const Case& c : cases) {
    if (c.got != c.want) return std::string(c.what) + " gave " + std::to_string(c.got) + ", want " + std::to_string(c.want);
  }
  return "";
}

#if defined(__linux__)

void writeFile(const std::string& path, const char* text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return;
  std::fputs(text, f);
  std::fclose(f);
}

// A fake /sys/fs/cgroup: the tightest quota along each path counts, ancestors included.
std::string cgroupLimitsFromFakeTree() {
  char pattern[] = "/tmp/digitnet-cgroup-XXXXXX";
  const char* root = mkdtemp(pattern);
  if (root == nullptr) return "mkdtemp failed";
  const std::string r = root;
  for (const char* dir : {"/a", "/a/b", "/cpu", "/cpu/x", "/cpu/x/y"}) mkdir((r + dir).c_str(), 0700);
  writeFile(r + "/a/cpu.max", "200000 100000\n");  // 2 CPUs on the parent
  writeFile(r + "/a/b/cpu.max", "max 100000\n");   // no limit of its own
  writeFile(r + "/cpu/cpu.cfs_quota_us", "-1\n");
  writeFile(r + "/cpu/cpu.cfs_period_us", "100000\n");
  writeFile(r + "/cpu/x/cpu.cfs_quota_us", "300000\n");  // 3 CPUs
  writeFile(r + "/cpu/x/cpu.cfs_period_us", "100000\n");
  struct Case {
    const char* procSelfCgroup;
    int want;
  };
  const Case cases[] = {
      {"0::/a/b\n", 2},
      {"0::/\n", 0},
      {"0::/elsewhere\n", 0},
      {"4:cpu,cpuacct:/x/y\n", 3},
      {"4:cpuacct,cpu:/x/y\n", 3},
      {"4:cpuset:/x/y\n", 0},
      {"4:cpu,cpuacct:/x/y\n0::/a/b\n", 2},
      {"garbage", 0},
  };
  std::string failure;
  for (const Case& c : cases) {
    const int got = digitnet::cgroupCpuLimit(c.procSelfCgroup, r);
    if (got != c.want && failure.empty()) {
      failure = std::string("'") + c.procSelfCgroup + "' gave " + std::to_string(got) + ", want " + std::to_string(c.want);
    }
  }
  std::system(("rm -rf '" + r + "'").c_str());
  return failure;
}

// The default thread count follows the affinity mask (taskset, cpusets), not the machine's CPUs.
std::string usableCpusFollowsAffinity() {
  cpu_set_t all, one;
  if (sched_getaffinity(0, sizeof all, &all) != 0) return "sched_getaffinity failed";
  int first = 0;
  while (first < CPU_SETSIZE && !CPU_ISSET(first, &all)) ++first;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  if (sched_setaffinity(0, sizeof one, &one) != 0) return "sched_setaffinity failed";
  const int pinned = digitnet::usableCpus();
  sched_setaffinity(0, sizeof all, &all);
  if (pinned != 1) return "pinned to one CPU, usableCpus() = " + std::to_string(pinned);
  if (digitnet::usableCpus() > CPU_COUNT(&all)) return "more CPUs than the affinity mask holds";
  return "";
}

#if !defined(DIGITNET_SANITIZED)
// Runs one region of `blocks` blocks; "" when each ran exactly once.
std::string regionRunsEveryBlockOnce(std::size_t blocks) {
  std::vector<int> runs(blocks, 0);
  digitnet::parallel_for(blocks, [&](std::size_t b) { ++runs[b]; });  // distinct elements per block
  for (std::size_t b = 0; b < blocks; ++b) {
    if (runs[b] != 1) return "block " + std::to_string(b) + " ran " + std::to_string(runs[b]) + " times";
  }
  return "";
}

// The child of poolSurvivesThreadStartFailure, in a fresh process (a fork of this one would
// inherit a pool whose workers' threads it does not have): with no address space left for thread
// stacks, regions must still run every block. Exits 0 when they do.
int threadStartFailureChild() {
  digitnet::setThreads(1);  // the pool exists, with no workers
  long pages = 0;
  if (std::FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld", &pages) != 1) pages = 0;
    std::fclose(statm);
  }
  const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (1 << 20);
  const rlimit as{limit, limit};
  if (pages == 0 || setrlimit(RLIMIT_AS, &as) != 0) return 3;
  digitnet::setThreads(8);
  if (!regionRunsEveryBlockOnce(64).empty()) return 1;
  if (!regionRunsEveryBlockOnce(7).empty()) return 2;  // and again, after the failure
  return 0;
}

constexpr const char* kThreadStartFailureChild = "--thread-start-failure-child";

// The pool runs regions on the threads it has instead of terminating the process when a worker
// cannot be started (std::thread's failure is an exception, which the addon cannot catch).
std::string poolSurvivesThreadStartFailure() {
  std::fflush(stdout);
  const pid_t child = fork();
  if (child < 0) return "fork failed";
  if (child == 0) {
    execl("/proc/self/exe", "native_test", kThreadStartFailureChild, static_cast<char*>(nullptr));
    _exit(4);
  }
  int status = 0;
  waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) return "the child died of signal " + std::to_string(WTERMSIG(status));
  if (WEXITSTATUS(status) == 3) return "could not set RLIMIT_AS";
  if (WEXITSTATUS(status) == 4) return "could not run the child";
  if (WEXITSTATUS(status) != 0) return "a region lost blocks (exit " + std::to_string(WEXITSTATUS(status)) + ")";
  return "";
}
#endif  // !DIGITNET_SANITIZED

#endif  // __linux__

}  // namespace

int main(int argc, char** argv) {
#if defined(__linux__) && !defined(DIGITNET_SANITIZED)
  if (argc > 1 && std::string(argv[1]) == kThreadStartFailureChild) return threadStartFailureChild();
#endif
  Report report;
  report.test("softmaxCrossEntropy stops at the first label >= cols, writing only the rows before it",
              softmaxCrossEntropyStopsAtBadLabel());
  report.test("softmaxCrossEntropy with valid labels returns ok and the summed loss", softmaxCrossEntropyValidLabels());
  report.test("softmaxCrossEntropy with 16-bit labels stops at the first label >= cols (300)",
              softmaxCrossEntropyStopsAtBadWideLabel());
  report.test("softmaxCrossEntropy with 16-bit labels up to 65535 uses each label's own column",
              softmaxCrossEntropyValidWideLabels());
  report.test("gatherRows stops at the first index >= srcRows, writing only the rows before it",
              gatherRowsStopsAtBadIndex());
  report.test("gatherRows split over threads reports the lowest bad position",
              gatherRowsOnThreadsReportsLowestBadIndex());
  report.test("toFloat rounds beyond float's range as Math.fround does", toFloatRoundsAsMathFround());
  report.test("sgemm matches the reference split over every thread count from 1 to max(8, CPUs)",
              sgemmMatchesReferenceAtEveryThreadCount());
  report.test("dropout's hash is lib/core/random.ts's hash32", dropoutHashIsRandomTs());
  report.test("dropout's kept-hash limit and scale at the ends of the rate range", dropoutParamsAtTheEdges());
  report.test("dropout on every instruction set gives the definition's bits (odd sizes, unaligned views)",
              dropoutMatchesDefinitionOnEveryIsa());
  report.test("dropout gives the same bits on every instruction set and thread count, and in place",
              dropoutSameBitsOnAnyThreadsAndIsa());
  report.test("multiply gives the float product on every thread count, and in place", multiplySameBitsOnAnyThreads());
  report.test("adamStep gives its definition's bits on every thread count", adamSameBitsOnAnyThreads());
  report.test("augment gives the definition's bits on 1-4 threads (fields on and off, odd sizes, a NaN tap)",
              augmentMatchesDefinitionOnEveryThreadCount());
  report.test("conv2d and both gradients match the double-precision definition at the fast paths' edges on 1-4 threads",
              convMatchesReferenceOnEveryThreadCount());
  report.test("a stride-1 convolution too large for the pitch layout matches the definition (column layout)",
              convBeyondPitchLayoutMatchesReference());
  report.test("the naive convolution references match the definition", convReferencesMatchDefinition());
  report.test("convolution with huge sizes beside a 0, and stride / padding 2^52, stays inside its buffers",
              convHugeSizesWithEmptyPartners());
  report.test("convolution tiles (outer and inner products) match the definition on every instruction set, at every edge",
              convTilesMatchDefinitionOnEveryIsa());
  report.test("maxPool2d matches the definition (edges cut, NaN wins, first max on ties) on 1-4 threads",
              maxPoolMatchesDefinition());
  report.test("maxPool2dBackward adds each dy into its argmax, overlapping windows too", maxPoolBackwardAddsIntoArgmax());
  report.test("maxPool2dBackward reports the lowest argmax >= h*w any thread met", maxPoolBackwardReportsLowestBadArgmax());
  report.test("batch norm train / infer / backward match the definition in double", batchNormMatchesDefinition());
  report.test("fmaPeak measures a positive throughput", fmaPeakIsPositive());
  report.test("cgroup CPU quotas parse to whole CPUs, rounded up", cpuQuotasParse());
#if defined(__linux__)
  report.test("cgroupCpuLimit takes the tightest quota along the path (v1 and v2)", cgroupLimitsFromFakeTree());
  report.test("usableCpus follows the affinity mask", usableCpusFollowsAffinity());
#if defined(DIGITNET_SANITIZED)
  std::printf("# skipped under a sanitizer (it needs the address space): the pool survives a thread that cannot start\n");
#else
  report.test("the pool survives a thread that cannot start (runs on the threads it has)", poolSurvivesThreadStartFailure());
#endif
#endif
  return report.finish(argc, argv);
}
