/**
 * Splitting of inline commands (`SET k "hello world"` typed into telnet), byte for byte as
 * Redis's sdssplitargs does it, so a quoted or escaped argument means the same thing here as on
 * redis-server.
 */

const SPACE = 0x20;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;

/** C's isspace() in the C locale: space, \t, \n, \v, \f, \r. */
function isSpace(b: number): boolean {
  return b === SPACE || (b >= 0x09 && b <= 0x0d);
}

/** An unquoted token ends only at these; \v and \f stay inside it, as in Redis. */
function endsToken(b: number): boolean {
  return b === SPACE || b === 0x0a || b === 0x0d || b === 0x09;
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}

/** `\n \r \t \b \a` inside double quotes; any other escaped byte stands for itself. */
const ESCAPES = new Map<number, number>([
  [0x6e, 0x0a],
  [0x72, 0x0d],
  [0x74, 0x09],
  [0x62, 0x08],
  [0x61, 0x07],
]);

/**
 * Splits `line[start, end)` into arguments; null when quotes are unbalanced or a closing quote
 * is followed by something other than a space (both "unbalanced quotes" in Redis).
 * A NUL byte ends the line, because Redis works on C strings here.
 */
export function splitInlineArgs(line: Buffer, start = 0, end = line.length): Buffer[] | null {
  const nul = line.indexOf(0, start);
  const stop = nul >= 0 && nul < end ? nul : end;
  const at = (i: number): number => (i < stop ? line[i] : 0);
  const args: Buffer[] = [];
  let p = start;
  for (;;) {
    while (p < stop && isSpace(line[p])) p++;
    if (p >= stop) return args;
    // Fast path: a token without quotes is copied in one piece.
    const tokenStart = p;
    while (p < stop && !endsToken(line[p]) && line[p] !== DQUOTE && line[p] !== SQUOTE) p++;
    if (p >= stop || endsToken(line[p])) {
      args.push(Buffer.from(line.subarray(tokenStart, p)));
      if (p < stop) p++;
      continue;
    }
    const bytes: number[] = [...line.subarray(tokenStart, p)];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inDouble) {
        if (c === BACKSLASH && at(p + 1) === 0x78 && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0) {
          bytes.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === BACKSLASH && at(p + 1) !== 0) {
          p++;
          const e = at(p);
          bytes.push(ESCAPES.get(e) ?? e);
        } else if (c === DQUOTE) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          bytes.push(c);
        }
      } else if (inSingle) {
        if (c === BACKSLASH && at(p + 1) === SQUOTE) {
          p++;
          bytes.push(SQUOTE);
        } else if (c === SQUOTE) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          bytes.push(c);
        }
      } else if (c === 0 || endsToken(c)) {
        done = true;
      } else if (c === DQUOTE) {
        inDouble = true;
      } else if (c === SQUOTE) {
        inSingle = true;
      } else {
        bytes.push(c);
      }
      if (p < stop) p++;
    }
    args.push(Buffer.from(bytes));
  }
}
