/**
 * `transform` processor (`meter_events` → same): set, rename or delete dimensions, in order.
 * See ops.ts and README.md.
 */
import type { Consumer, ConsumeContext, CreateSettings, Processor } from '../../src/component.js';
import { defineFactory } from '../../src/component.js';
import type { MeterRecord } from '../../src/data/meter-record.js';
import { apply, checkOperation, type Operation } from './ops.js';

export interface TransformConfig {
  operations: Operation[];
}

const key = { type: 'string', minLength: 1, maxLength: 200 };
const meters = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 }, description: 'Only apply to records with one of these meterApiName values.' };

const configSchema = {
  type: 'object',
  additionalProperties: false,
  description: 'Edits meter-record dimensions.',
  properties: {
    operations: {
      type: 'array',
      description: 'Operations applied in order to every record: {set, value|from, if_missing, meters}, {rename, to, meters} or {delete, meters}.',
      items: {
        oneOf: [
          {
            type: 'object',
            additionalProperties: false,
            required: ['set'],
            properties: {
              set: { ...key, description: 'Dimension to set.' },
              value: { type: 'string', description: 'Literal value; {{path}} inserts another field, e.g. "{{dimensions.team}}-{{meterApiName}}".' },
              from: { type: 'string', description: 'Copy this field (meterApiName, meterValue, meterTimeInMillis, uniqueId, customerId, dimensions.<key>); null when absent.' },
              if_missing: { type: 'boolean', description: 'Only set when the dimension is absent, null or empty. Default false.' },
              meters,
            },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['rename', 'to'],
            properties: { rename: { ...key, description: 'Dimension to rename.' }, to: { ...key, description: 'New name.' }, meters },
          },
          {
            type: 'object',
            additionalProperties: false,
            required: ['delete'],
            properties: {
              delete: { anyOf: [key, { type: 'array', minItems: 1, items: key }], description: 'Dimension(s) to remove.' },
              meters,
            },
          },
        ],
      },
    },
  },
};

export class TransformProcessor implements Processor<MeterRecord[]> {
  constructor(
    private readonly ops: readonly Operation[],
    private readonly next: Consumer<MeterRecord[]>,
  ) {}

  async consume(records: MeterRecord[], ctx?: ConsumeContext): Promise<void> {
    if (!this.ops.length) return this.next.consume(records, ctx);
    await this.next.consume(
      records.map((r) => apply(this.ops, r)),
      ctx,
    );
  }
}

export default defineFactory({
  kind: 'processor',
  type: 'transform',
  description: 'Sets, renames or deletes dimensions of meter records (values may reference other fields with {{path}}).',
  stability: 'beta',
  consumes: 'meter_events',
  produces: 'same',
  configSchema,
  defaultConfig: (): TransformConfig => ({ operations: [] }),
  validate: (c: TransformConfig) => c.operations.flatMap((op, i) => checkOperation(op).map((p) => ({ path: `operations.${i}${p.path ? `.${p.path}` : ''}`, message: p.message }))),
  create: (settings: CreateSettings<TransformConfig>, next: Consumer<MeterRecord[]>) => new TransformProcessor(settings.config.operations, next),
});
