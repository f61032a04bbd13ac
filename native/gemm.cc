// sgemm as a BLIS-style blocked, packed product: this file is the portable driver (the loops
// around the micro-kernel, the packing, the split over threads); the per-ISA micro-kernels and
// their block sizes live in gemm_avx512.cc, gemm_avx2.cc and gemm_scalar.cc (contract in
// gemm_kernels.h), and one of them is chosen once per process.
//
// Loops, outermost first, for one block of C (see sgemm for how C is split across threads):
//   jc over columns of C in steps of nc
//     pc over k in steps of kc       pack op(B)[pc:pc+kc, jc:jc+nc] into Bp   (L3)
//       ic over rows in steps of mc  pack op(A)[ic:ic+mc, pc:pc+kc] into Ap   (L2)
//         jr over nc in steps of nr  (one kc x nr panel of B, reused by every ir)
//           ir over mc in steps of mr  -> micro-kernel on an mr x nr tile of C
// Packing makes both operands k-major panels. An operand that already is k-major in memory
// (A transposed, B not transposed) is read in place when the problem is small, where packing
// would cost more than it saves; see packsA / packsB. When C is narrower than a vector, the
// driver computes C^T = op(B)^T op(A)^T instead and stores its tiles transposed
// (transposeCheaper).
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "gemm_kernels.h"
#include "parallel.h"
#include "to_float.h"

namespace digitnet {
namespace {

using std::size_t;

// ---- choosing the micro-kernel ---------------------------------------------------------------

// In order of preference.
const GemmIsa* const kIsas[] = {&kGemmAvx512, &kGemmAvx2, &kGemmScalar};

const GemmIsa& bestSupported() {
  for (const GemmIsa* isa : kIsas) {
    if (isa->supported()) return *isa;
  }
  return kGemmScalar;
}

// DIGITNET_ISA=avx512|avx2|scalar forces a micro-kernel. A value this CPU cannot run, or an
// unknown one, falls back to the best supported kernel with a warning on stderr (never SIGILL);
// nativeInfo().gemmKernel says which kernel runs.
const GemmIsa& chooseIsa() {
  const char* forced = std::getenv("DIGITNET_ISA");
  if (forced == nullptr || *forced == '\0') return bestSupported();
  for (const GemmIsa* isa : kIsas) {
    if (std::strcmp(forced, isa->name) != 0) continue;
    if (isa->supported()) return *isa;
    std::fprintf(stderr, "digitnet: DIGITNET_ISA=%s is not supported by this CPU; using %s\n",
                 forced, bestSupported().name);
    return bestSupported();
  }
  std::fprintf(stderr, "digitnet: DIGITNET_ISA=%s is not one of avx512, avx2, scalar; using %s\n",
               forced, bestSupported().name);
  return bestSupported();
}

const GemmIsa& isa() {
  static const GemmIsa& chosen = chooseIsa();
  return chosen;
}

size_t ceilDiv(size_t x, size_t y) { return (x + y - 1) / y; }
size_t roundUp(size_t x, size_t to) { return ceilDiv(x, to) * to; }

// ---- the problem -----------------------------------------------------------------------------

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
  bool transposedC;  // C is stored transposed: element (i, j) of this problem is c[j*ldc + i]
};

// Whether computing C^T = op(B)^T op(A)^T fills the vectors better. A row of a micro-tile takes
// ceil(cols / lanes) vectors, so the micro-kernels do about m * ceil(n / lanes) vector
// multiply-adds per step of k: for the forward pass of a 10-unit layer (n = 10) at batch 64
// that is 64 (10 of 16 lanes used), against 10 * 4 = 40 for the transposed product.
bool transposeCheaper(const GemmIsa& uk, size_t m, size_t n) {
  return n * ceilDiv(m, uk.lanes) < m * ceilDiv(n, uk.lanes);
}

// Up to this many multiply-adds an operand that is already k-major is read in place: its panels
// are then reused too few times, or are too small, for packing to pay. Measured with
// bench/gemm_bench --clock cpu (GFLOPS per CPU-second, AVX-512, 1 thread): in place vs packed,
// weight-grad 128->10 b64 (10x128x64, A^T B) 98 vs 62, the other MLP gradient shapes 1-10% ahead;
// 1024^3 (A B) 79-95 vs 94-96 packed, whose B rows 4 KB apart collide in the caches.
constexpr double kInPlaceMaxMacs = 64.0 * 1024 * 1024;

double macs(const Problem& pr) {
  return static_cast<double>(pr.m) * static_cast<double>(pr.n) * static_cast<double>(pr.k);
}

// Whether op(A) / op(B) go through a packed buffer: always when stored the other way round
// (the micro-kernel reads k-major panels), and for large problems, where packed panels avoid
// cache-set conflicts of power-of-two leading dimensions and TLB misses.
bool packsA(const Problem& pr) { return !pr.transA || macs(pr) > kInPlaceMaxMacs; }
bool packsB(const Problem& pr) { return pr.transB || macs(pr) > kInPlaceMaxMacs; }

// ---- packing ---------------------------------------------------------------------------------
// Ap holds ceil(mc/mr) panels of kc x mr floats, Bp ceil(nc/nr) panels of kc x nr floats, in the
// layouts of the micro-kernel contract (as = mr, bs = nr). Rows (columns) past an edge are left
// as they are: the micro-kernel never reads them.

// Packs `width` rows (op(A)) or columns (op(B)) starting at x0, over k in [p0, p0+kc), into
// panels of `panel` floats per k. kContiguous: the operand's stored rows run along k (A not
// transposed, B transposed), so each panel is a small transpose; otherwise each k is one
// contiguous run of the stored matrix.
void packPanels(const GemmIsa& uk, const float* src, size_t ld, bool kContiguous, size_t x0,
                size_t width, size_t p0, size_t kc, size_t panel, float* out) {
  for (size_t xr = 0; xr < width; xr += panel) {
    const size_t n = std::min(panel, width - xr);
    float* dst = out + xr * kc;
    if (kContiguous) {
      uk.packTransposed(n, kc, src + (x0 + xr) * ld + p0, ld, dst, panel);
    } else {
      for (size_t p = 0; p < kc; ++p) {
        std::memcpy(dst + p * panel, src + (p0 + p) * ld + x0 + xr, n * sizeof(float));
      }
    }
  }
}

// op(A)[i0:i0+mc, p0:p0+kc] -> ap
void packA(const GemmIsa& uk, const Problem& pr, size_t i0, size_t mc, size_t p0, size_t kc,
           float* ap) {
  packPanels(uk, pr.a, pr.lda, !pr.transA, i0, mc, p0, kc, uk.mr, ap);
}

// op(B)[p0:p0+kc, j0:j0+nc] -> bp
void packB(const GemmIsa& uk, const Problem& pr, size_t p0, size_t kc, size_t j0, size_t nc,
           float* bp) {
  packPanels(uk, pr.b, pr.ldb, pr.transB, j0, nc, p0, kc, uk.nr, bp);
}

// ---- packing buffers -------------------------------------------------------------------------

// Packed panels are 64-byte aligned (a cache line; an AVX-512 vector). C++17's aligned new is
// the portable way to get that: std::aligned_alloc is missing from MSVC's library.
constexpr std::align_val_t kPackAlign{64};

struct AlignedDeleter {
  void operator()(float* p) const { ::operator delete(p, kPackAlign); }
};

// A 64-byte aligned float buffer that only grows; one per thread and operand, reused across
// calls. Its size is bounded by the block sizes (mc x kc, kc x nc), never by the matrices.
class PackBuffer {
 public:
  // Room for `count` floats, or nullptr when the allocation fails.
  float* reserve(size_t count) {
    if (count <= capacity_) return data_.get();
    data_.reset();  // free the old buffer first: the peak is one buffer, not two
    data_.reset(static_cast<float*>(::operator new(count * sizeof(float), kPackAlign, std::nothrow)));
    capacity_ = data_ ? count : 0;
    return data_.get();
  }

 private:
  std::unique_ptr<float, AlignedDeleter> data_;
  size_t capacity_ = 0;
};

thread_local PackBuffer t_packA;
thread_local PackBuffer t_packB;

// ---- the driver ------------------------------------------------------------------------------

// Splits [0, total) into the fewest steps of at most `most`, of equal size rounded up to `unit`,
// so that k = 784 runs as 2 x 392 rather than 512 + 272.
size_t balancedStep(size_t total, size_t most, size_t unit) {
  return roundUp(ceilDiv(total, ceilDiv(total, most)), unit);
}

// C[i0:i1, j0:j1] for the whole of k, on the calling thread. False when a packing buffer could
// not be allocated (nothing of C has been written then).
bool gemmBlock(const GemmIsa& uk, const Problem& pr, size_t i0, size_t i1, size_t j0, size_t j1) {
  const size_t mr = uk.mr, nr = uk.nr;
  const bool packedA = packsA(pr), packedB = packsB(pr);
  const size_t kcStep = balancedStep(pr.k, uk.kc, 1);
  const size_t mcStep = balancedStep(i1 - i0, uk.mc, mr);
  const size_t ncStep = balancedStep(j1 - j0, uk.nc, nr);
  float* ap = packedA ? t_packA.reserve(mcStep * kcStep) : nullptr;
  float* bp = packedB ? t_packB.reserve(kcStep * ncStep) : nullptr;
  if ((packedA && ap == nullptr) || (packedB && bp == nullptr)) return false;

  for (size_t jc = j0; jc < j1; jc += ncStep) {
    const size_t nc = std::min(ncStep, j1 - jc);
    for (size_t pc = 0; pc < pr.k; pc += kcStep) {
      const size_t kc = std::min(kcStep, pr.k - pc);
      const float beta = pc == 0 ? pr.beta : 1.0f;  // later k blocks accumulate
      if (packedB) packB(uk, pr, pc, kc, jc, nc, bp);
      // B panel jr starts at bBase + jr * bPanelStride; row p of it at + p * bs.
      const float* bBase = packedB ? bp : pr.b + pc * pr.ldb + jc;
      const size_t bs = packedB ? nr : pr.ldb;
      const size_t bPanelStride = packedB ? kc : 1;
      for (size_t ic = i0; ic < i1; ic += mcStep) {
        const size_t mc = std::min(mcStep, i1 - ic);
        if (packedA) packA(uk, pr, ic, mc, pc, kc, ap);
        const float* aBase = packedA ? ap : pr.a + pc * pr.lda + ic;
        const size_t as = packedA ? mr : pr.lda;
        const size_t aPanelStride = packedA ? kc : 1;
        for (size_t jr = 0; jr < nc; jr += nr) {
          const size_t cols = std::min(nr, nc - jr);
          const float* bPanel = bBase + jr * bPanelStride;
          for (size_t ir = 0; ir < mc; ir += mr) {
            const size_t rows = std::min(mr, mc - ir);
            const float* aPanel = aBase + ir * aPanelStride;
            if (!pr.transposedC) {
              uk.kernel(rows, cols, kc, aPanel, as, bPanel, bs, pr.c + (ic + ir) * pr.ldc + jc + jr,
                        pr.ldc, pr.alpha, beta);
              continue;
            }
            // The tile is C^T's: compute it apart, then store it transposed.
            float tile[kMaxMicroTile];
            uk.kernel(rows, cols, kc, aPanel, as, bPanel, bs, tile, nr, 1.0f, 0.0f);
            for (size_t j = 0; j < cols; ++j) {
              float* ccol = pr.c + (jc + jr + j) * pr.ldc + ic + ir;
              for (size_t i = 0; i < rows; ++i) {
                const float v = pr.alpha * tile[i * nr + j];
                ccol[i] = beta == 0.0f ? v : v + beta * ccol[i];
              }
            }
          }
        }
      }
    }
  }
  return true;
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

// ---- the split over threads ------------------------------------------------------------------
// C is split into a grid of blocks, one per thread. Whether a split pays depends on the machine:
// how fast one thread runs the micro-kernels, and how long the pool's workers take to join a
// region (about a microsecond for one still polling after its last region, tens for one asleep).
// Both are measured as the process runs (secondsPerCost here, regionStartSeconds in parallel.cc),
// and each call takes the grid with the least expected time: its slowest block plus the wait for
// its last helper. A helper that would not pay for its wake-up is not woken, so more threads are
// never planned to be slower than fewer.

// Cost of packing one float, in multiply-adds of the micro-kernel (a load and a store per
// float against ~32 multiply-adds per cycle): used to weigh a split that packs an operand twice.
constexpr double kPackCostMacs = 16.0;

// The work of one rows x cols block of C, in multiply-adds: whole micro-tiles (ragged edges cost
// a full tile) plus the operands it packs. Splitting rows makes every block pack all of op(B);
// splitting columns, all of op(A).
double blockCost(const GemmIsa& uk, const Problem& pr, size_t rows, size_t cols) {
  const double k = static_cast<double>(pr.k);
  const double tiledRows = static_cast<double>(roundUp(rows, uk.mr));
  const double tiledCols = static_cast<double>(roundUp(cols, uk.nr));
  return tiledRows * tiledCols * k +
         kPackCostMacs * k * ((packsA(pr) ? tiledRows : 0) + (packsB(pr) ? tiledCols : 0));
}

// Seconds per unit of blockCost on one thread: an exponentially weighted mean over the blocks
// this process has run, those of at least kTimedMinCost (below that, reading the clock costs more
// than it tells), each sample counting for at most twice the mean (a block preempted for a time
// slice says nothing about the kernels). Starts from a guess of 25 G multiply-adds per second that
// the first large call corrects.
std::atomic<double> g_secondsPerCost{1.0 / 25e9};
constexpr double kTimedMinCost = 256.0 * 1024;

void recordBlock(double cost, double seconds) {
  const double mean = g_secondsPerCost.load(std::memory_order_relaxed);
  g_secondsPerCost.store(mean * 0.875 + std::min(seconds / cost, 2 * mean) * 0.125,
                         std::memory_order_relaxed);
}

// How C is split over threads: a grid of rowBlocks x colBlocks blocks, one per thread.
struct Split {
  size_t rowBlocks, colBlocks, rowsPer, colsPer;
  size_t blocks() const { return rowBlocks * colBlocks; }
};

// The grid of at most `threads` blocks with the least expected time, given when helpers would
// start (start[h]: h helpers running).
Split fastestSplit(const GemmIsa& uk, const Problem& pr, size_t threads, double secondsPerCost,
                   const double* start) {
  Split best{1, 1, pr.m, pr.n};
  double bestSeconds = blockCost(uk, pr, pr.m, pr.n) * secondsPerCost;
  const size_t rowTiles = ceilDiv(pr.m, uk.mr), colTiles = ceilDiv(pr.n, uk.nr);
  for (size_t rowBlocks = 1; rowBlocks <= threads && rowBlocks <= rowTiles; ++rowBlocks) {
    const size_t rowsPer = ceilDiv(rowTiles, rowBlocks) * uk.mr;
    for (size_t colBlocks = 1; rowBlocks * colBlocks <= threads && colBlocks <= colTiles; ++colBlocks) {
      const size_t colsPer = ceilDiv(colTiles, colBlocks) * uk.nr;
      const Split split{ceilDiv(pr.m, rowsPer), ceilDiv(pr.n, colsPer), rowsPer, colsPer};
      const double seconds = blockCost(uk, pr, rowsPer, colsPer) * secondsPerCost + start[split.blocks() - 1];
      if (seconds < bestSeconds) {
        bestSeconds = seconds;
        best = split;
      }
    }
  }
  return best;
}

// The split for this call, with the helpers as they are now. When helpers that sleep (or have
// not started) make it use fewer threads than awake ones would, they are woken for the next call:
// a network's GEMMs come in quick succession, and a helper woken now is polling by then.
Split chooseSplit(const GemmIsa& uk, const Problem& pr, size_t threads) {
  const Split serial{1, 1, pr.m, pr.n};
  if (threads <= 1) return serial;
  const double secondsPerCost = g_secondsPerCost.load(std::memory_order_relaxed);
  double awake[kMaxThreads];
  regionStartSeconds(1, awake, true);
  // Too small for even one awake helper to pay for itself: the common case for small layers.
  if (blockCost(uk, pr, pr.m, pr.n) * secondsPerCost <= awake[1]) return serial;
  double now[kMaxThreads];
  regionStartSeconds(threads - 1, now, false);
  const Split split = fastestSplit(uk, pr, threads, secondsPerCost, now);
  if (now[threads - 1] > awake[1]) {  // some helper is not polling
    regionStartSeconds(threads - 1, awake, true);
    const Split ifAwake = fastestSplit(uk, pr, threads, secondsPerCost, awake);
    if (ifAwake.blocks() > split.blocks()) wakeHelpers(ifAwake.blocks() - 1);
  }
  return split;
}

}  // namespace

void sgemm(bool transA, bool transB, size_t m, size_t n, size_t k, float alpha, const float* a,
           size_t lda, const float* b, size_t ldb, float beta, float* c, size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) return scaleC(m, n, beta, c, ldc);

  const GemmIsa& uk = isa();
  const bool swap = transposeCheaper(uk, m, n);
  const Problem pr =
      swap ? Problem{!transB, !transA, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc, true}
           : Problem{transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, false};
  const Split split = chooseSplit(uk, pr, static_cast<size_t>(getThreads()));
  parallel_for(split.rowBlocks * split.colBlocks, [&](size_t block) {
    const size_t i0 = block / split.colBlocks * split.rowsPer;
    const size_t j0 = block % split.colBlocks * split.colsPer;
    const size_t i1 = std::min(pr.m, i0 + split.rowsPer), j1 = std::min(pr.n, j0 + split.colsPer);
    using Clock = std::chrono::steady_clock;
    const double cost = blockCost(uk, pr, i1 - i0, j1 - j0);
    const bool timed = cost >= kTimedMinCost;
    const Clock::time_point started = timed ? Clock::now() : Clock::time_point{};
    if (gemmBlock(uk, pr, i0, i1, j0, j1)) {
      if (timed) recordBlock(cost, std::chrono::duration<double>(Clock::now() - started).count());
      return;
    }
    // Out of memory for the packing buffers (a few MB): the unblocked loops need none.
    const size_t r0 = swap ? j0 : i0, r1 = swap ? j1 : i1;  // the block's rows of C
    const size_t c0 = swap ? i0 : j0, c1 = swap ? i1 : j1;  // and its columns
    sgemm_reference(transA, transB, r1 - r0, c1 - c0, k, alpha, transA ? a + r0 : a + r0 * lda,
                    lda, transB ? b + c0 * ldb : b + c0, ldb, beta, c + r0 * ldc + c0, ldc);
  });
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
      cij = toFloat(beta == 0.0f ? scaled : scaled + static_cast<double>(beta) * cij);
    }
  }
}

const char* sgemm_kernel_name() { return isa().name; }

GemmBlockSizes sgemm_block_sizes() {
  const GemmIsa& uk = isa();
  return {uk.mr, uk.nr, uk.mc, uk.kc, uk.nc};
}

}  // namespace digitnet
