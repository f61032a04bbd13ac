/**
 * The source layout keeps its promises (docs/ARCHITECTURE.md): no import cycles, and each folder of
 * lib/ imports only the folders below it. Reads the static imports of every lib/ file (type-only
 * imports included: they are dependencies too); `await import(...)` is the one sanctioned way up.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const LIB = resolve(__dirname, '..', 'lib');

/** What each folder of lib/ may import besides itself. */
const ALLOWED: Record<string, string[]> = {
  core: [],
  backend: ['core'],
  layers: ['core', 'backend'],
  io: ['core', 'layers'],
  data: ['core'],
  image: ['core', 'io'],
  model: ['core', 'backend', 'layers', 'io', 'image'],
  train: ['core', 'backend', 'layers', 'io', 'model'],
  web: ['core', 'backend', 'layers', 'io', 'image', 'model', 'train'],
  cli: ['core', 'backend', 'layers', 'io', 'data', 'image', 'model', 'train', 'web'],
};

/** Imports against the folder order that are allowed, each with the reason. */
const EXCEPTIONS: Record<string, string> = {
  // Network.fit's signature names the options and result of training; erased at compile time.
  'model/network.ts -> train/types.ts': 'type-only',
};

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The lib/ files `file` imports statically (relative specifiers resolved to files). */
function imports(file: string): { target: string; typeOnly: boolean }[] {
  const text = readFileSync(file, 'utf8');
  const found: { target: string; typeOnly: boolean }[] = [];
  for (const match of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?\sfrom\s+'(\.[^']+)'/gms)) {
    const base = resolve(dirname(file), match[2]);
    const target = [`${base}.ts`, join(base, 'index.ts')].find((candidate) => {
      try {
        return statSync(candidate).isFile();
      } catch {
        return false;
      }
    });
    if (!target) throw new Error(`${relative(LIB, file)}: cannot resolve import '${match[2]}'`);
    found.push({ target, typeOnly: match[1] !== undefined });
  }
  return found;
}

const files = sources(LIB);
const graph = new Map(files.map((file) => [file, imports(file)]));
const name = (file: string) => relative(LIB, file);
const folder = (file: string) => (name(file).includes('/') ? name(file).split('/')[0] : '.');

test('every lib/ folder is in the table', () => {
  const folders = new Set(files.map(folder).filter((f) => f !== '.'));
  expect([...folders].sort()).toEqual(Object.keys(ALLOWED).sort());
});

test('each folder imports only the folders below it', () => {
  const violations: string[] = [];
  for (const [file, edges] of graph) {
    const from = folder(file);
    if (from === '.') continue; // the public index sits on top
    for (const { target, typeOnly } of edges) {
      const to = folder(target);
      const edge = `${name(file)} -> ${name(target)}`;
      if (to === from || ALLOWED[from].includes(to)) continue;
      if (EXCEPTIONS[edge] === 'type-only' && typeOnly) continue;
      violations.push(edge);
    }
  }
  expect(violations).toEqual([]);
});

test('no import cycles', () => {
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'visiting') {
      cycles.push([...path.slice(path.indexOf(file)), file].map(name).join(' -> '));
      return;
    }
    state.set(file, 'visiting');
    for (const { target } of graph.get(file) ?? []) visit(target, [...path, file]);
    state.set(file, 'done');
  };
  for (const file of files) visit(file, []);
  expect(cycles).toEqual([]);
});

test('the check sees imports: the network imports its layers, and fit is loaded lazily', () => {
  const network = graph.get(join(LIB, 'model', 'network.ts'))!.map((edge) => name(edge.target));
  expect(network).toContain('layers/registry.ts');
  expect(network).not.toContain('train/fit.ts');
  expect(readFileSync(join(LIB, 'model', 'network.ts'), 'utf8')).toContain("await import('../train/fit')");
});
