// The README's library example: train, evaluate, predict, save and reload (type-checked by `npx tsc --noEmit`).
import { Network, loadMnist } from 'digitnet';

async function main() {
  const { train, test } = await loadMnist();
  const net = Network.create({
    input: 784,
    seed: 1,
    layers: [{ units: 128, activation: 'leaky-relu' }, { units: 10, activation: 'softmax' }],
  });
  await net.fit(train, {
    epochs: 3,
    batchSize: 64,
    optimizer: { name: 'adam', lr: 1e-3 },
    validation: test,
    onEpoch: (e) => console.log(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, test accuracy ${(100 * e.valAccuracy!).toFixed(2)}%`),
  });
  const { accuracy, confusion } = net.evaluate(test);
  console.log(`accuracy ${(100 * accuracy).toFixed(2)}%, backend ${net.backend.name}`);
  console.log(`7s read as 2: ${confusion[7][2]}`);
  const { labels } = net.predict(test.inputs.subarray(0, 5 * 784), 5);
  console.log('first five test digits:', Array.from(labels).join(' '));
  await net.save('model.safetensors');
  const again = await Network.load('model.safetensors');
  console.log('reloaded accuracy', again.evaluate(test).accuracy);
}

main();
