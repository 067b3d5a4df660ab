/** `--wait`: poll OCI until it shows (or no longer shows) a membership, with a spinner on a terminal. */
import type { CommandEnv } from '../command-env.js';
import type { CoreDeps } from '../../core/deps.js';
import type { GroupConfig } from '../../config/schema.js';
import { checkOciMembership, describeOci, type OciMembership } from '../../core/oci-check.js';
import { UpstreamError } from '../../errors.js';
import { formatDuration } from '../output.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export async function waitForOci(
  env: CommandEnv, deps: CoreDeps, group: GroupConfig, userName: string, wanted: 'member' | 'gone', timeoutMs: number, pollMs = 2000,
): Promise<{ state: OciMembership['state']; waitedMs: number }> {
  const started = env.ctx.clock.now().getTime();
  const tty = Boolean(env.ctx.stderr.isTTY) && !env.out.json;
  let frame = 0;
  for (;;) {
    const membership = await checkOciMembership(await deps.oci(), group, userName);
    const waitedMs = env.ctx.clock.now().getTime() - started;
    const done = wanted === 'member' ? membership.state === 'member' : membership.state !== 'member';
    if (done) {
      if (tty) env.ctx.stderr.write('\r\u001b[K');
      env.out.success(`OCI ${wanted === 'member' ? 'shows' : 'no longer shows'} ${userName} in ${group.ociGroupName} (after ${formatDuration(waitedMs)}).`);
      return { state: membership.state, waitedMs };
    }
    if (waitedMs >= timeoutMs || env.ctx.abortSignal.aborted) {
      if (tty) env.ctx.stderr.write('\r\u001b[K');
      throw new UpstreamError('OCI_WAIT_TIMEOUT', `OCI still says "${describeOci(membership)}" for ${userName} after ${formatDuration(waitedMs)}.`, {
        hint: 'The provisioning cycle may not have run yet; check with `ociaccess status`, or use --provision-now.',
      });
    }
    if (tty) env.ctx.stderr.write(`\r${FRAMES[frame++ % FRAMES.length]} waiting for OCI (${describeOci(membership)}, ${formatDuration(waitedMs)})`);
    else env.out.info(`waiting for OCI: ${describeOci(membership)}`);
    await env.ctx.clock.sleep(pollMs);
  }
}
