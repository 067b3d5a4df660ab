/**
 * The seed story, played with real commands against the embedded emulator:
 * a requester asks for 2 hours, an approver approves, the requester signs in
 * to OCI (JIT), time passes the expiry, the sweep removes the membership in
 * Entra, the provisioning cycle runs, and the sweep confirms the user is gone
 * from the OCI group. Every step's outcome is checked, not just printed.
 */
import { SEED } from '../emulator/seed.js';
import { playOnStage, StoryFailure, type StoryOptions, type StoryResult } from './harness.js';

export type { StoryOptions, StoryStep } from './harness.js';

export async function playStory(options: StoryOptions): Promise<StoryResult> {
  return playOnStage(options, async (stage) => {
    const { write, style, ociaccess, signInInBrowser, step, control, emulator } = stage;
    const alice = stage.actor('alice');
    const bob = stage.actor('bob');
    const cron = stage.actor('cron-host');
    const entraMembers = () => stage.entraMembers(SEED.tempGroupId);
    const ociMembers = () => stage.ociMembers(SEED.tempGroupName);
    write(`${style.bold('ociaccess demo')} — the whole story on the embedded emulator (${emulator.baseUrl})\n`);
    write(
      style.dim(
        `Entra tenant ${SEED.domain}: alice may request, bob and carol approve, breakglass is a standing member.\n`,
      ),
    );
    let requestId = '';
    await step('alice and bob sign in (device code)', async () => {
      await ociaccess(alice, ['login'], 0, () => signInInBrowser(alice));
      await ociaccess(bob, ['login'], 0, () => signInInBrowser(bob));
      return 'both signed in; tokens cached per machine';
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
      return `request ${requestId} recorded in Entra (alice's own user object)`;
    });
    await step('alice cannot approve her own request', async () => {
      await ociaccess(alice, ['approve', requestId, '--yes'], 3);
      if (entraMembers().includes(alice.upn)) throw new StoryFailure('alice became a member');
      return 'refused with SELF_APPROVAL (exit 3); nothing changed';
    });
    await step('bob sees the request and approves it', async () => {
      const listed = await ociaccess(bob, ['list', '--pending'], 0);
      if (!listed.includes(requestId)) throw new StoryFailure("the request is not in bob's list");
      await ociaccess(bob, ['approve', requestId, '--reason', 'on call', '--yes'], 0);
      if (!entraMembers().includes(alice.upn)) throw new StoryFailure('alice is not in the Entra group');
      return "alice is a member of OCI-Temp-Admins in Entra; expiry recorded in bob's decision record";
    });
    await step('alice signs in to the OCI console (SAML JIT)', async () => {
      await control('jit/signin', { user: alice.upn });
      write(style.dim(`    [browser] ${alice.upn} signs in to OCI; JIT creates the user and maps the group\n`));
      if (!ociMembers().includes(alice.upn)) throw new StoryFailure('OCI does not show alice in the group');
      await ociaccess(alice, ['status'], 0);
      return 'OCI shows alice in OCI-Temp-Admins';
    });
    await step('two hours and one minute pass', async () => {
      await control('clock/advance', { minutes: 121 });
      return `virtual time is now ${emulator.world.nowIso()}`;
    });
    await step('the cron host sweeps: the expired membership is removed in Entra', async () => {
      await ociaccess(cron, ['sweep'], 6);
      if (entraMembers().includes(alice.upn)) throw new StoryFailure('alice is still in the Entra group');
      if (!ociMembers().includes(alice.upn)) throw new StoryFailure('expected OCI to lag behind Entra');
      if (!entraMembers().includes(`breakglass@${SEED.domain}`))
        throw new StoryFailure('the standing member was removed');
      return 'removed in Entra, still pending in OCI (exit 6); breakglass kept';
    });
    await step("Entra's provisioning cycle runs", async () => {
      await control('provisioning/cycle', {});
      if (ociMembers().includes(alice.upn)) throw new StoryFailure('OCI still lists alice');
      return 'SCIM removed alice from the OCI group';
    });
    await step('the next sweep confirms the removal reached OCI', async () => {
      await ociaccess(cron, ['sweep'], 0);
      return 'clean (exit 0): nobody holds access past expiry';
    });
    await step('the audit logs verify', async () => {
      await ociaccess(bob, ['audit'], 0);
      for (const who of [alice, bob, cron]) await ociaccess(who, ['audit', 'verify'], 0);
      return "every machine's hash chain is intact";
    });
  });
}
