/**
 * The provisioning job's four states (healthy, failing, quarantined, stopped)
 * as `doctor` and `sweep` tell them (issue 14): the exit code, the line a
 * person reads and the --json document, with the emulator's job failing or
 * quarantined the way Entra documents it.
 */
import { SEED } from '../../src/emulator/seed.js';
import { useHarness, type Harness, type RunResult } from '../support/harness.js';

const h = useHarness({ logins: ['alice'] });

const ERROR_CODE = 'SystemForCrossDomainIdentityManagementCredentialValidationUnavailable';
const ERROR_MESSAGE = 'The OCI identity domain refused the secret token (401).';
const ISO = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z`;

// Graph shows the job to a signed-in user only with an application-admin role.
beforeEach(async () => {
  await h().control(`users/${SEED.users.alice}/roles`, { add: ['Cloud Application Administrator'] });
});

function jobCheck(result: RunResult) {
  return result.json.checks.find((c: { id: string }) => c.id === 'provisioning-job');
}

async function doctor(H: Harness): Promise<{ json: RunResult; text: RunResult }> {
  const json = await H.run('alice', ['doctor', '--json']);
  const text = await H.run('alice', ['doctor']);
  return { json, text };
}

async function sweep(H: Harness): Promise<{ json: RunResult; text: RunResult }> {
  const json = await H.run('cron', ['sweep', '--json']);
  const text = await H.run('cron', ['sweep']);
  return { json, text };
}

/** The doctor table's row for the provisioning job. */
const doctorLine = (text: RunResult) => text.stdout.split('\n').find((line) => line.includes('\tprovisioning job\t'));
const problemLines = (text: RunResult) => text.stdout.split('\n').filter((line) => line.startsWith('  PROBLEM'));

test('healthy: doctor passes, the sweep is clean (exit 0) and says "healthy"', async () => {
  const H = h();
  const { json, text } = await doctor(H);
  expect(json.code).toBe(0);
  expect(jobCheck(json)).toMatchObject({
    status: 'pass',
    detail: expect.stringMatching(/^Active; last successful cycle /),
  });
  expect(doctorLine(text)).toMatch(/^pass\tprovisioning job\tActive; last successful cycle /);

  const swept = await sweep(H);
  expect(swept.json.code).toBe(0);
  expect(swept.json.json.groups[0].provisioning).toEqual({
    code: 'Active',
    state: 'healthy',
    quarantineReason: null,
    error: null,
    nextAttempt: null,
  });
  expect(swept.json.json.groups[0].problems).toEqual([]);
  expect(problemLines(swept.text)).toEqual([]);
  // Data on stdout, messages on stderr: doctor has none to say; the sweep's stderr is progress only.
  expect([json.stderr, text.stderr]).toEqual(['', '']);
  expect(swept.text.stderr).not.toMatch(/provisioning job/i);
});

test('failing, not quarantined: doctor fails (exit 1) and the sweep reports a problem (exit 1), both with the error text', async () => {
  const H = h();
  await H.control('provisioning/failure', { cycles: 5, code: ERROR_CODE, message: ERROR_MESSAGE });
  await H.advance({ minutes: 41 });

  const { json, text } = await doctor(H);
  expect(json.code).toBe(1);
  const check = jobCheck(json);
  expect(check.status).toBe('fail');
  expect(check.detail).toMatch(
    new RegExp(
      `^Active, but its last 1 cycle\\(s\\) failed: ${ERROR_CODE}: The OCI identity domain refused the secret token \\(401\\); last successful cycle ${ISO} — changes do not reach OCI$`,
    ),
  );
  expect(check.fix).toContain('Provisioning logs');
  expect(doctorLine(text)).toBe(`FAIL\tprovisioning job\t${check.detail}`);
  expect([text.code, json.stderr, text.stderr]).toEqual([1, '', '']);

  const swept = await sweep(H);
  expect(swept.json.code).toBe(1);
  const report = swept.json.json.groups[0];
  expect(report.provisioning).toEqual({
    code: 'Active',
    state: 'failing',
    quarantineReason: null,
    error: `${ERROR_CODE}: The OCI identity domain refused the secret token (401)`,
    nextAttempt: null,
  });
  expect(report.problems).toEqual([
    expect.stringMatching(
      new RegExp(
        `^The provisioning job is failing \\(1 cycle\\(s\\) in a row, last success ${ISO}\\): ${ERROR_CODE}: The OCI identity domain refused the secret token \\(401\\)\\. Removals will not reach OCI until a cycle succeeds; Entra quarantines a job that keeps failing\\.$`,
      ),
    ),
  ]);
  // Once per configured group: the seeded PIM group shares the job.
  expect(problemLines(swept.text)).toEqual([
    `  PROBLEM    ${report.problems[0]}`,
    `  PROBLEM    ${report.problems[0]}`,
  ]);
  expect(swept.text.code).toBe(1);
});

test('quarantined: doctor and the sweep name the reason, the error and the next attempt (exit 1)', async () => {
  const H = h();
  await H.control('provisioning/quarantine', {
    on: true,
    reason: 'EncounteredQuarantineException',
    code: ERROR_CODE,
    message: ERROR_MESSAGE,
  });

  const { json, text } = await doctor(H);
  expect(json.code).toBe(1);
  const check = jobCheck(json);
  expect(check.detail).toMatch(
    new RegExp(
      `^in quarantine since ${ISO}: EncounteredQuarantineException; error ${ERROR_CODE}: The OCI identity domain refused the secret token \\(401\\); next attempt ${ISO} — no change reaches OCI until a retry succeeds$`,
    ),
  );
  expect(doctorLine(text)).toBe(`FAIL\tprovisioning job\t${check.detail}`);

  const swept = await sweep(H);
  expect(swept.json.code).toBe(1);
  const report = swept.json.json.groups[0];
  const job = H.emu.world.servicePrincipals.get(SEED.ociServicePrincipalId)!.synchronizationJobs[0]!;
  expect(report.provisioning).toEqual({
    code: 'Quarantine',
    state: 'quarantined',
    quarantineReason: 'EncounteredQuarantineException',
    error: `${ERROR_CODE}: The OCI identity domain refused the secret token (401)`,
    nextAttempt: job.status.quarantine!.nextAttempt,
  });
  expect(report.problems[0]).toBe(
    `The provisioning job is in quarantine (EncounteredQuarantineException) since ${job.status.quarantine!.seriesBegan}: ` +
      `${ERROR_CODE}: The OCI identity domain refused the secret token (401); next attempt ${job.status.quarantine!.nextAttempt}. ` +
      'Removals will not reach OCI until a retry succeeds (Entra then leaves quarantine by itself) or provisioning is restarted.',
  );
  expect(problemLines(swept.text)[0]).toBe(`  PROBLEM    ${report.problems[0]}`);
});

test('stopped (Paused): doctor fails naming the state; the sweep reports a problem (exit 1)', async () => {
  const H = h();
  const job = H.emu.world.servicePrincipals.get(SEED.ociServicePrincipalId)!.synchronizationJobs[0]!;
  job.status.code = 'Paused';
  try {
    const { json, text } = await doctor(H);
    expect(json.code).toBe(1);
    expect(jobCheck(json)).toMatchObject({
      status: 'fail',
      detail: 'state Paused: changes are not provisioned to OCI',
      fix: expect.stringContaining('Start provisioning'),
    });
    expect(doctorLine(text)).toBe('FAIL\tprovisioning job\tstate Paused: changes are not provisioned to OCI');

    const swept = await sweep(H);
    expect(swept.json.code).toBe(1);
    expect(swept.json.json.groups[0].provisioning).toEqual({
      code: 'Paused',
      state: 'stopped',
      quarantineReason: null,
      error: null,
      nextAttempt: null,
    });
    const problem =
      'The provisioning job is stopped (Paused): removals will not reach OCI until provisioning is started.';
    expect(swept.json.json.groups[0].problems).toEqual([problem]);
    expect(problemLines(swept.text)).toEqual([`  PROBLEM    ${problem}`, `  PROBLEM    ${problem}`]);
  } finally {
    job.status.code = 'Active';
  }
});

test('disabled after four weeks in quarantine: doctor and the sweep say so, not "next attempt"', async () => {
  const H = h();
  await H.control('provisioning/quarantine', { on: true, code: ERROR_CODE, message: ERROR_MESSAGE });
  const job = H.emu.world.servicePrincipals.get(SEED.ociServicePrincipalId)!.synchronizationJobs[0]!;
  for (let step = 0; step < 40 && !job.disabled; step += 1)
    await H.control('clock/advance', { ms: Date.parse(job.status.quarantine!.nextAttempt) - H.emu.world.now() });
  expect(job.disabled).toBe(true);
  // The sign-in and the app's token are weeks old by now: sign in again.
  expect((await H.login('alice')).code).toBe(0);

  const { json } = await doctor(H);
  expect(json.code).toBe(1);
  expect(jobCheck(json).detail).toMatch(
    new RegExp(
      `^disabled by Entra after four weeks in quarantine \\(since ${ISO}\\): EncounteredQuarantineException; error ${ERROR_CODE}: .+ — no cycle runs until provisioning is restarted$`,
    ),
  );
  const swept = await sweep(H);
  expect(swept.json.code).toBe(1);
  expect(swept.json.json.groups[0].provisioning).toMatchObject({ code: 'Quarantine', state: 'stopped' });
  expect(swept.json.json.groups[0].problems[0]).toMatch(
    /^The provisioning job was disabled after four weeks in quarantine \(EncounteredQuarantineException\) since /,
  );
});

test('a time Graph sends that is no time is shown as it is, not a crash', async () => {
  const H = h();
  await H.control('provisioning/quarantine', { on: true, code: ERROR_CODE, message: ERROR_MESSAGE });
  const job = H.emu.world.servicePrincipals.get(SEED.ociServicePrincipalId)!.synchronizationJobs[0]!;
  job.status.quarantine!.seriesBegan = 'yesterday';
  const { json } = await doctor(H);
  expect(json.code).toBe(1);
  expect(jobCheck(json).detail).toMatch(/^in quarantine since yesterday: EncounteredQuarantineException; error /);
});
