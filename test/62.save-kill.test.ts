/**
 * Crash-safe saves: a child process saves two different models to one path, alternately, as fast
 * as it can; it is SIGKILLed after a random (seeded) delay. After every kill the file must load and
 * be exactly one of the two models. Temporary files of killed writers must not pile up: the next
 * successful save removes them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NetworkOptions } from '../lib/model/network';
import { Network } from '../lib/model/network';
import { Random } from '../lib/core/random';

const TRIALS = 40;
/** Longest wait after the child's first save before the kill; saves take a few milliseconds each. */
const MAX_DELAY_MS = 60;
const SEEDS = [1, 2];
const ARCHITECTURE: Omit<NetworkOptions, 'seed'> = {
  input: 784,
  backend: 'ts',
  layers: [{ units: 64, activation: 'relu' }, { units: 10, activation: 'softmax' }],
};

/** The child: builds the two models and saves them in turn, printing one line per completed save. */
const CHILD = `
const { Network } = require(${JSON.stringify(resolve(__dirname, '..', 'dist', 'model', 'network.js'))});
const [file, architecture, ...seeds] = process.argv.slice(2);
const nets = seeds.map((seed) => Network.create({ ...JSON.parse(architecture), seed: Number(seed) }));
(async () => {
  for (let i = 0; ; i++) {
    await nets[i % nets.length].save(file);
    process.stdout.write('saved\\n');
  }
})();
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'digitnet-kill-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the child until it has saved once, waits `delayMs`, kills it; resolves with the saves it reported. */
function saveAndKill(script: string, file: string, delayMs: number): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script, file, JSON.stringify(ARCHITECTURE), ...SEEDS.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let saves = 0;
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      if (saves === 0) setTimeout(() => child.kill('SIGKILL'), delayMs);
      saves += text.split('\n').length - 1;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolvePromise(saves);
      else reject(new Error(`child exited with ${code} before it was killed: ${stderr}`));
    });
  });
}

const bytesOf = (data: Float32Array): Buffer => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
const temporaryFiles = (): string[] => readdirSync(dir).filter((name) => name.endsWith('.tmp'));

test(`${TRIALS} writers killed at random moments while saving: the model file always loads as one of the two models`, async () => {
  const script = join(dir, 'save-forever.js');
  writeFileSync(script, CHILD);
  const file = join(dir, 'model.safetensors');
  const models = SEEDS.map((seed) => Network.create({ ...ARCHITECTURE, seed }).params);
  expect(models[0]).not.toEqual(models[1]);
  const random = new Random(62);
  let saves = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    saves += await saveAndKill(script, file, Math.floor(random.uniform() * MAX_DELAY_MS));
    const loaded = await Network.load(file, { backend: 'ts' });
    const matches = models.filter((params) => bytesOf(params).equals(bytesOf(loaded.params)));
    expect(matches).toHaveLength(1);
    // At most the temporary file of the writer just killed: the next one's first save removes it.
    expect(temporaryFiles().length).toBeLessThanOrEqual(1);
  }
  expect(saves).toBeGreaterThan(TRIALS);
  await Network.create({ ...ARCHITECTURE, seed: 1 }).save(file);
  expect(temporaryFiles()).toEqual([]);
}, 120_000);
