/**
 * What `request` says happens next names only people who can act: never the
 * requester among who can approve, and when nobody else can, it says so.
 */
import { SEED } from '../../src/emulator/seed.js';
import { configWith, upnOf, useHarness } from '../support/harness.js';

const h = useHarness({ logins: ['bob'] });
const BOB = upnOf('bob');
const CAROL = upnOf('carol');

test('an approver who requests: "Next:" names the other approvers only (text and --json)', async () => {
  const H = h();
  const result = await H.run('bob', ['request', '--hours', '2', '--justification', 'INC-9: x', '--json']);
  expect(result.code).toBe(0);
  const id = result.json.id;
  expect(result.stderr.split('\n').slice(0, 2)).toEqual([
    `✓ Requested 2h in ${SEED.tempGroupName} as ${BOB} (request ${id}).`,
    `Next: an approver (${CAROL}) runs \`ociaccess approve ${id}\`.`,
  ]);
  expect(result.json).toMatchObject({ id, group: SEED.tempGroupName, state: 'pending', autoApprovable: false });
});

test('the only approver requests: "Next:" says nobody but them may approve, and how to fix it', async () => {
  const H = h();
  const config = await configWith(H, 'solo-approver', (c) => {
    c.groups[0].approvers = [BOB];
  });
  const result = await H.run('bob', ['request', '--hours', '2', '--justification', 'INC-9: x', '--json'], {
    env: { OCIACCESS_CONFIG: config },
  });
  expect(result.code).toBe(0);
  expect(result.stderr.split('\n')[1]).toBe(
    `Next: ${SEED.tempGroupName} names no approver but you, and nobody approves their own request: ask an admin to add an approver to the config (groups[].approvers).`,
  );
  expect(result.stderr).not.toContain(`(${BOB})`);
  expect(result.json).toMatchObject({ id: expect.stringMatching(/^r-/), state: 'pending' });
});
