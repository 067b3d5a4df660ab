import path from 'node:path';
import { Option, type Command } from 'commander';
import type { Runner } from '../main.js';
import type { CommandEnv } from '../command-env.js';
import { table, type Output } from '../output.js';
import type { Config } from '../../config/schema.js';
import type { CheckStatus, DoctorProbes, DoctorReport } from '../../core/doctor.js';

const MARK: Record<CheckStatus, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

function render(out: Output, report: DoctorReport): string {
  const paint = (status: CheckStatus) =>
    status === 'pass'
      ? out.style.green(MARK[status])
      : status === 'warn'
        ? out.style.yellow(MARK[status])
        : status === 'fail'
          ? out.style.red(MARK[status])
          : out.style.dim(MARK[status]);
  const lines = [
    table(
      out,
      ['STATUS', 'CHECK', 'DETAIL'],
      report.checks.map((check) => [paint(check.status), check.title, check.detail]),
    ),
  ];
  const fixes = report.checks.filter((check) => check.fix && (check.status === 'fail' || check.status === 'warn'));
  if (fixes.length) {
    lines.push('', out.style.bold('What to do:'));
    for (const check of fixes)
      lines.push(
        `  ${check.status === 'fail' ? out.style.red('✗') : out.style.yellow('!')} ${check.title}: ${check.fix}`,
      );
  }
  const { pass, warn, fail, skip } = report.summary;
  lines.push(
    '',
    `${pass} passed, ${warn} warning(s), ${fail} failed, ${skip} skipped (checked as ${report.identity === 'app' ? 'the automation app' : 'the signed-in user'})`,
  );
  return lines.join('\n');
}

/** The real probes: the adapters, wired from the config, loaded only when doctor runs. */
async function probesFor(env: CommandEnv, identity: 'user' | 'app'): Promise<DoctorProbes> {
  let accessToken = '';
  const services = async () => env.services();
  const { connectionsForCaFile } = await import('../../adapters/http/tls.js');
  const { proxySettings } = await import('../../adapters/http/proxy.js');
  return {
    identity,
    now: () => env.ctx.clock.now(),
    time: (when, now) => env.out.time(when, now),
    config: () => env.config(),
    async files(config) {
      const { fileSafetyProblems, describeFileProblem } = await import('../../file-safety.js');
      const { inspectStateDir } = await import('../../store/atomic-file.js');
      const { ociKeyFileOf } = await import('../../adapters/oci/key-file.js');
      const host = { platform: env.ctx.platform, uid: env.ctx.uid };
      const resolve = (file: string) => path.resolve(env.ctx.cwd, file);
      const automation = config.automation;
      const keyFile = automation?.certificateKeyFile ?? automation?.certificateFile;
      // People's machines may have no OCI section (and so no OCI key) at all.
      const ociConfig = config.oci ? resolve(config.oci.configFile) : undefined;
      const ociKey = config.oci && ociConfig ? ociKeyFileOf(ociConfig, config.oci.profile) : undefined;
      type Target = [file: string, rule: 'private' | 'owner-writes', what: string];
      const targets: Target[] = [[env.configFile, 'owner-writes', 'config file']];
      if (automation?.clientSecretFile)
        targets.push([resolve(automation.clientSecretFile), 'private', 'automation client secret file']);
      if (keyFile) targets.push([resolve(keyFile), 'private', 'automation certificate key file']);
      if (config.idp?.type === 'okta' && config.idp.automation)
        targets.push([resolve(config.idp.automation.privateKeyFile), 'private', 'Okta automation key file']);
      if (ociConfig) targets.push([ociConfig, 'private', 'OCI config file']);
      if (ociKey) targets.push([ociKey, 'private', 'OCI API key file']);
      const problems = targets.flatMap(([file, rule, what]) =>
        fileSafetyProblems(file, rule, host).map((problem) => ({
          message: describeFileProblem(problem, what),
          fix: problem.fix,
        })),
      );
      try {
        await inspectStateDir(env.ctx.paths.stateDir, host);
      } catch (error) {
        const e = error as { message: string; hint?: string };
        problems.push({ message: e.message, fix: e.hint ?? 'see docs/troubleshooting.md' });
      }
      return { checked: targets.length, problems };
    },
    notifyTargets(config) {
      return adapters.checkNotifyTargets(config, {
        env: env.ctx.env,
        cwd: env.ctx.cwd,
        files: { platform: env.ctx.platform, uid: env.ctx.uid },
      });
    },
    async authority(config) {
      const { authorityMetadata, fetchOpenIdConfiguration } = await import('../../adapters/auth/authority.js');
      const published = await fetchOpenIdConfiguration(config);
      return {
        tokenEndpoint: String(published.token_endpoint ?? ''),
        expectedTokenEndpoint: authorityMetadata(config).token_endpoint,
      };
    },
    async token(config) {
      const { session } = await services();
      if (identity === 'app') {
        const { describeAutomationCredential } = await import('../../adapters/auth/credentials.js');
        const { ConfigError } = await import('../../errors.js');
        if (!config.automation) {
          throw new ConfigError(
            'CONFIG_INVALID',
            'The config has no "automation" section, so there is no app to check.',
            {
              hint: 'Add automation.clientId and a credential (docs/setup-entra.md), or run doctor without --as app.',
            },
          );
        }
        const token = await session.getAppToken();
        accessToken = token.token;
        return {
          token: token.token,
          expiresOn: token.expiresOn,
          who: `app ${config.automation.clientId} with its ${describeAutomationCredential(config.automation)}`,
        };
      }
      // The broadest token the tenant consents to (its checks read groups, the provisioning job, the
      // app assignment), falling back role by role; the permissions are then judged for this person's
      // role: an approver's when the config names them as one.
      const { delegatedScopes } = await import('../../adapters/auth/scopes.js');
      const account = await session.currentAccount();
      const approver =
        Boolean(account) &&
        config.groups.some((group) =>
          group.approvers.some((upn) => upn.toLowerCase() === account!.username.toLowerCase()),
        );
      let token;
      for (const role of ['operator', 'approver', 'requester'] as const) {
        try {
          token = await session.getAccessToken(delegatedScopes(role, config));
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== 'SCOPE_NOT_GRANTED' || role === 'requester') throw error;
        }
      }
      if (!token) throw new Error('unreachable: the requester attempt either returns or throws');
      accessToken = token.token;
      return {
        token: token.token,
        expiresOn: token.expiresOn,
        who: `signed in as ${token.account?.username ?? 'unknown'}`,
        role: approver ? 'approver' : 'requester',
      };
    },
    graph(config: Config) {
      // Imported eagerly below (see loadAdapters) so this stays synchronous.
      const inspector = (getToken: () => Promise<string>) =>
        new adapters.GraphInspector({
          graphBaseUrl: config.cloud.graphBaseUrl,
          getToken,
          connections: connectionsForCaFile(config.tls.caFile, { proxy: proxySettings(env.ctx.env, config.network) }),
        });
      const main = inspector(async () => accessToken);
      // PIM's policy through the same adapter the commands use (its scopes are asked for only when a group uses pim).
      const pimPolicy = async (groupId: string) => {
        const deps = identity === 'app' ? await (await services()).appDeps() : await (await services()).userDeps();
        return deps.pim ? deps.pim.policy(groupId) : null;
      };
      if (identity === 'app') return Object.assign(main, { pimPolicy });
      // Application.Read.All is asked for here only, when this check runs: no other command needs it.
      const assignmentToken = async () =>
        (await (await services()).session.getAccessToken(adapters.APP_ASSIGNMENT_SCOPES)).token;
      const assignments = inspector(assignmentToken);
      return {
        getGroup: (id) => main.getGroup(id),
        nestedGroups: (id) => main.nestedGroups(id),
        userExists: (upn) => main.userExists(upn),
        syncJob: (sp, job) => main.syncJob(sp, job),
        pimPolicy,
        // The token first, outside the Graph client: a missing consent then fails as itself (SCOPE_NOT_GRANTED).
        appAssignments: async (sp) => {
          await assignmentToken();
          return assignments.appAssignments(sp);
        },
      };
    },
    async oci(config) {
      const { requireOci } = await import('../../config/oci.js');
      const oci = requireOci(config, 'doctor');
      const configFile = path.resolve(env.ctx.cwd, oci.configFile);
      const connections = connectionsForCaFile(config.tls.caFile, {
        proxy: proxySettings(env.ctx.env, config.network),
      });
      // Doctor only reads: both clients are read-only whatever oci.access says.
      const files = { platform: env.ctx.platform, uid: env.ctx.uid };
      const inspector = new adapters.OciInspector({
        domainUrl: oci.domainUrl,
        configFile,
        profile: oci.profile,
        access: 'read',
        connections,
        files,
      });
      const domain = new adapters.OciDomain({
        domainUrl: oci.domainUrl,
        configFile,
        profile: oci.profile,
        access: 'read',
        connections,
        files,
        sleep: (ms) => env.ctx.clock.sleep(ms),
      });
      return { domain, identityProviders: () => inspector.identityProviders() };
    },
  };
}

let adapters: Awaited<ReturnType<typeof loadAdapters>>;
async function loadAdapters() {
  const { GraphInspector } = await import('../../adapters/graph/graph-inspect.js');
  // One after the other: both OCI modules share ./client.js, and importing a
  // shared CommonJS dependency (oci-common) from two imports at once trips
  // Jest's ESM loader ("request for 'oci-common' is not in cache"). Node does
  // not mind; the cost is nil (the second import finds the SDK loaded).
  const { OciDomain } = await import('../../adapters/oci/oci-domain.js');
  const { OciInspector } = await import('../../adapters/oci/oci-inspect.js');
  const { checkNotifyTargets } = await import('../../adapters/notify/targets.js');
  const { APP_ASSIGNMENT_SCOPES } = await import('../../adapters/auth/scopes.js');
  return { GraphInspector, OciInspector, OciDomain, checkNotifyTargets, APP_ASSIGNMENT_SCOPES };
}

export function registerDoctor(program: Command, run: Runner): void {
  program
    .command('doctor')
    .description(
      'check the whole chain (config, sign-in, permissions, groups, provisioning or Okta Push Groups, OCI) and say what to fix',
    )
    .addOption(
      new Option(
        '--as <identity>',
        'whose access to check: the signed-in person, or the automation app that runs sweep',
      )
        .choices(['user', 'app'])
        .default('user'),
    )
    .addHelpText(
      'after',
      `
Read-only: changes nothing in Entra, Okta or OCI. With an Okta config
(idp.type "okta") the checks are Okta's (docs/okta.md, Doctor); the record
attributes and the Push Groups mapping are read with --as app.

Examples:
  $ ociaccess doctor
  $ ociaccess doctor --as app --json      # on the host that runs sweep

Exit codes: 0 nothing failed (warnings allowed); otherwise the first failed
check decides: 2 config, 4 sign-in/permission/OCI key, 5 a service did not
answer, 1 anything else.`,
    )
    .action(async (options: { as: 'user' | 'app' }, command: Command) =>
      run(command, async (env) => {
        const config = await env.config().catch(() => undefined);
        adapters ??= await loadAdapters();
        const { runDoctor } = await import('../../core/doctor.js');
        // The services set the emulator-aware clock; load them first when the config allows.
        await env.services().catch(() => undefined);
        const probes = await probesFor(env, options.as);
        let report;
        if (config?.idp?.type === 'okta') {
          const { runOktaDoctor } = await import('../../core/doctor-okta.js');
          const { oktaProbesFor } = await import('../doctor-okta.js');
          report = await runOktaDoctor(await oktaProbesFor(env, options.as, probes));
        } else report = await runDoctor(probes);
        env.out.data(report, () => render(env.out, report));
        return report.exitCode;
      }),
    );
}
