/**
 * Redis's glob matching (util.c stringmatchlen) over binary strings, for KEYS and SCAN MATCH:
 * `*`, `?`, `[abc]`, `[^abc]`, `[a-z]` (reversed ranges allowed), and `\x` escapes. Ported
 * quirk for quirk, including an unclosed `[` and Redis's cut-off for deeply nested stars.
 */

const STAR = 0x2a;
const QUESTION = 0x3f;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const BACKSLASH = 0x5c;

export function globMatch(pattern: string, str: string): boolean {
  return match(pattern, 0, str, 0, { skipLonger: false }, 0);
}

/** True when the pattern has no special chars, so it can only match itself. */
export function isLiteralPattern(pattern: string): boolean {
  return !/[*?[\\]/.test(pattern);
}

function match(p: string, pi: number, s: string, si: number, state: { skipLonger: boolean }, nesting: number): boolean {
  // Redis's protection against abusive patterns.
  if (nesting > 1000) return false;
  const plen = p.length;
  const slen = s.length;
  while (pi < plen && si < slen) {
    const c = p.charCodeAt(pi);
    if (c === STAR) {
      while (pi + 1 < plen && p.charCodeAt(pi + 1) === STAR) pi++;
      if (pi + 1 === plen) return true;
      while (si < slen) {
        if (match(p, pi + 1, s, si, state, nesting + 1)) return true;
        // A later star failed on the whole rest: no shorter prefix here can help.
        if (state.skipLonger) return false;
        si++;
      }
      state.skipLonger = true;
      return false;
    }
    if (c === QUESTION) {
      si++;
    } else if (c === OPEN) {
      pi++;
      const not = pi < plen && p.charCodeAt(pi) === CARET;
      if (not) pi++;
      const ch = s.charCodeAt(si);
      let matched = false;
      for (;;) {
        if (pi < plen && p.charCodeAt(pi) === BACKSLASH && plen - pi >= 2) {
          pi++;
          if (p.charCodeAt(pi) === ch) matched = true;
        } else if (pi < plen && p.charCodeAt(pi) === CLOSE) {
          break;
        } else if (pi >= plen) {
          // Unclosed class: Redis steps back so the outer increment lands on the end.
          pi--;
          break;
        } else if (plen - pi >= 3 && p.charCodeAt(pi + 1) === DASH) {
          let start = p.charCodeAt(pi);
          let end = p.charCodeAt(pi + 2);
          if (start > end) [start, end] = [end, start];
          pi += 2;
          if (ch >= start && ch <= end) matched = true;
        } else if (p.charCodeAt(pi) === ch) {
          matched = true;
        }
        pi++;
      }
      if (not) matched = !matched;
      if (!matched) return false;
      si++;
    } else {
      if (c === BACKSLASH && plen - pi >= 2) pi++;
      if (p.charCodeAt(pi) !== s.charCodeAt(si)) return false;
      si++;
    }
    pi++;
    if (si === slen) {
      while (pi < plen && p.charCodeAt(pi) === STAR) pi++;
      break;
    }
  }
  return pi === plen && si === slen;
}
