/**
 * `spanmeter reconcile` against LiteLLM's spend log: the core's reconcile command with the spend
 * log's options and reader.
 */
import type { Command } from 'commander';
import { reconcileCommand, type ReportFormat, type ReportIo } from '../../../src/report/command.js';
import { openSpendLog, spendLogOptions } from './index.js';

export function spendLogReconcileCommand(configFiles: (given: string[] | undefined) => string[], format: ReportFormat, io: ReportIo = {}): Command {
  return reconcileCommand(configFiles, format, spendLogOptions, openSpendLog, io).description(
    "compare the calls in the objects an exporter wrote with LiteLLM's spend log, call by call; exit 0 when they agree",
  );
}
