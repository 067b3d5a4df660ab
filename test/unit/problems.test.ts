/** Exit 7's problems: built from the failure behind them, rendered in one place. */
import { exitCodeWith, problemsJson, warnProblems } from '../../src/cli/problems.js';
import type { Output } from '../../src/cli/output.js';
import { ExitCode, UpstreamError, problemOf } from '../../src/errors.js';

function recordingOutput(): { out: Output; lines: string[] } {
  const lines: string[] = [];
  const out = {
    warn: (text: string) => lines.push(`warning: ${text}`),
    info: (text: string) => lines.push(text),
  } as unknown as Output;
  return { out, lines };
}

test("a problem carries its cause's code and message, and says which step failed", () => {
  const cause = new UpstreamError('OCI_UNAVAILABLE', 'The OCI identity domain did not answer (503).');
  expect(problemOf('OCI_CHECK_FAILED', cause)).toEqual({
    code: 'OCI_CHECK_FAILED',
    message: 'OCI could not be checked after the change: The OCI identity domain did not answer (503).',
    hint: expect.stringContaining('ociaccess status'),
    cause: { code: 'OCI_UNAVAILABLE', message: 'The OCI identity domain did not answer (503).' },
  });
});

test('a failure without a code of ours is UNEXPECTED, with its message', () => {
  expect(problemOf('STATE_NOT_WRITTEN', new Error('EISDIR: illegal operation on a directory')).cause).toEqual({
    code: 'UNEXPECTED',
    message: 'EISDIR: illegal operation on a directory',
  });
  expect(problemOf('AUDIT_NOT_WRITTEN', 'disk full').cause).toEqual({ code: 'UNEXPECTED', message: 'disk full' });
});

test('each problem is a warning line ending in its code, followed by its hint', () => {
  const { out, lines } = recordingOutput();
  const problems = [
    problemOf('STATE_NOT_WRITTEN', new Error('disk full')),
    problemOf('AUDIT_NOT_WRITTEN', new Error('locked')),
  ];
  warnProblems(out, problems);
  expect(lines).toEqual([
    "warning: This machine's local state could not be written after the change: disk full [STATE_NOT_WRITTEN]",
    `hint: ${problems[0]!.hint}`,
    'warning: The audit entry of the change could not be written: locked [AUDIT_NOT_WRITTEN]',
    `hint: ${problems[1]!.hint}`,
  ]);
  expect(problemsJson(problems).map((p) => Object.keys(p))).toEqual([
    ['code', 'message', 'hint', 'cause'],
    ['code', 'message', 'hint', 'cause'],
  ]);
});

test('exit 7 whenever there is a problem (over "pending in OCI"), else the outcome the command had', () => {
  const one = [problemOf('OCI_CHECK_FAILED', new Error('x'))];
  expect(exitCodeWith(one)).toBe(ExitCode.doneWithProblems);
  expect(exitCodeWith(one, ExitCode.pendingInOci)).toBe(7);
  expect(exitCodeWith([], ExitCode.pendingInOci)).toBe(6);
  expect(exitCodeWith([])).toBe(0);
});
