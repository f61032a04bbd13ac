// Single-precision general matrix multiply, row-major (BLAS sgemm with row-major storage):
//   C = alpha * op(A) * op(B) + beta * C,   op(A) is (m,k), op(B) is (k,n), C is (m,n)
// A is stored (m,k) with lda >= k, or (k,m) with lda >= m when transA;
// B is stored (k,n) with ldb >= n, or (n,k) with ldb >= k when transB; ldc >= n.
// beta == 0 overwrites C (NaN/Inf in C do not propagate); k == 0 or alpha == 0 gives
// C = beta * C without reading A or B. The caller has validated sizes and buffer lengths.
#pragma once

#include <cstddef>

namespace digitnet {

// The fast path: cache-blocked, packed, multi-threaded over tiles of C through parallel_for.
void sgemm(bool transA, bool transB, std::size_t m, std::size_t n, std::size_t k, float alpha,
           const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
           std::size_t ldc);

// The algorithmic reference: three loops, double accumulator, single thread. Same contract.
void sgemm_reference(bool transA, bool transB, std::size_t m, std::size_t n, std::size_t k,
                     float alpha, const float* a, std::size_t lda, const float* b,
                     std::size_t ldb, float beta, float* c, std::size_t ldc);

// Name of the micro-kernel sgemm uses on this CPU: "avx512f", "avx2+fma" or "portable".
// Chosen once, on first use; DIGITNET_GEMM_KERNEL (same names) forces a supported one.
const char* sgemm_kernel_name();

}  // namespace digitnet
