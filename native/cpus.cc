#include "cpus.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif

namespace digitnet {
namespace {

// The first line of a small file, or "" when it cannot be read.
std::string firstLine(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return "";
  char buffer[256];
  const bool read = std::fgets(buffer, sizeof buffer, file) != nullptr;
  std::fclose(file);
  if (!read) return "";
  std::string line(buffer);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

// A whole number >= 1 that is all of `text`, or 0.
long long positive(const std::string& text) {
  if (text.empty()) return 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  return *end == '\0' && value >= 1 ? value : 0;
}

int quotaCpus(long long quota, long long period) {
  if (quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::min<long long>((quota + period - 1) / period, 1 << 20));
}

// The smaller of two limits where 0 means none.
int tighter(int a, int b) { return a == 0 ? b : b == 0 ? a : std::min(a, b); }

// `path` ("/a/b") and each of its ancestors ("/a", ""), deepest first.
template <typename Fn>
void eachAncestor(std::string path, Fn fn) {
  while (!path.empty() && path.back() == '/') path.pop_back();
  for (;;) {
    fn(path);
    const std::size_t slash = path.rfind('/');
    if (path.empty() || slash == std::string::npos) return;
    path.erase(slash);
  }
}

// Whether the comma-separated controller list of a cgroup v1 line names "cpu".
bool namesCpu(const std::string& controllers) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = controllers.find(',', start);
    if (controllers.compare(start, comma - start, "cpu") == 0) return true;
    if (comma == std::string::npos) return false;
    start = comma + 1;
  }
}

}  // namespace

int cpusFromCpuMax(const std::string& text) {
  const std::size_t space = text.find(' ');
  if (space == std::string::npos) return 0;
  return quotaCpus(positive(text.substr(0, space)), positive(text.substr(space + 1)));
}

int cpusFromCfs(const std::string& quota, const std::string& period) {
  return quotaCpus(positive(quota), positive(period));
}

int cgroupCpuLimit(const std::string& procSelfCgroup, const std::string& root) {
  int limit = 0;
  std::size_t start = 0;
  while (start < procSelfCgroup.size()) {
    std::size_t end = procSelfCgroup.find('\n', start);
    if (end == std::string::npos) end = procSelfCgroup.size();
    // hierarchy-id:controllers:path; v2 is "0::path"
    const std::string line = procSelfCgroup.substr(start, end - start);
    start = end + 1;
    const std::size_t first = line.find(':');
    const std::size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (controllers.empty()) {
      eachAncestor(path, [&](const std::string& dir) {
        limit = tighter(limit, cpusFromCpuMax(firstLine(root + dir + "/cpu.max")));
      });
    } else if (namesCpu(controllers)) {
      eachAncestor(path, [&](const std::string& dir) {
        const std::string base = root + "/cpu" + dir + "/cpu.cfs_";
        limit = tighter(limit, cpusFromCfs(firstLine(base + "quota_us"), firstLine(base + "period_us")));
      });
    }
  }
  return limit;
}

int usableCpus() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
  // More CPUs than a cpu_set_t holds (1024): count what the kernel says instead.
  if (cpus == 0) cpus = static_cast<int>(std::thread::hardware_concurrency());
  std::string cgroups;
  if (std::FILE* file = std::fopen("/proc/self/cgroup", "r")) {
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) cgroups.append(buffer, n);
    std::fclose(file);
  }
  cpus = tighter(cpus, cgroupCpuLimit(cgroups, "/sys/fs/cgroup"));
#else
  const int cpus = static_cast<int>(std::thread::hardware_concurrency());
#endif
  return std::max(1, cpus);
}

}  // namespace digitnet
