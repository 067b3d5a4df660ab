import type { Command } from 'commander';
import type { Runner } from '../main.js';
import { groupsOrAll } from '../../config/groups.js';
import { myStatusFor } from '../../core/access.js';
import { describeOciFor } from '../../core/oci-check.js';
import { table } from '../output.js';
import { formatHours } from '../args.js';
import { reportOciProblems } from '../oci-problems.js';
import { withSpinner } from '../progress.js';
import { colourState, describeDecision, entryJson, shownJustification, withProblems } from '../request-view.js';
import { idpWordsOf } from '../../core/idp-words.js';

export function registerStatus(program: Command, run: Runner): void {
  program
    .command('status')
    .description('your requests and grants: state, time left, and whether OCI has caught up')
    .option('-g, --group <name>', 'only this group')
    .option('--no-oci', 'skip the OCI check (faster)')
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess status
  $ ociaccess status --json | jq '.requests[] | select(.state=="approved")'`,
    )
    .action(async (options: { group?: string; oci: boolean }, command: Command) =>
      run(command, async (env) => {
        const config = await env.config();
        const groups = groupsOrAll(config, options.group);
        const services = await env.services();
        const { me, entries, ociProblems } = await withSpinner(
          env.ctx,
          env.out,
          env.globals,
          'reading your requests',
          async () => myStatusFor(await services.userDeps(), groups, { checkOci: options.oci }),
        );
        const now = services.clock.now();
        const document = { user: me.userPrincipalName, requests: entries.map((e) => entryJson(e)) };
        env.out.data(withProblems(document, ociProblems, idpWordsOf(config)), () => {
          if (entries.length === 0) return '';
          return table(
            env.out,
            ['ID', 'GROUP', 'STATE', 'HOURS', 'EXPIRES', 'OCI', 'DECISION', 'JUSTIFICATION'],
            entries.map((e) => [
              e.request.id,
              e.group.name,
              colourState(env.out, e.grant.state),
              formatHours(e.request.hours),
              e.grant.expiresAt ? env.out.time(e.grant.expiresAt, now) : '-',
              options.oci ? describeOciFor(e.grant.state, e.oci) : '-',
              describeDecision(env.out, e, now),
              shownJustification(e.request),
            ]),
          );
        });
        if (entries.length === 0)
          env.out.info(
            `No requests for ${me.userPrincipalName}. Ask with \`ociaccess request --hours 2 --justification "…"\`.`,
          );
        return reportOciProblems(env.out, ociProblems, idpWordsOf(config));
      }),
    );
}
