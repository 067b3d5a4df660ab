/**
 * Reading a provisionOnDemand answer: a 200 whose key/value JSON strings say
 * Success, Skipped or Failure; anything unreadable is Unknown (not done).
 */
import { onDemandResultOf } from '../../src/adapters/graph/graph-directory.js';

const answer = (key: unknown, value: unknown = {}) => ({ key: JSON.stringify(key), value: JSON.stringify(value) });

test.each([
  [answer({ result: 'Success', details: {} }), { result: 'Success', errorCode: null, reason: null }],
  [
    answer({ result: 'Skipped', details: { errorCode: 'RedundantExport', errorMessage: 'already match' } }),
    { result: 'Skipped', errorCode: 'RedundantExport', reason: 'already match' },
  ],
  [
    answer({ result: 'Failure', details: { errorCode: 'E', errorMessage: 'refused' } }),
    { result: 'Failure', errorCode: 'E', reason: 'refused' },
  ],
  [
    { key: 'not json', value: JSON.stringify({ statusInfo: { status: 'Failure', errorCode: 'X', reason: 'r' } }) },
    { result: 'Failure', errorCode: 'X', reason: 'r' },
  ],
  [{}, { result: 'Unknown', errorCode: null, reason: 'the answer held no readable result' }],
  [answer({ result: 'Weird' }), { result: 'Unknown', errorCode: null, reason: 'the answer held no readable result' }],
])('%j → %j', (input, expected) => {
  expect(onDemandResultOf(input)).toEqual(expected);
});
