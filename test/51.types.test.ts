/**
 * The published types, as a consumer sees them: one example, compiled by tsc as an ES module
 * (.mts) and as CommonJS (.cts) against this package's "exports" (dist/ must be built: npm run
 * build), with Node's module resolution. `import` must reach dist/index.d.mts and `require`
 * dist/index.d.ts, and both must type the API (a deliberate misuse must be an error).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, run } from './packaging';

const CONSUMER = `import { Network, getBackend, loadMnist, type Dataset, type History } from 'digitnet';

export async function accuracy(): Promise<number> {
  const { train, test }: { train: Dataset; test: Dataset } = await loadMnist();
  const net = Network.create({ input: 784, seed: 1, layers: [{ units: 10, activation: 'softmax' }] });
  const history: History = await net.fit(train, { epochs: 1, batchSize: 64, optimizer: { name: 'adam', lr: 1e-3 } });
  const backend: 'native' | 'ts' = getBackend().name;
  return history.steps > 0 && backend === net.backend.name ? net.evaluate(test).accuracy : 0;
}

// @ts-expect-error input is a number: an error only when the types resolved (with \`any\` it would pass).
Network.create({ input: '784', layers: [] });
`;

let dir: string;
beforeAll(() => {
  if (!existsSync(join(REPO, 'dist', 'index.d.mts'))) throw new Error('dist/index.d.mts is missing: run npm run build first');
  dir = mkdtempSync(join(tmpdir(), 'digitnet-types-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(REPO, join(dir, 'node_modules', 'digitnet'));
  writeFileSync(join(dir, 'package.json'), '{ "name": "consumer", "private": true }\n');
  writeFileSync(join(dir, 'consumer.mts'), CONSUMER);
  writeFileSync(join(dir, 'consumer.cts'), CONSUMER);
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Which file tsc resolved 'digitnet' to from each consumer file, read from --traceResolution. */
function resolutions(trace: string): Record<string, string> {
  const found: Record<string, string> = {};
  const pattern = /======== Resolving module 'digitnet' from '([^']+)'\. ========[\s\S]*?======== Module name 'digitnet' was successfully resolved to '([^']+)'/g;
  for (const [, from, to] of trace.matchAll(pattern)) found[from.split('/').pop()!] = to;
  return found;
}

test.each(['node16', 'nodenext'])('a consumer type-checks as ESM and as CommonJS with module %s', (mode) => {
  const config = {
    compilerOptions: {
      module: mode,
      moduleResolution: mode,
      target: 'ES2022',
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(REPO, 'node_modules', '@types')],
    },
    files: ['consumer.mts', 'consumer.cts'],
  };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  const tsc = run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir, '--traceResolution'], { cwd: dir });
  const errors = tsc.stdout.split('\n').filter((line) => /error TS/.test(line));
  expect(errors).toEqual([]);
  expect(tsc.status).toBe(0);
  const resolved = resolutions(tsc.stdout);
  expect(resolved['consumer.mts']).toMatch(/dist\/index\.d\.mts$/);
  expect(resolved['consumer.cts']).toMatch(/dist\/index\.d\.ts$/);
}, 60_000);
