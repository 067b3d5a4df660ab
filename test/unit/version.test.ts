import { readFileSync } from 'node:fs';
import { VERSION } from '../../src/version.js';

test('src/version.ts matches package.json (the fast --version path reads it)', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  expect(VERSION).toBe(pkg.version);
});
