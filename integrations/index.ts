/**
 * What the vendor-neutral commands of src/cli.ts take from the integrations: the record format
 * `report` and `reconcile` read back, what `backfill` reads files with, and the commands that are
 * an integration's own. The CLI wires these in; src/ imports no integration by name.
 */
import type { Command } from 'commander';
import type { BackfillSource } from '../src/backfill.js';
import type { ReportFormat } from '../src/report/command.js';
import { EXPECTED_FORMATS } from '../receivers/litellm_logs/items.js';
import { amberfloObjects, amberfloReportFormat } from './amberflo/objects.js';
import { spendLogReconcileCommand } from './litellm/spend-log/command.js';

/** The records the object exporters write (Amberflo's objects and meters). */
export const reportFormat: ReportFormat = amberfloReportFormat;

/** Backfills read LiteLLM's logs (and OTLP/JSON exports) with the `litellm_logs` receiver. */
export const backfillSource: BackfillSource = { receiver: 'litellm_logs', formats: EXPECTED_FORMATS, objects: amberfloObjects };

/** Commands of their own: reconcile against LiteLLM's spend log. */
export function integrationCommands(configFiles: (given: string[] | undefined) => string[]): Command[] {
  return [spendLogReconcileCommand(configFiles, reportFormat)];
}
