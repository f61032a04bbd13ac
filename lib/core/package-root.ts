import * as fs from 'node:fs';
import * as path from 'node:path';

/** The package root: the nearest directory above this file that holds package.json (works from lib/ and dist/). */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json found above ${__dirname}`);
    dir = parent;
  }
}
