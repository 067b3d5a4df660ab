/**
 * A provisioning job that fails, goes into quarantine and leaves it, as Entra
 * documents ("Application provisioning in quarantine status";
 * synchronizationStatus, synchronizationQuarantine): read through the real
 * Graph SDK while the virtual clock moves.
 */
import { Client } from '@microsoft/microsoft-graph-client';
import { referenceDispatcher } from '../support/reference-fetch.js';
import { generateEmulatorKeys, startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { SEED } from '../../src/emulator/seed.js';
import { issueToken } from '../../src/emulator/tokens.js';
import { nextQuarantineAttempt } from '../../src/emulator/provisioning-health.js';

const keys = generateEmulatorKeys();
const HOUR = 3_600_000;
const CYCLE_MS = 40 * 60_000;

let emu: RunningEmulator;
let dispatcher: ReturnType<typeof referenceDispatcher>;

beforeEach(async () => {
  emu = await startEmulator({ keys });
  dispatcher = referenceDispatcher(emu.caFile);
});
afterEach(async () => {
  await emu.stop();
  await dispatcher.close();
});

/** A Graph client with a token issued now: the virtual clock moves by days, past any token's lifetime. */
function graph(): Client {
  const token = issueToken(emu.world, {
    principalType: 'app',
    appId: SEED.automationAppId,
    roles: ['Synchronization.Read.All'],
  }).token;
  return Client.initWithMiddleware({
    authProvider: { getAccessToken: async () => token },
    baseUrl: emu.baseUrl,
    customHosts: new Set(['127.0.0.1']),
    fetchOptions: { dispatcher } as never,
  });
}

async function control(route: string, body: unknown = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${emu.baseUrl}/_emulator/${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    dispatcher,
  } as RequestInit);
  return { status: response.status, body: await response.json() };
}

/** The job's status as Graph shows it, after moving the virtual clock by `ms`. */
async function statusAfter(ms: number): Promise<any> {
  if (ms > 0) await control('clock/advance', { ms });
  const job = await graph()
    .api(`/servicePrincipals/${SEED.ociServicePrincipalId}/synchronization/jobs/${SEED.syncJobId}`)
    .get();
  return job.status;
}

test('the retry schedule: 6 h, 12 h and 24 h after the first failure, then every 24 h', () => {
  const began = Date.parse('2026-01-01T00:00:00Z');
  const after = (hours: number) => (nextQuarantineAttempt(began, began + hours * HOUR) - began) / HOUR;
  expect([0, 5, 6, 11, 12, 23, 24, 47, 48, 71, 72].map(after)).toEqual([6, 6, 12, 12, 24, 24, 48, 48, 72, 72, 96]);
});

test('a quarantined job retries on the growing schedule on the virtual clock and leaves quarantine after the first good retry', async () => {
  const lastGood = (await statusAfter(0)).lastSuccessfulExecution;
  const quarantined = await control('provisioning/quarantine', {
    on: true,
    reason: 'EncounteredQuarantineException',
    code: 'SystemForCrossDomainIdentityManagementCredentialValidationUnavailable',
    message: 'The secret token is invalid.',
    cycles: 3,
  });
  expect(quarantined.status).toBe(200);

  let status = await statusAfter(0);
  const began = Date.parse(status.quarantine.seriesBegan);
  /** Hours since the series began. */
  const hoursAfter = (time: string) => (Date.parse(time) - began) / HOUR;
  expect(status).toMatchObject({
    code: 'Quarantine',
    countSuccessiveCompleteFailures: 1,
    lastExecution: {
      state: 'Failed',
      error: { code: 'SystemForCrossDomainIdentityManagementCredentialValidationUnavailable' },
    },
    quarantine: {
      reason: 'EncounteredQuarantineException',
      currentBegan: status.quarantine.seriesBegan,
      seriesCount: 0,
      error: {
        code: 'SystemForCrossDomainIdentityManagementCredentialValidationUnavailable',
        message: 'The secret token is invalid.',
      },
    },
  });
  expect(hoursAfter(status.quarantine.nextAttempt)).toBe(6);
  expect(status.lastSuccessfulExecution).toEqual(lastGood);

  // No regular cycle runs in quarantine: 5 hours on, nothing was attempted.
  status = await statusAfter(5 * HOUR);
  expect(status.quarantine.seriesCount).toBe(0);

  // Each failed retry counts, and the next one is further away.
  const attempts: number[][] = [];
  for (const moveTo of [6, 12, 24]) {
    status = await statusAfter(began + moveTo * HOUR - emu.world.now());
    const q = status.quarantine;
    attempts.push([q.seriesCount, status.countSuccessiveCompleteFailures, hoursAfter(q.nextAttempt)]);
    expect(q.seriesBegan).toBe(new Date(began).toISOString());
    expect(Math.floor(hoursAfter(q.currentBegan))).toBe(moveTo);
    expect(status.lastSuccessfulExecution).toEqual(lastGood);
  }
  expect(attempts).toEqual([
    [1, 2, 12],
    [2, 3, 24],
    [3, 4, 48],
  ]);

  // The cause is gone (three attempts failed): the retry at 48 h succeeds and the job is Active again.
  status = await statusAfter(began + 48 * HOUR - emu.world.now());
  expect(status).toMatchObject({ code: 'Active', quarantine: null, countSuccessiveCompleteFailures: 0 });
  expect(status.lastExecution.state).toBe('Succeeded');
  expect(status.lastSuccessfulExecution).toEqual(status.lastExecution);
  expect(Math.floor(hoursAfter(status.lastSuccessfulExecution.timeEnded))).toBe(48);

  // Regular cycles resume, an interval apart.
  const resumed = Date.parse(status.lastSuccessfulExecution.timeEnded);
  status = await statusAfter(CYCLE_MS);
  expect(Date.parse(status.lastSuccessfulExecution.timeEnded) - resumed).toBeGreaterThanOrEqual(CYCLE_MS);
});

test('a failing job that is not quarantined: lastExecution and lastSuccessfulExecution differ, failures are counted, a success resets them', async () => {
  const answer = await control('provisioning/failure', {
    cycles: 2,
    code: 'SystemForCrossDomainIdentityManagementServiceIncompatible',
    message: 'The OCI identity domain answered 500.',
  });
  expect(answer.status).toBe(200);
  expect(answer.body.jobs[0].failure).toMatchObject({ remaining: 2 });
  const before = await statusAfter(0);

  let status = await statusAfter(CYCLE_MS);
  expect(status).toMatchObject({
    code: 'Active',
    quarantine: null,
    countSuccessiveCompleteFailures: 1,
    lastExecution: {
      state: 'Failed',
      error: {
        code: 'SystemForCrossDomainIdentityManagementServiceIncompatible',
        message: 'The OCI identity domain answered 500.',
      },
    },
  });
  expect(status.lastSuccessfulExecution).toEqual(before.lastSuccessfulExecution);
  status = await statusAfter(CYCLE_MS);
  expect(status.countSuccessiveCompleteFailures).toBe(2);
  expect(status.code).toBe('Active');

  status = await statusAfter(CYCLE_MS);
  expect(status).toMatchObject({
    code: 'Active',
    countSuccessiveCompleteFailures: 0,
    lastExecution: { state: 'Succeeded', error: null },
  });
  expect(status.lastSuccessfulExecution).toEqual(status.lastExecution);
});

test('a job that keeps failing goes into quarantine after the failures asked for; "quarantine": off clears it at once', async () => {
  await control('provisioning/failure', {
    cycles: 10,
    quarantineAfter: 2,
    reason: 'EncounteredEscrowProportionThreshold',
  });
  expect((await statusAfter(CYCLE_MS)).code).toBe('Active');
  const status = await statusAfter(CYCLE_MS);
  expect(status).toMatchObject({
    code: 'Quarantine',
    countSuccessiveCompleteFailures: 2,
    quarantine: { reason: 'EncounteredEscrowProportionThreshold', seriesCount: 0 },
  });
  expect(status.quarantine.seriesBegan).toBe(status.lastExecution.timeEnded);
  expect(Date.parse(status.quarantine.nextAttempt) - Date.parse(status.quarantine.seriesBegan)).toBe(6 * HOUR);

  await control('provisioning/quarantine', { on: false });
  expect(await statusAfter(0)).toMatchObject({ code: 'Active', quarantine: null, countSuccessiveCompleteFailures: 0 });
  expect((await statusAfter(CYCLE_MS)).lastExecution.state).toBe('Succeeded');
});

test('retries go on for 28 days after the first failure; then Entra disables the job until provisioning is restarted', async () => {
  await control('provisioning/quarantine', { on: true });
  const job = async () =>
    graph().api(`/servicePrincipals/${SEED.ociServicePrincipalId}/synchronization/jobs/${SEED.syncJobId}`).get();
  let read = await job();
  const began = Date.parse(read.status.quarantine.seriesBegan);
  const retriedAt: number[] = [];
  for (let step = 0; step < 40 && read.schedule.state === 'Active'; step += 1) {
    await control('clock/advance', { ms: Date.parse(read.status.quarantine.nextAttempt) - emu.world.now() });
    read = await job();
    retriedAt.push(Math.floor((Date.parse(read.status.quarantine.currentBegan) - began) / HOUR));
  }
  // 6, 12, 24 hours, then daily up to the 28th day: 30 retries, the last one disabling the job.
  expect(retriedAt).toEqual([6, 12, 24, ...Array.from({ length: 27 }, (_, day) => 48 + day * 24)]);
  expect(read.schedule.state).toBe('Disabled');
  expect(read.status).toMatchObject({ code: 'Quarantine', quarantine: { seriesCount: 30 } });

  // Disabled: no retry any more, whatever nextAttempt says.
  await control('clock/advance', { ms: 3 * 24 * HOUR });
  expect((await job()).status.quarantine.seriesCount).toBe(30);

  await control('provisioning/quarantine', { on: false });
  read = await job();
  expect([read.schedule.state, read.status.code, read.status.quarantine]).toEqual(['Active', 'Active', null]);
});

test('the control routes refuse what they cannot mean', async () => {
  expect((await control('provisioning/failure', { cycles: 0 })).status).toBe(400);
  expect((await control('provisioning/failure', { cycles: 1, quarantineAfter: -1 })).status).toBe(400);
  expect((await control('provisioning/failure', { cycles: 1, jobId: 'nope' })).status).toBe(400);
  expect((await control('provisioning/quarantine', { on: true, cycles: 1.5 })).status).toBe(400);
  const cleared = await control('provisioning/failure', { cycles: null });
  expect([cleared.status, cleared.body.jobs[0].failure]).toEqual([200, null]);
});
