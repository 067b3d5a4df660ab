/**
 * What `status` and `list` do when OCI cannot be read: the OCI column says
 * "unknown", one warning per group names the failure with its own code, a
 * hint offers --no-oci, and the command exits 7 (what is shown is true, but
 * incomplete). `--json` carries the same failures under `problems` ([] when none).
 */
import type { OciProblem } from '../core/oci-check.js';
import { ExitCode } from '../errors.js';
import type { Output } from './output.js';
import type { IdpWords } from '../core/idp-words.js';

/** The shape of every command's `problems` entry (code, message, hint, cause), plus the group it is about. */
export interface ProblemJson {
  code: string;
  message: string;
  hint: string;
  /** The failure as its own error reported it (here the code is that failure's own). */
  cause: { code: string; message: string };
  group: string;
}

const noOciHint = (idp: IdpWords) =>
  `What ${idp.name} says is current; OCI shows "unknown". Add --no-oci to skip the OCI check.`;

export function ociProblemsJson(problems: readonly OciProblem[], idp: IdpWords): ProblemJson[] {
  return problems.map(({ group, error }) => ({
    code: error.code,
    message: `OCI was not checked for ${group.ociGroupName}: ${error.message}`,
    hint: noOciHint(idp),
    cause: { code: error.code, message: error.message },
    group: group.name,
  }));
}

/** Warns about each problem (the hint once) and gives the exit code: 7 when there is any, else 0. */
export function reportOciProblems(out: Output, problems: readonly OciProblem[], idp: IdpWords): number {
  for (const problem of ociProblemsJson(problems, idp)) out.warn(`${problem.message} [${problem.code}]`);
  if (problems.length === 0) return ExitCode.ok;
  out.info(`hint: ${noOciHint(idp)}`);
  return ExitCode.doneWithProblems;
}
