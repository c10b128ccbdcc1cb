/**
 * A parser for Python literals as produced by `repr()` / `str()` of Python values: what LiteLLM's
 * `otel` callback writes into `metadata.*` span attributes for dicts and lists
 * (docs/mapping.md, "Decoding span attributes").
 *
 * Accepted (the subset of `ast.literal_eval` that repr() emits, plus `inf`/`nan`):
 * - strings: `'…'`, `"…"`, `'''…'''`, `"""…"""`, prefixes r/u/b (any case, `rb`/`br`), adjacent
 *   literals concatenated, escapes `\\ \' \" \a \b \f \n \r \t \v \ooo \xhh \uhhhh \Uhhhhhhhh`,
 *   backslash-newline continuation; unknown escapes keep the backslash (as Python does);
 * - `None`, `True`, `False`; ints (decimal, 0x/0o/0b, underscores; beyond 2^53 as bigint);
 *   floats (fraction, exponent, `inf`, `nan`), with unary `+`/`-`;
 * - dict `{k: v}`, list `[…]`, tuple `(…)` / `(x,)`, set `{a, b}` (tuples and sets become arrays,
 *   non-string dict keys are converted with Python's `str()` rules for simple values).
 * Anything else (e.g. `datetime.datetime(2025, 1, 1)`, `Foo(x=1)`) is rejected, so callers can
 * fall back to the raw string.
 */

export type PyValue = null | boolean | number | bigint | string | PyValue[] | { [key: string]: PyValue };

export type PyParseResult = { ok: true; value: PyValue } | { ok: false; error: string };

class PySyntaxError extends Error {}

/** Parses one Python literal (surrounding whitespace allowed). Never throws. */
export function parsePythonLiteral(text: string): PyParseResult {
  try {
    const p = new Parser(text);
    p.ws();
    const value = p.value(0);
    p.ws();
    if (p.i !== text.length) p.fail('unexpected text after the value');
    return { ok: true, value };
  } catch (e) {
    if (e instanceof PySyntaxError) return { ok: false, error: e.message };
    if (e instanceof RangeError) return { ok: false, error: 'nesting too deep' };
    throw e;
  }
}

const MAX_DEPTH = 200;
const IDENT_RE = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER_RE = /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?(?:\.(?:\d(?:_?\d)*)?)?(?:[eE][+-]?\d(?:_?\d)*)?)/y;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  fail(msg: string): never {
    throw new PySyntaxError(`${msg} at offset ${this.i}`);
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) this.i++;
      else if (c === 92 && s[this.i + 1] === '\n')
        this.i += 2; // explicit line join
      else break;
    }
  }

  value(depth: number): PyValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    const s = this.s;
    const c = s[this.i];
    if (c === undefined) this.fail('unexpected end of input');
    if (c === '{') return this.dictOrSet(depth);
    if (c === '[') return this.seq(depth, ']');
    if (c === '(') return this.tuple(depth);
    if (c === "'" || c === '"') return this.strings();
    if (c === '-' || c === '+') {
      this.i++;
      this.ws();
      const v = this.value(depth + 1);
      if (typeof v === 'number') return c === '-' ? -v : v;
      if (typeof v === 'bigint') return c === '-' ? -v : v;
      if (typeof v === 'boolean') return c === '-' ? -Number(v) : Number(v);
      this.fail(`unary ${c} on a non-number`);
    }
    if ((c >= '0' && c <= '9') || c === '.') return this.number();
    // The keywords repr() writes, without the identifier regex.
    if (c === 'N' && s.startsWith('None', this.i) && !isIdentChar(s.charCodeAt(this.i + 4))) {
      this.i += 4;
      return null;
    }
    if (c === 'T' && s.startsWith('True', this.i) && !isIdentChar(s.charCodeAt(this.i + 4))) {
      this.i += 4;
      return true;
    }
    if (c === 'F' && s.startsWith('False', this.i) && !isIdentChar(s.charCodeAt(this.i + 5))) {
      this.i += 5;
      return false;
    }
    IDENT_RE.lastIndex = this.i;
    const m = IDENT_RE.exec(s);
    if (m) {
      const word = m[0];
      const after = s[this.i + word.length];
      if ((after === "'" || after === '"') && /^(?:[rRuUbB]|[rR][bB]|[bB][rR])$/.test(word)) return this.strings();
      this.i += word.length;
      switch (word) {
        case 'None':
          return null;
        case 'True':
          return true;
        case 'False':
          return false;
        case 'inf':
          return Infinity;
        case 'nan':
          return NaN;
      }
      this.i -= word.length;
      this.fail(`"${word}" is not a literal`);
    }
    this.fail(`unexpected character ${JSON.stringify(c)}`);
  }

  number(): number | bigint {
    // Fast path: a plain decimal integer of up to 15 digits (what repr() writes for token counts).
    const s = this.s;
    let j = this.i;
    while (j < s.length && j - this.i < 16) {
      const d = s.charCodeAt(j);
      if (d < 48 || d > 57) break;
      j++;
    }
    const len = j - this.i;
    if (len > 0 && len <= 15 && (j === s.length || !isNumberChar(s.charCodeAt(j))) && (len === 1 || s.charCodeAt(this.i) !== 48)) {
      const v = Number(s.slice(this.i, j));
      this.i = j;
      return v;
    }
    NUMBER_RE.lastIndex = this.i;
    const m = NUMBER_RE.exec(this.s);
    const text = m ? m[0] : '';
    if (!text || text === '.' || /^\.?[eE]/.test(text)) this.fail('bad number');
    const next = this.s[this.i + text.length];
    if (next !== undefined && /[A-Za-z0-9_.]/.test(next)) this.fail('bad number (complex numbers and suffixes are not supported)');
    this.i += text.length;
    const clean = text.replace(/_/g, '');
    if (/^0[xXoObB]/.test(clean)) return intValue(BigInt(clean));
    if (/^\d+$/.test(clean)) {
      if (clean.length > 1 && clean[0] === '0' && /[1-9]/.test(clean)) this.fail('leading zeros in a decimal integer');
      return intValue(BigInt(clean));
    }
    return Number(clean);
  }

  strings(): string {
    let out = this.string();
    for (;;) {
      const save = this.i;
      this.ws();
      const c = this.s[this.i];
      if (c === "'" || c === '"' || (c !== undefined && isPrefixChar(c) && /^[rRuUbB]{1,2}['"]/.test(this.s.slice(this.i, this.i + 3)))) {
        out += this.string();
      } else {
        this.i = save;
        return out;
      }
    }
  }

  string(): string {
    const s = this.s;
    let raw = false;
    while (this.i < s.length && isPrefixChar(s[this.i]!)) {
      if (s[this.i] === 'r' || s[this.i] === 'R') raw = true;
      this.i++;
    }
    const q = s[this.i];
    if (q !== "'" && q !== '"') this.fail('expected a quote');
    const qc = q.charCodeAt(0);
    const triple = s.charCodeAt(this.i + 1) === qc && s.charCodeAt(this.i + 2) === qc;
    this.i += triple ? 3 : 1;
    let out = '';
    for (;;) {
      // Copy the run of ordinary characters up to the next quote, backslash or newline in one slice.
      const from = this.i;
      let j = from;
      for (; j < s.length; j++) {
        const ch = s.charCodeAt(j);
        if (ch === qc || ch === 92 || ch === 10) break;
      }
      if (j > from) out += s.slice(from, j);
      this.i = j;
      if (this.i >= s.length) this.fail('unterminated string');
      const c = s[this.i]!; // this.i < s.length: checked above
      if (c === q) {
        if (!triple) {
          this.i++;
          return out;
        }
        if (s.charCodeAt(this.i + 1) === qc && s.charCodeAt(this.i + 2) === qc) {
          this.i += 3;
          return out;
        }
        out += c;
        this.i++;
        continue;
      }
      if (c === '\n') {
        if (!triple) this.fail('newline in a single-quoted string');
        out += c;
        this.i++;
        continue;
      }
      const e = s[this.i + 1];
      if (e === undefined) return this.fail('unterminated string');
      if (raw) {
        out += c + e;
        this.i += 2;
        continue;
      }
      this.i += 2;
      switch (e) {
        case '\n':
          break;
        case '\\':
        case "'":
        case '"':
          out += e;
          break;
        case 'a':
          out += '\x07';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x':
          out += this.hexEscape(2);
          break;
        case 'u':
          out += this.hexEscape(4);
          break;
        case 'U':
          out += this.hexEscape(8);
          break;
        default:
          if (e >= '0' && e <= '7') {
            let digits = e;
            while (digits.length < 3 && /[0-7]/.test(s[this.i] ?? '')) digits += s[this.i++]!; // the test just saw a digit there
            out += String.fromCodePoint(parseInt(digits, 8));
          } else {
            out += '\\' + e; // Python keeps unknown escapes verbatim
          }
      }
    }
  }

  hexEscape(n: number): string {
    const h = this.s.slice(this.i, this.i + n);
    if (h.length !== n || !/^[0-9a-fA-F]+$/.test(h)) this.fail(`truncated \\${n === 2 ? 'x' : n === 4 ? 'u' : 'U'} escape`);
    const cp = parseInt(h, 16);
    if (cp > 0x10ffff) this.fail('escape out of the Unicode range');
    this.i += n;
    return String.fromCodePoint(cp);
  }

  /** Items separated by commas up to `close`; returns them and whether a trailing comma was seen. */
  items(depth: number, close: string): { items: PyValue[]; comma: boolean } {
    const items: PyValue[] = [];
    let comma = false;
    this.i++; // opening bracket
    this.ws();
    while (this.s[this.i] !== close) {
      items.push(this.value(depth + 1));
      this.ws();
      comma = false;
      if (this.s[this.i] === ',') {
        comma = true;
        this.i++;
        this.ws();
      } else if (this.s[this.i] !== close) this.fail(`expected "," or "${close}"`);
    }
    this.i++;
    return { items, comma };
  }

  seq(depth: number, close: string): PyValue[] {
    return this.items(depth, close).items;
  }

  tuple(depth: number): PyValue {
    const { items, comma } = this.items(depth, ')');
    // `(x)` is just x; `(x,)` and `()` are tuples.
    if (items.length === 1 && !comma) return items[0]!;
    return items;
  }

  dictOrSet(depth: number): PyValue {
    this.i++;
    this.ws();
    if (this.s[this.i] === '}') {
      this.i++;
      return {};
    }
    const first = this.value(depth + 1);
    this.ws();
    if (this.s[this.i] !== ':') {
      // a set literal
      const items = [first];
      while (this.s[this.i] === ',') {
        this.i++;
        this.ws();
        if (this.s[this.i] === '}') break;
        items.push(this.value(depth + 1));
        this.ws();
      }
      if (this.s[this.i] !== '}') this.fail('expected "," or "}"');
      this.i++;
      return items;
    }
    const out: { [key: string]: PyValue } = {};
    let key = first;
    for (;;) {
      this.i++; // ':'
      this.ws();
      const v = this.value(depth + 1);
      setOwn(out, keyString(key), v);
      this.ws();
      if (this.s[this.i] === ',') {
        this.i++;
        this.ws();
      } else if (this.s[this.i] !== '}') this.fail('expected "," or "}"');
      if (this.s[this.i] === '}') {
        this.i++;
        return out;
      }
      key = this.value(depth + 1);
      this.ws();
      if (this.s[this.i] !== ':') this.fail('expected ":"');
    }
  }
}

/** `[A-Za-z0-9_]` by char code. */
function isIdentChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/** Characters that may continue a number literal (`[A-Za-z0-9_.]`). */
function isNumberChar(c: number): boolean {
  return isIdentChar(c) || c === 46;
}

/** String prefix letters r, u, b in either case. */
function isPrefixChar(c: string): boolean {
  return c === 'r' || c === 'R' || c === 'u' || c === 'U' || c === 'b' || c === 'B';
}

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

function intValue(b: bigint): number | bigint {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/** Python `str()` of a simple dict key. */
function keyString(k: PyValue): string {
  if (typeof k === 'string') return k;
  if (k === null) return 'None';
  if (k === true) return 'True';
  if (k === false) return 'False';
  if (typeof k === 'number' || typeof k === 'bigint') return String(k);
  return JSON.stringify(k, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * Converts a parsed value to a JSON-compatible one (bigint → string, non-finite number → its
 * text). Values that already are JSON-compatible (nearly all) are returned as they are, not copied.
 */
export function pyToJson(v: PyValue): unknown {
  return isJsonCompatible(v, 0) ? v : toJson(v);
}

function isJsonCompatible(v: PyValue, depth: number): boolean {
  if (typeof v === 'bigint') return false;
  if (typeof v === 'number') return Number.isFinite(v);
  if (v === null || typeof v !== 'object') return true;
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!isJsonCompatible(x, depth + 1)) return false;
    return true;
  }
  for (const k in v) if (!isJsonCompatible(v[k]!, depth + 1)) return false;
  return true;
}

function toJson(v: PyValue): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) setOwn(o, k, toJson(v[k]!));
    return o;
  }
  return v;
}
