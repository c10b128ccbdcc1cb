/**
 * `when:` — lets one pipeline.yaml list several sinks and activate one by an environment value,
 * e.g. the embedded default switching between file, S3, Azure Blob and the API by
 * AFLO_BACKEND_TYPE:
 *
 *   s3:
 *     when: { value: "${env:AFLO_BACKEND_TYPE:-}", in: [s3], allowed: ["", s3, azure-blob, api] }
 *
 * An inactive exporter is dormant: it is not validated beyond its schema, connects nowhere, and
 * acknowledges data without sending it (another, active, exporter in the same list does). A value
 * outside `allowed` is a configuration error, so a typo cannot leave every sink dormant.
 */
import type { Exporter } from '../component.js';
import { Settings, Type, type Static } from '../config/declare.js';

/** The `when` block, declared once for every exporter that takes it. */
export const whenSchema = Settings(
  {
    value: Type.String({ description: 'The selector value, e.g. "${env:AFLO_BACKEND_TYPE:-}".' }),
    in: Type.Array(Type.String(), { minItems: 1, description: 'Values that activate this exporter.' }),
    allowed: Type.Optional(Type.Array(Type.String(), { description: 'Every legal value (optional); anything else is a configuration error.' })),
  },
  {
    description:
      'Activate this exporter only when `value` (usually an ${env:...} reference) is one of `in`; otherwise it is dormant (acknowledges and discards). Omit to always be active.',
  },
);

export type WhenConfig = Static<typeof whenSchema>;

export function isActive(when: WhenConfig | undefined): boolean {
  return !when || when.in.includes(when.value);
}

export function whenProblems(when: WhenConfig | undefined): { path: string; message: string }[] {
  if (!when?.allowed || when.allowed.includes(when.value)) return [];
  return [
    {
      path: 'when.value',
      message: `"${when.value}" is not one of ${when.allowed.map((a) => (a === '' ? '(unset)' : a)).join(', ')}`,
    },
  ];
}

/** What makes an exporter dormant, as shown by `validate`, `status` and the metrics. */
export interface Dormancy {
  /** The selector's value (e.g. AFLO_BACKEND_TYPE's), `""` when unset. */
  value: string;
  /** The values that would activate the exporter. */
  activeFor: string[];
}

/** The dormancy of a component instance, or undefined when it is active. */
export function dormancyOf(instance: unknown): Dormancy | undefined {
  const d = (instance as { dormant?: Dormancy } | null)?.dormant;
  return d && typeof d === 'object' ? d : undefined;
}

/** Why an exporter with this `when` is dormant, in words: `dormant: "" is not s3`. */
export function dormancyText(d: Dormancy): string {
  const show = (v: string) => (v === '' ? '(unset)' : v);
  return `dormant: the selector is ${show(d.value)}, active only for ${d.activeFor.map(show).join(', ')}`;
}

/** The stand-in for an inactive exporter. */
export function dormantExporter(log: { info(o: object, m: string): void }, when: WhenConfig): Exporter & { dormant: Dormancy } {
  return {
    dormant: { value: when.value, activeFor: [...when.in] },
    start() {
      log.info({ value: when.value, activeFor: when.in }, 'exporter is dormant (its `when` does not match)');
      return Promise.resolve();
    },
    async consume() {
      /* another exporter of the pipeline is the active sink */
    },
  };
}
