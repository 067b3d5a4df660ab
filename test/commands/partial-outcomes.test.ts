/**
 * Issue 15, "every message true", the partial outcomes: when a command made
 * its change and something after it failed, it says first what was done, then
 * each failure as a warning with its own code, completes its audit entry with
 * the problems, and exits 7. A command whose local state is unusable changes
 * nothing. Each test asserts the exit code, the first line on stderr and the
 * --json document.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import { configWith, storedRecords, upnOf, useHarness, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });
const ALICE = upnOf('alice');
const firstLine = (text: string) => text.split('\n')[0];
const lines = (text: string) => text.split('\n').filter(Boolean);

async function approvedGrant(H: Harness): Promise<string> {
  const requested = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-15: partial', '--json']);
  expect(requested.code).toBe(0);
  expect((await H.run('bob', ['approve', requested.json.id, '--yes'])).code).toBe(0);
  return requested.json.id;
}

async function auditEntries(H: Harness, who: 'alice' | 'bob'): Promise<any[]> {
  const text = await readFile(path.join(H.actor(who).home, 'audit.jsonl'), 'utf8').catch(() => '');
  return lines(text).map((line) => JSON.parse(line));
}

/** A directory where the store puts its lock: the file reads, but no update of it can be written. */
async function blockWrites(H: Harness, who: 'alice' | 'bob', file: 'state.json' | 'audit.jsonl'): Promise<void> {
  await mkdir(path.join(H.actor(who).home, `${file}.lock`), { recursive: true });
}

describe('revoke --user while OCI answers 503', () => {
  test('exit 7: "✓ removed in Entra" first, then the OCI check as a warning [OCI_CHECK_FAILED]; the audit entry is completed', async () => {
    const H = h();
    const id = await approvedGrant(H);
    await H.control('faults', { service: 'oci', status: 503 });
    const result = await H.run('bob', ['revoke', '--user', ALICE, '--reason', 'done early']);
    expect(result.code).toBe(7);
    expect(firstLine(result.stderr)).toBe(`✓ ${ALICE} removed from OCI-Temp-Admins in Entra.`);
    expect(lines(result.stderr)[1]).toMatch(
      /^warning: OCI could not be checked after the change: .*\bOCI\b.* \[OCI_CHECK_FAILED\]$/,
    );
    expect(result.stderr).not.toMatch(/^error:/m);
    expect(H.entraMembers()).toEqual([upnOf('breakglass')]);
    expect(storedRecords(H, 'bob', 'com.ociaccess.decisions').map((d) => [d.r, d.d])).toEqual([
      [id, 'a'],
      [id, 'x'],
    ]);
    const revokes = (await auditEntries(H, 'bob')).filter((entry) => entry.action === 'revoke');
    expect(revokes.map((entry) => entry.result)).toEqual(['pending', 'ok']);
    expect(revokes[1].details).toMatchObject({
      membership: 'removed',
      oci: 'check-failed',
      problems: [{ code: 'OCI_CHECK_FAILED', cause: { code: 'OCI_UNAVAILABLE' } }],
    });
    const state = JSON.parse(await readFile(path.join(H.actor('bob').home, 'state.json'), 'utf8'));
    expect(state.sweep.pendingRemovals[`${SEED.tempGroupId}:${SEED.users.alice}`]).toMatchObject({
      status: 'pending-oci',
    });
  });

  test('--json: the document says what was done, and problems names the failed check with its cause', async () => {
    const H = h();
    const id = await approvedGrant(H);
    await H.control('faults', { service: 'oci', status: 503 });
    const result = await H.run('bob', ['revoke', '--user', ALICE, '--json']);
    expect(result.code).toBe(7);
    expect(result.json).toEqual({
      user: ALICE,
      group: 'OCI-Temp-Admins',
      revokedRequests: [id],
      membership: 'removed',
      oci: 'check-failed',
      provisionError: null,
      problems: [
        {
          code: 'OCI_CHECK_FAILED',
          message: expect.stringMatching(/^OCI could not be checked after the change: /),
          hint: expect.stringContaining('ociaccess status'),
          cause: { code: 'OCI_UNAVAILABLE', message: expect.any(String) },
        },
      ],
    });
  });
});

test("a requester's own revoke without a usable OCI key: exit 7, marked revoked first, then [OCI_CHECK_FAILED] caused by CONFIG_INVALID", async () => {
  const H = h();
  const id = await approvedGrant(H);
  const config = await configWith(H, 'no-oci-key', (c) => {
    c.oci.configFile = path.join(H.root, 'no-such-oci-config');
  });
  const result = await H.run('alice', ['revoke', '--reason', 'finished'], { env: { OCIACCESS_CONFIG: config } });
  expect(result.code).toBe(7);
  expect(firstLine(result.stderr)).toBe(`✓ ${ALICE} is marked revoked in OCI-Temp-Admins in Entra.`);
  expect(result.stderr).toMatch(/^warning: OCI could not be checked after the change: .* \[OCI_CHECK_FAILED\]$/m);
  expect(result.stderr).not.toMatch(/^error:/m);
  expect(storedRecords(H, 'alice', 'com.ociaccess.requests')).toEqual([expect.objectContaining({ i: id, w: 'r' })]);
  const json = await H.run('alice', ['revoke', '--json'], { env: { OCIACCESS_CONFIG: config } });
  expect(json.code).toBe(7);
  expect(json.json.problems).toEqual([
    expect.objectContaining({ code: 'OCI_CHECK_FAILED', cause: expect.objectContaining({ code: 'CONFIG_INVALID' }) }),
  ]);
});

test('revoke whose local state and audit log cannot be written: exit 7, [STATE_NOT_WRITTEN] and [AUDIT_NOT_WRITTEN] after what was done', async () => {
  const H = h();
  await approvedGrant(H);
  await blockWrites(H, 'bob', 'state.json');
  await blockWrites(H, 'bob', 'audit.jsonl');
  const result = await H.run('bob', ['revoke', '--user', ALICE]);
  expect(result.code).toBe(7);
  expect(firstLine(result.stderr)).toBe(`✓ ${ALICE} removed from OCI-Temp-Admins in Entra.`);
  expect(lines(result.stderr).filter((line) => line.startsWith('warning:'))).toEqual([
    expect.stringMatching(
      /^warning: This machine's local state could not be written after the change: .* \[STATE_NOT_WRITTEN\]$/,
    ),
    expect.stringMatching(/^warning: The audit entry of the change could not be written: .* \[AUDIT_NOT_WRITTEN\]$/),
  ]);
  expect(H.entraMembers()).toEqual([upnOf('breakglass')]);
});

describe('request with a corrupt state file', () => {
  test('exit 1 STATE_CORRUPT, and nothing is written: no record in Entra, no audit entry', async () => {
    const H = h();
    const stateFile = path.join(H.actor('alice').home, 'state.json');
    await writeFile(stateFile, '{"version": 1, "requests": [', { mode: 0o600 });
    const mark = H.mark();
    const result = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-15: corrupt', '--json']);
    expect(result.code).toBe(1);
    expect(result.json.error.code).toBe('STATE_CORRUPT');
    expect(H.writesSince(mark)).toEqual([]);
    expect(storedRecords(H, 'alice', 'com.ociaccess.requests')).toEqual([]);
    expect(await auditEntries(H, 'alice')).toEqual([]);
  });

  test('approve and deny likewise: STATE_CORRUPT before any decision is written', async () => {
    const H = h();
    const requested = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-15: x', '--json']);
    await writeFile(path.join(H.actor('bob').home, 'state.json'), 'garbage', { mode: 0o600 });
    for (const argv of [
      ['approve', requested.json.id, '--yes'],
      ['deny', requested.json.id, '--yes', '--reason', 'no'],
    ]) {
      const mark = H.mark();
      const result = await H.run('bob', argv);
      expect(result.code).toBe(1);
      expect(firstLine(result.stderr)).toMatch(/^error: .* \[STATE_CORRUPT\]$/);
      expect(H.writesSince(mark)).toEqual([]);
    }
    expect(storedRecords(H, 'bob', 'com.ociaccess.decisions')).toEqual([]);
  });
});

test('request whose local state cannot be written after the request: exit 7, "✓ Requested" first, then [STATE_NOT_WRITTEN]; --json has the request and its problem', async () => {
  const H = h();
  await blockWrites(H, 'alice', 'state.json');
  const result = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-15: state', '--json']);
  expect(result.code).toBe(7);
  expect(firstLine(result.stderr)).toMatch(
    /^✓ Requested 2h in OCI-Temp-Admins as alice@\S+ \(request r-[0-9a-z]{8}\)\.$/,
  );
  expect(result.stderr).toMatch(
    /^warning: This machine's local state could not be written after the change: .* \[STATE_NOT_WRITTEN\]$/m,
  );
  expect(result.json).toMatchObject({ id: expect.stringMatching(/^r-/), state: 'pending' });
  expect(result.json.problems).toEqual([expect.objectContaining({ code: 'STATE_NOT_WRITTEN' })]);
  expect(storedRecords(H, 'alice', 'com.ociaccess.requests')).toEqual([expect.objectContaining({ i: result.json.id })]);
  const entries = await auditEntries(H, 'alice');
  expect(entries.at(-1)).toMatchObject({
    action: 'request',
    result: 'ok',
    details: { problems: [expect.objectContaining({ code: 'STATE_NOT_WRITTEN' })] },
  });
});

test('request, approve, deny and revoke --json without a problem: problems is []', async () => {
  const H = h();
  const first = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-15: one', '--json']);
  expect(first.json.problems).toEqual([]);
  const approved = await H.run('bob', ['approve', first.json.id, '--yes', '--json']);
  expect([approved.code, approved.json.problems]).toEqual([0, []]);
  const revoked = await H.run('bob', ['revoke', '--user', ALICE, '--json']);
  expect(revoked.json.problems).toEqual([]);
  const second = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-15: two', '--json']);
  const denied = await H.run('bob', ['deny', second.json.id, '--yes', '--reason', 'no', '--json']);
  expect([denied.code, denied.json.problems]).toEqual([0, []]);
});

test('decision times are whole seconds in the records (a revocation too), as docs/records.md says', async () => {
  const H = h();
  await approvedGrant(H);
  expect((await H.run('bob', ['revoke', '--user', ALICE])).code).toBeLessThan(7);
  const times = storedRecords(H, 'bob', 'com.ociaccess.decisions').map((d) => d.a);
  expect(times).toHaveLength(2);
  for (const time of times) expect(Number.isInteger(time)).toBe(true);
});

test('revoke with a corrupt state file still revokes (revocations go ahead): exit 7, [STATE_NOT_WRITTEN] caused by STATE_CORRUPT', async () => {
  const H = h();
  await approvedGrant(H);
  await writeFile(path.join(H.actor('bob').home, 'state.json'), 'garbage', { mode: 0o600 });
  const result = await H.run('bob', ['revoke', '--user', ALICE, '--json']);
  expect(result.code).toBe(7);
  expect(result.json).toMatchObject({ membership: 'removed' });
  expect(result.json.problems).toEqual([
    expect.objectContaining({ code: 'STATE_NOT_WRITTEN', cause: expect.objectContaining({ code: 'STATE_CORRUPT' }) }),
  ]);
  expect(H.entraMembers()).toEqual([upnOf('breakglass')]);
});

test('approve and deny whose local state cannot be written after the decision: exit 7, the decision stands and is said first, then [STATE_NOT_WRITTEN]', async () => {
  const H = h();
  const first = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-15: a', '--json']);
  await blockWrites(H, 'bob', 'state.json');
  const approved = await H.run('bob', ['approve', first.json.id, '--yes', '--json']);
  expect(approved.code).toBe(7);
  expect(approved.json).toMatchObject({ id: first.json.id, decision: 'approved', membership: 'added' });
  expect(approved.json.problems).toEqual([expect.objectContaining({ code: 'STATE_NOT_WRITTEN' })]);
  const said = lines(approved.stderr);
  expect(said.findIndex((line) => line.startsWith('✓ Approved'))).toBeLessThan(
    said.findIndex((line) => /^warning: .* \[STATE_NOT_WRITTEN\]$/.test(line)),
  );
  expect(said.findIndex((line) => line.startsWith('✓ Approved'))).toBeGreaterThanOrEqual(0);
  expect(H.entraMembers()).toContain(ALICE);
  const approveEntry = (await auditEntries(H, 'bob')).filter((entry) => entry.action === 'approve').at(-1);
  expect(approveEntry).toMatchObject({
    result: 'ok',
    details: { problems: [expect.objectContaining({ code: 'STATE_NOT_WRITTEN' })] },
  });

  const second = await H.run('alice', ['request', '--hours', '1', '--justification', 'INC-15: d', '--json']);
  const denied = await H.run('bob', ['deny', second.json.id, '--yes', '--reason', 'no', '--json']);
  expect(denied.code).toBe(7);
  expect(denied.json).toMatchObject({ decision: 'denied' });
  expect(denied.json.problems).toEqual([expect.objectContaining({ code: 'STATE_NOT_WRITTEN' })]);
  expect(lines(denied.stderr).find((line) => line.startsWith('✓'))).toBe(`✓ Denied ${second.json.id} of ${ALICE}.`);
});

test('revoke whose Entra removal fails after the revocation was recorded: exit 7, marked revoked first, then [MEMBER_NOT_REMOVED]; the next sweep removes the member', async () => {
  const H = h();
  const id = await approvedGrant(H);
  await H.control('faults', {
    service: 'graph',
    method: 'DELETE',
    pathPattern: `/groups/${SEED.tempGroupId}/members/`,
    status: 503,
    code: 'ServiceUnavailable',
    message: 'The service is unavailable.',
  });
  let result;
  try {
    result = await H.run('bob', ['revoke', '--user', ALICE, '--reason', 'done early', '--json']);
  } finally {
    await H.control('faults', undefined, { method: 'DELETE' });
  }
  expect(result.code).toBe(7);
  expect(firstLine(result.stderr)).toBe(`✓ ${ALICE} is marked revoked in OCI-Temp-Admins in Entra.`);
  expect(result.stderr).toMatch(
    /^warning: The revocation is recorded, but the member could not be removed .* \[MEMBER_NOT_REMOVED\]$/m,
  );
  expect(result.json).toMatchObject({
    revokedRequests: [id],
    membership: 'left-for-sweep',
    problems: [{ code: 'MEMBER_NOT_REMOVED', cause: { code: expect.stringMatching(/^GRAPH_/) } }],
  });
  // The revocation stands in the records, and the member is still in the group until the sweep.
  expect(storedRecords(H, 'bob', 'com.ociaccess.decisions').map((d) => [d.r, d.d])).toEqual([
    [id, 'a'],
    [id, 'x'],
  ]);
  expect(H.entraMembers()).toContain(ALICE);
  const sweep = await H.run('cron', ['sweep', '--json']);
  expect(sweep.json.groups[0].removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'revoked' })]);
  expect(H.entraMembers()).not.toContain(ALICE);
});
