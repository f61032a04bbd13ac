import { formatShape, shapeSize, type Shape } from '../core/shape';
import type { Layer, TensorSpec } from '../layers/layer';
import type { LayerConfig } from '../layers/registry';

/** Number of values in tensors of these specs. */
export function tensorValues(specs: readonly TensorSpec[]): number {
  return specs.reduce((sum, spec) => sum + shapeSize(spec.shape), 0);
}

/**
 * A network in one line: sizes joined by dashes as the paper writes them (`784-256-128-10`), the
 * input as its value count when dense layers read it, else as channels x height x width; dropout
 * as `dropout0.2`, a convolution as `conv24k5` (24 filters of 5x5; `s2` for stride 2), pooling as
 * `pool2`, batch-norm as `bn`; flatten, which changes no value, left out.
 */
export function architectureName(input: Shape, layers: readonly Layer[]): string {
  const first = layers.find((layer) => layer.config.type !== 'flatten');
  const parts = [first?.config.type === 'dense' ? String(shapeSize(input)) : input.join('x')];
  for (const layer of layers) {
    const config = layer.config as LayerConfig;
    if (config.type === 'dense') parts.push(String(config.units));
    else if (config.type === 'dropout') parts.push(`dropout${config.rate}`);
    else if (config.type === 'conv2d') parts.push(`conv${config.filters}k${kernelName(config.kernel)}${config.stride === 1 ? '' : `s${config.stride}`}`);
    else if (config.type === 'maxpool2d') parts.push(`pool${config.size}${config.stride === config.size ? '' : `s${config.stride}`}`);
    else if (config.type === 'batchnorm') parts.push('bn');
  }
  return parts.join('-');
}

/** The table `Network.summary` prints: each layer with its output shape and parameter count, then the totals. */
export function summaryTable(input: Shape, layers: readonly Layer[]): string {
  const rows = [
    ['', 'input', formatShape(input), ''],
    ...layers.map((layer) => [String(layer.index), layer.config.type, formatShape(layer.outputShape), tensorValues(layer.params).toLocaleString('en-US')]),
  ];
  const header = ['#', 'layer', 'output shape', 'parameters'];
  const widths = header.map((title, c) => Math.max(title.length, ...rows.map((row) => row[c].length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  const params = layers.reduce((sum, layer) => sum + tensorValues(layer.params), 0);
  const buffers = layers.reduce((sum, layer) => sum + tensorValues(layer.buffers), 0);
  const totals = [`parameters: ${params.toLocaleString('en-US')} trainable`];
  if (buffers > 0) totals.push(`${buffers.toLocaleString('en-US')} values in buffers (saved, not trained)`);
  return [line(header), ...rows.map(line), totals.join('; ')].join('\n');
}

/** `5` for a 5x5 kernel, `3x5` for 3 rows by 5 columns. */
function kernelName([kh, kw]: [number, number]): string {
  return kh === kw ? String(kh) : `${kh}x${kw}`;
}
