// The README's convolutional example: a CNN from a layer list, its summary, two epochs, the test
// accuracy, and a round trip through a model file (type-checked by `npx tsc --noEmit`).
import { Network, loadMnist } from 'digitnet';

async function main() {
  const { train, test } = await loadMnist();
  const net = Network.create({
    input: [1, 28, 28],
    seed: 1,
    layers: [
      { type: 'conv2d', filters: 16, kernel: 5, activation: 'relu' },
      { type: 'maxpool2d', size: 2 },
      { type: 'conv2d', filters: 32, kernel: 3, padding: 'same', activation: 'relu' },
      { type: 'batchnorm' },
      { type: 'maxpool2d', size: 2 },
      { type: 'dropout', rate: 0.25 },
      { type: 'dense', units: 10, activation: 'softmax' },
    ],
  });
  console.log(net.summary());
  const history = await net.fit(train, {
    epochs: 2,
    batchSize: 128,
    optimizer: { name: 'adam', lr: 2e-3 },
    schedule: { name: 'cosine' },
    validation: test,
    onEpoch: (e) => console.log(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, test accuracy ${(100 * e.valAccuracy!).toFixed(2)}%, ${e.seconds.toFixed(1)} s`),
  });
  console.log(`${net.architecture}: ${history.steps} steps in ${history.seconds.toFixed(1)} s`);
  await net.save('cnn.safetensors');
  const again = await Network.load('cnn.safetensors');
  console.log(`reloaded: test accuracy ${(100 * again.evaluate(test).accuracy).toFixed(2)}%`);
}

main();
