// The single-thread multiply-add throughput of the instruction set sgemm chose (native/gemm.h),
// for the benchmark's "% of peak": independent chains of vector FMAs (AVX-512, AVX2) or of
// multiplies and adds the compiler vectorizes for the baseline ISA (scalar), no memory traffic.
#pragma once

namespace digitnet {

// Runs the chains on the calling thread for about `seconds` (> 0) and returns GFLOPS, a
// multiply-add counting as two operations.
double fmaPeakGflops(double seconds);

}  // namespace digitnet
