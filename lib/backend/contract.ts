/**
 * The kernel contract: everything the network needs from a compute backend, nothing else.
 *
 * Matrices are row-major `Float32Array`s, batch-major (one row per sample). Sizes are
 * non-negative integers; a leading dimension (`lda`, `ldb`, `ldc`) is the distance in elements
 * between consecutive rows and is at least the row length. Every kernel validates its sizes and
 * throws `TypeError` (wrong argument type, non-integer size) or `RangeError` (negative size, a
 * leading dimension shorter than the row, a buffer too short for the sizes) with a message that
 * names the kernel and the argument, e.g. `gemm: lda (5) must be >= 7`. A kernel never reads or
 * writes outside the buffers it is given.
 *
 * Output buffers may alias input buffers only where a kernel says so.
 * Where a kernel says an output must not overlap an input, an overlap is a RangeError
 * `${kernel}: ${output} overlaps ${input} (the output cannot be written over an input)`, checked after
 * every other argument, in the order the kernel's text names them; other overlaps give
 * unspecified values, never an access outside a buffer.
 */

/** Names of the elementwise activations (softmax is handled by the loss kernels). */
export type ActivationName = 'leaky-relu' | 'relu' | 'sigmoid' | 'tanh' | 'identity';

/** Every valid `ActivationName`, for validating user input. */
export const ACTIVATIONS: readonly ActivationName[] = ['identity', 'relu', 'leaky-relu', 'sigmoid', 'tanh'];

/** Which backend a `Backend` object is. */
export type BackendName = 'native' | 'ts';

/** The compute kernels. Both implementations give the same results within float tolerance. */
export interface Backend {
  /** `'native'` (C++ addon) or `'ts'` (pure TypeScript). */
  readonly name: BackendName;

  /**
   * BLAS sgemm: `C = alpha * op(A) * op(B) + beta * C`, op(A) is m x k, op(B) is k x n, C is m x n.
   * A is stored m x k (lda >= k), or k x m when transA (lda >= m); B is k x n (ldb >= n), or
   * n x k when transB (ldb >= k); ldc >= n. With beta = 0, C is overwritten (NaNs in C do not
   * propagate), as in BLAS. k = 0 gives C = beta * C.
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number,
    beta: number, c: Float32Array, ldc: number,
  ): void;

  /** `x[r, c] += bias[c]` for x of shape (rows, cols), bias of length cols. */
  addBias(rows: number, cols: number, x: Float32Array, bias: Float32Array): void;

  /**
   * Column sums: `db[c] = beta * db[c] + sum_r dy[r, c]` for dy of shape (rows, cols); beta is 0
   * (overwrite) or 1 (accumulate over the chunks of a large batch).
   */
  biasGrad(rows: number, cols: number, dy: Float32Array, db: Float32Array, beta: number): void;

  /**
   * `y[i] = h(factor * x[i])` for i < n, h the named activation (leaky-relu: `h(z) = z` for
   * z >= 0, `slope * z` otherwise). y may be x (in place). factor > 0 (the paper's per-layer
   * factor; 1 for plain networks).
   */
  activation(kind: ActivationName, n: number, x: Float32Array, y: Float32Array, slope: number, factor: number): void;

  /**
   * Backward of `activation` from its output y: `dx[i] = factor * h'(factor * x[i]) * dy[i]`,
   * with h' computed from y (leaky-relu / relu: y > 0; sigmoid: y (1 - y); tanh: 1 - y^2;
   * identity: 1). dx may be dy (in place).
   */
  activationGrad(
    kind: ActivationName, n: number, y: Float32Array, dy: Float32Array, dx: Float32Array,
    slope: number, factor: number,
  ): void;

  /** Row-wise softmax, numerically stable (max subtracted): probs of shape (rows, cols). probs may be logits. */
  softmax(rows: number, cols: number, logits: Float32Array, probs: Float32Array): void;

  /**
   * Softmax + cross-entropy for one batch. labels[r] is the class of row r (< cols); labels is a
   * Uint8Array, or a Uint16Array for networks of more than 256 classes (any other type is a
   * TypeError). Writes probs = softmax(logits) and `dlogits = scale * (probs - onehot(labels))`,
   * and returns the summed loss `-sum_r log probs[r, labels[r]]` (the paper's E, eq. 3), computed
   * as a log-sum-exp so that it stays finite for confident wrong answers. probs may be logits;
   * dlogits may be probs or logits. scale is 1 for the summed loss, 1/rows for the mean.
   */
  softmaxCrossEntropy(
    rows: number, cols: number, logits: Float32Array, labels: Uint8Array | Uint16Array,
    probs: Float32Array, dlogits: Float32Array, scale: number,
  ): number;

  /**
   * Inverted dropout over n values: value i is kept when `hashAt(streamSalt(key), i) < (1 - rate) * 2^32`
   * (lib/core/random.ts: a counter-based hash, so the mask depends on key and i alone, whatever
   * computes it); `mask[i] = kept ? fround(1 / (1 - rate)) : 0` and `y[i] = x[i] * mask[i]`, the
   * float product. Both backends give identical bits. key is an integer in [0, 2^32), rate a
   * number in [0, 1). y may be x (in place); mask may overlap neither (a RangeError).
   */
  dropout(n: number, key: number, rate: number, x: Float32Array, y: Float32Array, mask: Float32Array): void;

  /** `out[i] = a[i] * b[i]` for i < n, the float product (dropout's backward: dx = dy * mask). out may be a or b. */
  multiply(n: number, a: Float32Array, b: Float32Array, out: Float32Array): void;

  /**
   * 2-D convolution (cross-correlation, as PyTorch's nn.Conv2d), all tensors row-major:
   * x (n, c, h, w), weight (f, c, kh, kw), bias (f), y (n, f, oh, ow):
   * `y[i, o, oy, ox] = bias[o] + sum_{j, ky, kx} weight[o, j, ky, kx] * x[i, j, oy*stride - padTop + ky, ox*stride - padLeft + kx]`,
   * where a position outside the input reads 0 (zero padding; the padding below and right is
   * whatever oh and ow imply). stride >= 1; every other size >= 0. y is overwritten and must not
   * overlap x, weight or bias.
   */
  conv2d(
    n: number, c: number, h: number, w: number, f: number, kh: number, kw: number, stride: number,
    padTop: number, padLeft: number, oh: number, ow: number,
    x: Float32Array, weight: Float32Array, bias: Float32Array, y: Float32Array,
  ): void;

  /**
   * Input gradient of `conv2d` (same geometry): `dx = dE/dx` from dy = dE/dy (n, f, oh, ow);
   * dx (n, c, h, w) is overwritten and must not overlap dy or weight.
   */
  conv2dBackwardData(
    n: number, c: number, h: number, w: number, f: number, kh: number, kw: number, stride: number,
    padTop: number, padLeft: number, oh: number, ow: number,
    dy: Float32Array, weight: Float32Array, dx: Float32Array,
  ): void;

  /**
   * Parameter gradients of `conv2d` (same geometry): `dWeight = beta * dWeight + dE/dweight`,
   * `dBias = beta * dBias + dE/dbias` (beta 0 overwrites, 1 accumulates over the chunks of a
   * batch). Neither dWeight nor dBias may overlap x or dy.
   */
  conv2dBackwardFilter(
    n: number, c: number, h: number, w: number, f: number, kh: number, kw: number, stride: number,
    padTop: number, padLeft: number, oh: number, ow: number,
    x: Float32Array, dy: Float32Array, dWeight: Float32Array, dBias: Float32Array, beta: number,
  ): void;

  /**
   * Max pooling over size x size windows, stride >= 1, size >= 1, no padding: x (n, c, h, w),
   * y (n, c, oh, ow), `y[i, j, oy, ox] = max` of x[i, j, oy*stride + a, ox*stride + b] for a, b < size,
   * the window cut at the input's edge (oh <= floor((h - 1) / stride) + 1, ow likewise, so that no
   * window is empty; 0 when h or w is 0). NaN wins (as in PyTorch). argmax (n, c, oh, ow) gets the
   * winner's position in its input plane, `row * w + col`, the first on ties. y must not overlap x.
   */
  maxPool2d(
    n: number, c: number, h: number, w: number, size: number, stride: number, oh: number, ow: number,
    x: Float32Array, y: Float32Array, argmax: Uint32Array,
  ): void;

  /**
   * Backward of `maxPool2d`: dx (n, c, h, w) is zeroed, then `dx[i, j, argmax[i, j, q]] += dy[i, j, q]`.
   * An argmax value >= h * w is a RangeError (checked as read: it may be shared memory).
   * dx must not overlap dy.
   */
  maxPool2dBackward(
    n: number, c: number, h: number, w: number, oh: number, ow: number,
    dy: Float32Array, argmax: Uint32Array, dx: Float32Array,
  ): void;

  /**
   * Batch normalization in training, PyTorch's rules: x and y are (n, c, s), channel j's values
   * x[i, j, k] for all i < n, k < s (s = h * w after a convolution, 1 after a dense layer).
   * Per channel: mean and biased variance over its n * s values (accumulated in double),
   * `y = (x - mean) / sqrt(var + eps) * weight[j] + bias[j]`; saved (2c) gets mean (saved[j])
   * and 1 / sqrt(var + eps) (saved[c + j]) for the backward pass; the running statistics move by
   * `running = (1 - momentum) * running + momentum * batch`, with the unbiased variance
   * (var * m / (m - 1), m = n * s; the biased one when m is 1). n * s = 0 changes nothing.
   * y must not overlap x, and saved neither x nor y.
   */
  batchNormTrain(
    n: number, c: number, s: number, momentum: number, eps: number,
    x: Float32Array, weight: Float32Array, bias: Float32Array,
    runningMean: Float32Array, runningVar: Float32Array, y: Float32Array, saved: Float32Array,
  ): void;

  /** Batch normalization in inference: `y = (x - runningMean[j]) / sqrt(runningVar[j] + eps) * weight[j] + bias[j]`, shapes as `batchNormTrain`. y may be x. */
  batchNormInfer(
    n: number, c: number, s: number, eps: number,
    x: Float32Array, weight: Float32Array, bias: Float32Array,
    runningMean: Float32Array, runningVar: Float32Array, y: Float32Array,
  ): void;

  /**
   * Backward of `batchNormTrain` from its x and saved: with xhat = (x - mean) * invstd,
   * `dWeight = beta * dWeight + sum dy * xhat`, `dBias = beta * dBias + sum dy` (per channel), and
   * `dx = weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))`, means over the channel's
   * n * s values. dx may be dy.
   */
  batchNormBackward(
    n: number, c: number, s: number, x: Float32Array, dy: Float32Array, weight: Float32Array,
    saved: Float32Array, dx: Float32Array, dWeight: Float32Array, dBias: Float32Array, beta: number,
  ): void;

  /**
   * Data augmentation, a random affine map and an elastic distortion (Simard et al. 2003) per
   * image, resampled bilinearly with 0 outside the image: x and y (n, c, h, w), every channel of
   * image i mapped alike. transforms (n, 6) holds each image's inverse map t: output pixel
   * (px, py) samples x at `sx = t0 u + t1 v + cx + t4 + alpha dx[py, px]`,
   * `sy = t2 u + t3 v + cy + t5 + alpha dy[py, px]` with u = px - cx, v = py - cy and
   * (cx, cy) = ((w - 1) / 2, (h - 1) / 2), the centre. dx and dy are uniform(-1, 1) noise from
   * the counter-based hash of lib/core/random.ts (`hashAt(streamSalt(key), 2 (i h w + p) + d)`,
   * p = py w + px, d = 0 for dx and 1 for dy) smoothed by the separable filter `blur` (odd length,
   * e.g. normalized Gaussian taps) with zero padding; alpha 0 skips them (affine only). Every
   * operation is a float operation in the order native/augment.h gives, so both backends give
   * identical bits. key is an integer in [0, 2^32), alpha a finite float. y must not overlap x,
   * transforms or blur.
   */
  augment(
    n: number, c: number, h: number, w: number, x: Float32Array, y: Float32Array, transforms: Float32Array,
    key: number, alpha: number, blur: Float32Array,
  ): void;

  /**
   * Batch gather: `dst[r, j] = scale * src[indices[offset + r] * rowLen + j]` for r < count,
   * j < rowLen (u8 pixels -> f32, e.g. scale 1/255). dst has at least count * rowLen elements.
   */
  gatherRows(
    src: Uint8Array, rowLen: number, indices: Uint32Array, offset: number, count: number,
    scale: number, dst: Float32Array,
  ): void;

  /** SGD: `w[i] -= lr * g[i]` for i < n. */
  sgdStep(n: number, lr: number, w: Float32Array, g: Float32Array): void;

  /** Momentum (heavy ball): `v = mu * v + g; w -= lr * v`. */
  momentumStep(n: number, lr: number, mu: number, w: Float32Array, g: Float32Array, v: Float32Array): void;

  /**
   * Adam with bias correction at step t >= 1: `m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
   * w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)`.
   */
  adamStep(
    n: number, lr: number, beta1: number, beta2: number, eps: number, t: number,
    w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array,
  ): void;

  /** Sets the number of threads the kernels may use (>= 1); the TypeScript backend always uses 1. */
  setThreads(n: number): void;

  /** The number of threads the kernels use. */
  getThreads(): number;
}
