// The searched words marked in a search result's excerpt, ignoring case and accents like the
// server's search does ("envio" marks "envío"): the text is compared folded, one character for one,
// so the marks fall on the text as written.

/** Lower case without accents, one character for each of `text`'s (UTF-16 units). */
export function fold(text: string): string {
  let out = "";
  for (const ch of text) {
    const plain = ch.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
    out += plain.length === ch.length ? plain : ch;
  }
  return out;
}

export interface Part { text: string; hit: boolean }

/** `text` cut into parts, those where a word of `query` starts a word of the text marked as hits. */
export function highlightParts(text: string, query: string): Part[] {
  const words = fold(query).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  if (!words.length) return [{ text, hit: false }];
  const folded = fold(text);
  const hits = new Array<boolean>(text.length).fill(false);
  for (const word of words) {
    let at = folded.indexOf(word);
    while (at >= 0) {
      const before = at === 0 ? "" : folded[at - 1];
      if (!before || !/[\p{L}\p{N}]/u.test(before)) hits.fill(true, at, at + word.length);
      at = folded.indexOf(word, at + 1);
    }
  }
  const parts: Part[] = [];
  for (let i = 0; i < text.length; i++) {
    const last = parts.at(-1);
    if (last && last.hit === hits[i]) last.text += text[i];
    else parts.push({ text: text[i], hit: hits[i] });
  }
  return parts;
}
