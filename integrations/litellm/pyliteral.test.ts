import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parsePythonLiteral, type PyValue } from './pyliteral.js';
import { decodeMetadataValue } from './values.js';

const ok = (text: string): PyValue => {
  const r = parsePythonLiteral(text);
  assert.ok(r.ok, `expected ${text} to parse: ${r.ok ? '' : r.error}`);
  return r.value;
};
const bad = (text: string) => {
  const r = parsePythonLiteral(text);
  assert.equal(r.ok, false, `expected ${text} to be rejected`);
};

describe('parsePythonLiteral', () => {
  it('parses None, True, False and numbers', () => {
    assert.equal(ok('None'), null);
    assert.equal(ok('True'), true);
    assert.equal(ok('False'), false);
    assert.equal(ok('42'), 42);
    assert.equal(ok('-7'), -7);
    assert.equal(ok('1_000'), 1000);
    assert.equal(ok('0x1F'), 31);
    assert.equal(ok('0o17'), 15);
    assert.equal(ok('0b101'), 5);
    assert.equal(ok('1.5'), 1.5);
    assert.equal(ok('1e-05'), 1e-5);
    assert.equal(ok('2.5E+3'), 2500);
    assert.equal(ok('.5'), 0.5);
    assert.equal(ok('5.'), 5);
    assert.equal(ok('inf'), Infinity);
    assert.equal(ok('-inf'), -Infinity);
    assert.ok(Number.isNaN(ok('nan')));
    assert.equal(ok('12345678901234567890'), 12345678901234567890n);
    assert.ok(Object.is(ok('-0.0'), -0));
  });

  it('parses strings in every quote style with escapes', () => {
    assert.equal(ok(`'a'`), 'a');
    assert.equal(ok(`"it's"`), "it's");
    assert.equal(ok(`'it\\'s'`), "it's");
    assert.equal(ok(`'say "hi"'`), 'say "hi"');
    assert.equal(ok(`'''tri'ple'''`), "tri'ple");
    assert.equal(ok(`"""multi\nline"""`), 'multi\nline');
    assert.equal(ok(`'\\n\\t\\r\\\\\\a\\b\\f\\v'`), '\n\t\r\\\x07\b\f\v');
    assert.equal(ok(`'\\x41\\u00e9\\U0001F600\\101'`), 'Aé😀A');
    assert.equal(ok(`'caf\u00e9 ☕'`), 'café ☕');
    assert.equal(ok(`'a\\qb'`), 'a\\qb', 'unknown escapes keep the backslash');
    assert.equal(ok(`r'C:\\temp\\n'`), 'C:\\temp\\n');
    assert.equal(ok(`b'bytes'`), 'bytes');
    assert.equal(ok(`'con' "cat"`), 'concat');
    assert.equal(ok(`'line\\\ncontinued'`), 'linecontinued');
  });

  it('parses nested dicts, lists, tuples and sets', () => {
    assert.deepEqual(ok(`{'business_unit_id': 'bu-1', 'x': None, 'ok': True}`), { business_unit_id: 'bu-1', x: null, ok: true });
    assert.deepEqual(ok(`{'a': [1, 2.5, (3, 'x'), {'b': {}}], 'c': ()}`), { a: [1, 2.5, [3, 'x'], { b: {} }], c: [] });
    assert.deepEqual(ok(`(1,)`), [1]);
    assert.deepEqual(ok(`(1)`), 1);
    assert.deepEqual(ok(`[1, 2, ]`), [1, 2]);
    assert.deepEqual(ok(`{1, 2}`), [1, 2]);
    assert.deepEqual(ok(`{1: 'one', None: 0, True: 1, (1, 2): 'tuple'}`), { '1': 'one', None: 0, True: 1, '[1,2]': 'tuple' });
    assert.deepEqual(ok(`  { 'k' :\n 'v' }  `), { k: 'v' });
    assert.deepEqual(ok(`{'__proto__': 1}`), JSON.parse('{"__proto__": 1}'));
  });

  it('rejects what is not a literal', () => {
    bad(`datetime.datetime(2025, 11, 12, 10, 0)`);
    bad(`{'created': datetime.datetime(2025, 1, 1)}`);
    bad(`PromptSpec(id='p1')`);
    bad(`{'a': 1`);
    bad(`'unterminated`);
    bad(`[1 2]`);
    bad(`{'a' 1}`);
    bad(`1j`);
    bad(`'a' + 'b'`);
    bad(`007`);
    bad(`'\\x4'`);
    bad(``);
    bad(`${'['.repeat(500)}${']'.repeat(500)}`);
  });
});

describe('decodeMetadataValue', () => {
  it('maps "" to null, tries JSON first, then Python, then keeps the raw string', () => {
    assert.equal(decodeMetadataValue(''), null);
    assert.equal(decodeMetadataValue('plain text'), 'plain text');
    assert.deepEqual(decodeMetadataValue('{"a": null, "b": [1]}'), { a: null, b: [1] });
    assert.deepEqual(decodeMetadataValue("{'a': None, 'b': (1,)}"), { a: null, b: [1] });
    assert.equal(decodeMetadataValue("{'d': datetime.datetime(2025, 1, 1)}"), "{'d': datetime.datetime(2025, 1, 1)}");
    assert.equal(decodeMetadataValue(1.5), 1.5);
    assert.equal(decodeMetadataValue(7n), 7);
    assert.equal(decodeMetadataValue(true), true);
    assert.deepEqual(decodeMetadataValue("(1, 'a')"), [1, 'a']);
  });
});

// ---------------------------------------------------------------------------------------------
// Property: values printed by a Python-repr printer parse back to the same value.

/** Python's repr() of a str: single quotes unless the text has ' and no ". */
function reprStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = q;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += '\\' + q;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\u' + cp.toString(16).padStart(4, '0');
    else if (cp >= 0x80 && cp <= 0xa0) out += '\\x' + cp.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + q;
}

/** Python's repr() of a float. */
function reprFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (Object.is(x, -0)) return '-0.0';
  const r = String(x);
  if (/e/.test(r)) return r.replace(/e([+-])(\d)$/, 'e$10$2');
  if (Number.isInteger(x)) return Math.abs(x) >= 1e16 ? x.toExponential().replace(/e\+(\d)$/, 'e+0$1') : `${r}.0`;
  return r;
}

type Tree =
  | { t: 'none' }
  | { t: 'bool'; v: boolean }
  | { t: 'int'; v: bigint }
  | { t: 'float'; v: number }
  | { t: 'str'; v: string }
  | { t: 'list'; v: Tree[] }
  | { t: 'tuple'; v: Tree[] }
  | { t: 'dict'; v: [string, Tree][] };

function repr(x: Tree): string {
  switch (x.t) {
    case 'none':
      return 'None';
    case 'bool':
      return x.v ? 'True' : 'False';
    case 'int':
      return x.v.toString();
    case 'float':
      return reprFloat(x.v);
    case 'str':
      return reprStr(x.v);
    case 'list':
      return `[${x.v.map(repr).join(', ')}]`;
    case 'tuple':
      return x.v.length === 1 ? `(${repr(x.v[0]!)},)` : `(${x.v.map(repr).join(', ')})`;
    case 'dict':
      return `{${x.v.map(([k, v]) => `${reprStr(k)}: ${repr(v)}`).join(', ')}}`;
  }
}

function expected(x: Tree): PyValue {
  switch (x.t) {
    case 'none':
      return null;
    case 'bool':
    case 'str':
    case 'float':
      return x.v;
    case 'int':
      return x.v >= BigInt(Number.MIN_SAFE_INTEGER) && x.v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x.v) : x.v;
    case 'list':
    case 'tuple':
      return x.v.map(expected);
    case 'dict': {
      const o: Record<string, PyValue> = {};
      for (const [k, v] of x.v) Object.defineProperty(o, k, { value: expected(v), enumerable: true, writable: true, configurable: true });
      return o;
    }
  }
}

const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<Tree>({ t: 'none' }),
    fc.boolean().map<Tree>((v) => ({ t: 'bool', v })),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map<Tree>((v) => ({ t: 'int', v })),
    fc.double().map<Tree>((v) => ({ t: 'float', v })),
    fc.string({ unit: 'binary' }).map<Tree>((v) => ({ t: 'str', v })),
    fc.array(tie('tree'), { maxLength: 4 }).map<Tree>((v) => ({ t: 'list', v })),
    fc.array(tie('tree'), { maxLength: 4 }).map<Tree>((v) => ({ t: 'tuple', v })),
    fc
      .uniqueArray(fc.tuple(fc.string({ unit: 'binary', maxLength: 8 }), tie('tree')), { maxLength: 4, selector: (e) => e[0] })
      .map<Tree>((v) => ({ t: 'dict', v })),
  ),
}));

describe('parsePythonLiteral (property)', () => {
  it('round-trips every value printed by a Python-repr printer', () => {
    fc.assert(
      fc.property(tree, (x) => {
        const text = repr(x);
        const r = parsePythonLiteral(text);
        assert.ok(r.ok, `${text}: ${r.ok ? '' : r.error}`);
        assert.deepStrictEqual(r.value, expected(x), text);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const r = parsePythonLiteral(s);
        assert.equal(typeof r.ok, 'boolean');
      }),
      { numRuns: 2000 },
    );
  });
});
