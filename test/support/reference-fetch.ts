/**
 * An undici dispatcher that trusts a CA file, for the tests that need fetch
 * itself: the emulator tests that drive the SDKs' own default (fetch) path, and
 * the transport tests that compare our one HTTP path with what fetch does.
 * ociaccess never uses it (its one HTTP path is src/adapters/http/); undici is
 * a development dependency for this alone.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { Agent, type Dispatcher } from 'undici';

const dispatchers = new Map<string, Agent>();

export function referenceDispatcher(caFile?: string): Dispatcher {
  const key = caFile ?? '';
  let dispatcher = dispatchers.get(key);
  if (!dispatcher) {
    dispatcher = new Agent(caFile ? { connect: { ca: [...tls.rootCertificates, readFileSync(caFile, 'utf8')] } } : {});
    dispatchers.set(key, dispatcher);
  }
  return dispatcher;
}

/** Closes the dispatchers made so far (afterAll). */
export async function closeReferenceDispatchers(): Promise<void> {
  const open = [...dispatchers.values()];
  dispatchers.clear();
  await Promise.all(open.map((dispatcher) => dispatcher.close()));
}
