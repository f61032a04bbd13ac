/** A box of pixels: columns x0..x1 - 1, rows y0..y1 - 1. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * Calls `visit` with the pixels of each 8-connected piece of `ink` (1 = ink, width x height), in
 * the order of each piece's first pixel (views of one buffer, each its own).
 */
export function forEachPiece(ink: Uint8Array, width: number, height: number, visit: (piece: Int32Array) => void): void {
  const seen = new Uint8Array(ink.length);
  // Breadth first: a piece is the stretch of the queue its pixels were put in.
  const queue = new Int32Array(ink.length);
  let tail = 0;
  for (let start = 0; start < ink.length; start++) {
    if (!ink[start] || seen[start]) continue;
    const first = tail;
    queue[tail++] = start;
    seen[start] = 1;
    for (let head = first; head < tail; head++) {
      const p = queue[head];
      const px = p % width;
      const py = (p - px) / width;
      for (let y = Math.max(0, py - 1); y <= Math.min(height - 1, py + 1); y++) {
        for (let x = Math.max(0, px - 1); x <= Math.min(width - 1, px + 1); x++) {
          const q = y * width + x;
          if (ink[q] && !seen[q]) {
            seen[q] = 1;
            queue[tail++] = q;
          }
        }
      }
    }
    visit(queue.subarray(first, tail));
  }
}

/** The box of `piece`'s pixels in a picture `width` wide (the piece holds one pixel at least). */
export function boxOf(piece: Int32Array, width: number): Box {
  const box = { x0: Infinity, y0: Infinity, x1: 0, y1: 0 };
  for (const p of piece) {
    const x = p % width;
    const y = (p - x) / width;
    [box.x0, box.y0, box.x1, box.y1] = [Math.min(box.x0, x), Math.min(box.y0, y), Math.max(box.x1, x + 1), Math.max(box.y1, y + 1)];
  }
  return box;
}
