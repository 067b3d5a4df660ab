/**
 * Missing, expired and revoked sign-ins: exit 4 with the hint `ociaccess
 * login`, in text and JSON, and nothing changes anywhere. Signing in again
 * is the fix. People whose sessions a test breaks sign in inside that test,
 * so the sign-ins shared by the file stay good.
 */
import { configureEntra } from '../../src/emulator/entra/index.js';
import { fetchWithCa } from '../../src/adapters/http/tls.js';
import { SEED } from '../../src/emulator/seed.js';
import { upnOf, useHarness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });
const LOGIN_HINT = 'Run `ociaccess login`.';

describe('nobody signed in on this machine', () => {
  test.each([
    ['status', ['status']],
    ['list', ['list', '--pending']],
    ['request', ['request', '--hours', '2', '--justification', 'INC-7: x']],
    ['approve', ['approve', 'r-abcd2345', '--yes']],
    ['deny', ['deny', 'r-abcd2345', '--reason', 'no', '--yes']],
    ['revoke', ['revoke']],
    ['whoami', ['whoami']],
  ])('%s: exit 4 NOT_SIGNED_IN with the login hint, nothing sent to Graph or OCI', async (_name, argv) => {
    const H = h();
    const result = await H.expectNoChange(async () => {
      const mark = H.mark();
      const run = await H.run('carol', [...argv, '--json']);
      expect(H.requestsSince(mark).filter((e) => e.service === 'graph' || e.service === 'oci')).toEqual([]);
      return run;
    });
    expect(result.code).toBe(4);
    expect(result.json).toEqual({
      error: {
        code: 'NOT_SIGNED_IN',
        message: expect.stringMatching(/not signed in|Nobody is signed in/),
        hint: LOGIN_HINT,
      },
    });
  });

  test('in text mode the error and the hint go to stderr, nothing to stdout', async () => {
    const result = await h().run('carol', ['status']);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe('error: You are not signed in. [NOT_SIGNED_IN]\nhint: Run `ociaccess login`.\n');
  });

  test('following the hint works: login, then the same command succeeds as that person', async () => {
    const H = h();
    expect((await H.run('carol', ['list', '--pending'])).code).toBe(4);
    const login = await H.login('carol');
    expect(login.code).toBe(0);
    expect(login.stdout.trim()).toBe(upnOf('carol'));
    expect(login.stderr).toContain('enter the code');
    const whoami = await H.run('carol', ['whoami', '--json']);
    expect(whoami.code).toBe(0);
    expect(whoami.json).toMatchObject({ user: upnOf('carol'), tokenStore: 'file' });
    expect((await H.run('carol', ['list', '--pending'])).code).toBe(0);
  });

  test('after logout the machine is signed out again (exit 4), other machines are not', async () => {
    const H = h();
    const logout = await H.run('alice', ['logout', '--json']);
    expect(logout.code).toBe(0);
    expect(logout.json).toEqual({ signedOut: upnOf('alice') });
    expect((await H.run('alice', ['status', '--json'])).json.error.code).toBe('NOT_SIGNED_IN');
    expect((await H.run('bob', ['status'])).code).toBe(0);
  });
});

describe('a sign-in that no longer works', () => {
  test('sessions revoked by an admin: once the access token has expired, exit 4 SESSION_EXPIRED and nothing changes', async () => {
    const H = h();
    expect((await H.login('carol')).code).toBe(0);
    await H.control('tokens/revoke', { user: upnOf('carol') });
    // Access tokens already issued stay valid until they expire, as in Entra.
    expect((await H.run('carol', ['list', '--pending'])).code).toBe(0);
    await H.advance({ minutes: 61 });
    const result = await H.expectNoChange(() => H.run('carol', ['list', '--pending', '--json']));
    expect(result.code).toBe(4);
    expect(result.json.error).toMatchObject({ code: 'SESSION_EXPIRED', hint: LOGIN_HINT });
    expect(result.json.error.message).toContain('has expired or was revoked');
    // A new sign-in is the fix.
    expect((await H.login('carol')).code).toBe(0);
    expect((await H.run('carol', ['list', '--pending'])).code).toBe(0);
  });

  test('the refresh token outlived: exit 4 SESSION_EXPIRED for a request, which is not recorded anywhere', async () => {
    const H = h();
    configureEntra(H.emu.world, { refreshTokenLifetimeSeconds: 2 * 3600 });
    try {
      expect((await H.login('carol')).code).toBe(0);
    } finally {
      configureEntra(H.emu.world, { refreshTokenLifetimeSeconds: 90 * 24 * 3600 });
    }
    await H.advance({ hours: 3 });
    const result = await H.expectNoChange(() =>
      H.run('carol', ['request', '--hours', '2', '--justification', 'INC-8: x', '--json']),
    );
    expect(result.code).toBe(4);
    expect(result.json.error).toMatchObject({ code: 'SESSION_EXPIRED', hint: LOGIN_HINT });
    // The people signed in for the whole file are unaffected by carol's expiry.
    expect((await H.run('alice', ['status'])).code).toBe(0);
  });

  // The CLI does not declare the cp1 client capability, so Graph never sends it a
  // claims challenge (continuous access evaluation): a revoked session shows when
  // its access token expires and the refresh is refused. Regression: when Graph
  // answers 401 and the forced refresh then fails, the Graph client wraps our
  // AuthError as GraphError -1; the adapter must rethrow the sign-in error itself
  // (exit 4), not a Graph failure (exit 5).
  test('sessions revoked mid-session: no claims challenge (no cp1); the next refresh fails with exit 4, not 5', async () => {
    const H = h();
    expect((await H.login('carol')).code).toBe(0);
    expect((await H.run('carol', ['status'])).code).toBe(0);
    const carolTokens = () => [...H.emu.world.tokens.values()].filter((token) => token.userId === SEED.users.carol);
    expect(carolTokens().length).toBeGreaterThan(0);
    expect(carolTokens().every((token) => token.clientCapabilities === undefined)).toBe(true);

    await H.control('tokens/revoke', { user: upnOf('carol'), accessTokens: true });
    const mark = H.mark();
    expect((await H.run('carol', ['status'])).code).toBe(0);
    expect(H.requestsSince(mark).filter((entry) => entry.service === 'graph' && entry.status === 401)).toEqual([]);

    await H.advance({ minutes: 61 });
    const result = await H.expectNoChange(() => H.run('carol', ['status', '--json']));
    expect(result.json.error).toMatchObject({ hint: LOGIN_HINT });
    expect(result.code).toBe(4);
  });
});

/**
 * What the person's browser does with the sign-in URL: the emulator's authorize
 * page, for the user signed in to its "browser", answers with a form that
 * posts the code back to the CLI's loopback redirect.
 */
async function signInPageAnswered(caFile: string, url: string): Promise<void> {
  const page = await (await fetchWithCa(caFile)(url)).text();
  const action = /action="([^"]+)"/
    .exec(page)![1]!
    .replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code)));
  const fields = [...page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map(
    ([, name, value]): [string, string] => [name!, value!],
  );
  await fetch(action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

describe('login --browser', () => {
  test('the sign-in URL reaches the browser whole, `&`s included, and is printed too', async () => {
    const H = h();
    const opened: string[] = [];
    const browser = async (url: string) => {
      opened.push(url);
      await signInPageAnswered(H.emu.caFile, url);
    };
    await H.control('browser/signin', { user: upnOf('carol') });
    try {
      const result = await H.run('carol', ['login', '--browser', '--json'], { openUrl: browser });
      expect(result.code).toBe(0);
      expect(result.json).toMatchObject({ user: upnOf('carol') });
      expect(opened).toHaveLength(1);
      const url = new URL(opened[0]!);
      expect(`${url.origin}${url.pathname}`).toBe(`${H.emu.baseUrl}/${H.emu.world.tenantId}/oauth2/v2.0/authorize`);
      // Everything after the first `&` is what `cmd /c start` used to cut off.
      expect(opened[0]!.split('&').length).toBeGreaterThan(5);
      for (const name of ['client_id', 'redirect_uri', 'scope', 'code_challenge', 'state'])
        expect(url.searchParams.get(name)).toBeTruthy();
      expect(url.searchParams.get('code_challenge_method')).toBe('S256');
      expect(result.stderr).toContain(opened[0]);
    } finally {
      await H.control('browser/signin', { user: null });
    }
  });

  test('without a browser that opens, the URL is still printed', async () => {
    const H = h();
    await H.control('browser/signin', { user: upnOf('carol') });
    try {
      let printed = '';
      const result = await H.run('carol', ['login', '--browser'], {
        openUrl: async (url) => {
          printed = url;
          throw new Error('xdg-open: no method available for opening the URL');
        },
        during: async (stderr) => {
          // The person copies the printed URL into a browser by hand (here: the emulator's signed-in one).
          const deadline = Date.now() + 30_000;
          while (!/visit:\n {2}(\S+)/.test(stderr.text)) {
            if (Date.now() > deadline) throw new Error(`no sign-in URL printed: ${stderr.text}`);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          const url = /visit:\n {2}(\S+)/.exec(stderr.text)![1]!;
          expect(url).toBe(printed);
          await signInPageAnswered(H.emu.caFile, url);
        },
      });
      expect(result.code).toBe(0);
      expect(result.stdout.trim()).toBe(upnOf('carol'));
    } finally {
      await H.control('browser/signin', { user: null });
    }
  });
});
