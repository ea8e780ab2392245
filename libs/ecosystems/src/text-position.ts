/** 1-based line of the UTF-16 offset `offset` in `text`. */
export function lineAt(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset; i++) if (text[i] === '\n') n++;
  return n;
}
