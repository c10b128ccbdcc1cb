/**
 * The durable file write every output file costs (src/output/atomic.ts: temp file, write, fsync,
 * close, rename, directory fsync), alone: wall and CPU time per file, user and kernel.
 *
 *   node dist/bench/filewrite.js [--files 3000] [--bytes 2300] [--concurrency 4] [--dir DIR]
 *
 * 2,300 bytes is the gzip of a 100-record object (the callback's AFLO_BATCH_SIZE default). Run it
 * pinned to one core (`taskset -c 0`) to compare with the collector's benchmark setting. The
 * directory (default: under os.tmpdir()) is removed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/output/atomic.js';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '3000' },
    bytes: { type: 'string', default: '2300' },
    concurrency: { type: 'string', default: '4' },
    dir: { type: 'string' },
  },
});
const files = Number(values.files);
const body = Buffer.alloc(Number(values.bytes), 7);
const root = mkdtempSync(join(values.dir ?? tmpdir(), 'spanmeter-filewrite-'));
let next = 0;
const t0 = performance.now();
const c0 = process.cpuUsage();
await Promise.all(
  Array.from({ length: Number(values.concurrency) }, async () => {
    while (next < files) {
      const i = next++;
      // A new minute directory every 1,000 files, as the object keys do.
      await writeFileAtomic(join(root, '2025', '11', '13', '12', String(Math.floor(i / 1000)).padStart(2, '0'), `merged_logs_${i}.json.gz`), body);
    }
  }),
);
const wallUs = ((performance.now() - t0) * 1000) / files;
const cpu = process.cpuUsage(c0);
rmSync(root, { recursive: true, force: true });
const us = (n: number) => (n / files).toFixed(0);
console.log(
  `${files} files of ${body.length} bytes, ${values.concurrency} at a time: ${wallUs.toFixed(0)} µs wall per file, ${us(cpu.user + cpu.system)} µs CPU per file (user ${us(cpu.user)}, kernel ${us(cpu.system)})`,
);
