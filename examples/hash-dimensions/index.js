// Example spanmeter plugin: a processor that replaces chosen dimension values of every meter
// record with a salted SHA-256 digest, e.g. to keep user ids out of billing files while keeping
// them countable. Load it from pipeline.yaml:
//
//   plugins: [./examples/hash-dimensions/index.js]
//   processors:
//     hash_dimensions:
//       dimensions: [user]
//       salt: ${env:HASH_SALT}
//
// A plugin module default-exports a factory, a list of factories, or a function that receives
// the plugin API and registers factories with `api.register(...)`, exactly like the built-ins.
import { createHash } from 'node:crypto';

/** @param {import('../../src/registry.js').PluginApi} api */
export default function register(api) {
  const { Settings, Type } = api.config;
  api.register(
    api.defineFactory({
      kind: 'processor',
      type: 'hash_dimensions',
      description: 'Replaces the values of chosen dimensions with a salted SHA-256 digest.',
      stability: 'alpha',
      consumes: 'meter_events',
      produces: 'same',
      // One declaration gives the schema, the defaults, the README's key table and the docs.
      configSchema: Settings(
        {
          dimensions: Type.Array(Type.String({ minLength: 1 }), {
            minItems: 1,
            description: 'Dimension keys whose values are hashed; `unknown` stays `unknown`.',
          }),
          salt: Type.String({ minLength: 8, description: 'Secret salt, at least 8 characters; keep it in the environment.' }),
          length: Type.Integer({ minimum: 8, maximum: 64, default: 16, description: 'Hex characters of the digest to keep.' }),
        },
        { description: 'hash_dimensions settings.' },
      ),
      create(settings, next) {
        const { dimensions, salt, length } = settings.config;
        const cache = new Map();
        const hash = (value) => {
          let h = cache.get(value);
          if (h === undefined) {
            h = createHash('sha256').update(salt).update('\0').update(value).digest('hex').slice(0, length);
            if (cache.size > 10_000) cache.clear();
            cache.set(value, h);
          }
          return h;
        };
        return {
          // Records are treated as immutable: build new ones instead of editing the input.
          consume(records, ctx) {
            const out = records.map((r) => {
              if (!r.dimensions) return r;
              const d = { ...r.dimensions };
              for (const k of dimensions) if (typeof d[k] === 'string' && d[k] !== 'unknown') d[k] = hash(d[k]);
              return { ...r, dimensions: d };
            });
            return next.consume(out, ctx);
          },
        };
      },
    }),
  );
}
