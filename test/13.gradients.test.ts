/**
 * Finite-difference gradient check of a 2-layer dense network built only from the kernels,
 * on every backend: the backward pass (gemm with transposes, biasGrad, activationGrad, dlogits)
 * must be the derivative of the forward pass (gemm, addBias, activation, softmaxCrossEntropy).
 *
 *   X (batch, in)   W1 (hidden, in)   b1 (hidden)   W2 (out, hidden)   b2 (out)   [PyTorch layout]
 *   H      = h(f1 * (X W1^T + b1))                  (batch, hidden)
 *   logits = f2 * (H W2^T + b2)                     (batch, out)   identity activation with factor
 *   E      = scale * sum_r -log softmax(logits)[r, label_r]
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
