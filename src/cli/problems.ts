/**
 * Exit 7, "done, with a problem", rendered in one place: each problem that
 * followed a change is a warning line with its code (and its hint), and an
 * entry of `problems` in the --json document, which is [] when there are none.
 */
import { ExitCode, type ExitCodeValue, type Problem } from '../errors.js';
import type { Output } from './output.js';

/** The `problems` of a --json document: code, message, hint and the cause's code and message. */
export function problemsJson(problems: readonly Problem[]): Problem[] {
  return problems.map(({ code, message, hint, cause }) => ({ code, message, hint, cause }));
}

/** Warns of each problem on stderr, after the command has said what it did. */
export function warnProblems(out: Output, problems: readonly Problem[]): void {
  for (const problem of problems) {
    out.warn(`${problem.message} [${problem.code}]`);
    out.info(`hint: ${problem.hint}`);
  }
}

/** Exit 7 when something failed after the change; otherwise the command's own outcome. */
export function exitCodeWith(problems: readonly Problem[], otherwise: ExitCodeValue = ExitCode.ok): ExitCodeValue {
  return problems.length > 0 ? ExitCode.doneWithProblems : otherwise;
}
