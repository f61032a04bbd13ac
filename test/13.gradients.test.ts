/**
 * Finite-difference gradient check of a 2-layer dense network built only from the kernels,
 * on every backend: the backward pass (gemm with transposes, biasGrad, activationGrad, dlogits)
 * must be the derivative of the forward pass (gemm, addBias, activation, softmaxCrossEntropy).
 *
 *   X (batch, in)   W1 (hidden, in)   b1 (hidden)   W2 (out, hidden)   b2 (out)   [PyTorch layout]
 *   H      = h(f1 * (X W1^T + b1))                  (batch, hidden)
 *   logits = f2 * (H W2^T + b2)                     (batch, out)   identity activation with factor
 *   E      = scale * sum_r -log softmax(logits)[r, label_r]
 *
 * And the backward kernels of convolution, max pooling and batch normalization, each against
 * central differences of its own forward kernel.
 */
import type { ActivationName, Backend } from '../lib/backend/contract';
import { describeEachBackend } from './backends';
import { randomF32, randomU8 } from './reference';

const BATCH = 4;
const IN = 6;
const HIDDEN = 5;
const OUT = 3;

interface Net {
  w1: Float32Array; b1: Float32Array; w2: Float32Array; b2: Float32Array;
}
interface Setup {
  kind: ActivationName; slope: number; f1: number; f2: number; scale: number;
}

const x = randomF32(BATCH * IN, 1);
const labels = randomU8(BATCH, 2, OUT);

function initialNet(): Net {
  return {
    w1: randomF32(HIDDEN * IN, 3, -0.8, 0.8), b1: randomF32(HIDDEN, 4, -0.5, 0.5),
    w2: randomF32(OUT * HIDDEN, 5, -0.8, 0.8), b2: randomF32(OUT, 6, -0.5, 0.5),
  };
}

/** Forward pass; returns E and what the backward pass needs. */
function forward(B: Backend, net: Net, s: Setup): { loss: number; h: Float32Array; logits: Float32Array; dlogits: Float32Array } {
  const h = new Float32Array(BATCH * HIDDEN);
  B.gemm(false, true, BATCH, HIDDEN, IN, 1, x, IN, net.w1, IN, 0, h, HIDDEN);
  B.addBias(BATCH, HIDDEN, h, net.b1);
  B.activation(s.kind, BATCH * HIDDEN, h, h, s.slope, s.f1);
  const logits = new Float32Array(BATCH * OUT);
  B.gemm(false, true, BATCH, OUT, HIDDEN, 1, h, HIDDEN, net.w2, HIDDEN, 0, logits, OUT);
  B.addBias(BATCH, OUT, logits, net.b2);
  B.activation('identity', BATCH * OUT, logits, logits, 0, s.f2);
  const probs = new Float32Array(BATCH * OUT);
  const dlogits = new Float32Array(BATCH * OUT);
  const loss = s.scale * B.softmaxCrossEntropy(BATCH, OUT, logits, labels, probs, dlogits, s.scale);
  return { loss, h, logits, dlogits };
}

/** Forward then backward; returns dE/dparameter in the layout of each parameter. */
function gradients(B: Backend, net: Net, s: Setup): Net {
  const { h, logits, dlogits } = forward(B, net, s);
  const dz2 = new Float32Array(BATCH * OUT);
  B.activationGrad('identity', BATCH * OUT, logits, dlogits, dz2, 0, s.f2);
  const g: Net = {
    w1: new Float32Array(HIDDEN * IN), b1: new Float32Array(HIDDEN),
    w2: new Float32Array(OUT * HIDDEN), b2: new Float32Array(OUT),
  };
  B.gemm(true, false, OUT, HIDDEN, BATCH, 1, dz2, OUT, h, HIDDEN, 0, g.w2, HIDDEN); // dW2 = dz2^T H
  B.biasGrad(BATCH, OUT, dz2, g.b2, 0);
  const dh = new Float32Array(BATCH * HIDDEN);
  B.gemm(false, false, BATCH, HIDDEN, OUT, 1, dz2, OUT, net.w2, HIDDEN, 0, dh, HIDDEN); // dH = dz2 W2
  B.activationGrad(s.kind, BATCH * HIDDEN, h, dh, dh, s.slope, s.f1); // dz1, in place
  B.gemm(true, false, HIDDEN, IN, BATCH, 1, dh, HIDDEN, x, IN, 0, g.w1, IN); // dW1 = dz1^T X
  B.biasGrad(BATCH, HIDDEN, dh, g.b1, 0);
  return g;
}

const EPS = 1e-2;

/** Central difference of E in every parameter, compared with the backward pass. */
function checkGradients(B: Backend, s: Setup): void {
  const net = initialNet();
  const analytic = gradients(B, net, s);
  const failures: string[] = [];
  let worst = 0;
  for (const name of ['w1', 'b1', 'w2', 'b2'] as const) {
    const p = net[name];
    for (let i = 0; i < p.length; i++) {
      const saved = p[i];
      p[i] = saved + EPS;
      const plus = forward(B, net, s).loss;
      p[i] = saved - EPS;
      const minus = forward(B, net, s).loss;
      p[i] = saved;
      const numeric = (plus - minus) / (2 * EPS);
      const got = analytic[name][i];
      // Relative error, floored so that float32 noise on a near-zero gradient does not count.
      const rel = Math.abs(numeric - got) / Math.max(Math.abs(numeric), Math.abs(got), 1e-2);
      worst = Math.max(worst, rel);
      if (rel >= 1e-2) failures.push(`${name}[${i}]: backward ${got}, finite difference ${numeric} (rel ${rel.toExponential(2)})`);
    }
  }
  if (failures.length > 0) throw new Error(`gradient mismatch (worst rel ${worst.toExponential(2)}):\n${failures.join('\n')}`);
}

const SETUPS: [string, Setup][] = [
  ['leaky-relu (slope 0.01) hidden layer', { kind: 'leaky-relu', slope: 0.01, f1: 1, f2: 1, scale: 1 }],
  ['sigmoid hidden layer', { kind: 'sigmoid', slope: 0, f1: 1, f2: 1, scale: 1 }],
  ['tanh hidden layer', { kind: 'tanh', slope: 0, f1: 1, f2: 1, scale: 1 }],
  ['leaky-relu hidden layer with factors 0.5 and 1.5', { kind: 'leaky-relu', slope: 0.1, f1: 0.5, f2: 1.5, scale: 1 }],
  ['sigmoid hidden layer with factor 2', { kind: 'sigmoid', slope: 0, f1: 2, f2: 1, scale: 1 }],
  ['tanh hidden layer with factors 0.7 and 2, mean loss (scale 1/batch)',
    { kind: 'tanh', slope: 0, f1: 0.7, f2: 2, scale: 1 / BATCH }],
];

describeEachBackend('gradients of a 2-layer dense net match finite differences', (B) => {
  test.each(SETUPS)('%s', (_, setup) => {
    checkGradients(B, setup);
  });
});

// ---------------------------------------------------------------------------------------------
// The convolution, pooling and batch-norm backward kernels against central differences of a
// smooth loss of their forward: E = sum(y * r) for a fixed random r, so dE/dy = r. The forward
// runs in float32, so the differences are noisy: small sizes, a step of 1e-2 and a few
// coordinates of each input.

const FD_STEP = 1e-2;

/** E = sum_k y[k] * r[k], in double. */
function dot(y: Float32Array, r: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < y.length; k++) sum += y[k] * r[k];
  return sum;
}

/**
 * dE/dp[i] by central differences for `count` coordinates i spread over p, compared with `analytic`:
 * loss() recomputes E from p as it stands. The step is the one the float32 store actually made.
 */
function checkAgainstDifferences(what: string, p: Float32Array, analytic: Float32Array, loss: () => number, count = 8): void {
  const failures: string[] = [];
  const step = Math.max(1, Math.floor(p.length / count));
  for (let i = 0; i < p.length; i += step) {
    const saved = p[i];
    p[i] = saved + FD_STEP;
    const up = p[i];
    const plus = loss();
    p[i] = saved - FD_STEP;
    const down = p[i];
    const minus = loss();
    p[i] = saved;
    const numeric = (plus - minus) / (up - down);
    const rel = Math.abs(numeric - analytic[i]) / Math.max(Math.abs(numeric), Math.abs(analytic[i]), 1e-2);
    if (rel >= 1e-2) failures.push(`${what}[${i}]: backward ${analytic[i]}, finite difference ${numeric} (rel ${rel.toExponential(2)})`);
  }
  if (failures.length > 0) throw new Error(`gradient mismatch:\n${failures.join('\n')}`);
}

describeEachBackend('gradients of the convolution, pooling and batch-norm kernels match finite differences', (B) => {
  // 3x3 filters at stride 2 with padding 1 on 7x6 inputs: oh = 4, ow = 3; edges and padding both matter.
  const [n, c, h, w, f, k, stride, pad] = [2, 3, 7, 6, 4, 3, 2, 1];
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const geometry = [n, c, h, w, f, k, k, stride, pad, pad, oh, ow] as const;

  test('conv2dBackwardData and conv2dBackwardFilter (3x3, stride 2, padding 1) are the derivatives of conv2d', () => {
    const x = randomF32(n * c * h * w, 21);
    const weight = randomF32(f * c * k * k, 22);
    const bias = randomF32(f, 23);
    const r = randomF32(n * f * oh * ow, 24);
    const y = new Float32Array(r.length);
    const loss = (): number => {
      B.conv2d(...geometry, x, weight, bias, y);
      return dot(y, r);
    };
    const dx = new Float32Array(x.length);
    const dWeight = new Float32Array(weight.length);
    const dBias = new Float32Array(f);
    B.conv2dBackwardData(...geometry, r, weight, dx);
    B.conv2dBackwardFilter(...geometry, x, r, dWeight, dBias, 0);
    checkAgainstDifferences('x', x, dx, loss, 16);
    checkAgainstDifferences('weight', weight, dWeight, loss, 16);
    checkAgainstDifferences('bias', bias, dBias, loss);
  });

  test('maxPool2dBackward (3x3 windows at stride 2, cut at the edge) is the derivative of maxPool2d', () => {
    const [ph, pw, size] = [7, 6, 3];
    const [poh, pow] = [Math.floor((ph - 1) / 2) + 1, Math.floor((pw - 1) / 2) + 1];
    // Distinct values 0.1 apart (more than two steps), so that no step changes a window's winner.
    const order = randomF32(n * c * ph * pw, 25);
    const ranks = Array.from(order.keys()).sort((a, b) => order[a] - order[b]);
    const x = new Float32Array(order.length);
    ranks.forEach((at, rank) => (x[at] = 0.1 * rank));
    const r = randomF32(n * c * poh * pow, 26);
    const y = new Float32Array(r.length);
    const argmax = new Uint32Array(r.length);
    const loss = (): number => {
      B.maxPool2d(n, c, ph, pw, size, 2, poh, pow, x, y, argmax);
      return dot(y, r);
    };
    loss();
    const dx = new Float32Array(x.length);
    B.maxPool2dBackward(n, c, ph, pw, poh, pow, r, argmax, dx);
    checkAgainstDifferences('x', x, dx, loss, x.length);
  });

  test('batchNormBackward is the derivative of batchNormTrain through the batch statistics', () => {
    const [bn, bc, s] = [3, 2, 4];
    const x = randomF32(bn * bc * s, 27, -2, 2);
    const weight = randomF32(bc, 28, 0.5, 1.5);
    const bias = randomF32(bc, 29);
    const r = randomF32(x.length, 30);
    const y = new Float32Array(x.length);
    const saved = new Float32Array(2 * bc);
    // Fresh running statistics each time: training mode updates them, and they do not enter y.
    const loss = (): number => {
      B.batchNormTrain(bn, bc, s, 0.1, 1e-5, x, weight, bias, new Float32Array(bc), new Float32Array(bc).fill(1), y, saved);
      return dot(y, r);
    };
    loss();
    const dx = new Float32Array(x.length);
    const dWeight = new Float32Array(bc);
    const dBias = new Float32Array(bc);
    B.batchNormBackward(bn, bc, s, x, r, weight, saved, dx, dWeight, dBias, 0);
    checkAgainstDifferences('x', x, dx, loss, x.length);
    checkAgainstDifferences('weight', weight, dWeight, loss);
    checkAgainstDifferences('bias', bias, dBias, loss);
  });
});
