/** The automation's private_key_jwt client assertion (docs/okta.md O5): what it claims, and that it is signed. */
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { clientAssertion, rsaPrivateKey } from '../../src/adapters/idp/okta/oauth.js';
import { nextLink } from '../../src/adapters/idp/okta/api.js';

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

test('RS256, iss = sub = the client id, aud = the token endpoint, five minutes, a fresh jti each time; verifiable', () => {
  const now = new Date('2026-12-05T12:00:00Z');
  const endpoint = 'https://example.okta.com/oauth2/v1/token';
  const key = rsaPrivateKey(pem, 'k.pem');
  const first = clientAssertion('0oa9z8y7x6w5v4u3t2s1', endpoint, key, 'kid-1', now);
  const [header, claims, signature] = first.split('.');
  expect(decode(header!)).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'kid-1' });
  const body = decode(claims!);
  expect(body).toMatchObject({ iss: '0oa9z8y7x6w5v4u3t2s1', sub: '0oa9z8y7x6w5v4u3t2s1', aud: endpoint });
  expect(body.exp - body.iat).toBe(300);
  expect(body.iat).toBe(now.getTime() / 1000);
  expect(
    verify(
      'sha256',
      Buffer.from(`${header}.${claims}`),
      createPublicKey(privateKey),
      Buffer.from(signature!, 'base64url'),
    ),
  ).toBe(true);
  const second = clientAssertion('0oa9z8y7x6w5v4u3t2s1', endpoint, key, undefined, now);
  expect(decode(second.split('.')[1]!).jti).not.toBe(body.jti);
  expect(decode(second.split('.')[0]!)).not.toHaveProperty('kid');
});

test('a key file that is not an RSA private key is refused naming the file, never quoting it', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  expect(() => rsaPrivateKey(String(ec), 'ec.pem')).toThrow(
    expect.objectContaining({ code: 'AUTOMATION_KEY_INVALID' }),
  );
  let caught: any;
  try {
    rsaPrivateKey('not a key: secret-text', 'bad.pem');
  } catch (error) {
    caught = error;
  }
  expect(caught.code).toBe('AUTOMATION_KEY_INVALID');
  expect(caught.message).toContain('bad.pem');
  expect(caught.message).not.toContain('secret-text');
});

test('Link headers: rel="next" is found among other relations, and none means the last page', () => {
  expect(nextLink('<https://o/a?limit=2>; rel="self", <https://o/a?after=x&limit=2>; rel="next"')).toBe(
    'https://o/a?after=x&limit=2',
  );
  expect(nextLink('<https://o/a?limit=2>; rel="self"')).toBeUndefined();
  expect(nextLink(null)).toBeUndefined();
});
