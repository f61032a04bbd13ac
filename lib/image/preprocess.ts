import { inkMap, type Polarity } from './background';
import { greyOnPaper } from './grey';
import { findInk } from './ink';
import { placeDigit } from './place';
import { thickenStrokes } from './stroke';
import { checkPixels, type PixelImage } from './pixels';

export type { Polarity } from './background';
export type { PixelImage } from './pixels';
export { MNIST_SIDE } from './place';

/** Options of `preprocessImage`. */
export interface PreprocessOptions {
  /**
   * Which way round ink and paper are (default 'auto': detected, as the side the image departs to
   * from its local background). Force it for an image that is mostly ink.
   */
  polarity?: Polarity | 'auto';
  /** What to call the image in error messages (default 'image'; a file's path, say). */
  name?: string;
}

const POLARITIES: readonly (Polarity | 'auto')[] = ['auto', 'dark-on-light', 'light-on-dark'];

/**
 * A photo, scan or drawing of one digit as MNIST presents its digits: 28x28 values in [0, 1],
 * white ink (1) on black (0), the strokes scaled so the longer side of their box is 20 pixels,
 * the centre of mass at (14, 14) in index coordinates. `input` is `decodeImage`'s result or raw
 * pixels (RGBA, as a canvas's ImageData, or grey). The steps, each for a reason:
 *
 * 1. grey on paper (grey.ts): luma, since MNIST has no colour; transparent pixels show the
 *    paper; large images averaged down to 1024 pixels a side, more than the 20 needed.
 * 2. ink map (background.ts): the polarity, then each pixel's ink relative to a smooth estimate
 *    of the paper around it, which removes lighting gradients and shadows.
 * 3. strokes (ink.ts): Otsu's threshold on the ink map tells strokes from paper texture and JPEG
 *    noise, the printed lines of ruled and squared paper are taken out (rules.ts), specks are
 *    dropped, and the strokes keep their soft, anti-aliased values.
 * 4. stroke width (stroke.ts): strokes that would be thinner than MNIST's thinnest (a ballpoint
 *    pen's) are widened to it, since a network trained on MNIST misreads them.
 * 5. placement (place.ts): the strokes' box scaled to 20 pixels (area averaging when shrinking,
 *    bilinear when enlarging) and the centre of mass put at MNIST's, in one resampling.
 *
 * An image with no ink throws an ImageError (an all-zero input would still get a confident,
 * meaningless label from a network).
 */
export function preprocessImage(input: PixelImage, options: PreprocessOptions = {}): Float32Array {
  const source = options.name ?? 'image';
  const grey = greyOnPaper(checkPixels(input, source));
  const ink = inkMap(grey, checkedPolarity(options.polarity, 'preprocessImage'));
  const strokes = thickenStrokes(findInk(ink, grey.width, grey.height, source), grey.width, grey.height);
  return placeDigit(strokes, grey.width, grey.height);
}

/** `polarity` as an option gives it ('auto' when absent); a RangeError naming `caller` for anything else. */
export function checkedPolarity(polarity: PreprocessOptions['polarity'], caller: string): Polarity | 'auto' {
  const value = polarity ?? 'auto';
  if (!POLARITIES.includes(value)) throw new RangeError(`${caller}: polarity must be one of ${POLARITIES.map((p) => `'${p}'`).join(', ')}, got ${String(value)}`);
  return value;
}
