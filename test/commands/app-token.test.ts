/**
 * Issue 15: APP_TOKEN_FAILED names the resource (scope) the automation's token
 * was asked for, so a wrong cloud.graphBaseUrl is not mistaken for a wrong
 * client id or missing consent.
 */
import { configWith, useHarness } from '../support/harness.js';

const h = useHarness({ logins: [] });

test('a Graph resource that does not exist (AADSTS500011): exit 4 APP_TOKEN_FAILED naming the resource asked for, and the hint points at cloud.graphBaseUrl', async () => {
  const H = h();
  const config = await configWith(H, 'wrong-graph-resource', (c) => {
    c.cloud.graphBaseUrl = 'https://graph.contoso.invalid';
    // Only the emulator's own config may name its control URL (the cloud is no longer all the emulator's).
    delete c.emulator;
  });
  const env = { OCIACCESS_CONFIG: config };
  const result = await H.run('cron', ['sweep', '--json'], { env });
  expect(result.code).toBe(4);
  expect(result.json.error).toEqual({
    code: 'APP_TOKEN_FAILED',
    message: expect.stringMatching(
      /^Entra refused an app-only token for \S+ for the resource https:\/\/graph\.contoso\.invalid\/\.default: AADSTS500011: The resource principal named https:\/\/graph\.contoso\.invalid was not found/,
    ),
    hint: "The resource https://graph.contoso.invalid/.default does not exist in this tenant's cloud: check cloud.graphBaseUrl (each Microsoft cloud has its own Graph host).",
  });
  expect(result.json.error.hint).not.toMatch(/clientId|consent/);
  const text = await H.run('cron', ['sweep'], { env });
  // The sweep's progress line comes first; the error is the last thing it says.
  expect(text.stderr.split('\n').find((line) => line.startsWith('error:'))).toMatch(
    /^error: Entra refused an app-only token for \S+ for the resource https:\/\/graph\.contoso\.invalid\/\.default: AADSTS500011: .* \[APP_TOKEN_FAILED\]$/,
  );
});
