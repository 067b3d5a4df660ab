/**
 * PIM for Groups' own error answers (docs/pim.md, "Errors"), as typed errors
 * with stable codes. The core words them again with the group's policy in
 * hand (core/pim/refusals.ts): "PIM allows at most 8 hours for this group".
 * Everything else (401, 403, throttling, 5xx) is left to the directory's
 * generic mapping, which names the missing permission.
 */
import { PolicyError, type OciAccessError } from '../../errors.js';

/** The policy rules a RoleAssignmentRequestPolicyValidationFailed message names, and our code for each. */
const RULE_CODES: [RegExp, string, string][] = [
  [/ExpirationRule/i, 'DURATION_TOO_LONG', "the duration asked for is longer than the group's PIM policy allows"],
  [/JustificationRule/i, 'JUSTIFICATION_REQUIRED', "the group's PIM policy requires a justification"],
  [/TicketingRule/i, 'TICKET_REQUIRED', "the group's PIM policy requires a ticket"],
  [
    /MfaRule|MultiFactorAuthentication/i,
    'PIM_POLICY_REFUSED',
    "the group's PIM policy requires multifactor authentication",
  ],
];

/** The rule names in a policy-validation message (e.g. "ExpirationRule, TicketingRule"). */
export function failedRulesOf(message: string): string[] {
  return [...new Set(message.match(/\b[A-Z][A-Za-z]*Rule\b/g) ?? [])];
}

export function pimErrorOf(status: number, code: string, message: string): OciAccessError | undefined {
  const details = { status, graphCode: code, graphMessage: message };
  switch (code) {
    case 'RoleAssignmentRequestPolicyValidationFailed': {
      const rules = failedRulesOf(message);
      const known = RULE_CODES.find(([pattern]) => pattern.test(message));
      return new PolicyError(
        known?.[1] ?? 'PIM_POLICY_REFUSED',
        `PIM refused the request: ${known?.[2] ?? `it breaks the group's PIM policy (${rules.join(', ') || message})`}.`,
        { hint: "Run `ociaccess doctor` to see the group's PIM policy.", details: { ...details, rules } },
      );
    }
    case 'ActiveDurationTooShort':
      return new PolicyError('PIM_ACTIVE_TOO_SHORT', 'PIM does not end an activation within 5 minutes of its start.', {
        hint: 'Try again in a few minutes.',
        details,
      });
    case 'RoleAssignmentExists':
      return new PolicyError('PIM_ALREADY_ACTIVE', 'PIM says the membership is already active.', {
        hint: 'See it with `ociaccess status`; extend it with `ociaccess extend`.',
        details,
      });
    case 'RoleAssignmentDoesNotExist':
      return new PolicyError('PIM_NO_ASSIGNMENT', 'PIM holds no active membership to end or extend.', {
        hint: 'See with `ociaccess status` what is active.',
        details,
      });
    case 'RoleEligibilityScheduleDoesNotExist':
      return new PolicyError('NOT_ELIGIBLE', 'PIM holds no eligibility of yours for membership of this group.', {
        hint: 'Ask a PIM administrator to make you eligible for the group (Privileged Identity Management > Groups).',
        details,
      });
    case 'PendingRoleAssignmentRequest':
      return new PolicyError('REQUEST_ALREADY_PENDING', 'PIM already holds a pending request for this membership.', {
        hint: 'Wait for an approver, or withdraw it with `ociaccess revoke` and request again.',
        details,
      });
    default:
      return undefined;
  }
}
