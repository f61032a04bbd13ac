#!/usr/bin/env node
// The package's "install" script. node-gyp-build keeps a prebuilt addon that loads on this
// machine, else compiles native/ with node-gyp. A failed compile must not fail `npm install`:
// digitnet then runs on its TypeScript backend and, at first use, says why and how to get the
// native core. So node-gyp's output goes to a log file instead of the terminal, this prints one
// line, and the install exits 0. The log's first line is the summary that lib/backend/
// native-missing.ts (INSTALL_LOG) shows at run time.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const log = path.join(root, 'build', 'install-error.log');

/** What went wrong, in one line: a missing tool or a compile error if the output names one, else node-gyp's error message. */
function summarize(output) {
  const lines = output.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  // Lines that make, the compiler, the shell or gyp itself printed (node-gyp's own start with a tag).
  const toolError = lines.find((line) => !/^gyp (info|http|WARN|ERR!) /.test(line) && /error|not found|No such file/i.test(line));
  if (toolError) return toolError;
  const start = lines.findIndex((line) => line.startsWith('gyp ERR! stack Error: '));
  if (start < 0) return lines[lines.length - 1] ?? 'node-gyp-build printed nothing';
  const message = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith('gyp ERR! stack ') || line.startsWith('gyp ERR! stack at ')) break;
    message.push(line.replace(/^gyp ERR! stack (Error: )?/, ''));
  }
  return message.join(' ').replace(/^not found: (.+)$/, '$1 not found on PATH');
}

/** `file` relative to where npm was run (INIT_CWD) when it lies under it, as the user would type it; else absolute. */
function displayPath(file) {
  const from = process.env.INIT_CWD;
  const relative = from ? path.relative(from, file) : '';
  return relative === '' || relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative) ? file : relative;
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
  console.warn(`digitnet: compiling the native core failed (${cause}); digitnet will use its TypeScript backend. Log: ${displayPath(log)}`);
}
