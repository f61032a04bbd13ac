// Stress test of the thread pool (native/parallel.cc), meant for ThreadSanitizer: two threads
// run parallel regions (and sgemm, which plans its split from the pool's measurements) while a
// third keeps changing the thread count and reading the pool's join time. Every region must run each of its
// blocks exactly once, every product must match the reference, and TSan must report nothing.
//   cmake -S . -B build-tsan -DDIGITNET_NATIVE_TESTS=ON -DCMAKE_CXX_FLAGS=-fsanitize=thread
//   cmake --build build-tsan --target pool_stress && build-tsan/pool_stress [seconds]
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../../native/gemm.h"
#include "../../native/parallel.h"
#include "report.h"

namespace {

using Clock = std::chrono::steady_clock;

// Regions of random sizes, some with a nested region inside a block (which runs serially).
// Returns the first failure, or "".
std::string runRegions(Clock::time_point until, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::atomic<int>> runs(64);
  while (Clock::now() < until) {
    const std::size_t blocks = 1 + rng() % 64;
    const bool nested = rng() % 4 == 0;
    for (std::size_t b = 0; b < blocks; ++b) runs[b].store(0);
    digitnet::parallel_for(blocks, [&](std::size_t b) {
      runs[b].fetch_add(1);
      if (nested) {
        std::atomic<int> inner{0};
        digitnet::parallel_for(3, [&](std::size_t) { inner.fetch_add(1); });
        if (inner.load() != 3) runs[b].fetch_add(100);
      }
    });
    for (std::size_t b = 0; b < blocks; ++b) {
      if (runs[b].load() != 1) return "block " + std::to_string(b) + " of " + std::to_string(blocks) + " ran " + std::to_string(runs[b].load()) + " times";
    }
  }
  return "";
}

// sgemm on shapes large enough to be split, against the reference. Returns the first failure.
std::string runGemms(Clock::time_point until, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  while (Clock::now() < until) {
    const std::size_t m = 32 + rng() % 200, n = 32 + rng() % 200, k = 16 + rng() % 300;
    const bool transA = rng() % 2 == 1, transB = rng() % 2 == 1;
    std::vector<float> a(m * k), b(k * n), c(m * n), want(m * n);
    for (float& x : a) x = uniform(rng);
    for (float& x : b) x = uniform(rng);
    digitnet::sgemm(transA, transB, m, n, k, 1.0f, a.data(), transA ? m : k, b.data(), transB ? k : n,
                    0.0f, c.data(), n);
    digitnet::sgemm_reference(transA, transB, m, n, k, 1.0f, a.data(), transA ? m : k, b.data(),
                              transB ? k : n, 0.0f, want.data(), n);
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (!(std::fabs(c[i] - want[i]) <= 1e-4f * static_cast<float>(k))) {
        return "sgemm " + std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " differs at " + std::to_string(i);
      }
    }
  }
  return "";
}

// Keeps changing the thread count, and reading the pool's join time, until `until`.
void churn(Clock::time_point until, unsigned seed) {
  std::mt19937 rng(seed);
  double joins = 0.0;
  while (Clock::now() < until) {
    digitnet::setThreads(1 + static_cast<int>(rng() % 8));
    joins += digitnet::helperJoinSeconds();
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 500));
  }
  if (!(joins >= 0.0)) std::abort();  // a NaN or negative join time is a bug
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 && argv[1][0] != '-' ? std::atof(argv[1]) : 3.0;
  digitnet_test::Report report;
  {
    const Clock::time_point until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::string regionsA, regionsB;
    std::thread a([&] { regionsA = runRegions(until, 1); });
    std::thread b([&] { regionsB = runRegions(until, 2); });
    std::thread c([&] { churn(until, 3); });
    a.join();
    b.join();
    c.join();
    report.test("two threads run regions while a third changes the thread count: every block runs once",
                regionsA.empty() ? regionsB : regionsA);
  }
  {
    const Clock::time_point until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
    std::string gemms, regions;
    std::thread a([&] { gemms = runGemms(until, 4); });
    std::thread b([&] { regions = runRegions(until, 5); });
    std::thread c([&] { churn(until, 6); });
    a.join();
    b.join();
    c.join();
    report.test("sgemm beside regions and thread-count changes matches the reference", gemms);
    report.test("regions beside sgemm and thread-count changes run every block once", regions);
  }
  return report.finish(argc, argv);
}
