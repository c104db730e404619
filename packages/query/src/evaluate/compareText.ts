/**
 * Orders strings by Unicode code point, which is SQLite's order (memcmp of
 * UTF-8). JavaScript's `<` compares UTF-16 code units and puts U+E000..U+FFFF
 * after astral characters; the fix-up below (as in ICU) moves surrogates above
 * them when both sides are at or past U+D800.
 */
export function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}
