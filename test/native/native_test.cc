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

#include "../../native/cpus.h"
#include "../../native/dropout.h"
#include "../../native/gemm.h"
#include "../../native/kernels.h"
#include "../../native/parallel.h"
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
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
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
