import { Option, type Command } from 'commander';
import type { Runner } from '../main.js';
import type { DelegatedRole } from '../../adapters/auth/scopes.js';
import { AuthError } from '../../errors.js';
import { terminalText } from '../output.js';

export function registerAuth(program: Command, run: Runner): void {
  program
    .command('login')
    .description(
      "sign in to Entra ID or Okta (device code by default; --browser, Entra only, for this machine's browser)",
    )
    .option('--browser', 'sign in through the local browser (loopback redirect) instead of a device code')
    .addOption(
      new Option(
        '--role <role>',
        'the permissions to consent to at sign-in: requester (default), approver, operator (--provision-now)',
      ).choices(['requester', 'approver', 'operator']),
    )
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess login                   # prints a code to enter at the sign-in page
  $ ociaccess login --browser
  $ ociaccess login --role approver   # where users consent themselves: ask for an approver's permissions now

Entra: a requester's permissions are asked for at sign-in; an approver's and an
operator's when a command first needs them (no new sign-in where an admin has
granted consent; see docs/setup-entra.md). Okta adds no scope to a sign-in
later: approvers sign in with --role approver (docs/okta.md).`,
    )
    .action(async (options: { browser?: boolean; role?: DelegatedRole }, command: Command) =>
      run(command, async (env) => {
        const services = await env.services();
        const scopes = services.scopesFor(options.role ?? 'requester');
        const account = options.browser
          ? await services.session.loginInteractive({ scopes })
          : // Not env.out.info: the code must show even with --quiet, or the login waits for nothing.
            // The message is Entra's own text: cleaned like everything else printed.
            await services.session.loginWithDeviceCode(
              (message) => env.ctx.stderr.write(`${terminalText(message, { colour: false })}\n`),
              scopes,
            );
        const store = await services.session.tokenStore();
        const warning = await store.takeFallbackWarning();
        if (warning) env.out.warn(warning);
        env.out.data(
          {
            user: account.username,
            name: account.name ?? null,
            tenantId: account.tenantId,
            objectId: account.objectId,
            tokenStore: store.kind,
          },
          () => account.username,
        );
        env.out.success(`Signed in as ${account.username}${account.name ? ` (${account.name})` : ''}.`);
      }),
    );

  program
    .command('logout')
    .description('forget the cached sign-in on this machine')
    .addHelpText(
      'after',
      `
Example:
  $ ociaccess logout`,
    )
    .action(async (_options: unknown, command: Command) =>
      run(command, async (env) => {
        const services = await env.services();
        const account = await services.session.logout();
        env.out.data({ signedOut: account?.username ?? null }, () => '');
        env.out.success(account ? `Signed out ${account.username}.` : 'Nobody was signed in.');
      }),
    );

  program
    .command('whoami')
    .description('who is signed in, to which tenant or Okta org, until when, and where the tokens are kept')
    .addHelpText(
      'after',
      `
Examples:
  $ ociaccess whoami
  $ ociaccess whoami --json | jq -r .tokenExpiresAt`,
    )
    .action(async (_options: unknown, command: Command) =>
      run(command, async (env) => {
        const config = await env.config();
        const services = await env.services();
        const account = await services.session.currentAccount();
        if (!account) throw new AuthError('NOT_SIGNED_IN', 'Nobody is signed in on this machine.');
        // A cached access token proves nothing: it outlives a revoked session by up to an hour.
        // A refresh proves the sign-in still works (and renews it), and reading one's own
        // profile in Graph proves the token is accepted; either failing is exit 4.
        const token = await services.session.getAccessToken(services.scopesFor('requester'), {
          forceRefresh: true,
        });
        await (await services.userDeps()).directory.me();
        const store = await services.session.tokenStore();
        const now = services.clock.now();
        env.out.data(
          {
            user: account.username,
            name: account.name ?? null,
            objectId: account.objectId,
            tenantId: account.tenantId,
            tokenExpiresAt: token.expiresOn.toISOString(),
            tokenStore: store.kind,
            tokenStoreDescription: store.description,
            ...(store.fallbackReason ? { tokenStoreFallbackReason: store.fallbackReason } : {}),
          },
          () =>
            [
              `user:        ${account.username}${account.name ? ` (${account.name})` : ''}`,
              // With Okta the account's tenantId is the org URL: an org, not a tenant.
              `${config.idp?.type === 'okta' ? 'org:   ' : 'tenant:'}      ${account.tenantId}`,
              `token:       expires ${env.out.time(token.expiresOn, now)}`,
              `token store: ${store.description}`,
            ].join('\n'),
        );
        if (store.fallbackReason)
          env.out.warn(`tokens are in a plain file because no keychain is reachable (${store.fallbackReason}).`);
      }),
    );
}
