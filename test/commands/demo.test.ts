/**
 * The demo stories, played in-process on their own emulator: every step's
 * outcome is checked by the story itself; here, that each story ends ok,
 * with the steps it promises, and that an unknown backend or identity
 * provider, or PIM with Okta, is a usage error.
 */
import { playStory } from '../../src/demo/story.js';
import { playPimStory } from '../../src/demo/pim-story.js';
import { actorContext, CapturedStream } from '../../src/actor-context.js';
import { main } from '../../src/cli/main.js';

const plain = { bold: String, dim: String, green: String, red: String, cyan: String };

/** `ociaccess demo …` through main, as a person types it (the narration is on stdout, or stderr with --json). */
async function demo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const code = await main(['demo', ...args], actorContext({ env: { NO_COLOR: '1' }, stdout, stderr }));
  return { code, stdout: stdout.take(), stderr: stderr.take() };
}

test('demo (records): every step as expected', async () => {
  let narration = '';
  const result = await playStory({ write: (text) => (narration += text), style: plain });
  expect(result.steps.filter((s) => !s.ok)).toEqual([]);
  expect(result.ok).toBe(true);
  expect(result.steps.map((s) => s.title)).toContain('the next sweep confirms the removal reached OCI');
  expect(narration).toContain('demo complete');
}, 120_000);

test('demo --backend pim: PIM activates, extends, deactivates and ends by itself; the sweep removes a hand-added member', async () => {
  let narration = '';
  const result = await playPimStory({ write: (text) => (narration += text), style: plain });
  expect(result.steps.filter((s) => !s.ok)).toEqual([]);
  expect(result.ok).toBe(true);
  expect(result.steps.map((s) => s.title)).toEqual([
    'alice and bob sign in (device code)',
    'alice asks PIM for 2 hours of membership',
    'alice cannot approve her own request',
    'bob approves the PIM approval stage assigned to him',
    'alice signs in to OCI (SAML JIT) and checks her status',
    '90 minutes later alice extends by 2 hours; bob approves',
    'alice is done early and ends it herself',
    'someone adds carol by hand in the portal; the sweep removes her',
    "Entra's provisioning cycle runs; the sweep confirms OCI",
    'alice activates again; PIM ends it by itself at its end time',
    'the audit logs verify',
  ]);
  expect(narration).toContain('[SELF_APPROVAL]');
}, 120_000);

test('demo --backend okta: a usage error naming the backends (exit 2) that points to --idp okta, nothing started', async () => {
  const { code, stdout, stderr } = await demo(['--backend', 'okta']);
  expect(code).toBe(2);
  expect(stderr).toContain('--backend must be records or pim');
  expect(stderr).toContain('ociaccess demo --idp okta');
  expect(stdout).toBe('');
});

test('demo --idp okta: Okta sign-in, approval pushed to OCI within seconds, deny, revoke, hand-added member and expiry swept, audit verified', async () => {
  const { code, stdout, stderr } = await demo(['--idp', 'okta', '--json']);
  const result = JSON.parse(stdout) as { ok: boolean; steps: { title: string; ok: boolean; detail: string }[] };
  expect(result.steps.filter((s) => !s.ok)).toEqual([]);
  expect(code).toBe(0);
  expect(result.ok).toBe(true);
  expect(result.steps.map((s) => s.title)).toEqual([
    'alice and bob sign in to Okta (device authorization grant)',
    'alice asks for 2 hours of admin access',
    'alice cannot approve her own request',
    'bob sees the request and approves it',
    'Okta pushes the membership to OCI within seconds',
    'a second request is denied',
    'bob revokes the grant: removed in Okta, and after the push in OCI',
    'someone adds dave to OCI-Temp-Admins by hand in the Okta Admin Console; the sweep removes him',
    'alice asks for 1 hour: the auto-approval rule covers it, the sweep approves it',
    'the hour passes; the sweep removes the expired grant and confirms OCI',
    'the audit logs verify',
  ]);
  // The narration shows the Okta sign-in and the refusal by the rule itself.
  expect(stderr).toContain('/okta/activate');
  expect(stderr).toContain('[SELF_APPROVAL]');
  expect(stderr).toContain('demo complete: 11 steps');
}, 120_000);

test('demo --idp with another value: INVALID_IDP (exit 2) naming entra and okta, nothing started', async () => {
  const { code, stdout, stderr } = await demo(['--idp', 'azure']);
  expect(code).toBe(2);
  expect(stderr).toContain('--idp must be entra or okta, not "azure"');
  expect(stderr).toContain('[INVALID_IDP]');
  expect(stderr).toContain('ociaccess demo --idp okta');
  expect(stdout).toBe('');
});

test("demo --backend pim --idp okta: CONFLICTING_FLAGS (exit 2), PIM for Groups being Entra's; nothing started", async () => {
  const { code, stdout } = await demo(['--backend', 'pim', '--idp', 'okta', '--json']);
  expect(code).toBe(2);
  expect(JSON.parse(stdout)).toEqual({
    error: expect.objectContaining({
      code: 'CONFLICTING_FLAGS',
      message: expect.stringContaining('PIM for Groups is an Entra feature'),
    }),
  });
});
