/**
 * `audit` shows one row per action with its final state (an action's
 * "pending" entry and its outcome folded into one), and the reason for
 * `revoke` and `force-remove-oci`; `--raw` keeps one row per entry.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import { ociSchema } from '../../src/config/schema.js';
import { upnOf, useHarness, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });
const ALICE = upnOf('alice');
const BOB = upnOf('bob');
const ISO_SECONDS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

async function approvedRequest(H: Harness): Promise<string> {
  const asked = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-4711: rotate', '--json']);
  expect(asked.code).toBe(0);
  expect((await H.run('bob', ['approve', asked.json.id, '--reason', 'on call', '--yes'])).code).toBe(0);
  return asked.json.id;
}

test('approve then revoke: two actions (each pending → ok folded), the revoke with its reason; --raw keeps the four entries', async () => {
  const H = h();
  const id = await approvedRequest(H);
  expect((await H.run('bob', ['revoke', '--user', ALICE, '--reason', 'done early'])).code).toBe(0);

  const json = await H.run('bob', ['audit', '--json']);
  expect(json.code).toBe(0);
  expect(json.stderr).toBe('');
  expect(json.json.actions).toEqual([
    expect.objectContaining({
      seqs: [1, 2],
      action: 'approve',
      state: 'ok',
      reason: 'on call',
      actor: expect.objectContaining({ upn: BOB }),
      target: expect.objectContaining({ upn: ALICE, requestId: id, groupName: SEED.tempGroupName }),
      details: expect.objectContaining({ membership: 'added' }),
    }),
    expect.objectContaining({
      seqs: [3, 4],
      action: 'revoke',
      state: 'ok',
      reason: 'done early',
      details: expect.objectContaining({ requests: [id], membership: 'removed' }),
    }),
  ]);

  const piped = await H.run('bob', ['audit']);
  expect(piped.code).toBe(0);
  const rows = piped.stdout
    .trimEnd()
    .split('\n')
    .map((line) => line.split('\t'));
  expect(rows[0]).toEqual(['AT', 'ACTOR', 'ACTION', 'TARGET', 'STATE', 'REASON']);
  expect(rows.slice(1).map((row) => row.slice(1))).toEqual([
    [BOB, 'approve', `${ALICE} ${SEED.tempGroupName} ${id}`, 'ok', 'on call'],
    [BOB, 'revoke', `${ALICE} ${SEED.tempGroupName}`, 'ok', 'done early'],
  ]);
  expect(rows.slice(1).every((row) => ISO_SECONDS.test(row[0]!))).toBe(true);

  const raw = await H.run('bob', ['audit', '--raw', '--json']);
  expect(raw.code).toBe(0);
  expect(raw.json.entries.map((e: any) => [e.seq, e.action, e.result])).toEqual([
    [1, 'approve', 'pending'],
    [2, 'approve', 'ok'],
    [3, 'revoke', 'pending'],
    [4, 'revoke', 'ok'],
  ]);
  const rawText = await H.run('bob', ['audit', '--raw']);
  expect(rawText.stdout.split('\n')[0]).toBe('SEQ\tAT\tACTOR\tACTION\tTARGET\tRESULT\tREASON');
  expect(rawText.stdout.trimEnd().split('\n')).toHaveLength(5);
});

test('a forced OCI removal: its row says why (still in OCI that long after the removal in Entra)', async () => {
  const H = h();
  await approvedRequest(H);
  await H.control('provisioning/cycle');
  await H.advance({ hours: 2, minutes: 1 });
  const config = path.join(H.root, 'sweep-host.json');
  const content = JSON.parse(await readFile(H.emu.configFile, 'utf8'));
  content.oci.access = 'write';
  // This is about the forced removal after the SCIM path: where the program removes in OCI directly
  // (oci.removeDirectly), that is turned off, as the sweep tests of the SCIM path do.
  if ('removeDirectly' in ociSchema.shape) content.oci.removeDirectly = false;
  await writeFile(config, JSON.stringify(content), { mode: 0o600 });
  const env = { OCIACCESS_CONFIG: config };
  expect((await H.run('cron', ['sweep', '--json'], { env })).code).toBe(6);
  await H.advance({ minutes: 31 });
  expect((await H.run('cron', ['sweep', '--force-oci-after', '30m', '--json'], { env })).code).toBe(0);

  const json = await H.run('cron', ['audit', '--json'], { env });
  expect(json.code).toBe(0);
  expect(json.json.actions.find((a: any) => a.action === 'force-remove-oci')).toEqual(
    expect.objectContaining({
      state: 'ok',
      reason: 'still in OCI 31 minutes after the removal in Entra (sweep.forceOciAfterMinutes)',
      target: expect.objectContaining({ upn: ALICE }),
    }),
  );
  const piped = await H.run('cron', ['audit'], { env });
  expect(piped.stdout).toMatch(
    new RegExp(
      `\\tforce-remove-oci\\t${ALICE.replace('.', '\\.')} ${SEED.tempGroupName}\\tok\\tstill in OCI 31 minutes`,
    ),
  );
});
