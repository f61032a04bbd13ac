/**
 * One sample's shape: `[features]`, or `[channels, height, width]` stored channel-major (row-major
 * within a channel), as PyTorch's NCHW without the batch dimension.
 */
export type Shape = readonly number[];

/** Number of values in one sample of `shape`. */
export function shapeSize(shape: Shape): number {
  return shape.reduce((product, n) => product * n, 1);
}

/** `shape` as written in messages and summaries: `[1, 28, 28]`. */
export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Whether two shapes are the same. */
export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

/**
 * `value` as a shape: a positive integer n means `[n]`; an array must hold 1 or 3 positive
 * integers. Throws a RangeError that starts with `where` otherwise.
 */
export function toShape(value: unknown, where: string): Shape {
  const dims = typeof value === 'number' ? [value] : value;
  const valid = Array.isArray(dims) && (dims.length === 1 || dims.length === 3) && dims.every((n) => Number.isSafeInteger(n) && n > 0);
  if (!valid) {
    throw new RangeError(`${where} must be a positive integer (features) or [channels, height, width] of positive integers, got ${JSON.stringify(value)}`);
  }
  return Object.freeze([...(dims as number[])]);
}
