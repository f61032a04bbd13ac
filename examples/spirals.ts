// The README's fromArrays example: three interleaved spirals (2 features, 3 classes), which no
// linear model separates, learned from plain arrays (type-checked by `npx tsc --noEmit`).
import { Network, fromArrays } from 'digitnet';

/** `count` points of three spirals; point i belongs to spiral i % 3. */
function spirals(count: number): { x: number[][]; y: number[] } {
  const x: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < count; i++) {
    const radius = 0.1 + 0.9 * Math.random();
    const angle = 3 * Math.PI * radius + (2 * Math.PI * (i % 3)) / 3;
    x.push([radius * Math.cos(angle), radius * Math.sin(angle)]);
    y.push(i % 3);
  }
  return { x, y };
}

async function main() {
  const points = spirals(3000);
  const data = fromArrays(points.x, points.y); // shape [2], inferred from the samples
  const net = Network.create({ input: 2, layers: [{ units: 64, activation: 'relu' }, { units: 64, activation: 'relu' }, { units: 3 }] });
  const history = await net.fit(data, {
    epochs: 30,
    batchSize: 32,
    optimizer: { name: 'adam', lr: 0.01 },
    schedule: { name: 'cosine' },
    validationSplit: 0.2,
  });
  const last = history.epochs[history.epochs.length - 1];
  console.log(`${data.count} points, shape [${data.shape}]: accuracy on the held-back 20%: ${(100 * last.valAccuracy!).toFixed(1)}%`);
  const fresh = spirals(6);
  const { labels } = net.predict(Float32Array.from(fresh.x.flat()), 6);
  console.log(`6 new points, spirals ${fresh.y.join(' ')}, predicted ${Array.from(labels).join(' ')}`);
}

main();
