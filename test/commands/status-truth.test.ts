/**
 * Issue 15, "every message true", for what status and list show: OCI failing
 * degrades both the same way (exit 7, OCI "unknown", a warning with the
 * failure's own code, a hint to --no-oci), and a denial says who, when and why.
 */
import { upnOf, useHarness, type Harness } from '../support/harness.js';

const h = useHarness({ logins: ['alice', 'bob'] });
const ALICE = upnOf('alice');
const BOB = upnOf('bob');
const firstLine = (text: string) => text.split('\n')[0];

async function request(H: Harness): Promise<string> {
  const result = await H.run('alice', ['request', '--hours', '2', '--justification', 'INC-4711: rotate', '--json']);
  expect(result.code).toBe(0);
  return result.json.id;
}

async function approvedRequest(H: Harness): Promise<string> {
  const id = await request(H);
  expect((await H.run('bob', ['approve', id, '--yes'])).code).toBe(0);
  return id;
}

const OCI_DOWN = { service: 'oci', status: 503 };
const UNAVAILABLE_LINE =
  /^warning: OCI was not checked for OCI-Temp-Admins: The OCI identity domain failed to .+ \(503\): .* \[OCI_UNAVAILABLE\]$/;
const HINT = 'What Entra says is current; OCI shows "unknown". Add --no-oci to skip the OCI check.';

describe('OCI down: status and list show what Entra says, OCI "unknown", and exit 7', () => {
  test('status --json: exit 7, the warning names OCI_UNAVAILABLE, the hint offers --no-oci, problems in the document', async () => {
    const H = h();
    const id = await approvedRequest(H);
    await H.control('faults', OCI_DOWN);
    const result = await H.run('alice', ['status', '--json']);
    expect(result.code).toBe(7);
    expect(firstLine(result.stderr)).toMatch(UNAVAILABLE_LINE);
    expect(result.stderr.split('\n')[1]).toBe(`hint: ${HINT}`);
    expect(result.json.requests).toEqual([
      expect.objectContaining({ id, state: 'approved', oci: 'unknown', ociSync: null }),
    ]);
    expect(result.json.problems).toEqual([
      {
        code: 'OCI_UNAVAILABLE',
        message: expect.stringMatching(/^OCI was not checked for OCI-Temp-Admins: The OCI identity domain failed to /),
        hint: HINT,
        cause: { code: 'OCI_UNAVAILABLE', message: expect.stringMatching(/^The OCI identity domain failed to /) },
        group: 'OCI-Temp-Admins',
      },
    ]);
  });

  test('list --json: the same warning, the same problems, exit 7', async () => {
    const H = h();
    const id = await approvedRequest(H);
    await H.control('faults', OCI_DOWN);
    const result = await H.run('bob', ['list', '--json']);
    expect(result.code).toBe(7);
    expect(firstLine(result.stderr)).toMatch(UNAVAILABLE_LINE);
    expect(result.json.requests).toEqual([
      expect.objectContaining({ id, requester: ALICE, state: 'approved', oci: 'unknown', ociSync: null }),
    ]);
    expect(result.json.problems).toEqual([expect.objectContaining({ code: 'OCI_UNAVAILABLE', hint: HINT })]);
  });

  test('status --no-oci with OCI down: exit 0, nothing asked of OCI, no warning', async () => {
    const H = h();
    await approvedRequest(H);
    await H.control('faults', OCI_DOWN);
    const mark = H.mark();
    const result = await H.run('alice', ['status', '--no-oci', '--json']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.json.problems).toEqual([]);
    expect(H.requestsSince(mark).filter((entry) => entry.service === 'oci')).toEqual([]);
  });
});

test('a denied request: status shows who denied it, when and why (table and --json)', async () => {
  const H = h();
  const id = await request(H);
  const denied = await H.run('bob', ['deny', id, '--reason', 'use the read-only group', '--yes', '--json']);
  expect(denied.code).toBe(0);
  const result = await H.run('alice', ['status', '--json']);
  expect(result.code).toBe(0);
  expect(result.stderr).toBe('');
  expect(result.json.requests).toEqual([
    expect.objectContaining({
      id,
      state: 'denied',
      decision: { kind: 'denied', by: BOB, at: denied.json.decidedAt, reason: 'use the read-only group' },
    }),
  ]);
  const piped = await H.run('alice', ['status']);
  expect(piped.code).toBe(0);
  expect(piped.stdout.split('\n')[0]).toBe('ID\tGROUP\tSTATE\tHOURS\tEXPIRES\tOCI\tDECISION\tJUSTIFICATION');
  expect(piped.stdout.split('\n')[1]).toBe(
    `${id}\tOCI-Temp-Admins\tdenied\t2\t-\t-\tdenied by ${BOB} ${denied.json.decidedAt.replace(/\.\d{3}Z$/, 'Z')}: use the read-only group\tINC-4711: rotate`,
  );
});

describe('a spinner on stderr while status and list wait more than a second (terminal only)', () => {
  const SPUN = (label: string) => new RegExp(`^(\\r\\u001b\\[K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] ${label})+\\r\\u001b\\[K$`);

  test('status on a terminal: frames with the label, the line cleared at the end; piped and --json: nothing', async () => {
    const H = h();
    const id = await request(H);
    await H.control('latency', { service: 'graph', ms: 1200 });
    const terminal = await H.run('alice', ['status', '--no-oci'], { tty: true });
    expect(terminal.code).toBe(0);
    expect(terminal.stderr).toMatch(SPUN('reading your requests'));
    expect(terminal.stdout).toContain(id);
    const piped = await H.run('alice', ['status', '--no-oci']);
    expect(piped.code).toBe(0);
    expect(piped.stderr).toBe('');
    const json = await H.run('alice', ['status', '--no-oci', '--json'], { tty: true });
    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    expect(json.json.requests).toEqual([expect.objectContaining({ id, state: 'pending' })]);
  });

  test('list on a terminal: the same spinner, cleared before the table', async () => {
    const H = h();
    const id = await request(H);
    await H.control('latency', { service: 'graph', ms: 1200 });
    const terminal = await H.run('bob', ['list', '--pending'], { tty: true });
    expect(terminal.code).toBe(0);
    expect(terminal.stderr).toMatch(SPUN('reading the requests'));
    expect(terminal.stdout).toContain(id);
  });
});

test("a request that gave no grant has no OCI column of its own: a denied one shows '-' while another grant holds the member in OCI", async () => {
  const H = h();
  const granted = await approvedRequest(H);
  await H.advance({ minutes: 41 }); // a provisioning cycle: alice is in the OCI group through the approved grant
  const second = await request(H);
  expect((await H.run('bob', ['deny', second, '--reason', 'one is enough', '--yes'])).code).toBe(0);
  const piped = await H.run('alice', ['status']);
  expect(piped.code).toBe(0);
  const ociColumn = Object.fromEntries(
    piped.stdout
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((line) => [line.split('\t')[0], line.split('\t')[5]]),
  );
  expect(ociColumn).toEqual({ [granted]: 'in OCI group', [second]: '-' });
});
