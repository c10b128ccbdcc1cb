import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

describe('logger', () => {
  it('routes process warnings through the logger: stdout stays one JSON stream, nothing on stderr', () => {
    const logger = fileURLToPath(new URL('./logger.js', import.meta.url));
    const script = `
      const { createLogger, routeProcessWarnings } = await import(${JSON.stringify(logger)});
      const log = createLogger('info');
      routeProcessWarnings(log);
      const { EventEmitter } = await import('node:events');
      const e = new EventEmitter();
      for (let i = 0; i < 12; i++) e.on('x', () => {});
      process.emitWarning('The AWS SDK for JavaScript (v3) will stop supporting this Node version', { type: 'NodeDeprecationWarning', code: 'AWS' });
      setTimeout(() => log.flush(), 50);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'nothing printed outside the log');
    const lines = r.stdout.trim().split('\n');
    const parsed = lines.map((l) => JSON.parse(l) as { level: string; msg: string });
    assert.ok(
      parsed.some((o) => o.level === 'warn' && /MaxListenersExceededWarning/.test(o.msg)),
      r.stdout,
    );
    assert.ok(
      parsed.some((o) => o.level === 'warn' && /NodeDeprecationWarning: The AWS SDK/.test(o.msg)),
      r.stdout,
    );
  });
});
