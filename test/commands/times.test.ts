/**
 * Times for people are written one way (src/core/time-text.ts): on a
 * terminal relative and absolute, piped and in --json absolute UTC to the
 * second, never milliseconds; doctor's checks included.
 */
import { useHarness } from '../support/harness.js';

const h = useHarness({ logins: ['bob'] });
const ISO = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ';
const RELATIVE =
  '(in \\d+[smhd]( \\d+[mh])?|\\d+[smhd]( \\d+[mh])? ago) \\((\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d UTC\\)';
const lineOf = (text: string, check: string) => text.split('\n').find((line) => line.includes(check)) ?? '';

test('doctor piped: the sign-in token and the quarantine times absolute to the second; on a terminal relative and absolute', async () => {
  const H = h();
  await H.control('provisioning/quarantine', { on: true, reason: 'EncounteredQuarantineException: token expired' });

  const piped = await H.run('bob', ['doctor']);
  expect(piped.code).toBe(0);
  expect(piped.stderr).toBe('');
  expect(lineOf(piped.stdout, '\tsign-in\t')).toMatch(new RegExp(`; token expires ${ISO}$`));
  expect(piped.stdout).not.toMatch(/\.\d{3}Z/);

  const terminal = await H.run('bob', ['doctor'], { tty: true });
  expect(terminal.code).toBe(0);
  expect(lineOf(terminal.stdout, 'signed in as')).toMatch(new RegExp(`; token expires ${RELATIVE}$`));

  const app = await H.run('cron', ['doctor', '--as', 'app']);
  expect(app.code).toBe(1);
  expect(lineOf(app.stdout, 'provisioning job')).toMatch(
    new RegExp(`in quarantine since ${ISO}: EncounteredQuarantineException: token expired; .*; next attempt ${ISO} — `),
  );
  expect(app.stdout).not.toMatch(/\.\d{3}Z/);
  const appTerminal = await H.run('cron', ['doctor', '--as', 'app'], { tty: true });
  expect(lineOf(appTerminal.stdout, 'provisioning job')).toMatch(
    new RegExp(`in quarantine since ${RELATIVE}: .*; next attempt ${RELATIVE} — `),
  );

  const json = await H.run('cron', ['doctor', '--as', 'app', '--json']);
  expect(json.code).toBe(1);
  expect(json.json.checks.find((c: { id: string }) => c.id === 'provisioning-job').detail).toMatch(
    new RegExp(`^in quarantine since ${ISO}: `),
  );
});
