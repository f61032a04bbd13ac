// One fixed thread pool for the whole process, shared by every JS thread (main and
// worker_threads) that loads the addon.
//
// Only one parallel region runs at a time: a parallel_for that starts while another region is
// running (from another JS thread, or nested inside a block) runs its blocks serially on the
// calling thread. So the process never runs more than getThreads() kernel threads, and a busy
// pool never blocks a caller.
#pragma once

#include <cstddef>
#include <functional>

namespace digitnet {

// Upper bound on the pool size; setThreads clamps to it.
constexpr int kMaxThreads = 256;

// Sets the number of threads a parallel region may use (the caller counts as one), clamped to
// [1, kMaxThreads]. Waits for a running region to finish. Workers start lazily.
void setThreads(int n);

// The number of threads a parallel region may use; defaults to DIGITNET_THREADS when that is a
// whole number >= 1, else hardware_concurrency().
int getThreads();

// Calls fn(block) once for every block in [0, nblocks), on up to getThreads() threads, and
// returns when all calls have returned. Blocks are handed out dynamically. fn must not throw.
void parallel_for(std::size_t nblocks, const std::function<void(std::size_t)>& fn);

}  // namespace digitnet
