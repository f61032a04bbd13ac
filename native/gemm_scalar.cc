// The portable sgemm micro-kernel: plain C++ over a 4 x 16 tile, for the contract in
// gemm_kernels.h. It runs on every CPU; the compiler vectorizes it for the baseline ISA.
#include "gemm_kernels.h"

namespace digitnet {
namespace {

using std::size_t;

constexpr size_t kMR = 4, kNR = 16;
static_assert(kMR * kNR <= kMaxMicroTile, "raise kMaxMicroTile in gemm_kernels.h");

void microKernel(size_t rows, size_t cols, size_t kc, const float* a, size_t as, const float* b,
                 size_t bs, float* c, size_t ldc, float alpha, float beta) {
  float acc[kMR][kNR] = {};
  for (size_t p = 0; p < kc; ++p) {
    const float* ap = a + p * as;  // no pointer past the last row of an in-place operand
    const float* bp = b + p * bs;
    for (size_t i = 0; i < rows; ++i) {
      const float ai = ap[i];
      for (size_t j = 0; j < cols; ++j) acc[i][j] += ai * bp[j];
    }
  }
  for (size_t i = 0; i < rows; ++i) {
    float* crow = c + i * ldc;
    for (size_t j = 0; j < cols; ++j) {
      crow[j] = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * crow[j];
    }
  }
}

bool supported() { return true; }

}  // namespace

void packTransposedPortable(size_t rows, size_t kc, const float* src, size_t ld, float* dst,
                            size_t width) {
  // Four source rows at a time: four read streams, and each written line is filled in one pass.
  size_t i = 0;
  for (; i + 4 <= rows; i += 4) {
    const float* s = src + i * ld;
    for (size_t p = 0; p < kc; ++p) {
      float* d = dst + p * width + i;
      d[0] = s[p];
      d[1] = s[ld + p];
      d[2] = s[2 * ld + p];
      d[3] = s[3 * ld + p];
    }
  }
  for (; i < rows; ++i) {
    for (size_t p = 0; p < kc; ++p) dst[p * width + i] = src[i * ld + p];
  }
}

const GemmIsa kGemmScalar = {
    "scalar", supported, microKernel, packTransposedPortable, 1, kMR, kNR, 64, 256, 4096};

}  // namespace digitnet
