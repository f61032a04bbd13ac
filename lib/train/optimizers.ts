import type { Backend } from '../backend/contract';

/** Gradient descent variants: `sgd` is the paper's constant-rate update, w <- w - lr * grad E (eq. 4). */
export type OptimizerSpec =
  | { name: 'sgd'; lr: number }
  | { name: 'momentum'; lr: number; momentum?: number }
  | { name: 'adam'; lr: number; beta1?: number; beta2?: number; eps?: number };

/** Learning-rate schedules: constant (the paper's), step decay per epoch, or cosine decay per step. */
export type ScheduleSpec =
  | { name: 'constant' }
  | { name: 'step'; every: number; gamma: number }
  | { name: 'cosine'; minLr?: number };

/** An optimizer over one flat parameter vector, with its state (velocity or Adam moments). */
export class Optimizer {
  /** Steps taken so far (Adam's bias correction uses it). */
  t = 0;
  /** Momentum's velocity, or Adam's first moment. */
  readonly m: Float32Array;
  /** Adam's second moment (empty otherwise). */
  readonly v: Float32Array;

  /** An optimizer for `size` parameters; throws a RangeError for a bad spec. */
  constructor(readonly spec: OptimizerSpec, size: number) {
    checkOptimizer(spec);
    this.m = new Float32Array(spec.name === 'sgd' ? 0 : size);
    this.v = new Float32Array(spec.name === 'adam' ? size : 0);
  }

  /** Restores the state of a checkpoint: step count and moments, which must match this optimizer's sizes. */
  restore(t: number, m: Float32Array, v: Float32Array): void {
    if (!Number.isInteger(t) || t < 0) throw new RangeError(`optimizer: step count must be an integer >= 0, got ${t}`);
    if (m.length !== this.m.length || v.length !== this.v.length) {
      throw new RangeError(`optimizer: state has ${m.length} + ${v.length} values, ${this.spec.name} needs ${this.m.length} + ${this.v.length}`);
    }
    this.t = t;
    this.m.set(m);
    this.v.set(v);
  }

  /** One update of `params` from `grads` at learning rate `lr`. */
  step(backend: Backend, params: Float32Array, grads: Float32Array, lr: number): void {
    this.t++;
    const spec = this.spec;
    const n = params.length;
    switch (spec.name) {
      case 'sgd':
        return backend.sgdStep(n, lr, params, grads);
      case 'momentum':
        return backend.momentumStep(n, lr, spec.momentum ?? 0.9, params, grads, this.m);
      case 'adam':
        return backend.adamStep(n, lr, spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, spec.eps ?? 1e-8, this.t, params, grads, this.m, this.v);
    }
  }
}

/** The options each optimizer takes besides `name`. */
const OPTIMIZER_OPTIONS = { sgd: ['lr'], momentum: ['lr', 'momentum'], adam: ['lr', 'beta1', 'beta2', 'eps'] } as const;

/** Validates an optimizer spec; throws a RangeError naming the bad option. */
export function checkOptimizer(spec: OptimizerSpec): void {
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`optimizer: must be an object such as { name: 'adam', lr: 1e-3 }, got ${String(spec)}`);
  if (!Object.hasOwn(OPTIMIZER_OPTIONS, spec.name)) {
    throw new RangeError(`optimizer: unknown name '${(spec as { name: string }).name}' (sgd, momentum or adam)`);
  }
  const known: readonly string[] = OPTIMIZER_OPTIONS[spec.name];
  for (const [key, value] of Object.entries(spec)) {
    if (key === 'name' || value === undefined) continue;
    if (!known.includes(key)) throw new RangeError(`optimizer: ${spec.name} has no option '${key}' (it takes ${known.join(', ')})`);
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`optimizer: ${key} must be a finite number, got ${String(value)}`);
  }
  if (!(spec.lr > 0)) throw new RangeError(`optimizer: lr must be a finite number > 0, got ${spec.lr}`);
  const unit = (key: string, value: number | undefined) => {
    if (value !== undefined && !(value >= 0 && value < 1)) throw new RangeError(`optimizer: ${key} must be in [0, 1), got ${value}`);
  };
  if (spec.name === 'momentum') unit('momentum', spec.momentum);
  if (spec.name === 'adam') {
    unit('beta1', spec.beta1);
    unit('beta2', spec.beta2);
    if (spec.eps !== undefined && !(spec.eps > 0)) throw new RangeError(`optimizer: eps must be > 0, got ${spec.eps}`);
  }
}

/** Validates a schedule spec; throws a RangeError naming the bad field. */
export function checkSchedule(schedule: ScheduleSpec): void {
  if (schedule.name === 'step') {
    if (!Number.isInteger(schedule.every) || schedule.every < 1) throw new RangeError(`schedule: every must be an integer >= 1, got ${schedule.every}`);
    if (!(schedule.gamma > 0 && schedule.gamma <= 1)) throw new RangeError(`schedule: gamma must be in (0, 1], got ${schedule.gamma}`);
  } else if (schedule.name === 'cosine') {
    if (schedule.minLr !== undefined && !(schedule.minLr >= 0 && Number.isFinite(schedule.minLr))) throw new RangeError(`schedule: minLr must be a finite number >= 0, got ${schedule.minLr}`);
  } else if (schedule.name !== 'constant') {
    throw new RangeError(`schedule: unknown name '${(schedule as { name: string }).name}' (constant, step or cosine)`);
  }
}

/** The learning rate at optimizer step `step` (0-based) of `totalSteps`, in epoch `epoch` (0-based). */
export function scheduledRate(lr: number, schedule: ScheduleSpec, epoch: number, step: number, totalSteps: number): number {
  switch (schedule.name) {
    case 'constant':
      return lr;
    case 'step':
      return lr * Math.pow(schedule.gamma, Math.floor(epoch / schedule.every));
    case 'cosine': {
      const min = schedule.minLr ?? 0;
      return min + (lr - min) * 0.5 * (1 + Math.cos((Math.PI * step) / Math.max(1, totalSteps)));
    }
  }
}
