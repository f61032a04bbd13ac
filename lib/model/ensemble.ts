import { argmax } from '../core/arrays';
import { labelArray } from '../core/dataset';
import type { PixelImage } from '../image/pixels';
import type { Network, Prediction } from './network';
import { readNumber, type DigitClassifier, type NumberReading, type ReadOptions } from './read-number';

/**
 * Networks that read as one: the class probabilities of an input are the mean of theirs. Networks
 * trained alike with different seeds err on different inputs, so their mean errs less: the reader
 * preset's networks of seeds 1 and 2 together read 0.6 to 1.0 point more of bench/handwriting's
 * plain numbers exactly than either alone (the README has the figures).
 */
export class Ensemble implements DigitClassifier {
  /** The class count the networks share. */
  readonly classes: number;

  /** The networks' ensemble; they must share their class count and take the same inputs. */
  constructor(readonly nets: readonly Network[]) {
    if (!Array.isArray(nets) || nets.length === 0) throw new RangeError('Ensemble: give at least one network');
    const [first, ...others] = nets;
    others.forEach((net, k) => {
      if (net.classes !== first.classes) throw new RangeError(`Ensemble: network ${k + 2} has ${net.classes} classes, network 1 has ${first.classes}`);
      if (net.inputSize !== first.inputSize) throw new RangeError(`Ensemble: network ${k + 2} takes ${net.inputSize} inputs, network 1 takes ${first.inputSize}`);
    });
    this.classes = first.classes;
  }

  /** The mean of the networks' class probabilities for `count` inputs, and its most probable class per input. */
  predict(inputs: Float32Array, count: number): Prediction {
    const probabilities = new Float32Array(count * this.classes);
    for (const net of this.nets) {
      const own = net.predict(inputs, count).probabilities;
      for (let i = 0; i < probabilities.length; i++) probabilities[i] += own[i] / this.nets.length;
    }
    const labels = labelArray(this.classes, count);
    for (let r = 0; r < count; r++) labels[r] = argmax(probabilities, r * this.classes, this.classes);
    return { labels, probabilities };
  }

  /** Reads a number written left to right in a picture as `Network.readNumber` does, with the networks' mean probabilities. */
  readNumber(image: PixelImage, options: ReadOptions = {}): NumberReading {
    for (const net of this.nets) net.checkTakesImages('Ensemble.readNumber');
    return readNumber(this, image, options);
  }
}
