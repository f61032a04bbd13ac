import { promises as fs } from 'fs';
import * as path from 'path';
import { getBackend } from '../backend';
import type { Backend } from '../backend/contract';
import { looksLikeImage } from '../image/decode';
import { writeInputPng } from '../image/png-write';
import type { Polarity } from '../image/preprocess';
import { Network } from '../model/network';
import { choiceOption, stringOption, UsageError, type Values } from './options';

/** What predict and read share: the models on their backend, the --polarity and the --save-input folder. */
export interface PictureSetup {
  /** The --model files, in order (read takes several: an ensemble). */
  models: string[];
  nets: Network[];
  backend: Backend;
  polarity: Polarity | 'auto' | undefined;
  saver: InputSaver | undefined;
}

/** Checks --model and the inputs of `command`, loads the models, prepares --save-input. */
export async function pictureSetup(command: string, values: Values, inputs: string[], what: string): Promise<PictureSetup> {
  const given = values.model;
  const models = (Array.isArray(given) ? given : typeof given === 'string' ? [given] : []).filter((model) => model !== '');
  if (models.length === 0) throw new UsageError(`digitnet ${command}: --model FILE is required (see digitnet ${command} --help)`);
  if (inputs.length === 0) throw new UsageError(`digitnet ${command}: give at least one ${what} (see digitnet ${command} --help)`);
  const polarity = choiceOption(values, 'polarity', ['auto', 'dark-on-light', 'light-on-dark'] as const);
  const backend = getBackend(choiceOption(values, 'backend', ['native', 'ts'] as const));
  const nets: Network[] = [];
  for (const model of models) nets.push(await Network.load(model, { backend }));
  const saveDir = stringOption(values, 'save-input');
  return { models, nets, backend, polarity, saver: saveDir === undefined ? undefined : await InputSaver.into(saveDir) };
}

/** Whether the file at `file` is a PNG or JPEG picture (by its first bytes); false when it cannot be read (the reader then says why). */
export async function isPictureFile(file: string): Promise<boolean> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const head = new Uint8Array(8);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return looksLikeImage(head.subarray(0, bytesRead));
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

/** Writes the 28x28 inputs a network saw as PNGs into one folder, each under a name of its own. */
export class InputSaver {
  private readonly used = new Set<string>();

  private constructor(private readonly dir: string) {}

  /** A saver into `dir`, created if missing. */
  static async into(dir: string): Promise<InputSaver> {
    await fs.mkdir(dir, { recursive: true });
    return new InputSaver(dir);
  }

  /** Saves `input` as `<name>.png` (`<name>-2.png` ... when taken in this run); returns its path. */
  async save(name: string, input: Float32Array): Promise<string> {
    let file = `${name}.png`;
    for (let n = 2; this.used.has(file); n++) file = `${name}-${n}.png`;
    this.used.add(file);
    const target = path.join(this.dir, file);
    await writeInputPng(target, input);
    return target;
  }
}

/** A file's name without its folder and extension: what its saved input is named after. */
export function stem(file: string): string {
  return path.basename(file, path.extname(file));
}
