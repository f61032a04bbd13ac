/**
 * Timing of repeated runs: warm-up first (JIT tiers, caches, the native thread pool), then
 * several samples, summarised as the median with the min-max spread. The machine may be shared,
 * so a single run says little; the median of several is what the tables report.
 */

/** The median of repeated measurements and their spread. */
export interface Stats {
  median: number;
  min: number;
  max: number;
  /** How many measurements the figures summarise. */
  repeats: number;
}

/** How long to warm up and how many samples to take. */
export interface TimingPlan {
  /** Seconds of calls before anything is recorded (at least one call). */
  warmupSeconds: number;
  /** Samples recorded after the warm-up. */
  repeats: number;
  /** Each sample repeats the call until it has lasted at least this long (timer resolution). */
  minSampleSeconds: number;
}

/** Median, min and max of a non-empty list. */
export function summarize(values: number[]): Stats {
  if (values.length === 0) throw new RangeError('summarize: no measurements');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], repeats: sorted.length };
}

/** Seconds per call of `fn`, one value per sample of `plan`. */
export function secondsPerCall(fn: () => void, plan: TimingPlan): number[] {
  const warmStart = performance.now();
  let warmCalls = 0;
  do {
    fn();
    warmCalls++;
  } while (performance.now() - warmStart < plan.warmupSeconds * 1000);
  // The warm-up's rate overestimates a call's time (it includes the first, slow calls): samples
  // come out somewhat shorter than planned, never longer.
  const perCallMs = (performance.now() - warmStart) / warmCalls;
  const calls = Math.max(1, Math.ceil((plan.minSampleSeconds * 1000) / perCallMs));
  const samples: number[] = [];
  for (let r = 0; r < plan.repeats; r++) {
    const start = performance.now();
    for (let i = 0; i < calls; i++) fn();
    samples.push((performance.now() - start) / 1000 / calls);
  }
  return samples;
}
