import { defineReceiver } from '../../src/component.js';
import { configSchema, validate } from './config.js';
import { metadata } from './metadata.js';
import { OtlpReceiver } from './otlp.js';

export default defineReceiver({
  ...metadata,
  kind: 'receiver',
  produces: 'spans',
  alsoProduces: ['logs'],
  configSchema,
  validate,
  create: (s, next) => new OtlpReceiver(s, next),
});
