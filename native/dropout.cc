// Inverted dropout (kernels.h dropout): the mask's hash per instruction set (dropout.h), eight
// (AVX2) or sixteen (AVX-512) values a step, a portable loop for the rest, and the split over the
// pool. The AVX functions are compiled for their instruction set through a function target
// attribute, so the binary still runs on CPUs without it (they are then never called).
#include "dropout.h"

#include <cmath>
#include <cstring>

#include "gemm.h"
#include "kernels.h"
#include "parallel.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define DIGITNET_DROPOUT_X86 1
#include <immintrin.h>
#endif

namespace digitnet {
namespace {

using std::size_t;
using std::uint32_t;

constexpr uint32_t kGolden = 0x9e3779b9u;  // the counter's multiplier (lib/core/random.ts hashAt)

void rangeScalar(size_t first, size_t last, const DropoutParams& p, const float* x, float* y,
                 float* mask) {
  for (size_t i = first; i < last; ++i) {
    // u32(i): counters wrap at 2^32, as Math.imul(i, ...) wraps them.
    const uint32_t h = dropoutMix(static_cast<uint32_t>(i) * kGolden + p.salt);
    const float m = h <= p.maxKept ? p.scale : 0.0f;
    const float xi = x[i];  // read before y[i] (maybe x[i]) is written
    mask[i] = m;
    y[i] = xi * m;
  }
}

bool always() { return true; }

#if defined(DIGITNET_DROPOUT_X86)

// Lanes are values first + 0..7: counter c = u32(i) * golden + salt, and the next eight values'
// counters are c + 8 * golden (u32 wrap-around, like the scalar product).
__attribute__((target("avx2"))) void rangeAvx2(size_t first, size_t last, const DropoutParams& p,
                                               const float* x, float* y, float* mask) {
  const __m256i golden = _mm256_set1_epi32(static_cast<int>(kGolden));
  const __m256i step = _mm256_set1_epi32(static_cast<int>(8u * kGolden));
  const __m256i m1 = _mm256_set1_epi32(0x7feb352d);
  const __m256i m2 = _mm256_set1_epi32(static_cast<int>(0x846ca68bu));
  const __m256i maxKept = _mm256_set1_epi32(static_cast<int>(p.maxKept));
  const __m256 scale = _mm256_set1_ps(p.scale);
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i firstLanes =
      _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(first))), lanes);
  __m256i counter = _mm256_add_epi32(_mm256_mullo_epi32(firstLanes, golden),
                                     _mm256_set1_epi32(static_cast<int>(p.salt)));
  size_t i = first;
  for (; last - i >= 8; i += 8) {
    __m256i h = counter;
    counter = _mm256_add_epi32(counter, step);
    h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
    h = _mm256_mullo_epi32(h, m1);
    h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 15));
    h = _mm256_mullo_epi32(h, m2);
    h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
    // h <= maxKept, unsigned: min(h, maxKept) == h.
    const __m256i kept = _mm256_cmpeq_epi32(_mm256_min_epu32(h, maxKept), h);
    const __m256 m = _mm256_and_ps(_mm256_castsi256_ps(kept), scale);
    const __m256 xv = _mm256_loadu_ps(x + i);
    _mm256_storeu_ps(mask + i, m);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(xv, m));  // x * 0 keeps x's sign and NaN, as in JS
  }
  rangeScalar(i, last, p, x, y, mask);
}

bool avx2Supported() { return __builtin_cpu_supports("avx2"); }

__attribute__((target("avx512f"))) void rangeAvx512(size_t first, size_t last,
                                                    const DropoutParams& p, const float* x,
                                                    float* y, float* mask) {
  const __m512i golden = _mm512_set1_epi32(static_cast<int>(kGolden));
  const __m512i step = _mm512_set1_epi32(static_cast<int>(16u * kGolden));
  const __m512i m1 = _mm512_set1_epi32(0x7feb352d);
  const __m512i m2 = _mm512_set1_epi32(static_cast<int>(0x846ca68bu));
  const __m512i maxKept = _mm512_set1_epi32(static_cast<int>(p.maxKept));
  const __m512 scale = _mm512_set1_ps(p.scale);
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i firstLanes =
      _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(first))), lanes);
  __m512i counter = _mm512_add_epi32(_mm512_mullo_epi32(firstLanes, golden),
                                     _mm512_set1_epi32(static_cast<int>(p.salt)));
  // Shifts with an all-ones zeroing mask: the same instruction as _mm512_srli_epi32, whose
  // header body trips GCC 12's -Wmaybe-uninitialized.
  const __mmask16 all = 0xFFFF;
  size_t i = first;
  for (; last - i >= 16; i += 16) {
    __m512i h = counter;
    counter = _mm512_add_epi32(counter, step);
    h = _mm512_xor_si512(h, _mm512_maskz_srli_epi32(all, h, 16));
    h = _mm512_mullo_epi32(h, m1);
    h = _mm512_xor_si512(h, _mm512_maskz_srli_epi32(all, h, 15));
    h = _mm512_mullo_epi32(h, m2);
    h = _mm512_xor_si512(h, _mm512_maskz_srli_epi32(all, h, 16));
    const __mmask16 kept = _mm512_cmple_epu32_mask(h, maxKept);
    const __m512 m = _mm512_maskz_mov_ps(kept, scale);  // scale where kept, +0 elsewhere
    const __m512 xv = _mm512_loadu_ps(x + i);
    _mm512_storeu_ps(mask + i, m);
    _mm512_storeu_ps(y + i, _mm512_mul_ps(xv, m));  // a real product: x * 0 keeps x's sign and NaN
  }
  rangeScalar(i, last, p, x, y, mask);
}

bool avx512Supported() { return __builtin_cpu_supports("avx512f"); }

#else  // not x86-64 with GCC or Clang: never supported, never called

bool avx2Supported() { return false; }
bool avx512Supported() { return false; }
constexpr DropoutRangeFn rangeAvx2 = nullptr;
constexpr DropoutRangeFn rangeAvx512 = nullptr;

#endif

const DropoutIsa& chooseIsa() {
  const char* name = sgemm_kernel_name();
  for (const DropoutIsa* isa : {&kDropoutAvx512, &kDropoutAvx2}) {
    if (std::strcmp(name, isa->name) == 0 && isa->supported()) return *isa;
  }
  return kDropoutScalar;
}

// Hashing costs a few nanoseconds per value on one core even vectorised: a 128 x 512 minibatch
// (64 Ki values) already pays for a second thread. Blocks are whole vectors.
constexpr size_t kBlock = 8192;
constexpr size_t kMinParallel = size_t{1} << 15;

}  // namespace

const DropoutIsa kDropoutAvx512 = {"avx512", avx512Supported, rangeAvx512};
const DropoutIsa kDropoutAvx2 = {"avx2", avx2Supported, rangeAvx2};
const DropoutIsa kDropoutScalar = {"scalar", always, rangeScalar};

const DropoutIsa& dropoutIsa() {
  static const DropoutIsa& chosen = chooseIsa();
  return chosen;
}

DropoutParams dropoutParams(uint32_t key, double rate) {
  const double keep = 1.0 - rate;
  // ceil(keep * 2^32) is in [1, 2^32] for keep in (0, 1] (the product is exact: a power of two).
  const double limit = std::ceil(keep * 4294967296.0);
  return {dropoutMix(key), static_cast<uint32_t>(limit - 1.0), static_cast<float>(1.0 / keep)};
}

void dropoutOn(const DropoutIsa& isa, size_t n, uint32_t key, double rate, const float* x,
               float* y, float* mask) {
  const DropoutParams p = dropoutParams(key, rate);
  parallel_ranges(n, kBlock, kMinParallel,
                  [&](size_t first, size_t last) { isa.range(first, last, p, x, y, mask); });
}

void dropout(size_t n, uint32_t key, double rate, const float* x, float* y, float* mask) {
  dropoutOn(dropoutIsa(), n, key, rate, x, y, mask);
}

}  // namespace digitnet
