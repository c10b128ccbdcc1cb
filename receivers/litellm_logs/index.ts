import { defineReceiver } from '../../src/component.js';
import { configSchema, validate } from './config.js';
import { inspectDocument, LitellmLogsReceiver } from './litellm_logs.js';
import { metadata } from './metadata.js';

export default Object.assign(
  defineReceiver({
    ...metadata,
    kind: 'receiver',
    produces: 'llm_calls',
    configSchema,
    validate,
    create: (s, next) => new LitellmLogsReceiver(s, next),
  }),
  // `spanmeter inspect` reads payload documents with it.
  { inspectDocument },
);
