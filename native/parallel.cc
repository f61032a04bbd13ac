#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace digitnet {
namespace {

// True on a thread while it runs blocks of a parallel region (caller or worker): a nested
// parallel_for then runs serially instead of re-entering the pool.
thread_local bool t_in_region = false;

// DIGITNET_THREADS when it is a whole number >= 1 (so programs without Node, such as
// bench/gemm_bench, honour it too; lib/backends/native.ts rejects other values with an error),
// else every core.
int defaultThreads() {
  const char* env = std::getenv("DIGITNET_THREADS");
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (*end == '\0' && n >= 1) return static_cast<int>(std::min<long>(n, kMaxThreads));
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min<unsigned>(hw, kMaxThreads));
}

void runSerial(std::size_t nblocks, const std::function<void(std::size_t)>& fn) {
  for (std::size_t b = 0; b < nblocks; ++b) fn(b);
}

class Pool {
 public:
  Pool() : threads_(defaultThreads()) {}
  ~Pool() { stopWorkers(); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  int threads() const { return threads_.load(std::memory_order_relaxed); }

  void setThreads(int n) {
    const std::lock_guard<std::mutex> region(region_);
    const int clamped = std::max(1, std::min(n, kMaxThreads));
    if (static_cast<std::size_t>(clamped - 1) < workers_.size()) stopWorkers();
    threads_.store(clamped, std::memory_order_relaxed);
  }

  void run(std::size_t nblocks, const std::function<void(std::size_t)>& fn) {
    if (nblocks <= 1 || threads() <= 1 || t_in_region) return runSerial(nblocks, fn);
    std::unique_lock<std::mutex> region(region_, std::try_to_lock);
    if (!region.owns_lock()) return runSerial(nblocks, fn);

    const std::size_t helpers = std::min<std::size_t>(static_cast<std::size_t>(threads() - 1), nblocks - 1);
    startWorkers(helpers);
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      fn_ = &fn;
      nblocks_ = nblocks;
      next_.store(0, std::memory_order_relaxed);
      tickets_ = helpers;
      running_ = 0;
      ++generation_;
    }
    work_cv_.notify_all();

    t_in_region = true;
    drain(fn, nblocks);
    t_in_region = false;

    // Every block has been handed out. Withdraw the tickets of workers that have not woken yet
    // and wait only for the ones still running a block.
    std::unique_lock<std::mutex> lock(mutex_);
    tickets_ = 0;
    done_cv_.wait(lock, [this] { return running_ == 0; });
    fn_ = nullptr;
  }

 private:
  void drain(const std::function<void(std::size_t)>& fn, std::size_t nblocks) {
    for (;;) {
      const std::size_t b = next_.fetch_add(1, std::memory_order_relaxed);
      if (b >= nblocks) return;
      fn(b);
    }
  }

  // Called with region_ held.
  void startWorkers(std::size_t count) {
    while (workers_.size() < count) workers_.emplace_back([this] { workerLoop(); });
  }

  // Called with region_ held (no region running), or from the destructor.
  void stopWorkers() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    const std::lock_guard<std::mutex> lock(mutex_);
    stop_ = false;
  }

  void workerLoop() {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      // A network's GEMMs come microseconds apart, and waking a sleeping thread costs tens of
      // microseconds: that latency ate the second thread's share of every small GEMM. So a
      // worker polls for the next region for a while before it sleeps.
      lock.unlock();
      spinForWork(seen);
      lock.lock();
      work_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (tickets_ == 0) continue;
      --tickets_;
      ++running_;
      const std::function<void(std::size_t)>* fn = fn_;
      const std::size_t nblocks = nblocks_;
      lock.unlock();
      t_in_region = true;
      drain(*fn, nblocks);
      t_in_region = false;
      lock.lock();
      if (--running_ == 0) done_cv_.notify_one();
    }
  }

  // Polls generation_ (without the lock) until it moves, stop_ is set, or kSpin has passed.
  void spinForWork(std::uint64_t seen) const {
    constexpr auto kSpin = std::chrono::microseconds(200);
    const auto until = std::chrono::steady_clock::now() + kSpin;
    do {
      for (int i = 0; i < 64; ++i) {
        if (generation_.load(std::memory_order_acquire) != seen || stop_.load(std::memory_order_relaxed)) return;
        cpuRelax();
      }
    } while (std::chrono::steady_clock::now() < until);
  }

  static void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  std::atomic<int> threads_;
  std::mutex region_;  // held by the one running region, and by setThreads
  std::vector<std::thread> workers_;  // guarded by region_

  std::mutex mutex_;  // guards the job fields below
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  const std::function<void(std::size_t)>* fn_ = nullptr;
  std::size_t nblocks_ = 0;
  std::atomic<std::size_t> next_{0};
  std::size_t tickets_ = 0;  // workers that may still join the current region
  std::size_t running_ = 0;  // workers running blocks of the current region
  std::atomic<std::uint64_t> generation_{0};  // written under mutex_, polled without it
  std::atomic<bool> stop_{false};             // likewise
};

Pool& pool() {
  static Pool instance;
  return instance;
}

}  // namespace

void setThreads(int n) { pool().setThreads(n); }

int getThreads() { return pool().threads(); }

void parallel_for(std::size_t nblocks, const std::function<void(std::size_t)>& fn) {
  pool().run(nblocks, fn);
}

}  // namespace digitnet
