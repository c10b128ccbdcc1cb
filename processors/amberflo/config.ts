import { Settings, Type, type Static } from '../../src/config/declare.js';
import { MODES, type MappingOptions } from '../../integrations/amberflo/mapping.js';

/** The words the callback reads as booleans (AFLO_SEND_OBJECT_METADATA), in the casings it accepts. */
const BOOLEAN_WORDS = '^(true|false|1|0|yes|no|on|off|TRUE|FALSE|True|False|YES|NO|Yes|No|ON|OFF|On|Off)$';

/** The amberflo processor's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    mode: Type.Enum(MODES, {
      default: 'clean',
      description:
        'compat: exactly what Amberflo\'s LiteLLM callback emits (nulls and "/" included). clean: compat plus valid dimension values and input tokens split by cache state.',
    }),
    hosted_env: Type.Union([Type.String({ minLength: 1 }), Type.Number()], {
      default: 'prod',
      description: 'Value of the hosted_env dimension (callback: AFLO_HOSTED_ENV). A number (e.g. from ${env:...}) is used as its text.',
    }),
    send_object_metadata: Type.Union([Type.Boolean(), Type.Enum([0, 1]), Type.String({ pattern: BOOLEAN_WORDS })], {
      default: false,
      description:
        'Also emit aflo.object_metadata records (business units, team tags) (callback: AFLO_SEND_OBJECT_METADATA). A boolean, or true/false/1/0/yes/no/on/off as the callback accepts.',
    }),
  },
  { description: 'Maps LLM calls to Amberflo meter records.' },
);

export type AmberfloConfig = Static<typeof configSchema>;

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off', ''];

/** A boolean written as the callback accepts it (true/1/yes/on, false/0/no/off, any case). */
export function parseBool(v: boolean | string | number): boolean {
  if (typeof v === 'boolean') return v;
  const w = String(v).trim().toLowerCase();
  if (TRUE_WORDS.includes(w)) return true;
  if (FALSE_WORDS.includes(w)) return false;
  throw new Error(`not a boolean: ${JSON.stringify(v)}`);
}

/** What the mapping needs, from the resolved config. */
export function mappingOptions(c: AmberfloConfig): MappingOptions {
  return { mode: c.mode, hostedEnv: String(c.hosted_env), sendObjectMetadata: parseBool(c.send_object_metadata) };
}
