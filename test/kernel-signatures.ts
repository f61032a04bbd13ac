/**
 * Each kernel of the Backend contract with its parameters in order, as named in lib/backend/contract.ts,
 * and what each must be: shared by the validation tests and the kernel fuzzer.
 */
import type { Backend } from '../lib/backend/contract';

export type Kernel = Exclude<keyof Backend, 'name'>;
export type Kind = 'bool' | 'size' | 'num' | 'str' | 'f32' | 'u8' | 'u32';

export const SIGNATURES: Record<Kernel, [name: string, kind: Kind][]> = {
  gemm: [['transA', 'bool'], ['transB', 'bool'], ['m', 'size'], ['n', 'size'], ['k', 'size'], ['alpha', 'num'],
    ['a', 'f32'], ['lda', 'size'], ['b', 'f32'], ['ldb', 'size'], ['beta', 'num'], ['c', 'f32'], ['ldc', 'size']],
  addBias: [['rows', 'size'], ['cols', 'size'], ['x', 'f32'], ['bias', 'f32']],
  biasGrad: [['rows', 'size'], ['cols', 'size'], ['dy', 'f32'], ['db', 'f32'], ['beta', 'num']],
  activation: [['kind', 'str'], ['n', 'size'], ['x', 'f32'], ['y', 'f32'], ['slope', 'num'], ['factor', 'num']],
  activationGrad: [['kind', 'str'], ['n', 'size'], ['y', 'f32'], ['dy', 'f32'], ['dx', 'f32'], ['slope', 'num'],
    ['factor', 'num']],
  softmax: [['rows', 'size'], ['cols', 'size'], ['logits', 'f32'], ['probs', 'f32']],
  // labels may also be a Uint16Array (more than 256 classes); test/12 checks both widths.
  softmaxCrossEntropy: [['rows', 'size'], ['cols', 'size'], ['logits', 'f32'], ['labels', 'u8'], ['probs', 'f32'],
    ['dlogits', 'f32'], ['scale', 'num']],
  // key is an integer in [0, 2^32) (a 'size' with a maximum); rate a number in [0, 1).
  dropout: [['n', 'size'], ['key', 'size'], ['rate', 'num'], ['x', 'f32'], ['y', 'f32'], ['mask', 'f32']],
  multiply: [['n', 'size'], ['a', 'f32'], ['b', 'f32'], ['out', 'f32']],
  // Geometry sizes are integers >= 0, stride >= 1; maxPool2d's oh and ow have a maximum (no empty window).
  conv2d: [['n', 'size'], ['c', 'size'], ['h', 'size'], ['w', 'size'], ['f', 'size'], ['kh', 'size'], ['kw', 'size'], ['stride', 'size'],
    ['padTop', 'size'], ['padLeft', 'size'], ['oh', 'size'], ['ow', 'size'],
    ['x', 'f32'], ['weight', 'f32'], ['bias', 'f32'], ['y', 'f32']],
  conv2dBackwardData: [['n', 'size'], ['c', 'size'], ['h', 'size'], ['w', 'size'], ['f', 'size'], ['kh', 'size'], ['kw', 'size'], ['stride', 'size'],
    ['padTop', 'size'], ['padLeft', 'size'], ['oh', 'size'], ['ow', 'size'],
    ['dy', 'f32'], ['weight', 'f32'], ['dx', 'f32']],
  conv2dBackwardFilter: [['n', 'size'], ['c', 'size'], ['h', 'size'], ['w', 'size'], ['f', 'size'], ['kh', 'size'], ['kw', 'size'], ['stride', 'size'],
    ['padTop', 'size'], ['padLeft', 'size'], ['oh', 'size'], ['ow', 'size'],
    ['x', 'f32'], ['dy', 'f32'], ['dWeight', 'f32'], ['dBias', 'f32'], ['beta', 'num']],
  maxPool2d: [['n', 'size'], ['c', 'size'], ['h', 'size'], ['w', 'size'], ['size', 'size'], ['stride', 'size'], ['oh', 'size'],
    ['ow', 'size'], ['x', 'f32'], ['y', 'f32'], ['argmax', 'u32']],
  maxPool2dBackward: [['n', 'size'], ['c', 'size'], ['h', 'size'], ['w', 'size'], ['oh', 'size'], ['ow', 'size'],
    ['dy', 'f32'], ['argmax', 'u32'], ['dx', 'f32']],
  batchNormTrain: [['n', 'size'], ['c', 'size'], ['s', 'size'], ['momentum', 'num'], ['eps', 'num'], ['x', 'f32'],
    ['weight', 'f32'], ['bias', 'f32'], ['runningMean', 'f32'], ['runningVar', 'f32'], ['y', 'f32'], ['saved', 'f32']],
  batchNormInfer: [['n', 'size'], ['c', 'size'], ['s', 'size'], ['eps', 'num'], ['x', 'f32'], ['weight', 'f32'],
    ['bias', 'f32'], ['runningMean', 'f32'], ['runningVar', 'f32'], ['y', 'f32']],
  batchNormBackward: [['n', 'size'], ['c', 'size'], ['s', 'size'], ['x', 'f32'], ['dy', 'f32'], ['weight', 'f32'],
    ['saved', 'f32'], ['dx', 'f32'], ['dWeight', 'f32'], ['dBias', 'f32'], ['beta', 'num']],
  // key is an integer in [0, 2^32) (a 'size' with a maximum); alpha a finite number; blur of odd length.
  augment: [['n', 'size'], ['c', 'size'], ['h', 'size'], ['w', 'size'], ['x', 'f32'], ['y', 'f32'], ['transforms', 'f32'],
    ['key', 'size'], ['alpha', 'num'], ['blur', 'f32']],
  gatherRows: [['src', 'u8'], ['rowLen', 'size'], ['indices', 'u32'], ['offset', 'size'], ['count', 'size'],
    ['scale', 'num'], ['dst', 'f32']],
  sgdStep: [['n', 'size'], ['lr', 'num'], ['w', 'f32'], ['g', 'f32']],
  momentumStep: [['n', 'size'], ['lr', 'num'], ['mu', 'num'], ['w', 'f32'], ['g', 'f32'], ['v', 'f32']],
  adamStep: [['n', 'size'], ['lr', 'num'], ['beta1', 'num'], ['beta2', 'num'], ['eps', 'num'], ['t', 'size'],
    ['w', 'f32'], ['g', 'f32'], ['m', 'f32'], ['v', 'f32']],
  setThreads: [['n', 'size']],
  getThreads: [],
};
