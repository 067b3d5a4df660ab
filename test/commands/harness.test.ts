/**
 * The command tests' guards can fail: a write or a local change inside
 * expectNoChange is caught, an unimplemented emulator route is noticed, and
 * the per-test reset really puts the tenant back as seeded.
 */
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import { SEED } from '../../src/emulator/seed.js';
import type { LoggedRequest } from '../../src/emulator/state.js';
import { isWrite, resetTenant, unimplementedRoutes, upnOf, useHarness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });

const logged = (entry: Partial<LoggedRequest>): LoggedRequest => ({
  seq: 1,
  at: '',
  service: 'graph',
  method: 'GET',
  path: '/v1.0/me',
  status: 200,
  ...entry,
});

test('writes are told from reads: $batch of GETs and OCI .search are reads, membership and record changes are writes', () => {
  expect(
    isWrite(
      logged({ method: 'POST', path: '/v1.0/$batch', batchItems: [{ method: 'GET', url: '/users/x', status: 200 }] }),
    ),
  ).toBe(false);
  expect(
    isWrite(
      logged({
        method: 'POST',
        path: '/v1.0/$batch',
        batchItems: [{ method: 'DELETE', url: '/groups/g/members/u/$ref', status: 204 }],
      }),
    ),
  ).toBe(true);
  expect(isWrite(logged({ method: 'POST', path: `/v1.0/groups/${SEED.tempGroupId}/members/$ref` }))).toBe(true);
  expect(isWrite(logged({ method: 'PATCH', path: '/v1.0/users/u/extensions/com.ociaccess.requests' }))).toBe(true);
  expect(isWrite(logged({ service: 'oci', method: 'POST', path: '/admin/v1/Users/.search' }))).toBe(false);
  expect(isWrite(logged({ service: 'oci', method: 'PATCH', path: '/admin/v1/Groups/abc' }))).toBe(true);
  expect(isWrite(logged({ service: 'control', method: 'POST', path: '/_emulator/clock/advance' }))).toBe(false);
});

test('expectNoChange fails when a command writes to Graph', async () => {
  const H = h();
  await expect(
    H.expectNoChange(() => H.run('alice', ['request', '--hours', '2', '--justification', 'INC-9: x'])),
  ).rejects.toThrow();
});

test('expectNoChange fails when only a local file changes', async () => {
  const H = h();
  await expect(
    H.expectNoChange(async () => {
      await appendFile(path.join(H.actor('bob').home, 'audit.jsonl'), '{}\n');
    }),
  ).rejects.toThrow();
});

test('a request to a route the emulator does not implement is logged as unimplemented and named', async () => {
  const H = h();
  const mark = H.mark();
  const response = await fetchWithCa(H.emu.caFile)(`${H.emu.baseUrl}/v1.0/users/${SEED.users.alice}/photo`);
  expect(response.status).toBe(501);
  expect(unimplementedRoutes(H.emu.world.requestLog, mark)).toContain(`GET /v1.0/users/${SEED.users.alice}/photo`);
  // Accept it, or this test's afterEach check would (rightly) fail it.
  expect(H.takeUnimplemented().map((e) => e.path)).toEqual([`/v1.0/users/${SEED.users.alice}/photo`]);
});

test('the per-test reset removes members, records and OCI members left by a previous test', async () => {
  const H = h();
  const seeded = await H.snapshot();
  const id = (await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-9: x', '--json'])).json.id;
  expect((await H.run('bob', ['approve', id, '--yes'])).code).toBe(0);
  await H.control('jit/signin', { user: upnOf('alice') });
  await H.control(`portal/groups/${SEED.tempGroupId}/members`, { user: upnOf('carol') });
  expect(H.entraMembers()).toEqual([upnOf('alice'), upnOf('breakglass'), upnOf('carol')]);
  resetTenant(H.emu);
  const after = await H.snapshot();
  expect({ ...after, localFiles: {} }).toEqual({ ...seeded, localFiles: {} });
  expect(H.ociMembers()).toEqual([upnOf('breakglass')]);
});
