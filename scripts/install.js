#!/usr/bin/env node
// The package's "install" script. node-gyp-build keeps a prebuilt addon that loads on this
// machine, else compiles native/ with node-gyp. A failed compile must not fail `npm install`:
// digitnet then runs on its TypeScript backend and, at first use, says why and how to get the
// native core. So node-gyp's output goes to a log file instead of the terminal, this prints one
// line, and the install exits 0. The log's first line is the summary that lib/backends/
// native-missing.ts (INSTALL_LOG) shows at run time.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const log = path.join(root, 'build', 'install-error.log');

/** The line of node-gyp's output that names the cause: a missing tool, a compile error, else gyp's own error. */
function summarize(output) {
  const lines = output.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  const cause =
    lines.find((line) => /: error:|No such file or directory|: not found|not found: |Could not find any Python/.test(line)) ??
    lines.find((line) => line.startsWith('gyp ERR! stack Error:')) ??
    lines[lines.length - 1] ??
    'node-gyp-build printed nothing';
  return cause.replace(/^gyp ERR! (stack |find Python )?(Error: )?/, '');
}

const build = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], {
  cwd: root,
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
if (build.status === 0) {
  fs.rmSync(log, { force: true });
} else {
  const output = `${build.stdout ?? ''}${build.stderr ?? ''}${build.error ? `\n${build.error.message}` : ''}`;
  const cause = summarize(output);
  fs.mkdirSync(path.dirname(log), { recursive: true });
  fs.writeFileSync(log, `${cause}\n\n${output}`);
  console.warn(`digitnet: compiling the native core failed (${cause}); digitnet will use its TypeScript backend. Log: ${log}`);
}
