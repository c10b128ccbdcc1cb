/**
 * Source `file`: a catalogue kept by hand, reloaded when it changes (mtime or size).
 *
 * YAML / JSON: `{teams: [...], keys: [...], models: [...]}`, each item in LiteLLM's own shape
 * (what /v2/team/list, /key/list?return_full_object=true and /model/info return), so output of
 * the admin API can be pasted in. CSV: one row per entry, header
 * `kind,id,alias,team_id,user_id,organization_id,metadata,model_name,provider,model_map_key,model_map_provider,api_base,region`
 * (`kind` = team | key | model; `metadata` = a JSON object; unused columns empty).
 */
import { readFile, stat } from 'node:fs/promises';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { parse as parseYaml } from 'yaml';
import { Duration, Section, Type, type Static } from '../../../src/config/declare.js';
import { keyFacts, modelFacts, teamFacts, type FactsOf, type Kind } from './facts.js';
import { SourceError, type Source } from './source.js';

/** The source's settings as a component config declares them (e.g. the enrich processor's `file`). */
export const fileSettings = Section(
  {
    path: Type.Optional(Type.String({ description: 'Catalogue file (YAML, JSON or CSV; see README). Reloaded when it changes. Required with source `file`.' })),
    format: Type.Enum(['auto', 'yaml', 'json', 'csv'], { default: 'auto', description: '`auto` picks by extension (.yaml/.yml, .json, .csv).' }),
    watch_interval: Duration({ default: '2s', description: 'How often the file is checked for changes (mtime and size).' }),
  },
  { description: 'Settings of source `file`.' },
);

export type FileSettings = Static<typeof fileSettings>;

export interface FileOptions extends FileSettings {
  path: string;
  teamMetadataKeys: readonly string[];
}

type Catalogue = { [K in Kind]: Map<string, FactsOf[K]> };

type Obj = Record<string, unknown>;

export class FileSource implements Source {
  readonly type = 'file';
  private loaded?: { mtimeMs: number; size: number; cat: Catalogue };
  private watching = false;

  constructor(private readonly o: FileOptions) {}

  canList(): boolean {
    return true;
  }

  async list<K extends Kind>(kind: K): Promise<FactsOf[K][]> {
    const cat = await this.load();
    return [...(cat[kind] as Map<string, FactsOf[K]>).values()];
  }

  async get<K extends Kind>(kind: K, id: string): Promise<FactsOf[K] | null> {
    const cat = await this.load();
    return (cat[kind] as Map<string, FactsOf[K]>).get(id) ?? null;
  }

  watch(onChange: () => void): void {
    if (this.watching) return;
    this.watching = true;
    watchFile(this.o.path, { interval: this.o.watch_interval, persistent: false }, (cur: Stats, prev: Stats) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size) onChange();
    });
  }

  close(): Promise<void> {
    if (this.watching) unwatchFile(this.o.path);
    this.watching = false;
    return Promise.resolve();
  }

  private format(): 'yaml' | 'json' | 'csv' {
    if (this.o.format !== 'auto') return this.o.format;
    const ext = extname(this.o.path).toLowerCase();
    if (ext === '.json') return 'json';
    if (ext === '.csv') return 'csv';
    return 'yaml';
  }

  /** Parses the file unless it is unchanged since the last parse. */
  private async load(): Promise<Catalogue> {
    let st;
    try {
      st = await stat(this.o.path);
    } catch (e) {
      throw new SourceError(`file: cannot read ${this.o.path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, 'unavailable');
    }
    if (this.loaded && this.loaded.mtimeMs === st.mtimeMs && this.loaded.size === st.size) return this.loaded.cat;
    let text: string;
    try {
      text = await readFile(this.o.path, 'utf8');
    } catch (e) {
      throw new SourceError(`file: cannot read ${this.o.path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, 'unavailable');
    }
    let cat: Catalogue;
    try {
      cat = this.format() === 'csv' ? this.fromCsv(text) : this.fromDoc(this.format() === 'json' ? JSON.parse(text) : parseYaml(text));
    } catch (e) {
      if (e instanceof SourceError) throw e;
      throw new SourceError(`file: ${this.o.path} is not a valid ${this.format().toUpperCase()} catalogue: ${(e as Error).message.split('\n')[0]}`, 'invalid');
    }
    this.loaded = { mtimeMs: st.mtimeMs, size: st.size, cat };
    return cat;
  }

  private empty(): Catalogue {
    return { team: new Map(), key: new Map(), model: new Map() };
  }

  private fromDoc(doc: unknown): Catalogue {
    if (doc === null || doc === undefined) return this.empty();
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new SourceError(`file: ${this.o.path}: expected a mapping with teams, keys and models`, 'invalid');
    const d = doc as Obj;
    const cat = this.empty();
    const items = (name: string): unknown[] => {
      const v = d[name];
      if (v === undefined || v === null) return [];
      if (!Array.isArray(v)) throw new SourceError(`file: ${this.o.path}: "${name}" must be a list`, 'invalid');
      return v;
    };
    for (const t of items('teams')) {
      const f = teamFacts(t, this.o.teamMetadataKeys);
      if (f) cat.team.set(f.teamId, f);
    }
    for (const k of items('keys')) {
      const f = keyFacts(k);
      if (f) cat.key.set(f.keyHash, f);
    }
    for (const m of items('models')) {
      const f = modelFacts(m);
      if (f) cat.model.set(f.modelId, f);
    }
    return cat;
  }

  private fromCsv(text: string): Catalogue {
    const rows: Record<string, string>[] = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true });
    const cat = this.empty();
    rows.forEach((r, i) => {
      const line = i + 2;
      const metadata = r.metadata ? parseJsonObject(r.metadata, `${this.o.path}:${line}`) : null;
      switch (r.kind) {
        case 'team': {
          const f = teamFacts({ team_id: r.id, team_alias: r.alias, organization_id: r.organization_id, metadata }, this.o.teamMetadataKeys);
          if (f) cat.team.set(f.teamId, f);
          break;
        }
        case 'key': {
          const f = keyFacts({ token: r.id, key_alias: r.alias, team_id: r.team_id, user_id: r.user_id, organization_id: r.organization_id, metadata });
          if (f) cat.key.set(f.keyHash, f);
          break;
        }
        case 'model': {
          const f = modelFacts({
            model_name: r.model_name,
            litellm_params: { custom_llm_provider: r.provider, api_base: r.api_base, aws_region_name: r.region },
            model_info: { id: r.id, key: r.model_map_key, litellm_provider: r.model_map_provider },
          });
          if (f) cat.model.set(f.modelId, f);
          break;
        }
        default:
          throw new SourceError(`file: ${this.o.path}:${line}: kind must be team, key or model`, 'invalid');
      }
    });
    return cat;
  }
}

function parseJsonObject(s: string, where: string): Obj {
  try {
    const v: unknown = JSON.parse(s);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Obj;
  } catch {
    /* below */
  }
  throw new SourceError(`file: ${where}: metadata must be a JSON object`, 'invalid');
}
