/**
 * The sweep as operators and schedulers rely on it (issue 4): throttled
 * removals retried after their own Retry-After and never recorded without a
 * 204/404; --dry-run; drift reported, failing after two cycles, fixed with
 * --fix-drift; --force-oci-after; quarantine and stuck removals as failures;
 * one sweep per host; --concurrency / --no-batch; request --wait.
 */
import { spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import { DECISIONS_EXTENSION, REQUESTS_EXTENSION, encodeDecisions, type Decision } from '../../src/core/records.js';
import { upnOf, useHarness, type Harness } from '../support/harness.js';
import { actorContext, CapturedStream } from '../../src/actor-context.js';
import { main } from '../../src/cli/main.js';

const h = useHarness({ logins: ['alice', 'bob'] });
const ALICE = upnOf('alice');
const MALLORY = upnOf('mallory');
const CAROL = upnOf('carol');
const BREAKGLASS = upnOf('breakglass');

/** Alice holds a 2-hour grant that a provisioning cycle took to OCI, and it has just expired. */
async function expiredGrant(H: Harness): Promise<string> {
  const asked = await H.run('alice', [
    'request',
    '--hours',
    '2',
    '--justification',
    'INC-4711: rotate the DB wallet',
    '--json',
  ]);
  expect(asked.code).toBe(0);
  expect((await H.run('bob', ['approve', asked.json.id, '--yes'])).code).toBe(0);
  await H.control('provisioning/cycle');
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
  await H.advance({ hours: 2, minutes: 1 });
  return asked.json.id;
}

/**
 * The sweep host's config: the emulator's, with an OCI key declared for
 * writing (oci.access "write"), which --fix-drift and forced removals need.
 */
async function sweepHostConfig(H: Harness): Promise<string> {
  const file = path.join(H.root, 'sweep-host-config.json');
  const config = JSON.parse(await readFile(H.emu.configFile, 'utf8'));
  config.oci.access = 'write';
  // These tests are about the SCIM path (pending, stuck, forced): the sweep host's direct removal is off.
  config.oci.removeDirectly = false;
  await writeFile(file, JSON.stringify(config), { mode: 0o600 });
  return file;
}

async function sweep(H: Harness, expectedExit: number, extra: string[] = []): Promise<any> {
  const result = await H.run('cron', ['sweep', ...extra, '--json'], {
    env: { OCIACCESS_CONFIG: await sweepHostConfig(H) },
  });
  if (result.code !== expectedExit)
    throw new Error(`sweep exited ${result.code}, expected ${expectedExit}:\n${result.stdout}\n${result.stderr}`);
  return result.json.groups[0];
}

/** The batch items that removed `userId`, in the order they were answered. */
function removalAttempts(H: Harness, mark: number, userId: string) {
  return H.requestsSince(mark).flatMap((entry) =>
    (entry.batchItems ?? [])
      .filter((item) => item.method === 'DELETE' && item.url.includes(userId))
      .map((item) => ({ status: item.status, at: Date.parse(entry.at) })),
  );
}

async function auditActions(H: Harness): Promise<{ action: string; result: string; target: any }[]> {
  const text = (await H.localFiles('cron'))['audit.jsonl'] ?? '';
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

async function localState(H: Harness): Promise<any> {
  return JSON.parse((await H.localFiles('cron'))['state.json'] ?? '{}');
}

test('a removal throttled in its $batch is retried after its own Retry-After, and recorded as removed only on the 204', async () => {
  const H = h();
  await expiredGrant(H);
  await H.control('faults', {
    service: 'graph',
    method: 'DELETE',
    pathPattern: `members/${SEED.users.alice}/\\$ref`,
    status: 429,
    count: 2,
    retryAfterSeconds: 1,
  });
  const mark = H.mark();
  const report = await sweep(H, 6);
  const attempts = removalAttempts(H, mark, SEED.users.alice);
  expect(attempts.map((a) => a.status)).toEqual([429, 429, 204]);
  // Each retry waited for the Retry-After of the answer before it (a lower bound: never flaky).
  expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(1000);
  expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(1000);
  expect(report.removed).toEqual([expect.objectContaining({ upn: ALICE, reason: 'expired', outcome: 'removed' })]);
  expect(report.failed).toEqual([]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
});

test('a removal that stays throttled is not recorded as removed: exit 5, a failed audit entry, done by the next sweep', async () => {
  const H = h();
  await expiredGrant(H);
  await H.control('faults', {
    service: 'graph',
    method: 'DELETE',
    pathPattern: `members/${SEED.users.alice}/\\$ref`,
    status: 429,
    retryAfterSeconds: 0,
  });
  const mark = H.mark();
  const report = await sweep(H, 5);
  // The retry budget was spent on 429s only: no 204 or 404, so no "removed".
  expect(removalAttempts(H, mark, SEED.users.alice).every((a) => a.status === 429)).toBe(true);
  expect(report.removed).toEqual([]);
  expect(report.failed).toEqual([expect.objectContaining({ upn: ALICE, code: 'GRAPH_UNAVAILABLE' })]);
  expect(H.entraMembers()).toEqual([ALICE, BREAKGLASS]);
  const state = await localState(H);
  expect(Object.keys(state.sweep.pendingRemovals)).toEqual([]);
  expect(Object.values(state.sweep.failedRemovals)).toEqual([expect.objectContaining({ upn: ALICE, attempts: 1 })]);
  expect(await auditActions(H)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ action: 'remove', result: 'failed', target: expect.objectContaining({ upn: ALICE }) }),
    ]),
  );

  await H.control('faults', undefined, { method: 'DELETE' });
  const again = await sweep(H, 6);
  expect(again.removed).toEqual([expect.objectContaining({ upn: ALICE, outcome: 'removed' })]);
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
  expect(Object.keys((await localState(H)).sweep.failedRemovals)).toEqual([]);
});

test('--dry-run with every option prints the whole plan (removals, direct OCI removals, drift) and changes nothing', async () => {
  const H = h();
  await expiredGrant(H);
  await sweep(H, 6);
  await H.advance({ minutes: 2 });
  // Carol is added by hand in the portal, mallory by hand in the OCI console.
  await H.control(`portal/groups/${SEED.tempGroupId}/members`, { user: CAROL });
  await H.control(`oci/groups/${SEED.tempGroupName}/members`, { user: MALLORY });
  const result = await H.expectNoChange(() =>
    H.run('cron', ['sweep', '--dry-run', '--fix-drift', '--provision-now', '--force-oci-after', '1m', '--json']),
  );
  expect(result.code).toBe(0);
  const report = result.json.groups[0];
  expect(result.json.dryRun).toBe(true);
  expect(report.removed).toEqual([expect.objectContaining({ upn: CAROL, reason: 'no-grant', outcome: 'planned' })]);
  expect(report.forcedInOci).toEqual([
    expect.objectContaining({ upn: ALICE, outcome: 'planned: remove in OCI directly' }),
  ]);
  expect(report.drift).toEqual([expect.objectContaining({ userName: MALLORY, state: 'planned' })]);
  expect(report.provisionedOnDemand).toEqual([]);
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS, MALLORY]);
});

test('drift: reported (exit 6), a failure once seen for two cycles (exit 1), removed in OCI with --fix-drift (exit 0, audited)', async () => {
  const H = h();
  // Someone adds mallory to the OCI group by hand in the OCI console.
  await H.control(`oci/groups/${SEED.tempGroupName}/members`, { user: MALLORY });
  const first = await sweep(H, 6);
  expect(first.drift).toEqual([expect.objectContaining({ userName: MALLORY, state: 'reported' })]);
  expect(first.removed).toEqual([]);

  // Provisioning never exported her, so it never removes her: after two cycles the drift is a failure.
  await H.advance({ minutes: 81 });
  expect(H.ociMembers()).toContain(MALLORY);
  const later = await sweep(H, 1);
  expect(later.drift).toEqual([
    expect.objectContaining({ userName: MALLORY, state: 'stuck', firstSeenAt: first.drift[0].firstSeenAt }),
  ]);

  const text = await H.run('cron', ['sweep']);
  expect(text.stdout).toMatch(/DRIFT\s+mallory@contoso\.example/);

  const mark = H.mark();
  const fixed = await sweep(H, 0, ['--fix-drift']);
  expect(fixed.drift).toEqual([expect.objectContaining({ userName: MALLORY, state: 'removed' })]);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
  expect(H.writesSince(mark).map((w) => `${w.method} ${w.path.split('?')[0]}`)).toEqual([
    expect.stringMatching(/^PATCH \/admin\/v1\/Groups\//),
  ]);
  expect(await auditActions(H)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ action: 'fix-drift', result: 'ok', target: expect.objectContaining({ upn: MALLORY }) }),
    ]),
  );
  // Clean from now on, and the ledger forgets her.
  await sweep(H, 0);
  expect((await localState(H)).sweep.driftSeen ?? {}).toEqual({});
});

test('--force-oci-after: a removal still pending in OCI after that long is removed there directly, recorded and audited', async () => {
  const H = h();
  await expiredGrant(H);
  const first = await sweep(H, 6, ['--force-oci-after', '30m']);
  expect(first.pendingInOci).toEqual([
    expect.objectContaining({ upn: ALICE, outcome: 'removed in Entra, pending in OCI' }),
  ]);
  expect(first.forcedInOci).toEqual([]);

  // 31 minutes later (before the next cycle) OCI still has her.
  await H.advance({ minutes: 31 });
  expect(H.ociMembers()).toContain(ALICE);
  const notYet = await sweep(H, 6, ['--force-oci-after', '1h']);
  expect(notYet.forcedInOci).toEqual([]);
  const forced = await sweep(H, 0, ['--force-oci-after', '30m']);
  expect(forced.forcedInOci).toEqual([expect.objectContaining({ upn: ALICE, outcome: 'removed in OCI directly' })]);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
  expect(Object.values((await localState(H)).sweep.pendingRemovals)).toEqual([
    expect.objectContaining({ upn: ALICE, status: 'confirmed', forcedInOciAt: expect.any(String) }),
  ]);
  expect(await auditActions(H)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        action: 'force-remove-oci',
        result: 'ok',
        target: expect.objectContaining({ upn: ALICE }),
      }),
    ]),
  );
  // Nothing left pending: the next sweep is clean and writes nothing.
  const mark = H.mark();
  await sweep(H, 0);
  expect(H.writesSince(mark)).toEqual([]);
});

test('--provision-now: the removal reaches OCI within the sweep, which confirms it at once (exit 0)', async () => {
  const H = h();
  await expiredGrant(H);
  const report = await sweep(H, 0, ['--provision-now']);
  expect(report.removed).toEqual([expect.objectContaining({ upn: ALICE })]);
  expect(report.provisionedOnDemand).toEqual([ALICE]);
  expect(report.confirmedInOci).toEqual([
    expect.objectContaining({ upn: ALICE, outcome: 'gone after provision on demand' }),
  ]);
  expect(H.ociMembers()).toEqual([BREAKGLASS]);
});

test('--provision-now whose export answers 200 with result Failure: nobody is reported as provisioned, the failure is', async () => {
  const H = h();
  await expiredGrant(H);
  await H.control('provisioning/ondemand', {
    result: 'Failure',
    errorCode: 'SystemForCrossDomainIdentityManagementServiceIncompatible',
    errorMessage: 'The OCI identity domain refused the export.',
  });
  const result = await H.run('cron', ['sweep', '--provision-now', '--json'], {
    env: { OCIACCESS_CONFIG: await sweepHostConfig(H) },
  });
  const report = result.json.groups[0];
  expect(report.removed).toEqual([expect.objectContaining({ upn: ALICE })]);
  expect(report.provisionedOnDemand).toEqual([]);
  // Not exported is a warning, not a failure: the removal is pending in OCI (exit 6) and the next cycle takes it.
  expect(result.code).toBe(6);
  expect(report.notProvisionedOnDemand).toEqual([
    {
      upn: ALICE,
      result: 'Failure',
      errorCode: 'SystemForCrossDomainIdentityManagementServiceIncompatible',
      reason: 'The OCI identity domain refused the export.',
    },
  ]);
  expect(report.warnings).toEqual([
    expect.stringContaining(
      `Entra did not export ${ALICE} on demand (Failure: SystemForCrossDomainIdentityManagementServiceIncompatible: The OCI identity domain refused the export.)`,
    ),
  ]);
  expect(result.stderr).toContain(`warning: Entra did not export ${ALICE} on demand (Failure`);
  expect(report.pendingInOci).toEqual([expect.objectContaining({ upn: ALICE })]);
  expect(H.ociMembers()).toEqual([ALICE, BREAKGLASS]);
});

test('a provisioning job in quarantine, and a removal pending for more than two cycles, are failures (exit 1)', async () => {
  const H = h();
  await H.control('provisioning/quarantine', { on: true, reason: 'EncounteredQuarantineException' });
  const quarantined = await sweep(H, 1);
  expect(quarantined.problems).toEqual([expect.stringContaining('quarantine (EncounteredQuarantineException)')]);
  await H.control('provisioning/quarantine', { on: false });

  await expiredGrant(H);
  await sweep(H, 6);
  await H.control('provisioning/quarantine', { on: true });
  await H.advance({ minutes: 81 });
  const stuck = await sweep(H, 1);
  expect(stuck.stuck).toEqual([
    expect.objectContaining({
      upn: ALICE,
      outcome: expect.stringMatching(/still in OCI 8\d min after removal in Entra/),
    }),
  ]);
});

test('one sweep per host: a second sweep at the same time exits 0 saying one is running; a stale lock is taken over', async () => {
  const H = h();
  await H.control('latency', { service: 'graph', ms: 150 });
  try {
    const [a, b] = await Promise.all([H.run('cron', ['sweep', '--json']), H.run('cron', ['sweep', '--json'])]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const skipped = [a, b].filter((r) => r.json.skipped);
    const ran = [a, b].filter((r) => r.json.groups.length > 0);
    // The skipped one prints the report's shape too, so that monitors reading .outcome and .groups keep working.
    expect(skipped[0]!.json).toMatchObject({ outcome: 'skipped', groups: [] });
    expect(skipped).toHaveLength(1);
    expect(ran).toHaveLength(1);
    expect(skipped[0]!.stderr).toMatch(
      new RegExp(`A sweep is already running \\(pid \\d+ on host ${os.hostname()} since `),
    );
  } finally {
    await H.control('latency', { service: 'graph', ms: 0 });
  }
  // A lock left by a process that died is stale: the next sweep takes it over and runs.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  const lock = {
    pid: dead,
    hostname: os.hostname(),
    acquiredAt: new Date().toISOString(),
    nonce: 'left-by-a-crash',
    purpose: 'a sweep',
  };
  await writeFile(path.join(H.actor('cron').home, 'sweep.lock'), JSON.stringify(lock), { mode: 0o600 });
  const after = await H.run('cron', ['sweep', '--json']);
  expect(after.code).toBe(0);
  expect(after.json.groups.map((group: any) => group.group)).toEqual([SEED.tempGroupName, SEED.pimGroupName]);
});

test('--no-batch --concurrency 1 sends one request per item and reaches the same result; a bad --concurrency is a usage error', async () => {
  const H = h();
  await expiredGrant(H);
  const mark = H.mark();
  const report = await sweep(H, 6, ['--no-batch', '--concurrency', '1']);
  expect(report.removed).toEqual([expect.objectContaining({ upn: ALICE, outcome: 'removed' })]);
  const graph = H.requestsSince(mark).filter((e) => e.service === 'graph');
  expect(graph.some((e) => e.path.startsWith('/v1.0/$batch'))).toBe(false);
  expect(graph.filter((e) => e.method === 'DELETE').map((e) => e.path)).toEqual([
    expect.stringContaining(`/members/${SEED.users.alice}/$ref`),
  ]);

  for (const bad of ['0', '17', 'two']) {
    const result = await H.run('cron', ['sweep', '--concurrency', bad, '--json']);
    expect(result.code).toBe(2);
    expect(result.json.error.code).toBe('INVALID_CONCURRENCY');
  }
});

test('request --wait: returns once the grant is approved and OCI shows it; a denial ends the wait (exit 3)', async () => {
  const H = h();
  const waited = await H.run(
    'alice',
    ['request', '--hours', '1', '--justification', 'INC-9: quick look', '--wait', '--timeout', '1m', '--json'],
    {
      during: async (stderr) => {
        for (let i = 0; i < 500 && !stderr.text.includes('waiting for approval'); i += 1)
          await new Promise((resolve) => setTimeout(resolve, 20));
        // The cron host's sweep auto-approves it and provisions it on demand.
        const swept = await sweep(H, 0, ['--provision-now']);
        expect(swept.autoApproved).toEqual([expect.objectContaining({ upn: ALICE })]);
        expect(swept.provisionedOnDemand).toEqual([ALICE]);
      },
    },
  );
  expect(waited.code).toBe(0);
  expect(waited.json).toMatchObject({ state: 'approved', oci: { state: 'member' } });
  expect(waited.stderr).toMatch(/OCI shows alice@contoso\.example in OCI-Temp-Admins/);

  const denied = await H.run(
    'alice',
    ['request', '--hours', '2', '--justification', 'INC-10: longer look', '--wait', '--timeout', '1m', '--json'],
    {
      during: async (stderr) => {
        for (let i = 0; i < 500 && !stderr.text.includes('waiting for approval'); i += 1)
          await new Promise((resolve) => setTimeout(resolve, 20));
        const id = /request (r-[a-z0-9]+)/.exec(stderr.text)![1]!;
        expect((await H.run('bob', ['deny', id, '--reason', 'use the read-only group', '--yes'])).code).toBe(0);
      },
    },
  );
  expect(denied.code).toBe(3);
  expect(denied.json.error.code).toBe('REQUEST_DENIED');
  // The requester learns who denied it, when, and why.
  expect(denied.json.error.message).toMatch(
    /^r-[0-9a-z]{8} was not approved: it is denied by bob@contoso\.example \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \("use the read-only group"\)\.$/,
  );
});

test('approve --wait that OCI does not catch up with exits 6 (OCI_WAIT_TIMEOUT): the approval stands, only OCI is behind', async () => {
  const H = h();
  const asked = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-11: slow OCI', '--json']);
  expect(asked.code).toBe(0);
  // No provisioning cycle and no --provision-now: OCI cannot show alice before the timeout.
  const approved = await H.run('bob', ['approve', asked.json.id, '--yes', '--wait', '--timeout', '1s', '--json']);
  expect(approved.code).toBe(6);
  expect(approved.json.error.code).toBe('OCI_WAIT_TIMEOUT');
  expect(H.entraMembers()).toContain(ALICE);
  expect(H.ociMembers()).not.toContain(ALICE);
  expect((await H.run('alice', ['status', '--json'])).json.requests).toEqual([
    expect.objectContaining({ id: asked.json.id, state: 'approved' }),
  ]);
});

test('status and list show an ended grant as pending in OCI until OCI agrees, then gone (list reads each OCI group once)', async () => {
  const H = h();
  const id = await expiredGrant(H);
  await sweep(H, 6);
  const status = await H.run('alice', ['status', '--json']);
  expect(status.json.requests).toEqual([
    expect.objectContaining({ id, state: 'expired', oci: 'member', ociSync: 'pending-in-oci' }),
  ]);
  const mark = H.mark();
  const listed = await H.run('bob', ['list', '--all', '--json']);
  expect(listed.json.requests).toEqual([
    expect.objectContaining({ id, state: 'expired', oci: 'member', ociSync: 'pending-in-oci' }),
  ]);
  expect(
    H.requestsSince(mark)
      .filter((e) => e.service === 'oci')
      .map((e) => e.path.split('?')[0]!.replace(/[0-9a-f]{32}/, '{id}')),
  ).toEqual(['/admin/v1/Groups', '/admin/v1/Groups/{id}']);
  expect((await H.run('bob', ['list', '--all'])).stdout).toMatch(new RegExp(`${id}.*expired.*ended, pending in OCI`));

  await H.control('provisioning/cycle');
  const after = await H.run('bob', ['list', '--all', '--json']);
  expect(after.json.requests).toEqual([expect.objectContaining({ id, ociSync: 'gone-from-oci' })]);
  expect((await H.run('alice', ['status', '--json'])).json.requests).toEqual([
    expect.objectContaining({ id, ociSync: 'gone-from-oci' }),
  ]);
});

/** Mallory's approval (by bob) expired an hour ago; dave's is live. Both are members; neither is an eligible requester. */
function expiredAndLiveApprovals(H: Harness) {
  const world = H.emu.world;
  const now = world.now();
  const bob = world.users.get(SEED.users.bob)!;
  const approval = (requestId: string, requesterId: string, decidedAt: number, expiresAt: number): Decision => ({
    requestId,
    requesterId,
    groupId: SEED.tempGroupId,
    kind: 'approved',
    approverId: bob.id,
    decidedAt: new Date(decidedAt),
    expiresAt: new Date(expiresAt),
    hours: 2,
  });
  bob.extensions.set(DECISIONS_EXTENSION, {
    extensionName: DECISIONS_EXTENSION,
    creatorAppId: SEED.cliAppId,
    properties: encodeDecisions(
      [
        approval('r-mmmmmmmm', SEED.users.mallory, now - 3 * 3600_000, now - 3600_000),
        approval('r-dddddddd', SEED.users.dave, now - 600_000, now + 3600_000),
      ],
      new Date(now),
    ),
  });
  const group = world.groups.get(SEED.tempGroupId)!;
  group.members.add(SEED.users.mallory);
  group.members.add(SEED.users.dave);
  return world;
}

test('attack: an approval for someone who is not an eligible requester keeps nobody; it is reported (exit 1) and audited, and their record is never read', async () => {
  const H = h();
  // Bob (a configured approver) approves mallory and dave, neither of them an eligible requester of the group.
  const world = expiredAndLiveApprovals(H);

  const mark = H.mark();
  const report = await sweep(H, 1);
  expect(report.kept).toEqual([expect.objectContaining({ upn: BREAKGLASS, reason: 'standing' })]);
  expect(report.removed.map((r: any) => r.upn).sort()).toEqual([MALLORY, upnOf('dave')].sort());
  expect(H.entraMembers()).toEqual([BREAKGLASS]);
  // The live one would have kept dave: reported; mallory's expired one keeps nobody anyway.
  expect(report.untrusted).toEqual([
    expect.objectContaining({
      upn: upnOf('dave'),
      requestId: 'r-dddddddd',
      approverUpn: upnOf('bob'),
      problem: 'not-eligible',
    }),
  ]);
  expect(await auditActions(H)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        action: 'untrusted-record',
        result: 'failed',
        target: expect.objectContaining({ upn: upnOf('dave') }),
      }),
    ]),
  );
  const requestRecordsRead = H.requestsSince(mark)
    .flatMap((e) => e.batchItems ?? [])
    .filter((item) => item.url.endsWith(`/extensions/${REQUESTS_EXTENSION}`))
    .map((item) => world.userByIdOrUpn(decodeURIComponent(/\/users\/([^/]+)\//.exec(item.url)![1]!))?.id)
    .sort();
  // The eligible requesters only (auto-approval, timeouts): not dave, not mallory, not the break-glass member.
  expect(requestRecordsRead).toEqual([SEED.users.alice, SEED.users.bob, SEED.users.carol].sort());
});

test("progress: a bar redrawn in place on a terminal's stderr, quiet lines when piped; stdout holds only the report", async () => {
  const H = h();
  await expiredGrant(H);
  const cron = H.actor('cron');
  const stdout = new CapturedStream();
  const stderr = new CapturedStream({ isTTY: true });
  expect(await main(['sweep'], actorContext({ env: cron.env, stdout, stderr }))).toBe(6);
  // eslint-disable-next-line no-control-regex
  expect(stderr.text).toMatch(/\r\u001b\[K\[[#-]{24}\] OCI-Temp-Admins: removing/);
  // eslint-disable-next-line no-control-regex
  expect(stderr.text).toMatch(/\r\u001b\[K\[[#-]{24}\] OCI-Temp-Admins: checking OCI/);
  expect(stderr.text).not.toMatch(/OCI-Temp-Admins: removing 1 member\(s\)\n/);
  expect(stdout.text).not.toContain('\u001b');
  expect(stdout.text).toMatch(/outcome: pending/);

  await H.control('provisioning/cycle');
  const piped = await H.run('cron', ['sweep']);
  expect(piped.stderr).toContain('OCI-Temp-Admins: checking OCI\n');
  expect(piped.stderr).not.toContain('\r');
});
