/**
 * The story with Okta as the identity provider (demo --idp okta), played with
 * real commands against the emulator's Okta org (docs/okta.md): alice and bob
 * sign in with Okta's device authorization grant; alice asks for 2 hours (the
 * request lives in her own Okta profile); she cannot approve herself; bob
 * approves, and Okta's Push Groups carries the membership to the OCI group
 * within seconds (no provisioning cycle); a second request is denied; bob
 * revokes and the push takes her out of OCI; a member added by hand in the
 * Okta group is removed by the sweep; a grant expires and the sweep removes it
 * and confirms OCI; the audit logs verify. Every step's outcome is checked.
 */
import { SEED_OKTA } from '../emulator/seed.js';
import { playOnStage, StoryFailure, type Stage, type StoryOptions, type StoryResult } from './harness.js';

export async function playOktaStory(options: StoryOptions): Promise<StoryResult> {
  return playOnStage(options, oktaStory, { idp: 'okta' });
}

async function oktaStory(stage: Stage): Promise<void> {
  const { write, style, ociaccess, ociaccessEither, signInInBrowser, step, control, emulator } = stage;
  const alice = stage.actor('alice');
  const bob = stage.actor('bob');
  const cron = stage.actor('cron-host');
  const dave = `dave@${SEED_OKTA.domain}`;
  const breakglass = `breakglass@${SEED_OKTA.domain}`;
  const group = SEED_OKTA.tempGroupName;
  const ociGroup = SEED_OKTA.ociGroupName;
  const oktaMembers = () => stage.oktaMembers(SEED_OKTA.tempGroupId);
  const ociMembers = () => stage.ociMembers(ociGroup);
  const pushDelaySeconds = emulator.world.okta.settings.pushDelayMs / 1000;
  /** Lets Okta's push delay pass on the virtual clock; the emulator pushes what is due. */
  const letPushRun = () => control('clock/advance', { seconds: pushDelaySeconds });
  const profileOf = (name: keyof typeof SEED_OKTA.users) =>
    emulator.world.okta.users.get(SEED_OKTA.users[name])!.profile;
  const recordsIn = (value: unknown): { i?: string; r?: string; d?: string }[] =>
    typeof value === 'string' ? ((JSON.parse(value) as { records?: [] }).records ?? []) : [];

  write(`${style.bold('ociaccess demo --idp okta')} — Okta as the identity provider, on the embedded emulator\n`);
  write(
    style.dim(
      `Okta org ${emulator.oktaOrgUrl}: alice may request, bob and carol approve, breakglass is a standing member of ${group}; ` +
        `Push Groups sends ${group} to the OCI group ${ociGroup}.\n`,
    ),
  );

  let requestId = '';
  await step('alice and bob sign in to Okta (device authorization grant)', async () => {
    await ociaccess(alice, ['login'], 0, () => signInInBrowser(alice));
    // Okta adds no scope to a session later: an approver asks for the approver's scopes at sign-in.
    await ociaccess(bob, ['login', '--role', 'approver'], 0, () => signInInBrowser(bob));
    await ociaccess(alice, ['whoami'], 0);
    return 'both signed in with Okta tokens, cached per machine';
  });

  await step('alice asks for 2 hours of admin access', async () => {
    requestId = (
      await ociaccess(
        alice,
        ['request', '--hours', '2', '--justification', 'INC-4711: rotate the DB wallet', '--ticket', 'INC-4711'],
        0,
      )
    ).trim();
    if (!/^r-[0-9a-z]+$/.test(requestId)) throw new StoryFailure(`no request id printed (got "${requestId}")`);
    if (!recordsIn(profileOf('alice').ociaccessRequests).some((record) => record.i === requestId))
      throw new StoryFailure("the request is not in alice's Okta profile");
    return `request ${requestId} recorded in alice's own Okta profile (ociaccessRequests)`;
  });

  await step('alice cannot approve her own request', async () => {
    // Her requester's sign-in cannot add members, but what she can read already decides: her own request.
    await ociaccess(alice, ['approve', requestId, '--yes'], 3);
    // Signed in for the approver's scopes, the rule refuses her the same way.
    await ociaccess(alice, ['login', '--role', 'approver'], 0, () => signInInBrowser(alice));
    await ociaccess(alice, ['approve', requestId, '--yes'], 3);
    if (oktaMembers().includes(alice.upn)) throw new StoryFailure('alice became a member');
    return "refused as SELF_APPROVAL (exit 3), with a requester's sign-in and with an approver's; nothing changed";
  });

  await step('bob sees the request and approves it', async () => {
    const listed = await ociaccess(bob, ['list', '--pending'], 0);
    if (!listed.includes(requestId)) throw new StoryFailure("the request is not in bob's list");
    await ociaccess(bob, ['approve', requestId, '--reason', 'on call', '--yes'], 0);
    if (!oktaMembers().includes(alice.upn)) throw new StoryFailure('alice is not in the Okta group');
    if (!recordsIn(profileOf('bob').ociaccessDecisions).some((record) => record.r === requestId))
      throw new StoryFailure("the decision is not in bob's Okta profile");
    return `alice is a member of ${group} in Okta; the decision is in bob's own profile`;
  });

  await step(`Okta pushes the membership to OCI within seconds`, async () => {
    const before = ociMembers().includes(alice.upn);
    await letPushRun();
    write(
      style.dim(
        `    [okta] ${pushDelaySeconds} s later Push Groups has sent ${group} to ${ociGroup}${before ? '' : ' (it was not there before)'}\n`,
      ),
    );
    if (!ociMembers().includes(alice.upn)) throw new StoryFailure(`OCI does not show alice in ${ociGroup}`);
    await ociaccess(alice, ['status'], 0);
    return `OCI shows alice in ${ociGroup} ${pushDelaySeconds} s after the approval: no 40-minute provisioning cycle`;
  });

  await step('a second request is denied', async () => {
    const second = (
      await ociaccess(alice, ['request', '--hours', '4', '--justification', 'INC-4712: look at the network'], 0)
    ).trim();
    await ociaccess(bob, ['deny', second, '--reason', 'use the read-only group', '--yes'], 0);
    if (!recordsIn(profileOf('bob').ociaccessDecisions).some((record) => record.r === second && record.d === 'n'))
      throw new StoryFailure("the denial is not in bob's Okta profile");
    const status = await ociaccess(alice, ['status'], 0);
    if (!new RegExp(`${second}\\s+\\S+\\s+denied`).test(status))
      throw new StoryFailure(`status does not show ${second} denied`);
    if (!oktaMembers().includes(alice.upn)) throw new StoryFailure('the first grant was lost');
    return `request ${second} denied (decision in bob's profile); the first grant is untouched`;
  });

  await step('bob revokes the grant: removed in Okta, and after the push in OCI', async () => {
    const revoked = await ociaccessEither(bob, ['revoke', '--user', alice.upn, '--reason', 'done early'], [0, 6]);
    if (oktaMembers().includes(alice.upn)) throw new StoryFailure('alice is still in the Okta group');
    await letPushRun();
    if (ociMembers().includes(alice.upn)) throw new StoryFailure(`OCI still lists alice in ${ociGroup}`);
    await ociaccess(cron, ['sweep'], 0);
    return `removed in Okta (exit ${revoked.code}); ${pushDelaySeconds} s later the push removed her from ${ociGroup}; the sweep confirms (exit 0)`;
  });

  await step(`someone adds dave to ${group} by hand in the Okta Admin Console; the sweep removes him`, async () => {
    await control(`okta/groups/${SEED_OKTA.tempGroupId}/members`, { user: dave });
    await letPushRun();
    write(style.dim(`    [okta admin console] ${dave} added to ${group}; Push Groups puts him in ${ociGroup}\n`));
    if (!ociMembers().includes(dave)) throw new StoryFailure(`the push did not put dave in ${ociGroup}`);
    const swept = await ociaccessEither(cron, ['sweep'], [0, 6]);
    if (oktaMembers().includes(dave)) throw new StoryFailure('dave is still in the Okta group');
    if (!oktaMembers().includes(breakglass)) throw new StoryFailure('the standing member was removed');
    await letPushRun();
    if (ociMembers().includes(dave)) throw new StoryFailure(`OCI still lists dave in ${ociGroup}`);
    await ociaccess(cron, ['sweep'], 0);
    return `no grant covers dave: removed in Okta (exit ${swept.code}), then by the push from OCI; breakglass kept; the next sweep is clean`;
  });

  await step('alice asks for 1 hour: the auto-approval rule covers it, the sweep approves it', async () => {
    const third = (
      await ociaccess(alice, ['request', '--hours', '1', '--justification', 'INC-4713: one more check'], 0)
    ).trim();
    await ociaccessEither(cron, ['sweep'], [0, 6]);
    if (!oktaMembers().includes(alice.upn)) throw new StoryFailure('the sweep did not add alice');
    if (
      !recordsIn(emulator.world.okta.groups.get(SEED_OKTA.tempGroupId)!.profile.ociaccessDecisions).some(
        (record) => record.r === third,
      )
    )
      throw new StoryFailure("the auto-approval is not in the group's Okta profile");
    await letPushRun();
    if (!ociMembers().includes(alice.upn)) throw new StoryFailure(`the push did not put alice in ${ociGroup}`);
    return `request ${third} auto-approved by the sweep (recorded in the group's profile); pushed to ${ociGroup}`;
  });

  await step('the hour passes; the sweep removes the expired grant and confirms OCI', async () => {
    await control('clock/advance', { minutes: 61 });
    write(style.dim(`    [clock] an hour and a minute pass: ${emulator.world.nowIso()}\n`));
    const swept = await ociaccessEither(cron, ['sweep'], [0, 6]);
    if (oktaMembers().includes(alice.upn)) throw new StoryFailure('alice is still in the Okta group');
    if (!oktaMembers().includes(breakglass)) throw new StoryFailure('the standing member was removed');
    await letPushRun();
    if (ociMembers().includes(alice.upn)) throw new StoryFailure(`OCI still lists alice in ${ociGroup}`);
    await ociaccess(cron, ['sweep'], 0);
    return `expired: removed in Okta (exit ${swept.code}); after the push the next sweep confirms she is gone from OCI (exit 0)`;
  });

  await step('the audit logs verify', async () => {
    await ociaccess(bob, ['audit'], 0);
    for (const who of [alice, bob, cron]) await ociaccess(who, ['audit', 'verify'], 0);
    return "every machine's hash chain is intact";
  });
}
