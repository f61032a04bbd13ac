#!/usr/bin/env node
'use strict';
// Scores models on generated handwriting sets with the digitnet CLI and prints a table.
//
//   node bench/handwriting/score.js --set /tmp/hw/digits --model dense=/tmp/hw/dense.safetensors --model cnn=/tmp/hw/cnn.safetensors
//   node bench/handwriting/score.js --set /tmp/hw/numbers --model cnn=/tmp/hw/cnn.safetensors --json
//   node bench/handwriting/score.js --set /tmp/hw/plain --model pair=/tmp/hw/reader1.safetensors+/tmp/hw/reader2.safetensors
//
// A digit set (digits.js): `digitnet predict --json` on every picture, in batches of --batch
// files a process; accuracy on the PNGs, the JPEGs and both, next to the model's MNIST test
// accuracy (`digitnet eval --json`) and the difference in points. A number set (numbers.js):
// `digitnet read --json`; the share of numbers read exactly, of readings with five digits, and of
// digits right in those; with --known-length, `digitnet read --digits` each number's length. Files
// joined by + are an ensemble, read with one --model each (number sets only). A batch the CLI fails on is split in halves until the failing pictures
// are found; they count as wrong and are listed (with --json, or the first few in the text).

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const USAGE = `usage: node bench/handwriting/score.js --set DIR [--set DIR...] --model [NAME=]FILE[+FILE...] [--model ...]
  [--batch N (300)] [--backend native|ts] [--no-eval] [--known-length] [--json] [--cli PATH (dist/cli/main.js)]`;

function parse(argv) {
  const opts = { sets: [], models: [], batch: 300, backend: null, eval: true, knownLength: false, json: false, cli: path.resolve(__dirname, '../../dist/cli/main.js') };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--set') opts.sets.push(value());
    else if (arg === '--model') {
      const v = value();
      const eq = v.indexOf('=');
      // NAME=FILE, or a plain FILE named after its base name.
      const file = eq > 0 ? v.slice(eq + 1) : v;
      opts.models.push({ name: eq > 0 ? v.slice(0, eq) : path.basename(file).replace(/\.safetensors$/, ''), file, files: file.split('+') });
    } else if (arg === '--batch') opts.batch = Number(value());
    else if (arg === '--backend') opts.backend = value();
    else if (arg === '--cli') opts.cli = path.resolve(value());
    else if (arg === '--no-eval') opts.eval = false;
    else if (arg === '--known-length') opts.knownLength = true;
    else if (arg === '--json') opts.json = true;
    else if (arg === '--help' || arg === '-h') opts.help = true;
    else throw new Error(`unknown argument '${arg}'\n${USAGE}`);
  }
  if (opts.help) return opts;
  if (opts.sets.length === 0 || opts.models.length === 0) throw new Error(`give at least one --set and one --model\n${USAGE}`);
  if (!Number.isInteger(opts.batch) || opts.batch < 1) throw new Error('--batch must be a positive integer');
  return opts;
}

/** Runs the CLI; returns { ok, json, error } (error: the last line of stderr). */
function cli(opts, args) {
  const full = [opts.cli, ...args, '--json', ...(opts.backend ? ['--backend', opts.backend] : [])];
  const run = spawnSync(process.execPath, full, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (run.error) throw run.error;
  if (run.status !== 0) {
    const lines = (run.stderr || '').trim().split('\n');
    return { ok: false, error: lines[lines.length - 1] || `exit status ${run.status}` };
  }
  try {
    return { ok: true, json: JSON.parse(run.stdout) };
  } catch (error) {
    throw new Error(`digitnet ${args[0]} printed no JSON (${error.message}): ${run.stdout.slice(0, 200)}`);
  }
}

/**
 * Runs `digitnet <command>` over `files` in batches; returns, per file, the CLI's entry for it
 * (from `field` of its JSON) or { error } when the CLI fails on that file.
 */
function runBatches(opts, command, model, files, field, extra = []) {
  const results = new Map();
  const attempt = (batch) => {
    const run = cli(opts, [command, ...model.files.flatMap((file) => ['--model', file]), ...extra, ...batch]);
    if (!run.ok) {
      if (batch.length === 1) return void results.set(batch[0], { error: run.error });
      const half = batch.length >> 1;
      attempt(batch.slice(0, half));
      attempt(batch.slice(half));
      return;
    }
    const entries = run.json[field];
    if (!Array.isArray(entries) || entries.length !== batch.length) {
      throw new Error(`digitnet ${command}: expected ${batch.length} entries in "${field}", got ${Array.isArray(entries) ? entries.length : typeof entries}`);
    }
    // Entries come in the order given; check that they name the files given.
    entries.forEach((entry, k) => {
      if (path.resolve(String(entry.input)) !== path.resolve(batch[k])) throw new Error(`digitnet ${command}: entry ${k} is for ${entry.input}, expected ${batch[k]}`);
      results.set(batch[k], entry);
    });
  };
  for (let i = 0; i < files.length; i += opts.batch) attempt(files.slice(i, i + opts.batch));
  return results;
}

const FORMATS = ['png', 'jpg'];

/** Accuracy counts for a list of { format, right, error } outcomes. */
function tally(outcomes) {
  const count = (list) => ({
    count: list.length,
    correct: list.filter((o) => o.right).length,
    errors: list.filter((o) => o.error).length,
    accuracy: list.length ? list.filter((o) => o.right).length / list.length : null,
  });
  const out = {};
  for (const f of FORMATS) out[f] = count(outcomes.filter((o) => o.format === f));
  out.all = count(outcomes);
  return out;
}

function scoreDigits(opts, dir, labels, model) {
  const pictures = labels.items.flatMap((item) => FORMATS.filter((f) => item[f]).map((f) => ({ file: path.join(dir, item[f]), format: f, label: item.label })));
  if (model.files.length > 1) throw new Error(`model ${model.name}: an ensemble reads numbers only (digitnet read); digitnet predict takes one --model`);
  const results = runBatches(opts, 'predict', model, pictures.map((p) => p.file), 'predictions');
  const outcomes = pictures.map((p) => {
    const r = results.get(p.file);
    return { ...p, predicted: r.error ? null : r.label, probability: r.error ? null : r.probabilities?.[r.label] ?? null, error: r.error ?? null, right: !r.error && r.label === p.label };
  });
  const perDigit = Array.from({ length: 10 }, (_, d) => {
    const mine = outcomes.filter((o) => o.label === d);
    return mine.length ? mine.filter((o) => o.right).length / mine.length : null;
  });
  const misses = outcomes.filter((o) => !o.right).map((o) => ({ file: path.basename(o.file), label: o.label, predicted: o.predicted, probability: o.probability, error: o.error ?? undefined }));
  return { ...tally(outcomes), perDigit, misses };
}

function scoreNumbers(opts, dir, labels, model) {
  const pictures = labels.items.flatMap((item) => FORMATS.filter((f) => item[f]).map((f) => ({ file: path.join(dir, item[f]), format: f, number: item.number })));
  // With --known-length, each picture is read with `--digits` its number's length.
  const lengths = opts.knownLength ? [...new Set(pictures.map((p) => p.number.length))] : [null];
  const results = new Map();
  for (const length of lengths) {
    const files = pictures.filter((p) => length === null || p.number.length === length).map((p) => p.file);
    for (const [file, r] of runBatches(opts, 'read', model, files, 'readings', length === null ? [] : ['--digits', String(length)])) results.set(file, r);
  }
  const outcomes = pictures.map((p) => {
    const r = results.get(p.file);
    const read = r.error ? null : String(r.number);
    const lengthOk = read !== null && read.length === p.number.length;
    const digitsRight = lengthOk ? [...read].filter((ch, k) => ch === p.number[k]).length : 0;
    return { ...p, read, error: r.error ?? null, right: read === p.number, lengthOk, digitsRight };
  });
  const counts = tally(outcomes);
  for (const f of [...FORMATS, 'all']) {
    const list = f === 'all' ? outcomes : outcomes.filter((o) => o.format === f);
    const ok = list.filter((o) => o.lengthOk);
    counts[f].lengthOk = list.length ? ok.length / list.length : null;
    counts[f].digitAccuracy = ok.length ? ok.reduce((a, o) => a + o.digitsRight, 0) / ok.reduce((a, o) => a + o.number.length, 0) : null;
  }
  const misses = outcomes.filter((o) => !o.right).map((o) => ({ file: path.basename(o.file), number: o.number, read: o.read, error: o.error ?? undefined }));
  return { ...counts, misses };
}

const pct = (x) => (x === null || x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);
const pad = (cells, widths) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => pad(r, widths)).join('\n');
}

function textReport(report) {
  const out = [];
  for (const set of report.sets) {
    out.push(`${set.kind} set ${set.dir}: ${set.count} ${set.kind} (seed ${set.seed}), ${set.models[0]?.png.count ?? 0} PNG + ${set.models[0]?.jpg.count ?? 0} JPEG pictures`);
    const head = set.kind === 'digits'
      ? [['model', 'MNIST', 'PNG', 'JPEG', 'all', 'diff (pts)', 'errors']]
      : [['model', 'MNIST', 'PNG exact', 'JPEG exact', 'all exact', '5 digits found', 'digits right', 'errors']];
    const rows = set.models.map((m) => {
      const mnist = report.mnist[m.model];
      if (set.kind === 'digits') {
        const diff = mnist === null || mnist === undefined ? '-' : (100 * (m.all.accuracy - mnist)).toFixed(2);
        return [m.model, pct(mnist), pct(m.png.accuracy), pct(m.jpg.accuracy), pct(m.all.accuracy), diff, m.all.errors];
      }
      return [m.model, pct(mnist), pct(m.png.accuracy), pct(m.jpg.accuracy), pct(m.all.accuracy), pct(m.all.lengthOk), pct(m.all.digitAccuracy), m.all.errors];
    });
    out.push(table([...head, ...rows]));
    if (set.kind === 'digits') {
      const perDigit = set.models.map((m) => [m.model, ...m.perDigit.map((a) => (a === null ? '-' : (100 * a).toFixed(1)))]);
      out.push('accuracy (%) by true digit, PNG and JPEG together:');
      out.push(table([['model', ...Array.from({ length: 10 }, (_, d) => String(d))], ...perDigit]));
    }
    for (const m of set.models) {
      const errors = m.misses.filter((x) => x.error);
      if (errors.length) out.push(`${m.model}: the CLI failed on ${errors.length} picture(s), e.g. ${errors.slice(0, 3).map((x) => `${x.file}: ${x.error}`).join('; ')}`);
      if (set.kind === 'numbers') {
        const wrong = m.misses.filter((x) => !x.error).slice(0, 5);
        if (wrong.length) out.push(`${m.model}: misread e.g. ${wrong.map((x) => `${x.file} as ${x.read}`).join(', ')}`);
      }
    }
    out.push('');
  }
  return out.join('\n');
}

function main() {
  const opts = parse(process.argv.slice(2));
  if (opts.help) return void console.log(USAGE);
  for (const m of opts.models) for (const file of m.files) if (!fs.existsSync(file)) throw new Error(`model ${m.name}: no file ${file}`);
  const mnist = {};
  for (const m of opts.models) {
    // digitnet eval takes one model: an ensemble has no MNIST figure.
    if (!opts.eval || m.files.length > 1) mnist[m.name] = null;
    else {
      const run = cli(opts, ['eval', '--model', m.file]);
      if (!run.ok) throw new Error(`digitnet eval --model ${m.file}: ${run.error}`);
      mnist[m.name] = run.json.accuracy;
    }
  }
  const sets = [];
  for (const dir of opts.sets) {
    const labelsFile = path.join(dir, 'labels.json');
    if (!fs.existsSync(labelsFile)) throw new Error(`${dir} has no labels.json: generate it with bench/handwriting/digits.js or numbers.js`);
    const labels = JSON.parse(fs.readFileSync(labelsFile, 'utf8'));
    if (labels.kind !== 'digits' && labels.kind !== 'numbers') throw new Error(`${labelsFile}: unknown kind ${labels.kind}`);
    const models = opts.models.map((m) => {
      const started = Date.now();
      const scores = labels.kind === 'digits' ? scoreDigits(opts, dir, labels, m) : scoreNumbers(opts, dir, labels, m);
      return { model: m.name, file: m.file, seconds: (Date.now() - started) / 1000, ...scores };
    });
    sets.push({ dir: path.resolve(dir), kind: labels.kind, count: labels.count, seed: labels.seed, models });
  }
  const report = { mnist, sets };
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 1)}\n`);
  else process.stdout.write(textReport(report));
}

try {
  main();
} catch (error) {
  process.stderr.write(`score.js: ${error.message}\n`);
  process.exitCode = 1;
}
