import type { Shape } from '../core/shape';
import { BatchNorm, batchNormConfig, type BatchNormConfig, type BatchNormSpec } from './batchnorm';
import { Conv2d, conv2dConfig, type Conv2dConfig, type Conv2dSpec } from './conv2d';
import { Dense, denseConfig, type DenseConfig, type DenseSpec } from './dense';
import { Dropout, dropoutConfig, type DropoutConfig, type DropoutSpec } from './dropout';
import { Flatten, type FlattenConfig, type FlattenSpec } from './flatten';
import type { Layer } from './layer';
import { MaxPool2d, maxPool2dConfig, type MaxPool2dConfig, type MaxPool2dSpec } from './maxpool2d';

/** A layer as `Network.create` takes it; `{ units, activation }` without a type is dense. */
export type LayerSpec = DenseSpec | Conv2dSpec | MaxPool2dSpec | BatchNormSpec | DropoutSpec | FlattenSpec;

/** A layer's configuration with its defaults filled in, as model files store it. */
export type LayerConfig = DenseConfig | Conv2dConfig | MaxPool2dConfig | BatchNormConfig | DropoutConfig | FlattenConfig;

/** A network's architecture, as `Network.create` takes it and model files store it (`__metadata__.digitnet`). */
export interface NetworkConfig {
  /** One sample's shape: a number of features, or [channels, height, width]. */
  input: number | number[];
  layers: LayerConfig[];
}

/** Per layer type: the fields its spec may have, and how a validated spec becomes a layer. */
interface LayerType {
  fields: readonly string[];
  build(spec: never, input: Shape, index: number, isLast: boolean, where: string): Layer;
}

const TYPES: Record<string, LayerType> = {
  dense: {
    fields: ['units', 'activation', 'slope', 'factor', 'init'],
    build: (spec: DenseSpec, input, index, isLast, where) => new Dense(denseConfig(spec, isLast, where), input, index, spec.init),
  },
  conv2d: {
    fields: ['filters', 'kernel', 'stride', 'padding', 'activation', 'slope', 'init'],
    build: (spec: Conv2dSpec, input, index, _isLast, where) => new Conv2d(conv2dConfig(spec, where), input, index, spec.init, where),
  },
  maxpool2d: {
    fields: ['size', 'stride'],
    build: (spec: MaxPool2dSpec, input, index, _isLast, where) => new MaxPool2d(maxPool2dConfig(spec, where), input, index, where),
  },
  batchnorm: {
    fields: ['momentum', 'eps'],
    build: (spec: BatchNormSpec, input, index, _isLast, where) => new BatchNorm(batchNormConfig(spec, where), input, index),
  },
  dropout: {
    fields: ['rate'],
    build: (spec: DropoutSpec, input, index, _isLast, where) => new Dropout(dropoutConfig(spec, where), input, index),
  },
  flatten: {
    fields: [],
    build: (_spec: FlattenSpec, input, index) => new Flatten(input, index),
  },
};

/** The layer types `Network.create` knows. */
export const LAYER_TYPES: readonly string[] = Object.keys(TYPES);

/**
 * The layers of a network taking samples of `input`, from their specs (or the configs a model file
 * stores): each spec checked field by field, each layer's input shape the previous one's output.
 * The last layer must be dense with softmax (the loss is softmax cross-entropy). Errors name the
 * layer's index and field, after `where` (e.g. `Network.create: layers[2] (dropout): rate ...`).
 */
export function buildLayers(input: Shape, specs: unknown, where: string): Layer[] {
  if (!Array.isArray(specs) || specs.length === 0) throw new RangeError(`${where}: layers must be a non-empty array`);
  const layers: Layer[] = [];
  let shape = input;
  specs.forEach((spec: unknown, index) => {
    const at = `${where}: layers[${index}]`;
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new TypeError(`${at} must be an object such as { type: 'dense', units: 10 }, got ${JSON.stringify(spec)}`);
    const typeName = (spec as { type?: unknown }).type ?? 'dense';
    if (typeof typeName !== 'string' || !Object.hasOwn(TYPES, typeName)) {
      throw new RangeError(`${at}: unknown layer type ${JSON.stringify(typeName)} (one of ${LAYER_TYPES.join(', ')})`);
    }
    const type = TYPES[typeName];
    const named = `${at} (${typeName})`;
    for (const [field, value] of Object.entries(spec)) {
      if (field === 'type' || value === undefined || type.fields.includes(field)) continue;
      const takes = type.fields.length ? `it takes ${type.fields.join(', ')}` : 'it takes no options';
      throw new RangeError(`${named}: unknown field '${field}' (${takes})`);
    }
    const isLast = index === specs.length - 1;
    const layer = type.build(spec as never, shape, index, isLast, named);
    if (isLast && !(layer instanceof Dense)) {
      throw new RangeError(`${named}: the last layer must be dense with activation 'softmax' (the loss is softmax cross-entropy)`);
    }
    layers.push(layer);
    shape = layer.outputShape;
  });
  return layers;
}
