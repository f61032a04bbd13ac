/**
 * Convolution throughput on the layers of the reference net (input [1, 28, 28], conv 5x5 24 filters
 * ReLU, max-pool 2, conv 3x3 32 filters ReLU, max-pool 2, dense 800-256-10) at batch 256: the
 * forward pass, the input gradient and the weight gradient (with the bias gradient), in GFLOPS of
 * the definition's multiply-adds, 2 n f c kh kw oh ow per call. Work a kernel does beyond those
 * (zeros of padding, positions computed and dropped) does not count.
 */
import type { Backend } from '../../backend/contract';
import { Random } from '../../core/random';
import { secondsPerCall, summarize, type Stats, type TimingPlan } from './measure';

/** One convolution layer at one batch size. */
export interface ConvShape {
  /** The layer in the reference net, e.g. `conv2 24x12x12 -> 32x10x10`. */
  layer: string;
  n: number;
  c: number;
  h: number;
  w: number;
  f: number;
  kh: number;
  kw: number;
  stride: number;
  padTop: number;
  padLeft: number;
  oh: number;
  ow: number;
}

/** The three kernels of a convolution layer. */
export type ConvKernel = 'forward' | 'input-gradient' | 'weight-gradient';
export const CONV_KERNELS: readonly ConvKernel[] = ['forward', 'input-gradient', 'weight-gradient'];

/** The reference net's batch size for the convolution rows. */
export const CONV_BATCH = 256;

/** A valid convolution (stride 1, no padding) of c x size x size to f maps, kernel k x k. */
function layer(name: string, c: number, size: number, f: number, k: number): ConvShape {
  const out = size - k + 1;
  return {
    layer: `${name} ${c}x${size}x${size} -> ${f}x${out}x${out}`,
    n: CONV_BATCH, c, h: size, w: size, f, kh: k, kw: k, stride: 1, padTop: 0, padLeft: 0, oh: out, ow: out,
  };
}

/** The reference net's two convolutions: 1 input channel (K = 25), then 24 (K = 216). */
export const REFERENCE_CONV_LAYERS: readonly ConvShape[] = [layer('conv1', 1, 28, 24, 5), layer('conv2', 24, 12, 32, 3)];

/** Floating-point operations of one call of any of the three kernels: 2 n f c kh kw oh ow. */
export function convFlops(s: ConvShape): number {
  return 2 * s.n * s.f * s.c * s.kh * s.kw * s.oh * s.ow;
}

function randomArray(length: number, rng: Random): Float32Array {
  const x = new Float32Array(length);
  for (let i = 0; i < length; i++) x[i] = 2 * rng.uniform() - 1;
  return x;
}

/** GFLOPS of one kernel of `backend` on `shape`, over the samples of `plan` (outputs overwritten: beta = 0). */
export function convGflops(backend: Backend, shape: ConvShape, kernel: ConvKernel, plan: TimingPlan): Stats {
  const { n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow } = shape;
  const rng = new Random(1);
  const x = randomArray(n * c * h * w, rng);
  const weight = randomArray(f * c * kh * kw, rng);
  const bias = randomArray(f, rng);
  const dy = randomArray(n * f * oh * ow, rng);
  const geometry = [n, c, h, w, f, kh, kw, stride, padTop, padLeft, oh, ow] as const;
  let call: () => void;
  if (kernel === 'forward') {
    const y = new Float32Array(n * f * oh * ow);
    call = () => backend.conv2d(...geometry, x, weight, bias, y);
  } else if (kernel === 'input-gradient') {
    const dx = new Float32Array(x.length);
    call = () => backend.conv2dBackwardData(...geometry, dy, weight, dx);
  } else {
    const dWeight = new Float32Array(weight.length);
    const dBias = new Float32Array(f);
    call = () => backend.conv2dBackwardFilter(...geometry, x, dy, dWeight, dBias, 0);
  }
  const flops = convFlops(shape);
  return summarize(secondsPerCall(call, plan).map((s) => flops / s / 1e9));
}
