// zod schema of the policy file. Condition values accept a single item or a
// list (a list is an OR); all conditions of a rule must hold (AND).
import { z } from 'zod';
import { ACTIONS, DIRECTIONS, EVENT_KINDS } from '../events/types';

const oneOf = <T extends string>(values: readonly T[]) =>
  z.enum(values as unknown as [T, ...T[]], {
    errorMap: () => ({ message: `expected one of ${values.join(', ')}` }),
  });

/** One item or a non-empty list; a single item is wrapped so errors point at [0]. */
const listOf = <T extends z.ZodTypeAny>(item: T, what: string) =>
  z.preprocess(
    (v) => (Array.isArray(v) || v === undefined ? v : [v]),
    z.array(item, { invalid_type_error: `expected ${what} or a list of them` }).min(1, `expected a non-empty list of ${what}`),
  );

const str = z.string({ invalid_type_error: 'expected a string' }).min(1, 'expected a non-empty string');

export const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Day = (typeof DAYS)[number];

const timeWindow = z
  .object({
    days: z.array(oneOf(DAYS)).min(1, 'expected at least one day').optional(),
    between: z
      .string({ invalid_type_error: 'expected "HH:MM-HH:MM"' })
      .regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$/, 'expected "HH:MM-HH:MM" (24-hour local time)')
      .optional(),
  })
  .strict();

export const conditionsSchema = z
  .object({
    kind: listOf(oneOf(EVENT_KINDS), 'event kinds'),
    door: listOf(oneOf(['icap', 'socks5', 'http', 'redirect', 'replay'] as const), 'doors'),
    user: listOf(str, 'user names (globs)'),
    group: listOf(str, 'group names (globs)'),
    client_ip: listOf(str, 'CIDRs'),
    protocol: listOf(str, 'protocol names (globs)'),
    app: listOf(str, 'app names (globs)'),
    direction: listOf(oneOf(DIRECTIONS), 'directions'),
    account: listOf(str, 'accounts (globs)'),
    peer: listOf(str, 'peers (globs)'),
    host: listOf(str, 'host globs'),
    url_matches: listOf(str, 'regular expressions'),
    text_matches: listOf(str, 'regular expressions'),
    file_name: listOf(str, 'file name globs'),
    file_size_over: z
      .number({ invalid_type_error: 'expected a number of bytes' })
      .int('expected a whole number of bytes')
      .min(0, 'expected a non-negative number of bytes'),
    time: listOf(timeWindow, 'time windows ({ days, between })'),
  })
  .partial()
  .strict();

export const ruleSchema = z
  .object({
    id: z
      .string({ invalid_type_error: 'expected a string', required_error: 'expected a rule id' })
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'expected 1-64 characters of A-Z a-z 0-9 _ . : -'),
    description: z.string({ invalid_type_error: 'expected a string' }).optional(),
    when: conditionsSchema.default({}),
    then: oneOf(ACTIONS),
  })
  .strict();

export const policySchema = z
  .object({
    default: oneOf(ACTIONS).default('allow'),
    rules: z.array(ruleSchema).default([]),
  })
  .strict();

export type PolicyDoc = z.output<typeof policySchema>;
export type RuleDoc = PolicyDoc['rules'][number];
export type ConditionsDoc = RuleDoc['when'];
export type TimeWindowDoc = z.output<typeof timeWindow>;
