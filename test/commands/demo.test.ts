/**
 * Both demo stories, played in-process on their own emulator: every step's
 * outcome is checked by the story itself; here, that each story ends ok,
 * with the steps it promises, and that an unknown backend is a usage error.
 */
import { playStory } from '../../src/demo/story.js';
import { playPimStory } from '../../src/demo/pim-story.js';
import { actorContext, CapturedStream } from '../../src/actor-context.js';
import { main } from '../../src/cli/main.js';

const plain = { bold: String, dim: String, green: String, red: String, cyan: String };

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

test('demo --backend okta: a usage error naming the backends (exit 2), nothing started', async () => {
  const stdout = new CapturedStream();
  const stderr = new CapturedStream();
  const code = await main(['demo', '--backend', 'okta'], actorContext({ env: { NO_COLOR: '1' }, stdout, stderr }));
  expect(code).toBe(2);
  expect(stderr.take()).toContain('--backend must be records or pim');
  expect(stdout.take()).toBe('');
});
