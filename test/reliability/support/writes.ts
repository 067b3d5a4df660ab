/** Whether a logged request changed something in Graph (writes, $batch write items) or OCI (anything but reads and searches). */
import type { LoggedRequest } from '../../../src/emulator/state.js';

export function isWrite(entry: LoggedRequest): boolean {
  const pathOnly = entry.path.split('?')[0]!;
  if (entry.service === 'graph') {
    if (pathOnly === '/v1.0/$batch')
      return entry.batchItems === undefined || entry.batchItems.some((item) => item.method !== 'GET');
    return entry.method !== 'GET' && entry.method !== 'HEAD';
  }
  if (entry.service === 'oci') {
    if (entry.method === 'GET' || entry.method === 'HEAD') return false;
    return !(entry.method === 'POST' && pathOnly.endsWith('/.search'));
  }
  return false;
}
