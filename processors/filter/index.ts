/**
 * `filter` processor (`meter_events` → same): drops records by condition (see condition.ts).
 * A record is dropped when it matches ANY `drop` condition, or (when `keep` is set) when it does
 * not match ALL `keep` conditions. Dropped records are counted (reason "filtered").
 */
import type { Consumer, ConsumeContext, CreateSettings, Processor } from '../../src/component.js';
import { defineFactory } from '../../src/component.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { ConditionError, parseCondition, type Predicate } from './condition.js';

export interface FilterConfig {
  drop: string[];
  keep: string[];
}

const cond = { type: 'string', minLength: 1 };
const configSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Drops meter records by condition.',
  properties: {
    drop: { type: 'array', items: cond, description: 'Drop a record that matches ANY of these, e.g. \'meterApiName == "llm_api_call_ms"\'.' },
    keep: { type: 'array', items: cond, description: 'When set, keep only records that match ALL of these (applied after drop).' },
  },
};

export class FilterProcessor implements Processor<MeterRecord[]> {
  private readonly drop: Predicate[];
  private readonly keep: Predicate[];

  constructor(
    private readonly settings: CreateSettings<FilterConfig>,
    private readonly next: Consumer<MeterRecord[]>,
  ) {
    this.drop = settings.config.drop.map(parseCondition);
    this.keep = settings.config.keep.map(parseCondition);
  }

  passes(r: MeterRecord): boolean {
    for (const p of this.drop) if (p(r)) return false;
    for (const p of this.keep) if (!p(r)) return false;
    return true;
  }

  async consume(records: MeterRecord[], ctx?: ConsumeContext): Promise<void> {
    const out = records.filter((r) => this.passes(r));
    if (out.length !== records.length) this.settings.metrics.dropped(records.length - out.length, 'filtered');
    if (out.length) await this.next.consume(out, ctx);
  }
}

function check(list: string[], name: string) {
  const problems: { path: string; message: string }[] = [];
  list.forEach((c, i) => {
    try {
      parseCondition(c);
    } catch (e) {
      if (!(e instanceof ConditionError)) throw e;
      problems.push({ path: `${name}.${i}`, message: e.message });
    }
  });
  return problems;
}

export default defineFactory({
  kind: 'processor',
  type: 'filter',
  description: 'Drops meter records by condition (e.g. meterApiName == "llm_api_call_ms").',
  stability: 'beta',
  consumes: 'meter_events',
  produces: 'same',
  configSchema,
  defaultConfig: (): FilterConfig => ({ drop: [], keep: [] }),
  validate: (c: FilterConfig) => [...check(c.drop, 'drop'), ...check(c.keep, 'keep')],
  create: (settings: CreateSettings<FilterConfig>, next: Consumer<MeterRecord[]>) => new FilterProcessor(settings, next),
});
