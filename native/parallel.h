// One fixed thread pool for the whole process, shared by every JS thread (main and
// worker_threads) that loads the addon.
//
// Only one parallel region runs at a time: a parallel_for that starts while another region is
// running (from another JS thread, or nested inside a block) runs its blocks serially on the
// calling thread. So the process never runs more than getThreads() kernel threads, and a busy
// pool never blocks a caller.
//
// A region wakes only the workers it hands blocks to, lowest-numbered first. A worker polls for
// its next region for a while after each one and then sleeps.
#pragma once

#include <cstddef>
#include <functional>

namespace digitnet {

// Upper bound on the pool size; setThreads clamps to it.
constexpr int kMaxThreads = 256;

// Sets the number of threads a parallel region may use (the caller counts as one), clamped to
// [1, kMaxThreads]. Waits for a running region to finish. Workers start lazily; one that cannot
// be started (the system's thread limit, no memory for a stack) leaves the pool smaller.
void setThreads(int n);

// The number of threads a parallel region may use; defaults to DIGITNET_THREADS when that is a
// whole number >= 1, else the CPUs this process may run on (native/cpus.h).
int getThreads();

// Calls fn(block) once for every block in [0, nblocks), on up to min(nblocks, getThreads())
// threads, and returns when all calls have returned. Each thread starts on its own contiguous
// share of the blocks (the calling thread on the first), in order, then takes the blocks left in
// the others': regions of the same size give a thread the same blocks. fn must not throw.
void parallel_for(std::size_t nblocks, const std::function<void(std::size_t)>& fn);

// Elementwise work over [0, n): fn(first, last) on consecutive ranges of `block` elements (the
// last one shorter) handed out as parallel_for blocks when n >= minParallel, else one call
// fn(0, n) on the calling thread. For kernels whose elements are independent of each other, so
// that the split never changes a result.
void parallel_ranges(std::size_t n, std::size_t block, std::size_t minParallel,
                     const std::function<void(std::size_t, std::size_t)>& fn);

// The measured time a helper that is polling (it has just run a region) takes to join the next
// one, from the region's start: a product that one thread finishes sooner gains nothing from a
// split.
double helperJoinSeconds();

}  // namespace digitnet
