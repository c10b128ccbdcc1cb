import type { ConfigProblem } from '../../src/component.js';
import { Settings, Type, type Static } from '../../src/config/declare.js';
import { checkOperation } from './ops.js';

const name = { minLength: 1, maxLength: 200 };
const key = (description: string) => Type.String({ ...name, description });

/**
 * One operation. Its kind is the one of `set`, `rename` or `delete` it has; `validate` checks that
 * it has exactly one and only that kind's keys (one object, so that the key table lists them all).
 */
const operation = Settings(
  {
    set: Type.Optional(key('Dimension to set; needs exactly one of value or from.')),
    value: Type.Optional(
      Type.String({ description: 'With set: a literal value; {{path}} inserts another field ("" when absent), e.g. "{{dimensions.team}}-{{meterApiName}}".' }),
    ),
    from: Type.Optional(
      Type.String({
        description: 'With set: copy this field (meterApiName, meterValue, meterTimeInMillis, uniqueId, customerId, dimensions.<key>); null when absent.',
      }),
    ),
    if_missing: Type.Boolean({ default: false, description: 'With set: only set the dimension when it is absent, null or empty.' }),
    rename: Type.Optional(key('Dimension to rename (nothing happens when it is absent); needs to.')),
    to: Type.Optional(key('With rename: the new name.')),
    delete: Type.Optional(
      Type.Union([Type.String(name), Type.Array(Type.String(name), { minItems: 1 })], { description: 'A dimension name or a list of names to remove.' }),
    ),
    meters: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        minItems: 1,
        description: 'Apply the operation only to records whose meterApiName is in this list (not set: all meters).',
      }),
    ),
  },
  { description: 'One operation: set (with value or from), rename (with to) or delete.' },
);

/** The transform processor's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    operations: Type.Array(operation, {
      default: [],
      description: 'Operations applied in order to every record: {set, value|from, if_missing, meters}, {rename, to, meters} or {delete, meters}.',
    }),
  },
  { description: 'Edits meter-record dimensions.' },
);

export type TransformConfig = Static<typeof configSchema>;
export type Operation = TransformConfig['operations'][number];

/** Each operation's problems (its kind and keys, paths and {{ }} references), keyed by its index. */
export function validate(c: TransformConfig): ConfigProblem[] {
  return c.operations.flatMap((op, i) => checkOperation(op).map((p) => ({ path: `operations.${i}${p.path ? `.${p.path}` : ''}`, message: p.message })));
}
