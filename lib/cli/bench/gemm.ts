/** GEMM throughput of one backend on one shape, in GFLOPS (2 m n k floating-point operations per call). */
import type { Backend } from '../../backend/contract';
import { Random } from '../../core/random';
import { secondsPerCall, summarize, type Stats, type TimingPlan } from './measure';
import type { GemmShape } from './shapes';

/** A matrix of uniform values in [-1, 1), the same for every backend. */
function randomMatrix(length: number, rng: Random): Float32Array {
  const x = new Float32Array(length);
  for (let i = 0; i < length; i++) x[i] = 2 * rng.uniform() - 1;
  return x;
}

/** GFLOPS of `backend.gemm` on `shape` (C overwritten, beta = 0, as in a forward pass), over the samples of `plan`. */
export function gemmGflops(backend: Backend, shape: GemmShape, plan: TimingPlan): Stats {
  const { m, n, k, transA, transB } = shape;
  const rng = new Random(1);
  const a = randomMatrix(m * k, rng);
  const b = randomMatrix(k * n, rng);
  const c = new Float32Array(m * n);
  const lda = transA ? m : k;
  const ldb = transB ? k : n;
  const seconds = secondsPerCall(() => backend.gemm(transA, transB, m, n, k, 1, a, lda, b, ldb, 0, c, n), plan);
  return summarize(seconds.map((s) => (2 * m * n * k) / s / 1e9));
}
