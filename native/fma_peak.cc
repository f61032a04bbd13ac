// fmaPeakGflops (fma_peak.h). Enough independent accumulator chains to cover the FMA latency on
// every FMA unit (Zen 3-5, Intel since Haswell: 2 units, 4-5 cycles), each step depending only on
// its own chain; storing them at the end keeps the compiler from dropping them. The AVX functions are
// compiled for their instruction set through a function target attribute (never called on CPUs
// without it).
#include "fma_peak.h"

#include <chrono>
#include <cstring>

#include "gemm.h"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define DIGITNET_PEAK_X86 1
#include <immintrin.h>
#endif

namespace digitnet {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSteps = 1000;  // steps of every chain per burst: the clock is read once a burst

// acc = acc * 0.9999 + 0.0001 converges to 1: no overflow, no subnormals.
constexpr float kMul = 0.9999f, kAdd = 0.0001f;

// One burst: kSteps steps of every chain, the chains' floats loaded from and stored back to
// `state` (once a burst: the steps run in registers).
using BurstFn = void (*)(float* state);

// Runs `burst` until `seconds` have passed; `floats` chains' floats (a multiple of 16) and GFLOPS.
double gflopsOf(double seconds, int floats, BurstFn burst) {
  float state[256];
  for (int i = 0; i < floats; ++i) state[i] = static_cast<float>(i) * 0.01f;
  const Clock::time_point start = Clock::now();
  double bursts = 0.0, elapsed = 0.0;
  do {
    burst(state);
    bursts += 1.0;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  return bursts * 2.0 * floats * kSteps / elapsed / 1e9;
}

constexpr int kPortableFloats = 64;

void burstPortable(float* state) {
  float acc[kPortableFloats];
  for (int i = 0; i < kPortableFloats; ++i) acc[i] = state[i];
  for (int s = 0; s < kSteps; ++s) {
    for (int i = 0; i < kPortableFloats; ++i) acc[i] = acc[i] * kMul + kAdd;
  }
  for (int i = 0; i < kPortableFloats; ++i) state[i] = acc[i];
}

#if defined(DIGITNET_PEAK_X86)

constexpr int kAvx2Chains = 12;

__attribute__((target("avx2,fma"))) void burstAvx2(float* state) {
  __m256 acc[kAvx2Chains];
  for (int i = 0; i < kAvx2Chains; ++i) acc[i] = _mm256_loadu_ps(state + 8 * i);
  const __m256 mul = _mm256_set1_ps(kMul), add = _mm256_set1_ps(kAdd);
  for (int s = 0; s < kSteps; ++s) {
#pragma GCC unroll 16
    for (int i = 0; i < kAvx2Chains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], mul, add);
  }
  for (int i = 0; i < kAvx2Chains; ++i) _mm256_storeu_ps(state + 8 * i, acc[i]);
}

constexpr int kAvx512Chains = 16;

__attribute__((target("avx512f"))) void burstAvx512(float* state) {
  __m512 acc[kAvx512Chains];
  for (int i = 0; i < kAvx512Chains; ++i) acc[i] = _mm512_loadu_ps(state + 16 * i);
  const __m512 mul = _mm512_set1_ps(kMul), add = _mm512_set1_ps(kAdd);
  for (int s = 0; s < kSteps; ++s) {
#pragma GCC unroll 16
    for (int i = 0; i < kAvx512Chains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], mul, add);
  }
  for (int i = 0; i < kAvx512Chains; ++i) _mm512_storeu_ps(state + 16 * i, acc[i]);
}

#endif

}  // namespace

double fmaPeakGflops(double seconds) {
  const char* isa = sgemm_kernel_name();  // only ever an ISA this CPU runs
#if defined(DIGITNET_PEAK_X86)
  if (std::strcmp(isa, "avx512") == 0) return gflopsOf(seconds, 16 * kAvx512Chains, burstAvx512);
  if (std::strcmp(isa, "avx2") == 0) return gflopsOf(seconds, 8 * kAvx2Chains, burstAvx2);
#endif
  static_cast<void>(isa);
  return gflopsOf(seconds, kPortableFloats, burstPortable);
}

}  // namespace digitnet
