/** Public API for plugins and embedding. */
export * from './component.js';
export type { LlmCall, LlmUsage, LlmError } from './data/llm-call.js';
export type { MeterRecord } from './data/meter-record.js';
export * from './data/span.js';
export { parseDuration, durationSchema } from './config/duration.js';
export { loadConfig, formatError, type ResolvedConfig, type ConfigError } from './config/config.js';
export { createRegistry, ComponentRegistry, type PluginApi } from './registry.js';
export { Service } from './service.js';
