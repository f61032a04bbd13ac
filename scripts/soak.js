#!/usr/bin/env node
// Leak soak (`npm run soak`): many rounds of what a long-running user process does, each one a
// one-epoch fit (a fresh training thread each time), an evaluation, a prediction, a save and a
// load, with the resident set size sampled after a full GC at the end of every round. After the
// warm-up rounds the RSS must not grow: the lowest sample of the last quarter of the rounds may
// exceed that of the first quarter (after warm-up) by at most the limit. Needs `npm run build` and node --expose-gc (the npm
// script passes it). Usage: node --expose-gc scripts/soak.js [--rounds N]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Network, loadMnist } = require('../dist');

const WARMUP_ROUNDS = 30;
/** Growth of the RSS floor that counts as a leak: 30 kB per round over the default run. */
const LIMIT_MB = 8;
const TRAIN_IMAGES = 10000;

function parseRounds(argv) {
  if (argv.length === 0) return 300;
  const rounds = Number(argv[1]);
  if (argv[0] !== '--rounds' || argv.length !== 2 || !Number.isInteger(rounds) || rounds <= WARMUP_ROUNDS + 1) {
    throw new Error(`usage: soak.js [--rounds N] with N an integer > ${WARMUP_ROUNDS + 1}, got '${argv.join(' ')}'`);
  }
  return rounds;
}

/** Resident set size in MB after a full garbage collection. */
function settledRssMb() {
  global.gc();
  return process.memoryUsage().rss / 2 ** 20;
}

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc (npm run soak does)');
  const rounds = parseRounds(process.argv.slice(2));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'digitnet-soak-'));
  const file = path.join(dir, 'model.safetensors');
  try {
    const { train, test } = await loadMnist();
    const net = Network.create({ input: [1, 28, 28], seed: 1, layers: [{ units: 128, activation: 'leaky-relu' }, { type: 'dropout', rate: 0.2 }, { units: 10, activation: 'softmax' }] });
    const floats = Float32Array.from(test.inputs.subarray(0, 100 * 784), (p) => p / 255);
    const rss = [];
    const started = Date.now();
    for (let round = 1; round <= rounds; round++) {
      await net.fit(train, { epochs: 1, batchSize: 128, optimizer: { name: 'adam', lr: 1e-3 }, limit: TRAIN_IMAGES, seed: round });
      const { accuracy } = net.evaluate(test);
      net.predict(floats, 100);
      await net.save(file);
      await Network.load(file);
      rss.push(settledRssMb());
      process.stderr.write(`round ${round}/${rounds}: test accuracy ${(100 * accuracy).toFixed(2)}%, rss ${rss[rss.length - 1].toFixed(1)} MB\n`);
    }
    // RSS moves in steps of several MB as allocator arenas and GC spaces grow and shrink; a leak
    // lifts the floor. Compare the lowest sample of the first and the last quarter after warm-up.
    const settled = rss.slice(WARMUP_ROUNDS);
    const quarter = Math.max(1, Math.floor(settled.length / 4));
    const first = Math.min(...settled.slice(0, quarter));
    const last = Math.min(...settled.slice(-quarter));
    const from = (i) => WARMUP_ROUNDS + i + 1;
    console.log(
      `soak: ${rounds} rounds (${WARMUP_ROUNDS} warm-up) in ${((Date.now() - started) / 1000).toFixed(0)} s on ${net.backend.name}: ` +
        `lowest rss ${first.toFixed(1)} MB in rounds ${from(0)}-${from(quarter - 1)}, ${last.toFixed(1)} MB in rounds ${from(settled.length - quarter)}-${rounds} ` +
        `(growth ${(last - first).toFixed(1)} MB, limit ${LIMIT_MB} MB); samples ${Math.min(...settled).toFixed(1)}-${Math.max(...settled).toFixed(1)} MB`,
    );
    if (last - first > LIMIT_MB) throw new Error(`memory grows: the lowest rss rose ${(last - first).toFixed(1)} MB after warm-up`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`soak: ${error.message}`);
  process.exitCode = 1;
});
