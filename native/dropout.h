// Inverted dropout's mask per instruction set, for native/dropout.cc and the C++ tests. The
// kernel itself, digitnet::dropout, is declared in kernels.h with the other elementwise kernels.
//
// Value i of a mask is decided by a counter-based hash, the one lib/core/random.ts defines:
//   h(i) = mix(u32(i) * 0x9e3779b9 + salt),  salt = mix(key),  all in u32 arithmetic,
//   mix = Wellons' "lowbias32" (x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b;
//   x ^= x >> 16).
// Each value depends on its index alone, so every instruction set and every split over threads
// gives the same bits.
#pragma once

#include <cstddef>
#include <cstdint>

namespace digitnet {

// lowbias32, u32 in and out.
inline std::uint32_t dropoutMix(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// One call's constants: the stream's salt, the largest hash that is kept, and the scale.
// A value is kept when h(i) < (1 - rate) * 2^32 (compared as doubles, as lib/backend/ts.ts does);
// for an integer h that is h <= ceil((1 - rate) * 2^32) - 1 = maxKept, which lies in
// [0, 2^32 - 1] for every rate in [0, 1) (rate 0: every u32 is kept).
struct DropoutParams {
  std::uint32_t salt;
  std::uint32_t maxKept;
  float scale;  // float(1 / (1 - rate)), Math.fround's rounding
};
DropoutParams dropoutParams(std::uint32_t key, double rate);

// Elements [first, last) of the mask and the output: mask[i] = h(i) <= maxKept ? scale : 0,
// y[i] = x[i] * mask[i] (the float product). y may be x; mask overlaps neither.
using DropoutRangeFn = void (*)(std::size_t first, std::size_t last, const DropoutParams& p,
                                const float* x, float* y, float* mask);

struct DropoutIsa {
  const char* name;  // "avx512", "avx2" or "scalar", as DIGITNET_ISA names them
  bool (*supported)();
  DropoutRangeFn range;
};

// Defined in dropout.cc. On non-x86 builds the AVX ones report themselves unsupported.
extern const DropoutIsa kDropoutAvx512;
extern const DropoutIsa kDropoutAvx2;
extern const DropoutIsa kDropoutScalar;

// The instruction set dropout() uses: the one sgemm chose (native/gemm.h sgemm_kernel_name: the
// best this CPU runs, or the one DIGITNET_ISA names), so one variable forces every vector kernel.
const DropoutIsa& dropoutIsa();

// dropout() (kernels.h) on the given instruction set, which must be supported; split over the
// pool as dropout() splits.
void dropoutOn(const DropoutIsa& isa, std::size_t n, std::uint32_t key, double rate,
               const float* x, float* y, float* mask);

}  // namespace digitnet
