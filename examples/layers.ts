// The README's layer-list example: dense and dropout layers on [1, 28, 28] images, the summary, a
// fit that holds back the last 10,000 training images for validation (type-checked by `npx tsc --noEmit`).
import { Network, loadMnist } from 'digitnet';

async function main() {
  const { train, test } = await loadMnist();
  const net = Network.create({
    input: [1, 28, 28],
    seed: 1,
    layers: [
      { type: 'dense', units: 256, activation: 'relu' },
      { type: 'dropout', rate: 0.2 },
      { type: 'dense', units: 10, activation: 'softmax' },
    ],
  });
  console.log(net.summary());
  const history = await net.fit(train, {
    epochs: 5,
    batchSize: 128,
    optimizer: { name: 'adam', lr: 1e-3 },
    validationSplit: 1 / 6,
    onEpoch: (e) => console.log(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, validation accuracy ${(100 * e.valAccuracy!).toFixed(2)}%`),
  });
  const { accuracy } = net.evaluate(test);
  console.log(`test accuracy ${(100 * accuracy).toFixed(2)}% after ${history.seconds.toFixed(1)} s`);
}

main();
