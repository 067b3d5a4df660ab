/**
 * The CA trust every SDK gets from `tls.caFile` (src/adapters/http/tls.ts):
 * the configured CA is trusted on top of the default roots, and nothing else
 * is — a server whose certificate another CA signed is refused. The trust is
 * built with public APIs only (tls.createSecureContext with `ca`), never with
 * Node's private SecureContext internals.
 */
import { jest } from '@jest/globals';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { generateTls } from '../../src/emulator/tls.js';
import { requestWhole } from '../../src/adapters/http/request.js';
import { connectionsForCaFile, defaultTrustedCertificates } from '../../src/adapters/http/tls.js';
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
  try {
    const answer = await requestWhole(`${emu.baseUrl}/_emulator/clock`, {
      connections: connectionsForCaFile(caFile, { timeoutMs: 5_000 }),
    });
    return answer.status;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return String(cause?.code ?? (error as { code?: string }).code ?? (error as Error).message);
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
  expect(() => connectionsForCaFile(path.join(dir, 'missing.pem'))).toThrow(ConfigError);
  expect(() => connectionsForCaFile(notPem)).toThrow(/holds no PEM certificate/);
});

test("no source file reaches into a SecureContext's native context (addCACert and the like)", async () => {
  const sources = (await readdir('src', { recursive: true })).filter((name) => name.endsWith('.ts'));
  const offenders = [];
  for (const name of sources)
    if (/addCACert|\.context\.add|secureContext\.context/.test(await readFile(path.join('src', name), 'utf8')))
      offenders.push(name);
  expect(sources.length).toBeGreaterThan(20);
  expect(offenders).toEqual([]);
});

test('the CA is applied with the public API: one secure context, from `ca` = the default roots plus the file, never addCACert', async () => {
  const caFile = path.join(dir, 'public-api-ca.pem');
  const pem = generateTls().caCertPem;
  await writeFile(caFile, pem);
  const created = jest.spyOn(tls, 'createSecureContext');
  try {
    // A per-origin cap of its own: a pool this test alone makes (pools are kept per trust and cap).
    const connections = connectionsForCaFile(caFile, { connectionsPerOrigin: 5 });
    expect(created).not.toHaveBeenCalled();
    connections.agentFor(new URL('https://example.invalid/'));
    connections.agentFor(new URL('https://other.invalid/'));
    expect(created).toHaveBeenCalledTimes(1);
    const ca = created.mock.calls[0]![0]!.ca as string[];
    expect(ca.at(-1)).toBe(pem);
    expect(ca.slice(0, -1)).toEqual([...defaultTrustedCertificates()]);
  } finally {
    created.mockRestore();
  }
});
