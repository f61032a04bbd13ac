// One fixed thread pool for the whole process, shared by every JS thread (main and
// worker_threads) that loads the addon.
//
// Only one parallel region runs at a time: a parallel_for that starts while another region is
// running (from another JS thread, or nested inside a block) runs its blocks serially on the
// calling thread. So the process never runs more than getThreads() kernel threads, and a busy
// pool never blocks a caller.
//
// A region wakes only the workers it hands blocks to, lowest-numbered first. A worker polls for
// its next region for a while after each one and then sleeps; the pool measures how long each
// kind of worker (polling, sleeping, not yet started) takes to join a region, so that callers can
// weigh that cost against the work a helper would take over (regionStartSeconds).
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
// threads, and returns when all calls have returned. Blocks are handed out dynamically, the
// calling thread taking its share. fn must not throw.
void parallel_for(std::size_t nblocks, const std::function<void(std::size_t)>& fn);

// seconds[h], for h in [0, maxHelpers]: the expected time from the start of a region until h
// helpers run blocks, from the measured join latency of each worker it would use in its present
// state, or if all of them were awake (polling) (seconds[0] = 0; infinity for helpers the pool
// cannot have, and for every helper inside a region's block). maxHelpers < kMaxThreads.
void regionStartSeconds(std::size_t maxHelpers, double* seconds, bool ifAwake);

// Has the first `helpers` workers poll for a region (starting those that have no thread yet),
// without handing them blocks: for a caller that runs serially because its helpers sleep and
// would join too late, so that the next region, microseconds later, finds them awake. Does
// nothing while a region runs.
void wakeHelpers(std::size_t helpers);

}  // namespace digitnet
