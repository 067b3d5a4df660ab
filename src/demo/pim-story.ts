/**
 * The PIM for Groups story (demo --backend pim), played with real commands
 * against the emulator's PIM: alice, eligible in PIM, asks for 2 hours; she
 * cannot approve herself; bob, an approver named by the group's PIM policy,
 * approves, and PIM adds her; she extends; she ends it herself (after PIM's
 * 5-minute floor); a member added by hand is removed by the sweep; her second
 * activation is ended by PIM itself at its end time, and the sweep finds
 * nothing left to do in Entra or OCI. Every step's outcome is checked.
 */
import { SEED } from '../emulator/seed.js';
import { playOnStage, StoryFailure, type StoryOptions, type StoryResult } from './harness.js';

export async function playPimStory(options: StoryOptions): Promise<StoryResult> {
  return playOnStage(options, async (stage) => {
    const { write, style, ociaccess, signInInBrowser, step, control, emulator } = stage;
    const alice = stage.actor('alice');
    const bob = stage.actor('bob');
    const cron = stage.actor('cron-host');
    const group = SEED.pimGroupName;
    const entraMembers = () => stage.entraMembers(SEED.pimGroupId);
    const ociMembers = () => stage.ociMembers(group);
    const activation = () =>
      [...emulator.world.pim.assignments.values()].find(
        (a) =>
          a.groupId === SEED.pimGroupId &&
          emulator.world.users.get(a.principalId)?.userPrincipalName === alice.upn &&
          (a.endDateTime === undefined || a.endDateTime > emulator.world.now()),
      );
    write(
      `${style.bold('ociaccess demo --backend pim')} — PIM for Groups on the embedded emulator (${emulator.baseUrl})\n`,
    );
    write(
      style.dim(
        `Entra tenant ${SEED.domain}: PIM governs ${group} (at most 8 hours, justification required, bob or carol approve); alice is eligible.\n`,
      ),
    );
    let requestId = '';
    await step('alice and bob sign in (device code)', async () => {
      await ociaccess(alice, ['login'], 0, () => signInInBrowser(alice));
      await ociaccess(bob, ['login'], 0, () => signInInBrowser(bob));
      return 'both signed in';
    });
    await step('alice asks PIM for 2 hours of membership', async () => {
      const asked = JSON.parse(
        await ociaccess(
          alice,
          ['request', '-g', group, '--hours', '2', '-j', 'INC-4711: rotate the DB wallet', '--json'],
          0,
        ),
      ) as { id: string; pimStatus?: string };
      requestId = asked.id;
      if (asked.pimStatus !== 'PendingApproval') throw new StoryFailure(`PIM status ${asked.pimStatus}`);
      return `PIM holds request ${requestId} (PendingApproval); nothing is recorded outside Entra`;
    });
    await step('alice cannot approve her own request', async () => {
      await ociaccess(alice, ['approve', requestId, '--yes'], 3);
      if (entraMembers().includes(alice.upn)) throw new StoryFailure('alice became a member');
      return 'refused (exit 3); PIM would refuse it too';
    });
    await step('bob approves the PIM approval stage assigned to him', async () => {
      const listed = await ociaccess(bob, ['list', '--pending', '-g', group], 0);
      if (!listed.includes(requestId)) throw new StoryFailure("the request is not in bob's list");
      await ociaccess(bob, ['approve', requestId, '--reason', 'on call', '--yes'], 0);
      if (!entraMembers().includes(alice.upn)) throw new StoryFailure('PIM did not add alice');
      return `PIM activated alice's membership of ${group}`;
    });
    await step('alice signs in to OCI (SAML JIT) and checks her status', async () => {
      await control('jit/signin', { user: alice.upn });
      if (!ociMembers().includes(alice.upn)) throw new StoryFailure('OCI does not show alice in the group');
      await ociaccess(alice, ['status', '-g', group], 0);
      return `OCI shows alice in ${group}`;
    });
    await step('90 minutes later alice extends by 2 hours; bob approves', async () => {
      await control('clock/advance', { minutes: 90 });
      const before = activation()?.endDateTime ?? 0;
      const asked = JSON.parse(
        await ociaccess(
          alice,
          ['extend', '-g', group, '--hours', '2', '-j', 'INC-4711: restore still running', '--json'],
          0,
        ),
      ) as { id: string };
      await ociaccess(bob, ['approve', asked.id, '--yes'], 0);
      const after = activation()?.endDateTime ?? 0;
      if (!(after > before)) throw new StoryFailure('PIM did not move the end of the membership');
      return `PIM now ends the membership at ${new Date(after).toISOString()} (was ${new Date(before).toISOString()})`;
    });
    await step('alice is done early and ends it herself', async () => {
      await ociaccess(alice, ['revoke', '-g', group, '--reason', 'done'], 6);
      if (entraMembers().includes(alice.upn)) throw new StoryFailure('alice is still a member');
      return 'PIM deactivated the membership (selfDeactivate); OCI follows at the next cycle (exit 6)';
    });
    await step('someone adds carol by hand in the portal; the sweep removes her', async () => {
      const carolId = [...emulator.world.users.values()].find(
        (u) => u.userPrincipalName === `carol@${SEED.domain}`,
      )!.id;
      emulator.world.groups.get(SEED.pimGroupId)!.members.add(carolId);
      await ociaccess(cron, ['sweep', '-g', group], 6);
      if (entraMembers().includes(`carol@${SEED.domain}`)) throw new StoryFailure('carol is still a member');
      return 'no PIM assignment covers carol: removed in Entra (deny by default)';
    });
    await step("Entra's provisioning cycle runs; the sweep confirms OCI", async () => {
      await control('provisioning/cycle', {});
      if (ociMembers().includes(alice.upn)) throw new StoryFailure('OCI still lists alice');
      await ociaccess(cron, ['sweep', '-g', group], 0);
      return 'clean (exit 0)';
    });
    await step('alice activates again; PIM ends it by itself at its end time', async () => {
      await control('clock/advance', { minutes: 10 });
      const asked = JSON.parse(
        await ociaccess(alice, ['request', '-g', group, '--hours', '1', '-j', 'INC-4712: one more check', '--json'], 0),
      ) as { id: string };
      await ociaccess(bob, ['approve', asked.id, '--yes'], 0);
      if (!entraMembers().includes(alice.upn)) throw new StoryFailure('PIM did not add alice');
      await control('clock/advance', { minutes: 61 });
      await control('provisioning/cycle', {});
      if (entraMembers().includes(alice.upn)) throw new StoryFailure('PIM did not end the membership');
      await ociaccess(cron, ['sweep', '-g', group], 0);
      return 'PIM removed alice at the end; the sweep had nothing to remove (exit 0)';
    });
    await step('the audit logs verify', async () => {
      for (const who of [alice, bob, cron]) await ociaccess(who, ['audit', 'verify'], 0);
      return "every machine's hash chain is intact";
    });
  });
}
