/**
 * The real process opens the sign-in page with the `open` package. The URL
 * must reach it as one argument, `&`s and all: the hand-written Windows branch
 * it replaces ran `cmd /c start`, which takes `&` for a command separator and
 * cut a sign-in URL after its first parameter. `open` is replaced here, so no
 * browser opens.
 */
import { jest } from '@jest/globals';

const opened: unknown[][] = [];
jest.unstable_mockModule('open', () => ({
  default: async (...args: unknown[]) => {
    opened.push(args);
  },
}));
const { openInDefaultBrowser } = await import('../../src/process-context.js');

test('the whole URL, query included, goes to the opener as one argument', async () => {
  const url =
    'https://login.microsoftonline.com/7f3c2a10-5b1e-4c8d-9a61-0e4b2d9c7a01/oauth2/v2.0/authorize?client_id=a&scope=openid%20profile&redirect_uri=http%3A%2F%2Flocalhost%3A53127&response_mode=form_post&code_challenge=x&code_challenge_method=S256&state=s';
  await openInDefaultBrowser(url);
  expect(opened).toEqual([[url]]);
});
