import type { ConfigProblem } from '../../src/component.js';
import { Settings, Type, type Static } from '../../src/config/declare.js';
import { conditionProblem } from './condition.js';

const conditions = (description: string) => Type.Array(Type.String({ minLength: 1 }), { default: [], description });

/** The filter processor's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    drop: conditions('Drop a record that matches ANY of these conditions, e.g. \'meterApiName == "llm_api_call_ms"\'.'),
    keep: conditions('When non-empty, keep only records that match ALL of these conditions (applied after drop).'),
  },
  { description: 'Drops meter records by condition.' },
);

export type FilterConfig = Static<typeof configSchema>;

/** Each condition that cannot be read, keyed by its list and index. */
export function validate(c: FilterConfig): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const name of ['drop', 'keep'] as const) {
    c[name].forEach((text, i) => {
      const message = conditionProblem(text);
      if (message !== null) out.push({ path: `${name}.${i}`, message });
    });
  }
  return out;
}
