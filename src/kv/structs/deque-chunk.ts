/**
 * A list's chunk (deque.ts): up to CHUNK elements, held open as an array of strings while it is
 * near an end of the list, where pushes and pops happen, or packed into one string away from the
 * ends, which is what keeps a long list near Redis's size. Packed, each element is prefixed by
 * its length as a base-128 varint, one char a digit, low digits first; an element read from a
 * packed chunk is a slice of its string.
 */

export class Chunk {
  /** The elements while open, else null. */
  items: string[] | null;
  /** The packed elements while packed, else ''. */
  data = '';
  n: number;

  constructor(items: string[]) {
    this.items = items;
    this.n = items.length;
  }
}

/** The packed form of a chunk's elements. */
export function pack(items: string[]): string {
  const parts: string[] = [];
  for (const s of items) {
    let n = s.length;
    let prefix = '';
    while (n >= 0x80) {
      prefix += String.fromCharCode((n & 0x7f) | 0x80);
      n = Math.floor(n / 0x80);
    }
    parts.push(prefix + String.fromCharCode(n) + s);
  }
  return parts.join('');
}

/** Elements from..to-1 of a packed chunk. */
export function unpack(data: string, from = 0, to = Number.POSITIVE_INFINITY): string[] {
  const out: string[] = [];
  let pos = 0;
  for (let k = 0; pos < data.length && k < to; k++) {
    let n = 0;
    let mul = 1;
    for (;;) {
      const c = data.charCodeAt(pos++);
      n += (c & 0x7f) * mul;
      if (c < 0x80) break;
      mul *= 0x80;
    }
    if (k >= from) out.push(data.slice(pos, pos + n));
    pos += n;
  }
  return out;
}
