import type { Dataset } from '../lib/core/dataset';
import { loadMnist } from '../lib/data/mnist';
import { Network } from '../lib/model/network';
import { PRESETS } from '../lib/train/presets';
import { describeBackends } from './backends';

let train: Dataset;

beforeAll(async () => {
  train = (await loadMnist()).train;
});

const SUBSET = 600;

/** The summed cross-entropy (3) of the network over the first SUBSET training images. */
function summedLoss(net: Network): number {
  return net.evaluate({ ...train, count: SUBSET }).loss * SUBSET;
}

describeBackends('the paper preset on the %s backend', (backend) => {
  test('its first full-batch steps lower the summed loss at every step', async () => {
    const { hidden, output, fit } = PRESETS.paper;
    const net = Network.create({ input: 784, seed: 1, backend, layers: [...hidden, output] });
    const before = summedLoss(net);
    const history = await net.fit(train, { ...fit, epochs: 4, limit: SUBSET });
    const after = summedLoss(net);

    // Full batch: one step per epoch, and each epoch's loss is the summed loss before its step.
    expect(history.steps).toBe(4);
    expect(history.epochs[0].loss * SUBSET).toBeCloseTo(before, 1);
    const losses = [...history.epochs.map((e) => e.loss * SUBSET), after];
    for (let i = 1; i < losses.length; i++) expect(losses[i]).toBeLessThan(losses[i - 1]);
  });
});
