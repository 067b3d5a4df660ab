/**
 * Notifications end to end on the emulator's webhook sink: `notify test`
 * reaches every kind of target in the shape its receiver expects (the signed
 * one with a signature that verifies), each failure mode (429 then success,
 * 5xx until the budget, no answer, a bad URL, an unreadable URL file) is
 * reported per target with exit 5, `doctor` checks the sources without
 * sending, and neither the URL's secret path nor the signing secret is ever
 * printed. The subscriber's failure path (warning + audit entry) is driven
 * with a domain event; the same through real commands waits for the core to
 * emit events (the skipped test at the end).
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CapturedStream, actorContext } from '../../src/actor-context.js';
import { createOutput } from '../../src/cli/output.js';
import { commandNotifier } from '../../src/cli/notifications.js';
import { loadConfig } from '../../src/config/load.js';
import { openAuditLog } from '../../src/store/audit-log.js';
import { SEED } from '../../src/emulator/seed.js';
import type { DomainEvent } from '../../src/core/events.js';
import { upnOf, useHarness, type Harness, type RunResult } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob', 'carol'] });
const SECRET = 'whsec-4f1d2c9e8b7a';

interface TargetSpec {
  name: string;
  kind: 'teams' | 'slack' | 'webhook';
  for: string[];
  url?: string;
  source?: 'file' | 'env';
}

/** A config like the emulator's with these notify targets; their URLs in 0600 files (or the environment). */
async function withTargets(
  H: Harness,
  specs: TargetSpec[],
): Promise<{ env: Record<string, string>; configFile: string }> {
  const config = JSON.parse(await readFile(H.emu.configFile, 'utf8'));
  const env: Record<string, string> = {};
  config.groups[0].notify = [];
  for (const spec of specs) {
    await H.control('hooks', {
      name: spec.name,
      kind: spec.kind,
      ...(spec.kind === 'webhook' ? { secret: SECRET } : {}),
    });
    const url = spec.url ?? `${H.emu.baseUrl}/_hooks/${spec.name}`;
    const target: Record<string, unknown> = { name: spec.name, kind: spec.kind, for: spec.for };
    if (spec.source === 'env') {
      env[`HOOK_${spec.name.toUpperCase()}`] = url;
      target.urlEnv = `HOOK_${spec.name.toUpperCase()}`;
    } else {
      const file = path.join(H.root, `${spec.name}.url`);
      await writeFile(file, `${url}\n`, { mode: 0o600 });
      target.urlFile = file;
    }
    if (spec.kind === 'webhook') {
      const secretFile = path.join(H.root, `${spec.name}.secret`);
      await writeFile(secretFile, SECRET, { mode: 0o600 });
      target.secretFile = secretFile;
    }
    config.groups[0].notify.push(target);
  }
  const configFile = path.join(H.root, 'notify-config.json');
  await writeFile(configFile, JSON.stringify(config, null, 2), { mode: 0o600 });
  return { env: { ...env, OCIACCESS_CONFIG: configFile, OCIACCESS_NOTIFY_BUDGET_SECONDS: '3' }, configFile };
}

const THREE: TargetSpec[] = [
  { name: 'approvers', kind: 'teams', for: ['approvers'] },
  { name: 'people', kind: 'slack', for: ['requester'], source: 'env' },
  { name: 'siem', kind: 'webhook', for: ['operators'] },
];

async function received(H: Harness, name?: string): Promise<any[]> {
  return (await H.control(`hooks/received${name ? `?name=${name}` : ''}`, undefined, { method: 'GET' })).body.received;
}

/** Neither stream holds a hook's secret path or the signing secret. */
function expectNoSecrets(result: RunResult): void {
  const printed = `${result.stdout}\n${result.stderr}`;
  expect(printed).not.toContain('/_hooks/');
  expect(printed).not.toContain(SECRET);
}

beforeEach(async () => {
  await h().control('hooks', undefined, { method: 'DELETE' });
});

test('notify test: every kind of target gets a message in the shape its receiver expects; exit 0; URLs masked', async () => {
  const H = h();
  const { env } = await withTargets(H, THREE);
  const result = await H.run('alice', ['notify', 'test', '--json'], { env });
  expect(result.code).toBe(0);
  expect(result.json.delivered).toBe(3);
  expect(result.json.results.map((r: any) => [r.target, r.kind, r.delivered, r.status, r.attempts, r.host])).toEqual([
    ['approvers', 'teams', true, 202, 1, `${H.emu.baseUrl}/…`],
    ['people', 'slack', true, 200, 1, `${H.emu.baseUrl}/…`],
    ['siem', 'webhook', true, 200, 1, `${H.emu.baseUrl}/…`],
  ]);
  const arrived = await received(H);
  expect(arrived.map((entry) => [entry.name, entry.valid, entry.problem])).toEqual(
    expect.arrayContaining([
      ['approvers', true, null],
      ['people', true, null],
      ['siem', true, null],
    ]),
  );
  const teams = arrived.find((entry) => entry.name === 'approvers')!.body;
  expect(teams.attachments[0].content.body[0].text).toBe(`ociaccess test notification for ${SEED.tempGroupName}`);
  const siem = arrived.find((entry) => entry.name === 'siem')!;
  expect(siem.headers.signature).toMatch(/^sha256=[0-9a-f]{64}$/);
  expect(siem.body).toMatchObject({
    type: 'ociaccess.notification',
    version: 1,
    id: siem.headers.delivery,
    group: { name: SEED.tempGroupName },
  });
  expectNoSecrets(result);

  const text = await H.run('alice', ['notify', 'test', '--group', SEED.tempGroupName], { env });
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^GROUP\tTARGET\tKIND\tHOST\tFOR\tRESULT\tSTATUS\tATTEMPTS\tDETAIL\n/);
  expect(text.stderr).toContain('3 test message(s) delivered.');
  expectNoSecrets(text);
});

test('notify test: 429 with Retry-After then success is delivered on the second attempt; a signature with the wrong secret is refused', async () => {
  const H = h();
  const { env } = await withTargets(H, THREE);
  await H.control('faults', {
    service: 'webhooks',
    pathPattern: '^/_hooks/approvers$',
    status: 429,
    retryAfterSeconds: 1,
    count: 1,
  });
  await H.control('hooks', { name: 'siem', kind: 'webhook', secret: 'not-the-secret' });
  const result = await H.run('alice', ['notify', 'test', '--json'], { env });
  expect(result.code).toBe(5);
  const byTarget = Object.fromEntries(result.json.results.map((r: any) => [r.target, r]));
  expect(byTarget.approvers).toMatchObject({ delivered: true, status: 202, attempts: 2 });
  expect(byTarget.siem).toMatchObject({ delivered: false, status: 401, attempts: 1 });
  expect(byTarget.siem.error).toMatch(/answered 401/);
  expect((await received(H, 'siem'))[0].problem).toBe('X-Ociaccess-Signature does not match the body');
  expectNoSecrets(result);
});

test('notify test: 5xx until the budget, no answer at all, a bad URL and an unreadable URL file each fail with a reason; exit 5; nothing secret printed', async () => {
  const H = h();
  const { env } = await withTargets(H, [
    { name: 'broken', kind: 'slack', for: ['operators'] },
    { name: 'silent', kind: 'teams', for: ['approvers'] },
    { name: 'badurl', kind: 'slack', for: ['requester'], url: 'hooks.example/services/SECRETPATH' },
    { name: 'gone', kind: 'teams', for: ['approvers'] },
  ]);
  await H.control('faults', { service: 'webhooks', pathPattern: '^/_hooks/broken$', status: 500 });
  await H.control('faults', { service: 'webhooks', pathPattern: '^/_hooks/silent$', status: 0, kind: 'timeout' });
  const config = JSON.parse(await readFile(env.OCIACCESS_CONFIG!, 'utf8'));
  config.groups[0].notify[3].urlFile = path.join(H.root, 'no-such.url');
  await writeFile(env.OCIACCESS_CONFIG!, JSON.stringify(config), { mode: 0o600 });

  const result = await H.run('alice', ['notify', 'test', '--json'], { env });
  expect(result.code).toBe(5);
  expect(result.json.failed).toBe(4);
  const byTarget = Object.fromEntries(result.json.results.map((r: any) => [r.target, r]));
  expect(byTarget.broken).toMatchObject({ delivered: false, status: 500 });
  expect(byTarget.broken.attempts).toBeGreaterThan(1);
  expect(byTarget.silent).toMatchObject({
    delivered: false,
    status: null,
    attempts: 1,
    error: 'no answer within the time budget (3 s)',
  });
  expect(byTarget.badurl).toMatchObject({ delivered: false, attempts: 0, host: '(unknown)' });
  expect(byTarget.badurl.error).toMatch(/is not an https:\/\/ URL/);
  expect(byTarget.gone).toMatchObject({ delivered: false, attempts: 0 });
  expect(byTarget.gone.error).toMatch(/no-such\.url of notify target "gone" cannot be read \(ENOENT\)/);
  expect(result.stderr).toMatch(/4 of 4 test message\(s\) were not delivered/);
  expectNoSecrets(result);
  expect(result.stdout).not.toContain('SECRETPATH');
});

test("doctor checks every target's sources without sending: pass when readable, a warning naming the source when not", async () => {
  const H = h();
  const { env } = await withTargets(H, THREE);
  const before = (await received(H)).length;
  const ok = await H.run('alice', ['doctor', '--json'], { env });
  const notifyCheck = (result: RunResult) => result.json.checks.find((c: any) => c.id === 'notify');
  expect(notifyCheck(ok)).toMatchObject({ status: 'pass', detail: expect.stringContaining('3 target(s)') });
  const missing = await H.run('alice', ['doctor', '--json'], { env: { ...env, HOOK_PEOPLE: '' } });
  expect(notifyCheck(missing)).toMatchObject({ status: 'warn', detail: expect.stringContaining('HOOK_PEOPLE') });
  expect(missing.code).toBe(ok.code); // a warning: notifications never block an action
  expect((await received(H)).length).toBe(before);
  expectNoSecrets(ok);
  expectNoSecrets(missing);
});

test('the config refuses an inline URL and a webhook without a signing secret', async () => {
  const H = h();
  const { configFile } = await withTargets(H, THREE);
  const config = JSON.parse(await readFile(configFile, 'utf8'));
  const bad = path.join(H.root, 'bad-config.json');
  config.groups[0].notify = [{ kind: 'slack', for: ['operators'], url: 'https://hooks.example/x' }];
  await writeFile(bad, JSON.stringify(config), { mode: 0o600 });
  const inline = await H.run('alice', ['notify', 'test'], { env: { OCIACCESS_CONFIG: bad } });
  expect(inline.code).toBe(2);
  expect(inline.stderr).toMatch(/url/);
  config.groups[0].notify = [{ kind: 'webhook', for: ['operators'], urlEnv: 'X' }];
  await writeFile(bad, JSON.stringify(config), { mode: 0o600 });
  const unsigned = await H.run('alice', ['notify', 'test'], { env: { OCIACCESS_CONFIG: bad } });
  expect(unsigned.code).toBe(2);
  expect(unsigned.stderr).toMatch(/secretFile and secretEnv/);
});

test('a failed event notification warns on stderr and writes a `notify` audit entry (kind and host only); the subscriber itself never throws', async () => {
  const H = h();
  const { env, configFile } = await withTargets(H, THREE);
  await H.control('faults', {
    service: 'webhooks',
    pathPattern: '^/_hooks/approvers$',
    status: 503,
    retryAfterSeconds: 1,
  });
  const stderr = new CapturedStream();
  const ctx = actorContext({
    env: { ...h().actor('bob').env, ...env, OCIACCESS_NOTIFY_BUDGET_SECONDS: '1.5' },
    stdout: new CapturedStream(),
    stderr,
  });
  const config = await loadConfig(configFile, { platform: ctx.platform, uid: ctx.uid });
  const auditLog = openAuditLog(path.join(H.root, 'notify-audit'), {
    clock: ctx.clock,
    pid: ctx.pid,
    hostname: ctx.hostname,
    platform: ctx.platform,
    uid: ctx.uid,
  });
  const notifier = commandNotifier({
    ctx,
    out: createOutput(ctx, { json: false, color: false, debug: false, quiet: false }),
    config,
    audit: (entry) => auditLog.append(entry),
  });
  const event: DomainEvent = {
    type: 'request.created',
    at: new Date().toISOString(),
    actor: { id: SEED.users.alice, upn: upnOf('alice'), kind: 'user' },
    group: { id: SEED.tempGroupId, name: SEED.tempGroupName },
    requester: { id: SEED.users.alice, upn: upnOf('alice') },
    requestId: 'r-7k2m9q3a',
    hours: 2,
    justification: 'INC-123: restart the DB node',
    ticket: 'INC-123',
    autoApprovable: false,
    approvers: [upnOf('bob')],
  };
  await expect(notifier.subscriber(event)).resolves.toBeUndefined();
  const reports = await notifier.close();
  expect(reports).toEqual([expect.objectContaining({ target: 'approvers', delivered: false, status: 503 })]);
  expect(stderr.text).toMatch(
    /warning: Notification to the teams target "approvers" \(https:\/\/127\.0\.0\.1:\d+\/…\) of group OCI-Temp-Admins failed after \d attempts?: answered 503/,
  );
  expect(stderr.text).toContain('The action itself is done');
  const entries = await auditLog.read();
  expect(entries).toEqual([
    expect.objectContaining({
      action: 'notify',
      result: 'failed',
      actor: expect.objectContaining({ upn: upnOf('alice') }),
      target: expect.objectContaining({ groupName: SEED.tempGroupName, requestId: 'r-7k2m9q3a' }),
      details: expect.objectContaining({ targetKind: 'teams', host: `${H.emu.baseUrl}/…`, about: 'request.created' }),
    }),
  ]);
  expect(JSON.stringify(entries)).not.toContain('/_hooks/');
  expect(stderr.text).not.toContain('/_hooks/');
});

// The core emits domain events and the command's services subscribe the notifier to them: `request`
// itself notifies the approvers, and a failing target changes neither its result nor its exit code.
test("request → approvers' target gets the approve command; a 503ing target leaves request's exit code 0, warns and audits", async () => {
  const H = h();
  const { env } = await withTargets(H, THREE);
  const ok = await H.run(
    'alice',
    ['request', '--hours', '2', '--justification', 'INC-123: restart the DB node', '--ticket', 'INC-123', '--json'],
    { env },
  );
  expect(ok.code).toBe(0);
  const card = (await received(H, 'approvers'))[0].body.attachments[0].content;
  expect(JSON.stringify(card)).toContain(`ociaccess approve ${ok.json.id} --requester ${upnOf('alice')}`);
  await H.control('faults', { service: 'webhooks', pathPattern: '^/_hooks/approvers$', status: 503 });
  const failing = await H.run('carol', ['request', '--hours', '1', '--justification', 'INC-124', '--json'], { env });
  expect(failing.code).toBe(0);
  expect(failing.stderr).toMatch(/Notification to the teams target "approvers" .* failed/);
  const audit = await H.run('carol', ['audit', '--raw', '--json'], { env });
  expect(
    audit.json.entries.some(
      (e: any) => e.action === 'notify' && e.result === 'failed' && e.details.targetKind === 'teams',
    ),
  ).toBe(true);
  expectNoSecrets(failing);
});
