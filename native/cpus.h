// How many CPUs this process may use: the pool's default thread count.
#pragma once

#include <string>

namespace digitnet {

// The CPUs of the process's affinity mask (sched_getaffinity on Linux: taskset, cpusets), capped
// by the CPU bandwidth quota of its cgroups (a container's --cpus), rounded up; at least 1.
// Elsewhere std::thread::hardware_concurrency().
int usableCpus();

// The CPU quota of a cgroup v2 `cpu.max` file's text ("150000 100000": 1.5 CPUs -> 2) or of a
// cgroup v1 pair (cpu.cfs_quota_us, cpu.cfs_period_us): whole CPUs rounded up, 0 for no limit
// ("max", a quota of -1) or text that is not a quota.
int cpusFromCpuMax(const std::string& text);
int cpusFromCfs(const std::string& quota, const std::string& period);

// The smallest CPU quota along the cgroup paths that `procSelfCgroup` (the text of
// /proc/self/cgroup) names, every ancestor included, with the hierarchies mounted under `root`
// (/sys/fs/cgroup: v2 files at root/<path>/cpu.max, v1 at root/cpu/<path>/cpu.cfs_*_us); 0 for
// none.
int cgroupCpuLimit(const std::string& procSelfCgroup, const std::string& root);

}  // namespace digitnet
