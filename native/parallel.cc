#include "parallel.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

#if __has_include(<pthread.h>)
#include <pthread.h>
#else
#include <thread>
#endif

#include "cpus.h"

namespace digitnet {
namespace {

// True on a thread while it runs blocks of a parallel region (caller or worker): a nested
// parallel_for then runs serially instead of re-entering the pool.
thread_local bool t_in_region = false;

// DIGITNET_THREADS when it is a whole number >= 1 (so programs without Node, such as
// bench/gemm_bench, honour it too; lib/backend/native.ts rejects other values with an error),
// else every CPU this process may use.
int defaultThreads() {
  const char* env = std::getenv("DIGITNET_THREADS");
  if (env != nullptr && *env != '\0') {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (*end == '\0' && n >= 1) return static_cast<int>(std::min<long>(n, kMaxThreads));
  }
  return std::min(usableCpus(), kMaxThreads);
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void runSerial(std::size_t nblocks, const std::function<void(std::size_t)>& fn) {
  for (std::size_t b = 0; b < nblocks; ++b) fn(b);
}

// A thread whose start can fail without an exception (the addon is built without them, and
// std::thread reports failure only by throwing): the pool then runs with the workers it has.
class Thread {
 public:
#if __has_include(<pthread.h>)
  bool start(void (*body)(void*), void* arg) {
    body_ = body;
    arg_ = arg;
    started_ = pthread_create(&thread_, nullptr, &Thread::entry, this) == 0;
    return started_;
  }
  void join() {
    if (started_) pthread_join(thread_, nullptr);
    started_ = false;
  }

 private:
  static void* entry(void* self) {
    Thread* t = static_cast<Thread*>(self);
    t->body_(t->arg_);
    return nullptr;
  }
  pthread_t thread_{};
  void (*body_)(void*) = nullptr;
  void* arg_ = nullptr;
  bool started_ = false;
#else
  // No pthreads (MSVC): std::thread, whose failure to start terminates a build without exceptions.
  bool start(void (*body)(void*), void* arg) {
    thread_ = std::thread(body, arg);
    return true;
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::thread thread_;
#endif
};

// A worker's ticket for the current region.
enum Ticket { kIdle, kAssigned, kRunning };

// One worker's mailbox, on its own cache line: the caller hands it a ticket by writing `ticket`,
// and wakes it through `wake` only when it sleeps.
struct alignas(64) Slot {
  std::atomic<int> ticket{kIdle};
  std::atomic<bool> sleeping{false};
  bool started = false;              // its thread runs; guarded by the pool's region lock
  std::mutex mutex;                  // guards the sleep on `wake`
  std::condition_variable wake;
  // Written by the worker before it returns its ticket, read by the caller after the region.
  double joinedAt = 0;
  bool polled = false;  // it was polling (not asleep, not starting) when the ticket came
  Thread thread;
};

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
    if (static_cast<std::size_t>(clamped - 1) < startedWorkers_) stopWorkers();
    startable_ = kMaxThreads - 1;  // try again after a failed start
    threads_.store(clamped, std::memory_order_relaxed);
  }

  void run(std::size_t nblocks, const std::function<void(std::size_t)>& fn) {
    if (nblocks <= 1 || threads() <= 1 || t_in_region) return runSerial(nblocks, fn);
    std::unique_lock<std::mutex> region(region_, std::try_to_lock);
    if (!region.owns_lock()) return runSerial(nblocks, fn);

    fn_ = &fn;
    startedAt_ = now();
    std::size_t helpers = std::min({static_cast<std::size_t>(threads() - 1), nblocks - 1, startable_});
    shareOut(nblocks, helpers + 1);
    pending_.store(helpers, std::memory_order_relaxed);
    for (std::size_t i = 0; i < helpers; ++i) {
      if (handOut(i)) continue;
      pending_.fetch_sub(helpers - i, std::memory_order_relaxed);
      helpers = i;
      break;
    }

    t_in_region = true;
    drain(fn, 0);
    t_in_region = false;

    // Every block has been handed out. Take back the tickets of workers that have not woken yet
    // and wait only for the ones still running a block.
    for (std::size_t i = 0; i < helpers; ++i) {
      int assigned = kAssigned;
      if (slots_[i].ticket.compare_exchange_strong(assigned, kIdle)) {
        pending_.fetch_sub(1, std::memory_order_relaxed);
        joined_[i] = false;
      } else {
        joined_[i] = true;
      }
    }
    awaitHelpers();
    for (std::size_t i = 0; i < helpers; ++i) {
      if (joined_[i] && slots_[i].polled) measureJoin(slots_[i].joinedAt - startedAt_);
    }
    fn_ = nullptr;
  }

  double joinSeconds() const { return joinSeconds_.load(std::memory_order_relaxed); }

 private:
  // Gives worker i a ticket: starts its thread if it has none, wakes it if it sleeps. False when
  // its thread cannot be started (the system's thread limit, no memory for a stack): then the
  // pool makes do with the workers it has, until setThreads.
  bool handOut(std::size_t i) {
    Slot& slot = slots_[i];
    if (!slot.started) {
      if (!slot.thread.start(&Pool::workerEntry, &slot)) {
        startable_ = i;
        return false;
      }
      slot.started = true;
      ++startedWorkers_;
    }
    slot.ticket.store(kAssigned, std::memory_order_seq_cst);
    // Pairs with the worker's store to `sleeping` before it checks its ticket (both seq_cst):
    // either it sees the ticket, or this sees it asleep and wakes it.
    if (slot.sleeping.load(std::memory_order_seq_cst)) {
      const std::lock_guard<std::mutex> lock(slot.mutex);
      slot.wake.notify_one();
    }
    return true;
  }

  static void workerEntry(void* slot);

  void workerLoop(Slot& slot) {
    bool fresh = true;
    for (;;) {
      bool slept = false;
      if (!awaitTicket(slot, &slept)) return;
      const bool polled = !slept && !fresh;
      fresh = false;
      int assigned = kAssigned;
      if (!slot.ticket.compare_exchange_strong(assigned, kRunning, std::memory_order_acq_rel)) {
        continue;  // taken back: the region ended before this worker woke
      }
      slot.joinedAt = now();
      slot.polled = polled;
      t_in_region = true;
      drain(*fn_, static_cast<std::size_t>(&slot - slots_.data()) + 1);
      t_in_region = false;
      // The ticket is idle before the caller can see the region end, so that its next region
      // can hand out a new one.
      slot.ticket.store(kIdle, std::memory_order_release);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        const std::lock_guard<std::mutex> lock(doneMutex_);
        done_.notify_one();
      }
    }
  }

  // Polls for a ticket for kPollSeconds, then sleeps until one comes (*slept). A network's GEMMs
  // come microseconds apart, and waking a sleeping thread costs tens of microseconds: polling a
  // while keeps a worker that has just been useful ready for the next one. False: stop.
  bool awaitTicket(Slot& slot, bool* slept) {
    constexpr double kPollSeconds = 200e-6;
    const double until = now() + kPollSeconds;
    do {
      for (int i = 0; i < 64; ++i) {
        if (stop_.load(std::memory_order_relaxed)) return false;
        if (slot.ticket.load(std::memory_order_acquire) == kAssigned) return true;
        cpuRelax();
      }
    } while (now() < until);
    std::unique_lock<std::mutex> lock(slot.mutex);
    slot.sleeping.store(true, std::memory_order_seq_cst);
    slot.wake.wait(lock, [&] {
      return stop_.load(std::memory_order_seq_cst) ||
             slot.ticket.load(std::memory_order_seq_cst) == kAssigned;
    });
    slot.sleeping.store(false, std::memory_order_relaxed);
    *slept = true;
    return !stop_.load(std::memory_order_relaxed);
  }

  // Splits blocks [0, nblocks) into `parts` contiguous shares, the caller's first, then helper i's
  // (i + 1). Written before the tickets that publish them.
  void shareOut(std::size_t nblocks, std::size_t parts) {
    parts_ = parts;
    for (std::size_t p = 0; p < parts; ++p) {
      shares_[p].next.store(nblocks * p / parts, std::memory_order_relaxed);
      shares_[p].end = nblocks * (p + 1) / parts;
    }
  }

  // Runs the blocks of share `own` in order, then those left in the other shares. A thread thus
  // gets the same part of the data in consecutive regions split alike (a convolution over a
  // group's images, then the pooling of its planes): what one wrote stays in its own cache for
  // the next, where blocks handed out in one sequence would mix each region's data between the
  // cores. Taking the others' blocks keeps the balance when a thread is late or slow.
  void drain(const std::function<void(std::size_t)>& fn, std::size_t own) {
    for (std::size_t k = 0; k < parts_; ++k) {
      Share& share = shares_[(own + k) % parts_];
      for (;;) {
        const std::size_t b = share.next.fetch_add(1, std::memory_order_relaxed);
        if (b >= share.end) break;
        fn(b);
      }
    }
  }

  // Waits for the workers still running blocks: they took their last block before the caller
  // ran out, so polling is the short wait; a caller that blocked on a condition variable would
  // add a wake-up to every region whose helper finished last. A helper that was preempted (more
  // threads than CPUs) is waited for without burning the CPU it needs.
  void awaitHelpers() {
    constexpr double kPollSeconds = 50e-6;
    const double until = now() + kPollSeconds;
    do {
      for (int i = 0; i < 64; ++i) {
        if (pending_.load(std::memory_order_acquire) == 0) return;
        cpuRelax();
      }
    } while (now() < until);
    std::unique_lock<std::mutex> lock(doneMutex_);
    done_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }

  // An exponentially weighted mean of how long a polling worker takes to join a region (regions
  // are serial, so this has one writer). A sample counts for at most twice the mean: one helper
  // preempted for a time slice (milliseconds) says little about the next region.
  void measureJoin(double seconds) {
    const double old = joinSeconds_.load(std::memory_order_relaxed);
    joinSeconds_.store(old * 0.875 + std::min(std::max(0.0, seconds), 2 * old) * 0.125,
                       std::memory_order_relaxed);
  }

  // Called with region_ held (no region running), or from the destructor.
  void stopWorkers() {
    stop_.store(true, std::memory_order_seq_cst);
    for (Slot& slot : slots_) {
      if (!slot.started) continue;
      {
        const std::lock_guard<std::mutex> lock(slot.mutex);
        slot.wake.notify_one();
      }
      slot.thread.join();
      slot.started = false;
      slot.sleeping.store(false, std::memory_order_relaxed);
    }
    startedWorkers_ = 0;
    stop_.store(false, std::memory_order_seq_cst);
  }

  std::atomic<int> threads_;
  std::mutex region_;  // held by the one running region, and by setThreads
  std::array<Slot, kMaxThreads - 1> slots_;
  std::array<bool, kMaxThreads - 1> joined_{};  // per helper of the current region
  std::size_t startedWorkers_ = 0;              // guarded by region_
  std::size_t startable_ = kMaxThreads - 1;     // helpers the pool can have; guarded by region_
  std::atomic<double> joinSeconds_{1e-6};  // until measured: about a microsecond
  std::atomic<bool> stop_{false};

  // The current region, written before its tickets are handed out.
  const std::function<void(std::size_t)>* fn_ = nullptr;
  double startedAt_ = 0;
  // One contiguous share of the blocks per thread of the region, each on its own cache line.
  struct alignas(64) Share {
    std::atomic<std::size_t> next{0};
    std::size_t end = 0;
  };
  std::array<Share, kMaxThreads> shares_;
  std::size_t parts_ = 0;
  std::atomic<std::size_t> pending_{0};  // helpers with a ticket that have not returned it
  std::mutex doneMutex_;
  std::condition_variable done_;
};

Pool& pool() {
  static Pool instance;
  return instance;
}

void Pool::workerEntry(void* slot) { pool().workerLoop(*static_cast<Slot*>(slot)); }

}  // namespace

void setThreads(int n) { pool().setThreads(n); }

int getThreads() { return pool().threads(); }

void parallel_for(std::size_t nblocks, const std::function<void(std::size_t)>& fn) {
  pool().run(nblocks, fn);
}

double helperJoinSeconds() { return pool().joinSeconds(); }

void parallel_ranges(std::size_t n, std::size_t block, std::size_t minParallel,
                     const std::function<void(std::size_t, std::size_t)>& fn) {
  if (n == 0) return;
  if (n < minParallel || block == 0 || n <= block || getThreads() <= 1) return fn(0, n);
  const std::size_t blocks = (n + block - 1) / block;
  parallel_for(blocks, [&](std::size_t b) { fn(b * block, std::min(n, (b + 1) * block)); });
}

}  // namespace digitnet
