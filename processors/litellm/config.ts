import { Duration, Section, Settings, Type, type Static } from '../../src/config/declare.js';

/** The litellm processor's config, declared once: schema, defaults, docs and type. */
export const configSchema = Settings(
  {
    dedup: Section(
      {
        window: Duration({ default: '10m', description: "How long an id is remembered. It should cover the sender's retry horizon." }),
        max_entries: Type.Integer({
          minimum: 0,
          default: 100_000,
          description: 'Most ids remembered (about 100 bytes each, two per call); the oldest are forgotten first. `0` disables de-duplication.',
        }),
      },
      { description: 'De-duplication of calls by LiteLLM call id (successes), response id, or (traceId, spanId); remembered across restarts.' },
    ),
    genai: Type.Boolean({
      default: true,
      description:
        'Bill GenAI-convention spans of other instrumentations (OpenLLMetry, OpenLIT, the OTel OpenAI/Bedrock/Vertex instrumentations). Such a span in a trace that also has a LiteLLM call is never billed.',
    }),
  },
  { description: "Turns LiteLLM's OTel spans (every layout) and GenAI-convention spans into normalised LLM-call records." },
);

export type LitellmConfig = Static<typeof configSchema>;
