/**
 * OCI request signatures (draft-cavage HTTP signatures, version 1) as the
 * identity domain checks them for API-key callers:
 *
 *   authorization: Signature version="1",keyId="{tenancy}/{user}/{fingerprint}",
 *     algorithm="rsa-sha256",headers="date (request-target) host …",signature="…"
 *
 * The signing string is "name: value" per listed header, joined by "\n", with
 * "(request-target): {method} {path?query}" exactly as sent. GET/DELETE must
 * sign (request-target), host and date (or x-date); POST/PUT/PATCH must also
 * sign content-length, content-type and x-content-sha256, which must match the
 * body. oci-common signs "x-date (request-target) host" (plus the body headers).
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { EmuRequest } from '../http.js';
import type { OciApiKey, World } from '../state.js';

/** OCI rejects a request whose date is more than 5 minutes from its own clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

const BODY_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

export type SignatureResult = { ok: true; key: OciApiKey } | { ok: false; reason: string };

/**
 * Which clock a request's date is compared with. 'virtual' is the real
 * service's behaviour seen from inside the emulated world. 'either' (the
 * default) also accepts a date close to the host's real clock: SDKs stamp
 * x-date from the real clock, so without it every OCI call would fail after a
 * test moved the virtual clock by more than five minutes.
 */
export type SignatureClock = 'virtual' | 'either';

export function setSignatureClock(world: World, clock: SignatureClock): void {
  world.ociSignatureClock = clock;
}

export function signatureClock(world: World): SignatureClock {
  return world.ociSignatureClock;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  if (Array.isArray(value)) return value.join(', ');
  return value;
}

export function parseAuthorization(value: string | undefined): Record<string, string> | undefined {
  if (!value) return undefined;
  const match = /^Signature\s+(.*)$/i.exec(value.trim());
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const part of match[1]!.matchAll(/([A-Za-z]+)="([^"]*)"/g)) params[part[1]!] = part[2]!;
  return params;
}

export function verifyOciSignature(world: World, req: EmuRequest): SignatureResult {
  const params = parseAuthorization(header(req.headers, 'authorization'));
  if (!params) return { ok: false, reason: 'missing or malformed Signature authorization header' };
  if (params.version !== '1') return { ok: false, reason: 'unsupported signature version' };
  if ((params.algorithm ?? '').toLowerCase() !== 'rsa-sha256')
    return { ok: false, reason: 'unsupported signature algorithm' };
  if (!params.keyId || !params.signature || !params.headers)
    return { ok: false, reason: 'keyId, headers and signature are required' };

  const [tenancyOcid, userOcid, fingerprint, ...rest] = params.keyId.split('/');
  const key =
    rest.length === 0
      ? world.ociApiKeys.find(
          (candidate) =>
            candidate.tenancyOcid === tenancyOcid &&
            candidate.userOcid === userOcid &&
            candidate.fingerprint === fingerprint,
        )
      : undefined;
  if (!key) return { ok: false, reason: 'unknown keyId' };

  const signed = params.headers.toLowerCase().split(/\s+/).filter(Boolean);
  const required = ['(request-target)', 'host'];
  if (BODY_METHODS.has(req.method)) required.push('content-length', 'content-type', 'x-content-sha256');
  for (const name of required)
    if (!signed.includes(name)) return { ok: false, reason: `header "${name}" must be signed` };
  const dateHeader = signed.includes('x-date') ? 'x-date' : signed.includes('date') ? 'date' : undefined;
  if (!dateHeader) return { ok: false, reason: 'date or x-date must be signed' };

  const lines: string[] = [];
  for (const name of signed) {
    if (name === '(request-target)') {
      lines.push(`(request-target): ${req.method.toLowerCase()} ${req.rawUrl}`);
      continue;
    }
    const value = header(req.headers, name);
    if (value === undefined) return { ok: false, reason: `signed header "${name}" is missing` };
    lines.push(`${name}: ${value}`);
  }

  let valid = false;
  try {
    valid = verify(
      'sha256',
      Buffer.from(lines.join('\n'), 'utf8'),
      createPublicKey(key.publicKeyPem),
      Buffer.from(params.signature, 'base64'),
    );
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, reason: 'signature does not verify' };

  const sent = Date.parse(header(req.headers, dateHeader) ?? '');
  if (Number.isNaN(sent)) return { ok: false, reason: `${dateHeader} is not a date` };
  const virtualNow = world.now();
  const realNow = virtualNow - world.clockOffsetMs;
  const near = (now: number) => Math.abs(sent - now) <= MAX_CLOCK_SKEW_MS;
  if (!near(virtualNow) && !(signatureClock(world) === 'either' && near(realNow))) {
    return { ok: false, reason: `${dateHeader} is more than 5 minutes from the service clock` };
  }

  if (BODY_METHODS.has(req.method)) {
    const digest = createHash('sha256').update(req.body).digest('base64');
    if (header(req.headers, 'x-content-sha256') !== digest)
      return { ok: false, reason: 'x-content-sha256 does not match the body' };
    if (Number(header(req.headers, 'content-length')) !== req.body.length)
      return { ok: false, reason: 'content-length does not match the body' };
  }
  return { ok: true, key };
}
