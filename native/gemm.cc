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
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "aligned_buffer.h"
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

// Packed panels: one buffer per thread and operand, bounded by the block sizes (mc x kc,
// kc x nc), never by the matrices.
thread_local AlignedBuffer t_packA;
thread_local AlignedBuffer t_packB;

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
// C is split into a grid of blocks, one per thread. Whether a split pays, and into how many
// blocks, depends on the machine (how fast one core runs the micro-kernels, what waking helpers,
// moving operands to their caches and joining them costs, whether threads share a core) and on
// the shape, which is too much to model. But a network calls each of its few GEMM shapes
// thousands of times, so sgemm measures instead: per shape and thread count it times each of a
// few splits (at most 1, 2, 4, ... blocks, up to the thread count) on the calls themselves, and
// runs the fastest. The others are timed again now and then, so the choice follows the machine
// (a passing load, helpers asleep because calls come far apart). A split slower than fewer
// blocks is not kept, so more threads are not slower than fewer.

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

// Adds a time to a running estimate of a time (0: none yet). Noise in timings is one-sided (a
// thread preempted for a time slice, caches cold after other work), so the estimate follows a
// faster time at once, halfway, and a slower one slowly, each counting for at most twice the
// estimate: a one-off delay must not decide the next hundred calls, while a lasting change still
// moves it within a few dozen.
double withSample(double estimate, double sample) {
  if (estimate == 0.0) return sample;
  if (sample < estimate) return 0.5 * (estimate + sample);
  return estimate * 0.875 + std::min(sample, 2 * estimate) * 0.125;
}

// Seconds per unit of blockCost on one thread, measured on blocks of at least kTimedMinCost
// (below that, reading the clock costs more than it tells); from a guess of 25 G multiply-adds
// per second. Threads may update it at once; a lost update only drops a sample.
std::atomic<double> g_secondsPerCost{1.0 / 25e9};
constexpr double kTimedMinCost = 256.0 * 1024;

double secondsNow() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// How C is split over threads: a grid of rowBlocks x colBlocks blocks, one per thread.
struct Split {
  size_t rowBlocks, colBlocks, rowsPer, colsPer;
  size_t blocks() const { return rowBlocks * colBlocks; }
};

// The grid of at most `most` blocks whose slowest block costs least (on a tie, fewer blocks).
Split bestSplit(const GemmIsa& uk, const Problem& pr, size_t most) {
  Split best{1, 1, pr.m, pr.n};
  double bestCost = blockCost(uk, pr, pr.m, pr.n);
  const size_t rowTiles = ceilDiv(pr.m, uk.mr), colTiles = ceilDiv(pr.n, uk.nr);
  for (size_t rowBlocks = 1; rowBlocks <= most && rowBlocks <= rowTiles; ++rowBlocks) {
    const size_t rowsPer = ceilDiv(rowTiles, rowBlocks) * uk.mr;
    for (size_t colBlocks = 1; rowBlocks * colBlocks <= most && colBlocks <= colTiles; ++colBlocks) {
      const size_t colsPer = ceilDiv(colTiles, colBlocks) * uk.nr;
      const double cost = blockCost(uk, pr, rowsPer, colsPer);
      if (cost < bestCost) {
        bestCost = cost;
        best = {ceilDiv(pr.m, rowsPer), ceilDiv(pr.n, colsPer), rowsPer, colsPer};
      }
    }
  }
  return best;
}

// The splits sgemm times per shape ("arms"): at most 1, 2, 4, ... blocks, and at most `threads`.
constexpr size_t kMaxArms = 9;  // 1, 2, ..., 128 and up to kMaxThreads

size_t armCount(size_t threads) {
  size_t arms = 1;
  while ((size_t{1} << arms) < threads) ++arms;
  return arms + 1;
}

size_t armBlocks(size_t arm, size_t threads) {
  return arm + 1 < armCount(threads) ? size_t{1} << arm : threads;
}

// Per shape and thread count, the arms' splits and their measured seconds per call.
class SplitTimings {
 public:
  struct Choice {
    size_t arm;
    Split split;
  };

  // The arm to run for this call, and its split.
  Choice choose(const GemmIsa& uk, const Problem& pr, size_t threads) {
    const std::lock_guard<std::mutex> lock(mutex_);
    Shape& shape = find(uk, pr, threads);
    const size_t arm = chooseArm(shape, threads);
    return {arm, shape.splits[arm]};
  }

  void record(const GemmIsa& uk, const Problem& pr, size_t threads, size_t arm, double seconds) {
    const std::lock_guard<std::mutex> lock(mutex_);
    Shape& shape = find(uk, pr, threads);
    // A split's first run after this shape ran otherwise warms it up (its helpers may have gone
    // to sleep, or have yet to start and fault in their packing buffers): its time would say
    // little about the next run, which follows at once.
    const bool warmUp = shape.splits[arm].blocks() > 1 && shape.lastArm != arm;
    shape.lastArm = arm;
    shape.warming = warmUp ? arm : kNoArm;
    if (warmUp) return;
    shape.seconds[arm] = withSample(shape.seconds[arm], seconds);
    shape.timedAt[arm] = ++clock_;
  }

 private:
  static constexpr int kRetryCalls = 64;  // at most two calls in 64 run an arm for timing
  static constexpr size_t kNoArm = kMaxArms;

  struct Shape {
    size_t m = 0, n = 0, k = 0, threads = 0;
    bool transA = false, transB = false;
    Split splits[kMaxArms];
    double cost[kMaxArms];     // blockCost of each arm's slowest block
    double seconds[kMaxArms];  // measured per call; 0: not yet
    unsigned long long timedAt[kMaxArms];
    size_t lastArm, warming;  // the arm run last; an arm warmed up, to be timed next
    int callsSinceRetry;
  };

  size_t chooseArm(Shape& shape, size_t threads) {
    if (shape.warming != kNoArm) return shape.warming;
    const size_t arms = armCount(threads);
    size_t best = arms;  // the fastest timed arm
    for (size_t a = 0; a < arms; ++a) {
      if (shape.seconds[a] > 0 && (best == arms || shape.seconds[a] < shape.seconds[best])) best = a;
    }
    const double secondsPerCost = g_secondsPerCost.load(std::memory_order_relaxed);
    // An arm is worth timing unless its estimate (its slowest block, nothing for the split) is
    // over twice the fastest arm's measured time: running one thread of sixteen to time it
    // would cost more than it could tell.
    const auto worthTiming = [&](size_t a) {
      return best == arms || shape.cost[a] * secondsPerCost <= 2 * shape.seconds[best];
    };
    for (size_t a = arms; a-- > 0;) {  // untimed arms first, most blocks first
      if (shape.seconds[a] == 0 && worthTiming(a)) return a;
    }
    if (++shape.callsSinceRetry < kRetryCalls) return best;
    // Time again the arm timed longest ago.
    shape.callsSinceRetry = 0;
    size_t retry = best;
    for (size_t a = 0; a < arms; ++a) {
      if (a != best && worthTiming(a) && (retry == best || shape.timedAt[a] < shape.timedAt[retry])) retry = a;
    }
    return retry;
  }

  // The shape's record, made afresh (all arms untimed) if its slot held another shape.
  Shape& find(const GemmIsa& uk, const Problem& pr, size_t threads) {
    const size_t hash = pr.m * 73856093u ^ pr.n * 19349663u ^ pr.k * 83492791u ^ threads * 2654435761u ^
                        (pr.transA ? 1u : 0u) ^ (pr.transB ? 2u : 0u);
    Shape& s = shapes_[hash % shapes_.size()];
    if (s.m == pr.m && s.n == pr.n && s.k == pr.k && s.threads == threads && s.transA == pr.transA &&
        s.transB == pr.transB) {
      return s;
    }
    s = Shape{pr.m, pr.n, pr.k, threads, pr.transA, pr.transB, {}, {}, {}, {}, kNoArm, kNoArm, 0};
    for (size_t a = 0; a < armCount(threads); ++a) {
      s.splits[a] = bestSplit(uk, pr, armBlocks(a, threads));
      s.cost[a] = blockCost(uk, pr, s.splits[a].rowsPer, s.splits[a].colsPer);
    }
    return s;
  }

  std::mutex mutex_;
  std::array<Shape, 64> shapes_;
  unsigned long long clock_ = 0;  // counts recordings: orders the arms' last timings
};

SplitTimings g_timings;

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
  const size_t threads = static_cast<size_t>(getThreads());
  // A product one thread finishes within a few helper joins runs on one thread, untimed: a split
  // could save little against what timing it costs (the common case for small layers).
  constexpr double kTimedMinJoins = 8;
  const bool timed = threads > 1 && blockCost(uk, pr, pr.m, pr.n) *
                                            g_secondsPerCost.load(std::memory_order_relaxed) >
                                        kTimedMinJoins * helperJoinSeconds();
  const SplitTimings::Choice choice =
      timed ? g_timings.choose(uk, pr, threads) : SplitTimings::Choice{0, {1, 1, pr.m, pr.n}};
  const Split split = choice.split;
  const double started = timed ? secondsNow() : 0.0;
  using Clock = std::chrono::steady_clock;
  parallel_for(split.blocks(), [&](size_t block) {
    const size_t i0 = block / split.colBlocks * split.rowsPer;
    const size_t j0 = block % split.colBlocks * split.colsPer;
    const size_t i1 = std::min(pr.m, i0 + split.rowsPer), j1 = std::min(pr.n, j0 + split.colsPer);
    const double cost = blockCost(uk, pr, i1 - i0, j1 - j0);
    const bool timedBlock = cost >= kTimedMinCost;
    const Clock::time_point blockStarted = timedBlock ? Clock::now() : Clock::time_point{};
    if (gemmBlock(uk, pr, i0, i1, j0, j1)) {
      if (timedBlock) {
        const double seconds = std::chrono::duration<double>(Clock::now() - blockStarted).count();
        g_secondsPerCost.store(withSample(g_secondsPerCost.load(std::memory_order_relaxed), seconds / cost),
                               std::memory_order_relaxed);
      }
      return;
    }
    // Out of memory for the packing buffers (a few MB): the unblocked loops need none.
    const size_t r0 = swap ? j0 : i0, r1 = swap ? j1 : i1;  // the block's rows of C
    const size_t c0 = swap ? i0 : j0, c1 = swap ? i1 : j1;  // and its columns
    sgemm_reference(transA, transB, r1 - r0, c1 - c0, k, alpha, transA ? a + r0 : a + r0 * lda,
                    lda, transB ? b + c0 * ldb : b + c0, ldb, beta, c + r0 * ldc + c0, ldc);
  });
  if (timed) g_timings.record(uk, pr, threads, choice.arm, secondsNow() - started);
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
