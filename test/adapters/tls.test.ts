/**
 * The CA trust every SDK gets from `tls.caFile` (src/adapters/http/tls.ts):
 * the configured CA is trusted on top of the default roots, and nothing else
 * is — a server whose certificate another CA signed is refused.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { generateTls } from '../../src/emulator/tls.js';
import { dispatcherForCaFile } from '../../src/adapters/http/tls.js';
import { ConfigError } from '../../src/errors.js';

let emu: RunningEmulator;
let dir: string;

beforeAll(async () => {
  emu = await startEmulator();
  dir = await mkdtemp(path.join(os.tmpdir(), 'ociaccess-tls-'));
});

afterAll(async () => {
  await emu?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The answer's status, or the code of the error that stopped the request. */
async function reach(caFile: string | undefined): Promise<number | string> {
  const dispatcher = dispatcherForCaFile(caFile, { timeoutMs: 5_000 })!;
  try {
    const answer = await request(`${emu.baseUrl}/_emulator/clock`, { dispatcher });
    await answer.body.dump();
    return answer.statusCode;
  } catch (error) {
    return String((error as { code?: string }).code ?? (error as Error).message);
  }
}

test('the configured CA is trusted: the emulator, whose certificate it signed, answers', async () => {
  expect(await reach(emu.caFile)).toBe(200);
});

test('another CA is not: the same server is refused with a certificate error', async () => {
  const otherCa = path.join(dir, 'other-ca.pem');
  await writeFile(otherCa, generateTls().caCertPem);
  expect(await reach(otherCa)).toMatch(/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/);
});

test('no CA file: only the default roots, which do not include the emulator', async () => {
  expect(await reach(undefined)).toMatch(/CERT|SELF_SIGNED|UNABLE_TO_VERIFY/);
});

test('a CA file that is missing or holds no certificate is a config error naming the file', async () => {
  const notPem = path.join(dir, 'not-a-cert.pem');
  await writeFile(notPem, 'hello');
  expect(() => dispatcherForCaFile(path.join(dir, 'missing.pem'))).toThrow(ConfigError);
  expect(() => dispatcherForCaFile(notPem)).toThrow(/holds no PEM certificate/);
});
