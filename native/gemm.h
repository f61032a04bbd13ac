// Single-precision general matrix multiply, row-major (BLAS sgemm with row-major storage):
//   C = alpha * op(A) * op(B) + beta * C,   op(A) is (m,k), op(B) is (k,n), C is (m,n)
// A is stored (m,k) with lda >= k, or (k,m) with lda >= m when transA;
// B is stored (k,n) with ldb >= n, or (n,k) with ldb >= k when transB; ldc >= n.
// beta == 0 overwrites C (NaN/Inf in C do not propagate); k == 0 or alpha == 0 gives
// C = beta * C without reading A or B. The caller has validated sizes and buffer lengths.
#pragma once

#include <cstddef>

namespace digitnet {

// The fast path: cache-blocked, packed, multi-threaded over blocks of C through parallel_for.
void sgemm(bool transA, bool transB, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc);

// The algorithmic reference: three loops, double accumulator, single thread. Same contract.
void sgemm_reference(bool transA, bool transB, std::size_t m, std::size_t n, std::size_t k,
                     float alpha, const float* a, std::size_t lda, const float* b,
                     std::size_t ldb, float beta, float* c, std::size_t ldc);

// Name of the micro-kernel sgemm uses: "avx512", "avx2" or "scalar" (native/gemm_kernels.h).
// Chosen once, on first use: the best this CPU runs, or the one DIGITNET_ISA names; a value the
// CPU cannot run, or an unknown one, falls back to the best with a warning on stderr.
const char* sgemm_kernel_name();

// The block sizes of that micro-kernel (native/gemm_kernels.h), for tests at their edges.
struct GemmBlockSizes {
  std::size_t mr, nr, mc, kc, nc;
};
GemmBlockSizes sgemm_block_sizes();

}  // namespace digitnet
