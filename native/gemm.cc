// sgemm as a BLIS-style blocked, packed product: a portable driver (the loops around the
// micro-kernel, the packing, the edge tiles, the threading), small per-ISA micro-kernels chosen
// once at run time, and one table of block sizes.
//
// Loops, outermost first, for one tile of C (see sgemm for how C is split across threads):
//   jc over columns of C in steps of nc
//     pc over k in steps of kc       pack op(B)[pc:pc+kc, jc:jc+nc] into Bp   (L3 / L2)
//       ic over rows in steps of mc  pack op(A)[ic:ic+mc, pc:pc+kc] into Ap   (L2)
//         jr over nc in steps of nr  (one packed B panel, kc x nr, stays in L1)
//           ir over mc in steps of mr  -> micro-kernel on an mr x nr tile of C
//
// Micro-kernel contract (every ISA implements exactly this):
//   void kernel(kc, ap, bp, c, ldc, alpha, beta)
//   ap: packed A panel, kc columns of mr floats: ap[p*mr + i] = op(A)[i, p]   (i < mr, p < kc)
//   bp: packed B panel, kc rows of nr floats:    bp[p*nr + j] = op(B)[p, j]   (j < nr, p < kc)
//   c:  a full mr x nr tile of C, rows ldc floats apart (ldc >= nr).
//   Computes c[i, j] = alpha * sum_p ap[p*mr + i] * bp[p*nr + j] + beta * c[i, j], and with
//   beta == 0 overwrites c without reading it. kc may be 0. Panels need no alignment.
// Edges: the packing routines pad partial panels with zeros, and the driver runs the kernel
// on a local mr x nr tile (beta = 0) for partial tiles of C, then merges the valid part, so a
// kernel never sees a partial tile.
#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "parallel.h"

#if defined(__GNUC__) || defined(__clang__)
#define DIGITNET_ALWAYS_INLINE inline __attribute__((always_inline))
#define DIGITNET_RESTRICT __restrict__
#elif defined(_MSC_VER)
#define DIGITNET_ALWAYS_INLINE __forceinline
#define DIGITNET_RESTRICT __restrict
#else
#define DIGITNET_ALWAYS_INLINE inline
#define DIGITNET_RESTRICT
#endif

// x86 builds carry AVX2 and AVX-512 kernels compiled for those ISAs through function target
// attributes, so one binary built for baseline x86-64 uses them where the CPU has them.
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define DIGITNET_X86_DISPATCH 1
#endif

namespace digitnet {
namespace {

using std::size_t;

// ---------------------------------------------------------------------------------------------
// Micro-kernels. One generic body, instantiated per ISA with its register tile: with MR and NR
// compile-time constants the accumulator tile is fully unrolled into vector registers (NR
// floats = one or two vectors per row) and the p loop is a chain of broadcast-multiply-adds.

template <int MR, int NR>
DIGITNET_ALWAYS_INLINE void microKernelBody(size_t kc, const float* DIGITNET_RESTRICT ap,
                                            const float* DIGITNET_RESTRICT bp,
                                            float* DIGITNET_RESTRICT c, size_t ldc, float alpha,
                                            float beta) {
  float acc[MR][NR] = {};
  for (size_t p = 0; p < kc; ++p) {
    const float* DIGITNET_RESTRICT a = ap + p * MR;
    const float* DIGITNET_RESTRICT b = bp + p * NR;
    for (int i = 0; i < MR; ++i) {
      for (int j = 0; j < NR; ++j) acc[i][j] += a[i] * b[j];
    }
  }
  if (beta == 0.0f) {
    for (int i = 0; i < MR; ++i) {
      for (int j = 0; j < NR; ++j) c[i * ldc + j] = alpha * acc[i][j];
    }
  } else {
    for (int i = 0; i < MR; ++i) {
      for (int j = 0; j < NR; ++j) c[i * ldc + j] = alpha * acc[i][j] + beta * c[i * ldc + j];
    }
  }
}

using MicroKernelFn = void (*)(size_t kc, const float* ap, const float* bp, float* c, size_t ldc,
                               float alpha, float beta);

constexpr int kPortableMR = 4, kPortableNR = 8;
void microKernelPortable(size_t kc, const float* ap, const float* bp, float* c, size_t ldc,
                         float alpha, float beta) {
  microKernelBody<kPortableMR, kPortableNR>(kc, ap, bp, c, ldc, alpha, beta);
}

#ifdef DIGITNET_X86_DISPATCH
constexpr int kAvx2MR = 6, kAvx2NR = 16;  // 12 ymm accumulators
__attribute__((target("avx2,fma"))) void microKernelAvx2(size_t kc, const float* ap,
                                                           const float* bp, float* c,
                                                           size_t ldc, float alpha, float beta) {
  microKernelBody<kAvx2MR, kAvx2NR>(kc, ap, bp, c, ldc, alpha, beta);
}

constexpr int kAvx512MR = 8, kAvx512NR = 32;  // 16 zmm accumulators
__attribute__((target("avx512f"))) void microKernelAvx512(size_t kc, const float* ap,
                                                          const float* bp, float* c, size_t ldc,
                                                          float alpha, float beta) {
  microKernelBody<kAvx512MR, kAvx512NR>(kc, ap, bp, c, ldc, alpha, beta);
}

bool cpuHasAvx2Fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool cpuHasAvx512() { return __builtin_cpu_supports("avx512f"); }
#endif

bool always() { return true; }

// ---------------------------------------------------------------------------------------------
// The block-size table: one row per micro-kernel, in order of preference.
//   mr x nr  register tile of the micro-kernel
//   kc       depth of a packed panel: a kc x nr B panel should sit in L1
//   mc       rows of packed A (mc x kc) kept in L2; a multiple of mr
//   nc       columns of packed B (kc x nc) kept in L3; a multiple of nr

struct MicroKernel {
  const char* name;
  MicroKernelFn run;
  bool (*supported)();
  size_t mr, nr, mc, kc, nc;
};

constexpr size_t kMaxMR = 8, kMaxNR = 32;  // largest register tile in the table

const MicroKernel kKernels[] = {
#ifdef DIGITNET_X86_DISPATCH
    {"avx512f", microKernelAvx512, cpuHasAvx512, kAvx512MR, kAvx512NR, 128, 192, 4096},
    {"avx2+fma", microKernelAvx2, cpuHasAvx2Fma, kAvx2MR, kAvx2NR, 72, 256, 4080},
#endif
    {"portable", microKernelPortable, always, kPortableMR, kPortableNR, 64, 256, 4096},
};

const MicroKernel& chooseKernel() {
  const char* forced = std::getenv("DIGITNET_GEMM_KERNEL");
  if (forced != nullptr) {
    for (const MicroKernel& k : kKernels) {
      if (std::strcmp(forced, k.name) == 0 && k.supported()) return k;
    }
  }
  for (const MicroKernel& k : kKernels) {
    if (k.supported()) return k;
  }
  return kKernels[sizeof(kKernels) / sizeof(kKernels[0]) - 1];
}

const MicroKernel& kernel() {
  static const MicroKernel& chosen = chooseKernel();
  return chosen;
}

size_t roundUp(size_t x, size_t to) { return (x + to - 1) / to * to; }

// ---------------------------------------------------------------------------------------------
// Packing. Ap holds ceil(mc/mr) panels of kc*mr floats, Bp ceil(nc/nr) panels of kc*nr floats,
// in the layouts of the micro-kernel contract; rows (columns) past the edge are zero.

// op(A)[i0:i0+mc, p0:p0+kc] -> ap
void packA(bool transA, const float* a, size_t lda, size_t i0, size_t mc, size_t p0, size_t kc,
           size_t mr, float* ap) {
  for (size_t ir = 0; ir < mc; ir += mr) {
    const size_t rows = std::min(mr, mc - ir);
    float* panel = ap + ir * kc;
    if (!transA) {  // A is (m,k): row i of op(A) is contiguous
      for (size_t i = 0; i < rows; ++i) {
        const float* src = a + (i0 + ir + i) * lda + p0;
        for (size_t p = 0; p < kc; ++p) panel[p * mr + i] = src[p];
      }
    } else {  // A is (k,m): column p of op(A) is contiguous
      for (size_t p = 0; p < kc; ++p) {
        const float* src = a + (p0 + p) * lda + i0 + ir;
        for (size_t i = 0; i < rows; ++i) panel[p * mr + i] = src[i];
      }
    }
    for (size_t p = 0; p < kc && rows < mr; ++p) {
      for (size_t i = rows; i < mr; ++i) panel[p * mr + i] = 0.0f;
    }
  }
}

// op(B)[p0:p0+kc, j0:j0+nc] -> bp
void packB(bool transB, const float* b, size_t ldb, size_t p0, size_t kc, size_t j0, size_t nc,
           size_t nr, float* bp) {
  for (size_t jr = 0; jr < nc; jr += nr) {
    const size_t cols = std::min(nr, nc - jr);
    float* panel = bp + jr * kc;
    if (!transB) {  // B is (k,n): row p of op(B) is contiguous
      for (size_t p = 0; p < kc; ++p) {
        const float* src = b + (p0 + p) * ldb + j0 + jr;
        for (size_t j = 0; j < cols; ++j) panel[p * nr + j] = src[j];
        for (size_t j = cols; j < nr; ++j) panel[p * nr + j] = 0.0f;
      }
    } else {  // B is (n,k): column j of op(B) is contiguous
      for (size_t j = 0; j < cols; ++j) {
        const float* src = b + (j0 + jr + j) * ldb + p0;
        for (size_t p = 0; p < kc; ++p) panel[p * nr + j] = src[p];
      }
      for (size_t p = 0; p < kc && cols < nr; ++p) {
        for (size_t j = cols; j < nr; ++j) panel[p * nr + j] = 0.0f;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The driver.

struct Problem {
  bool transA, transB;
  size_t m, n, k;
  float alpha;
  const float* a;
  size_t lda;
  const float* b;
  size_t ldb;
  float beta;
  float* c;
  size_t ldc;
};

// Packing buffers, one pair per thread, grown on demand and reused across calls.
thread_local std::vector<float> t_packedA;
thread_local std::vector<float> t_packedB;

// C[i0:i1, j0:j1] for the whole of k, on the calling thread.
void gemmTile(const MicroKernel& uk, const Problem& pr, size_t i0, size_t i1, size_t j0,
              size_t j1) {
  const size_t mr = uk.mr, nr = uk.nr;
  const size_t ncMax = std::min(uk.nc, roundUp(j1 - j0, nr));
  const size_t mcMax = std::min(uk.mc, roundUp(i1 - i0, mr));
  const size_t kcMax = std::min(uk.kc, pr.k);
  if (t_packedA.size() < mcMax * kcMax) t_packedA.resize(mcMax * kcMax);
  if (t_packedB.size() < kcMax * ncMax) t_packedB.resize(kcMax * ncMax);
  float* ap = t_packedA.data();
  float* bp = t_packedB.data();
  float edge[kMaxMR * kMaxNR];

  for (size_t jc = j0; jc < j1; jc += uk.nc) {
    const size_t nc = std::min(uk.nc, j1 - jc);
    for (size_t pc = 0; pc < pr.k; pc += uk.kc) {
      const size_t kc = std::min(uk.kc, pr.k - pc);
      const float beta = pc == 0 ? pr.beta : 1.0f;  // later k blocks accumulate
      packB(pr.transB, pr.b, pr.ldb, pc, kc, jc, nc, nr, bp);
      for (size_t ic = i0; ic < i1; ic += uk.mc) {
        const size_t mc = std::min(uk.mc, i1 - ic);
        packA(pr.transA, pr.a, pr.lda, ic, mc, pc, kc, mr, ap);
        for (size_t jr = 0; jr < nc; jr += nr) {
          const size_t cols = std::min(nr, nc - jr);
          for (size_t ir = 0; ir < mc; ir += mr) {
            const size_t rows = std::min(mr, mc - ir);
            float* ct = pr.c + (ic + ir) * pr.ldc + jc + jr;
            const float* apPanel = ap + ir * kc;
            const float* bpPanel = bp + jr * kc;
            if (rows == mr && cols == nr) {
              uk.run(kc, apPanel, bpPanel, ct, pr.ldc, pr.alpha, beta);
              continue;
            }
            uk.run(kc, apPanel, bpPanel, edge, nr, 1.0f, 0.0f);
            for (size_t i = 0; i < rows; ++i) {
              float* crow = ct + i * pr.ldc;
              const float* erow = edge + i * nr;
              if (beta == 0.0f) {
                for (size_t j = 0; j < cols; ++j) crow[j] = pr.alpha * erow[j];
              } else {
                for (size_t j = 0; j < cols; ++j) crow[j] = pr.alpha * erow[j] + beta * crow[j];
              }
            }
          }
        }
      }
    }
  }
}

// C = beta * C, the whole product when k == 0 or alpha == 0 (BLAS's quick return).
void scaleC(size_t m, size_t n, float beta, float* c, size_t ldc) {
  for (size_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else if (beta != 1.0f) {
      for (size_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

// Below this many multiply-adds a problem runs on one thread: waking the pool costs more.
constexpr double kParallelMinMacs = 1 << 20;

}  // namespace

void sgemm(bool transA, bool transB, size_t m, size_t n, size_t k, float alpha, const float* a,
           size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) return scaleC(m, n, beta, c, ldc);

  const MicroKernel& uk = kernel();
  const Problem pr{transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
  const size_t threads = static_cast<size_t>(getThreads());
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (threads <= 1 || macs < kParallelMinMacs) return gemmTile(uk, pr, 0, m, 0, n);

  // Split C into one band per thread, across rows or across columns, whichever gives more
  // bands (rows on a tie: the threads then share nothing they write, and each packs all of B).
  const size_t rowsPer = roundUp((m + threads - 1) / threads, uk.mr);
  const size_t colsPer = roundUp((n + threads - 1) / threads, uk.nr);
  const size_t rowBands = (m + rowsPer - 1) / rowsPer;
  const size_t colBands = (n + colsPer - 1) / colsPer;
  if (rowBands >= colBands) {
    parallel_for(rowBands, [&](size_t t) {
      gemmTile(uk, pr, t * rowsPer, std::min(m, (t + 1) * rowsPer), 0, n);
    });
  } else {
    parallel_for(colBands, [&](size_t t) {
      gemmTile(uk, pr, 0, m, t * colsPer, std::min(n, (t + 1) * colsPer));
    });
  }
}

void sgemm_reference(bool transA, bool transB, size_t m, size_t n, size_t k, float alpha,
                     const float* a, size_t lda, const float* b, size_t ldb, float beta, float* c,
                     size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) return scaleC(m, n, beta, c, ldc);
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double sum = 0.0;
      for (size_t p = 0; p < k; ++p) {
        const float aip = transA ? a[p * lda + i] : a[i * lda + p];
        const float bpj = transB ? b[j * ldb + p] : b[p * ldb + j];
        sum += static_cast<double>(aip) * bpj;
      }
      float& cij = c[i * ldc + j];
      const double scaled = static_cast<double>(alpha) * sum;
      cij = static_cast<float>(beta == 0.0f ? scaled : scaled + static_cast<double>(beta) * cij);
    }
  }
}

const char* sgemm_kernel_name() { return kernel().name; }

}  // namespace digitnet
