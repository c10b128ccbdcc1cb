/**
 * `enrich` (llm_calls → llm_calls): fills the facts spans do not carry — team alias and metadata,
 * key alias / team / user / metadata, the deployment's provider, model-map key, api_base and
 * region — from LiteLLM itself (admin API or database) or from a catalogue file. See README.md.
 *
 * The processor instance owns the source, the lookups, the refresh loop and health.
 */
import type { Logger } from 'pino';
import type { ConsumeContext, Consumer, CreateSettings, Host, Processor } from '../../src/component.js';
import type { LlmCall } from '../../src/data/llm-call.js';
import { instruments } from '../../src/telemetry/declare.js';
import type { Kind } from '../../integrations/litellm/catalogue/facts.js';
import type { EnrichConfig } from './config.js';
import { Enricher, type Lookups } from './enricher.js';
import { Lookup, SourceHealth } from './lookup.js';
import { metadata } from './metadata.js';
import { FileSource } from '../../integrations/litellm/catalogue/file.js';
import { LitellmApiSource } from '../../integrations/litellm/catalogue/admin-api.js';
import { LitellmDbSource } from '../../integrations/litellm/catalogue/database.js';
import type { SourceError, Source } from '../../integrations/litellm/catalogue/source.js';

/** The configured source; secrets are read from the environment variables the config names. */
export function createSource(c: EnrichConfig, env: NodeJS.ProcessEnv = process.env): Source {
  const teamMetadataKeys = c.team.metadata_keys;
  switch (c.source) {
    case 'litellm_api':
      return new LitellmApiSource({ ...c.litellm_api, apiKey: env[c.litellm_api.api_key_env] || undefined, teamMetadataKeys });
    case 'litellm_db':
      return new LitellmDbSource({ ...c.litellm_db, url: env[c.litellm_db.url_env] || undefined, teamMetadataKeys });
    case 'file': {
      const { path } = c.file;
      // validate() refuses source "file" without a path.
      if (!path) throw new Error('source "file" needs file.path');
      return new FileSource({ ...c.file, path, teamMetadataKeys });
    }
  }
}

export class EnrichProcessor implements Processor<LlmCall[]> {
  readonly health: SourceHealth;
  readonly lookups: Lookups = {};
  private readonly enricher: Enricher;
  private readonly stop = new AbortController();
  private readonly logger: Logger;
  private timer?: NodeJS.Timeout;
  private refreshing?: Promise<boolean>;
  /** A refresh was asked for while one was running (e.g. the file changed again): run once more. */
  private again = false;
  private started = false;

  constructor(
    private readonly c: EnrichConfig,
    s: CreateSettings<EnrichConfig>,
    private readonly next: Consumer<LlmCall[]>,
    readonly source: Source = createSource(c),
  ) {
    this.logger = s.logger;
    const metrics = instruments(s.registry, metadata.metrics);
    this.health = new SourceHealth(s.id, this.source.type, metrics, s.logger);
    const o = {
      maxEntries: c.cache.max_entries,
      ttlMs: c.cache.ttl,
      negativeTtlMs: c.cache.negative_ttl,
      rate: c.miss.rate,
      burst: c.miss.burst,
      maxInFlight: c.miss.max_in_flight,
    };
    const mk = <K extends Kind>(kind: K) => new Lookup(kind, this.source, o, metrics, this.health, s.id, this.stop.signal);
    if (c.key.enabled) this.lookups.key = mk('key');
    if (c.team.enabled) this.lookups.team = mk('team');
    if (c.model.enabled) this.lookups.model = mk('model');
    this.enricher = new Enricher(
      this.lookups,
      {
        onMiss: c.on_miss,
        budgetMs: c.budget,
        waitTimeoutMs: c.wait_timeout,
        modelMap: { mode: c.model.model_map, onErrors: c.model.model_map_on_errors },
        processorId: s.id,
        stop: this.stop.signal,
      },
      metrics,
    );
  }

  async start(host: Host): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.health.attach(host);
    // A watched source (file) is re-listed whenever it changes, warm or not.
    this.source.watch?.(() => void this.refreshAll());
    if (!this.c.cache.warm) return;
    const warm = this.refreshAll();
    let timer: NodeJS.Timeout | undefined;
    const capped = await Promise.race([warm, new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), this.c.cache.warm_timeout)))]);
    clearTimeout(timer);
    if (capped === 'late') this.logger.warn({ source: this.source.type }, 'enrichment warm-up still running after warm_timeout; continuing in the background');
  }

  /** Lists every enabled kind; schedules the next refresh. Resolves true when all listings succeeded. */
  refreshAll(): Promise<boolean> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    clearTimeout(this.timer);
    this.refreshing = (async () => {
      const counts: string[] = [];
      let ok = true;
      for (const lookup of [this.lookups.team, this.lookups.key, this.lookups.model]) {
        if (!lookup || !this.source.canList(lookup.kind) || this.stop.signal.aborted) continue;
        try {
          counts.push(`${lookup.kind}s ${await lookup.refresh(this.stop.signal)}`);
        } catch (e) {
          ok = false;
          // The check before the await does not hold after it: shutdown may abort while listing.
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
          if (!this.stop.signal.aborted) this.health.failure(e as SourceError);
        }
      }
      if (ok && counts.length) this.health.success(`${counts.join(', ')}; listed ${new Date().toISOString()}`);
      return ok;
    })().finally(() => {
      this.refreshing = undefined;
    });
    void this.refreshing.then((ok) => {
      if (this.again && !this.stop.signal.aborted) {
        this.again = false;
        void this.refreshAll();
      } else this.schedule(ok ? this.c.cache.refresh_interval : this.c.cache.retry_interval);
    });
    return this.refreshing;
  }

  private schedule(ms: number): void {
    if (this.stop.signal.aborted || !this.c.cache.warm) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refreshAll(), ms);
    this.timer.unref();
  }

  async consume(calls: LlmCall[], ctx?: ConsumeContext): Promise<void> {
    const out = await this.enricher.enrich(calls);
    await this.next.consume(out, ctx);
  }

  async shutdown(): Promise<void> {
    if (this.stop.signal.aborted) return;
    this.stop.abort();
    clearTimeout(this.timer);
    await this.refreshing?.catch(() => {});
    await this.source.close();
  }
}
