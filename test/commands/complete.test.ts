/**
 * `ociaccess __complete`, what the installed completion scripts call for the
 * values only the tenant knows: pending request ids for approve and deny, the
 * managed groups after -g. It never signs in, never prompts and never writes
 * (not even the token cache when it refreshes a token); without a session it
 * offers nothing and exits 0.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { SEED } from '../../src/emulator/seed.js';
import { useHarness, type Actor, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });

async function pendingRequest(H: Harness): Promise<string> {
  const asked = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-4711: rotate', '--json']);
  expect(asked.code).toBe(0);
  return asked.json.id;
}

/** Every file under the actor's home, the sign-in cache included, with its content. */
async function everyFile(actor: Actor): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out[path.relative(actor.home, full)] = await readFile(full, 'utf8');
    }
  };
  await walk(actor.home);
  return out;
}

/** Runs `__complete` and asserts it wrote nothing: no request that changes Graph or OCI, no file in the home changed. */
async function complete(H: Harness, who: 'alice' | 'bob' | Actor, words: string[]) {
  const actor = typeof who === 'string' ? H.actor(who) : who;
  const before = await everyFile(actor);
  const result = await H.expectNoChange(() => H.run(actor, ['__complete', '--', ...words]));
  expect(await everyFile(actor)).toEqual(before);
  return result;
}

test('approve <Tab>: the pending request ids (one per line), exit 0, nothing on stderr, nothing written', async () => {
  const H = h();
  const id = await pendingRequest(H);
  const result = await complete(H, 'bob', ['approve', '']);
  expect(result).toEqual({ code: 0, stdout: `${id}\n`, stderr: '', json: undefined });
  expect((await complete(H, 'bob', ['deny', '-g', SEED.tempGroupName, id.slice(0, 4)])).stdout).toBe(`${id}\n`);
  // Only the id position: after it, or for an option, nothing.
  expect((await complete(H, 'bob', ['approve', id, ''])).stdout).toBe('');
  expect((await complete(H, 'bob', ['approve', '--'])).stdout).toBe('');
  expect((await complete(H, 'bob', ['approve', 'r-zzzz'])).stdout).toBe('');
});

test('-g <Tab>: the managed groups of the config, without asking Graph', async () => {
  const H = h();
  const mark = H.mark();
  const result = await complete(H, 'bob', ['status', '-g', '']);
  expect(result).toEqual({
    code: 0,
    stdout: `${SEED.tempGroupName}\n${SEED.pimGroupName}\n`,
    stderr: '',
    json: undefined,
  });
  expect((await complete(H, 'alice', ['extend', '--group', ''])).stdout).toBe(
    `${SEED.tempGroupName}\n${SEED.pimGroupName}\n`,
  );
  expect(H.requestsSince(mark).filter((entry) => entry.service === 'graph')).toEqual([]);
  // init's --group names a group to create.
  expect((await complete(H, 'bob', ['init', '--group', ''])).stdout).toBe('');
});

test('no session: nothing offered, exit 0, nothing on stderr, no sign-in started and nothing created', async () => {
  const H = h();
  await pendingRequest(H);
  const stranger = await H.machine('mallory');
  const mark = H.mark();
  const result = await complete(H, stranger, ['approve', '']);
  expect(result).toEqual({ code: 0, stdout: '', stderr: '', json: undefined });
  expect(await readdir(stranger.home)).toEqual([]);
  expect(H.requestsSince(mark).filter((entry) => entry.service === 'entra')).toEqual([]);
});

test('an access token that has expired is refreshed for the answer, and the refreshed one is not written to the cache', async () => {
  const H = h();
  const id = await pendingRequest(H);
  await H.advance({ hours: 2 });
  const mark = H.mark();
  const result = await complete(H, 'bob', ['approve', '']);
  expect(result.stdout).toBe(`${id}\n`);
  expect(H.requestsSince(mark).some((entry) => entry.service === 'entra')).toBe(true);
  // The stored sign-in still works as before.
  expect((await H.run('bob', ['list', '--pending', '--no-oci'])).code).toBe(0);
});

test('attack: a group name a shell would expand ($(…), spaces) is never offered', async () => {
  const H = h();
  const { configWith } = await import('../support/harness.js');
  const config = await configWith(H, 'hostile-name', (c) => {
    c.groups[0].name = 'ops$(touch pwned)';
    c.defaultGroup = 'ops$(touch pwned)';
  });
  const result = await H.run('bob', ['__complete', '--', 'status', '-g', ''], { env: { OCIACCESS_CONFIG: config } });
  // Only the seeded config's other (PIM) group, whose name is plain.
  expect(result).toEqual({ code: 0, stdout: `${SEED.pimGroupName}\n`, stderr: '', json: undefined });
});
