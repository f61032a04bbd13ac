#!/usr/bin/env node
// Build step after tsc: bundles lib/web/browser.ts into dist/browser.mjs (`digitnet/browser`) and
// the page of `digitnet serve` (lib/web/page/) into dist/web/, with esbuild. The modules that need
// Node are swapped for lib/web/node-only.ts; anything else reaching a Node built-in or a package
// fails the build, so the browser code stays free of Node.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
const lib = path.join(root, 'lib');
const nodeOnly = path.join(lib, 'web', 'node-only.ts');
const SWAPPED = ['backend/index.ts', 'io/model-file.ts', 'train/fit.ts'].map((file) => path.join(lib, file));

/**
 * Resolves relative imports as TypeScript does, swapping the Node-only modules; refuses every bare
 * import. With `external`, imports of that file are left to the page to load from `as`.
 */
const browserOnly = (external) => ({
  name: 'browser-only',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      if (!args.path.startsWith('.')) {
        return { errors: [{ text: `${path.relative(root, args.importer)} imports '${args.path}', which a browser does not have` }] };
      }
      const base = path.resolve(args.resolveDir, args.path);
      const file = [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => fs.existsSync(candidate));
      if (!file) return { errors: [{ text: `cannot resolve '${args.path}' from ${path.relative(root, args.importer)}` }] };
      if (external && file === external.file) return { path: external.as, external: true };
      return { path: SWAPPED.includes(file) ? nodeOnly : file };
    });
  },
});

const common = { bundle: true, format: 'esm', platform: 'browser', target: 'es2020', logLevel: 'warning', legalComments: 'none' };

async function main() {
  const entry = path.join(lib, 'web', 'browser.ts');
  await esbuild.build({ ...common, entryPoints: [entry], outfile: path.join(root, 'dist', 'browser.mjs'), plugins: [browserOnly()] });
  // The page loads the library from the server's /browser.mjs, the very file users get.
  const page = path.join(lib, 'web', 'page');
  const out = path.join(root, 'dist', 'web');
  await esbuild.build({ ...common, entryPoints: [path.join(page, 'main.ts')], outfile: path.join(out, 'page.js'), plugins: [browserOnly({ file: entry, as: './browser.mjs' })] });
  for (const asset of ['index.html', 'page.css']) fs.copyFileSync(path.join(page, asset), path.join(out, asset));
}

main().catch((error) => {
  if (!error.errors) console.error(error);
  process.exitCode = 1;
});
