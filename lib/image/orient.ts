import type { RgbaImage } from './pixels';

/**
 * The RGBA pixels turned upright as EXIF orientation `orientation` says (1: as stored; 2-4:
 * mirrored and/or turned 180 degrees; 5-8: transposed, turned 90 degrees either way, width and
 * height swapped), for a digit written on a page photographed sideways to read as written.
 */
export function orientImage(image: RgbaImage, orientation: number): RgbaImage {
  if (orientation === 1) return image;
  const { width: W, height: H, data } = image;
  const swap = orientation >= 5;
  const [width, height] = swap ? [H, W] : [W, H];
  // Where output pixel (x, y) comes from in the stored image.
  type Source = (x: number, y: number) => [number, number];
  const sources: Source[] = [
    (x, y) => [x, y],
    (x, y) => [W - 1 - x, y],
    (x, y) => [W - 1 - x, H - 1 - y],
    (x, y) => [x, H - 1 - y],
    (x, y) => [y, x],
    (x, y) => [y, H - 1 - x],
    (x, y) => [W - 1 - y, H - 1 - x],
    (x, y) => [W - 1 - y, x],
  ];
  const source = sources[orientation - 1];
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [sx, sy] = source(x, y);
      out.set(data.subarray(4 * (sy * W + sx), 4 * (sy * W + sx) + 4), 4 * (y * width + x));
    }
  }
  return { width, height, data: out };
}
