// The README's handwriting example: a photo of one digit and a picture of a number, read with a
// model saved by `digitnet train --preset robust --out robust.safetensors` (type-checked by
// `npx tsc --noEmit`).
import { Network, readImage, writeInputPng } from 'digitnet';

async function main() {
  const net = await Network.load('robust.safetensors');
  const two = net.predictImage(await readImage('examples/pictures/two.jpg'));
  console.log(`two.jpg: ${two.label} (${(100 * two.probabilities[two.label]).toFixed(1)}%)`);
  await writeInputPng('two-seen.png', two.input); // the 28x28 the network saw

  const { number, digits } = net.readNumber(await readImage('examples/pictures/number.jpg'));
  console.log(`number.jpg: ${number}`);
  for (const d of digits) console.log(`  ${d.label} (${(100 * d.probability).toFixed(1)}%) at x ${d.box.x}, y ${d.box.y}, ${d.box.width}x${d.box.height}`);
}

main();
