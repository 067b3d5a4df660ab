/** The record-attribute rules of the Okta doctor (docs/okta.md, Records in Okta; docs/security.md's Okta section). */
import { schemaProblems, type OktaSchemaProperty } from '../../src/core/doctor-okta.js';

const good: OktaSchemaProperty = { type: 'string', maxLength: 4096, self: 'READ_WRITE' };
const user = (changes: Record<string, OktaSchemaProperty | undefined> = {}) =>
  Object.fromEntries(
    Object.entries({ ociaccessRequests: good, ociaccessDecisions: good, ...changes }).filter(([, v]) => v),
  ) as Record<string, OktaSchemaProperty>;
const group = { ociaccessDecisions: { type: 'string', maxLength: 4096 } };

describe('Okta doctor: record attributes', () => {
  it('the documented attributes pass; no maxLength (no limit) or a larger one passes too', () => {
    expect(schemaProblems(user(), group)).toEqual([]);
    expect(
      schemaProblems(user({ ociaccessRequests: { type: 'string', self: 'READ_WRITE' } }), {
        ociaccessDecisions: { type: 'string', maxLength: 10000 },
      }),
    ).toEqual([]);
  });

  it.each([
    [
      'a missing user attribute',
      user({ ociaccessDecisions: undefined }),
      group,
      'the user profile has no attribute ociaccessDecisions',
      'Add Attribute: data type string, variable name ociaccessDecisions, maximum length 4096, User permission Read-Write',
    ],
    [
      'READ_ONLY for SELF',
      user({ ociaccessDecisions: { ...good, self: 'READ_ONLY' } }),
      group,
      'user attribute ociaccessDecisions has the User permission READ_ONLY, not READ_WRITE: people cannot write their own decisions',
      'ociaccessDecisions → User permission: Read-Write',
    ],
    [
      'HIDE for SELF',
      user({ ociaccessRequests: { ...good, self: 'HIDE' } }),
      group,
      'user attribute ociaccessRequests has the User permission HIDE, not READ_WRITE',
      'ociaccessRequests → User permission: Read-Write',
    ],
    [
      'no SELF permission at all',
      user({ ociaccessRequests: { type: 'string', maxLength: 4096 } }),
      group,
      'has the User permission none, not READ_WRITE',
      'User permission: Read-Write',
    ],
    [
      'too short',
      user({ ociaccessRequests: { ...good, maxLength: 1024 } }),
      group,
      'user attribute ociaccessRequests allows 1024 characters, fewer than the 4096 a record may take',
      'Attribute length: maximum 4096',
    ],
    [
      'not a string',
      user({ ociaccessRequests: { ...good, type: 'array' } }),
      group,
      'user attribute ociaccessRequests is of type array, not string',
      'delete ociaccessRequests and add it again as a string',
    ],
    [
      'the group attribute missing',
      user(),
      {},
      'the group profile has no attribute ociaccessDecisions',
      'Groups (default) → Add Attribute',
    ],
  ])('%s fails with its fix', (_name, userSchema, groupSchema, problem, fix) => {
    const problems = schemaProblems(userSchema, groupSchema);
    expect(problems).toHaveLength(1);
    expect(problems[0]!.problem).toContain(problem);
    expect(problems[0]!.fix).toContain(fix);
  });
});
