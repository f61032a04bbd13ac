/** Test data and a whole-network finite-difference check, shared by the layer tests. */
import type { Dataset } from '../lib/core/dataset';
import { Random } from '../lib/core/random';
import { fromArrays } from '../lib/data/arrays';
import type { Pass } from '../lib/layers/layer';
import type { Network } from '../lib/model/network';

/** Random float samples with labels, as a dataset of `shape`. */
export function randomData(count: number, shape: number[], classes: number, seed: number): Dataset {
  const rng = new Random(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: count * size }, () => rng.uniform());
  const y = Uint8Array.from({ length: count }, () => Math.floor(rng.uniform() * classes));
  return fromArrays(x, y, { shape });
}

/**
 * Backpropagation against central differences (step h) of the summed loss of all of `data` in one
 * pass: one line per parameter whose gradient differs by more than `absolute + relative * |numeric|`.
 */
export function gradientFailures(net: Network, data: Dataset, pass: Pass, h: number, absolute: number, relative: number): string[] {
  const order = Uint32Array.from({ length: data.count }, (_, i) => i);
  const loss = () => {
    const ws = net.loadBatch(data, order, 0, data.count);
    net.forward(data.count, ws.acts[0], pass);
    return net.loss(data.count, 1);
  };
  loss();
  net.backward(data.count, false);
  const analytic = net.grads.slice();
  const failures: string[] = [];
  for (let i = 0; i < net.params.length; i++) {
    const w = net.params[i];
    net.params[i] = w + h;
    const up = loss();
    net.params[i] = w - h;
    const down = loss();
    net.params[i] = w;
    const numeric = (up - down) / (2 * h);
    if (Math.abs(numeric - analytic[i]) > absolute + relative * Math.abs(numeric)) failures.push(`param ${i}: backward ${analytic[i]}, finite difference ${numeric}`);
  }
  return failures;
}
