import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PromptTemplateError } from './errors.js';

/** The prompt files of `libs/agent/prompts/` (`<name>.md`). */
export type PromptName = 'system' | 'target' | 'feedback' | 'partial-success' | 'triage';

/** Absolute path of the prompts directory (`libs/agent/prompts/`, shipped with the sources). */
export const PROMPTS_DIR: string = fileURLToPath(new URL('../prompts/', import.meta.url));

const cache = new Map<string, Promise<string>>();

/**
 * The text of prompt file `<name>.md`, read once per process (the files are part of the
 * deployed sources; edit them, not code, to change what the model is told).
 * @param dir another prompts directory (tests, experiments); default {@link PROMPTS_DIR}.
 * @throws PromptTemplateError (PROMPT_TEMPLATE_INVALID) when the file cannot be read.
 */
export function loadPrompt(name: PromptName, dir: string = PROMPTS_DIR): Promise<string> {
  const path = `${dir.endsWith('/') ? dir : `${dir}/`}${name}.md`;
  let text = cache.get(path);
  if (!text) {
    text = readFile(path, 'utf8').catch((error: unknown) => {
      cache.delete(path);
      throw new PromptTemplateError(`prompt ${name} not found at ${path}: ${(error as Error).message}`, { name, path });
    });
    cache.set(path, text);
  }
  return text;
}

/**
 * Fills a template: `{{key}}` is replaced by `vars[key]` (numbers stringified, no escaping);
 * `<!-- ... -->` comments (notes for maintainers) are removed, then runs of 3+ newlines are
 * squeezed to 2 and the result trimmed with one final newline.
 * @throws PromptTemplateError when a placeholder has no value (a template/caller mismatch).
 */
export function renderTemplate(template: string, vars: Record<string, string | number>): string {
  const missing = new Set<string>();
  const text = template
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/\{\{\s*([a-zA-Z][a-zA-Z0-9_]*)\s*\}\}/g, (_m, key: string) => {
      const value = vars[key];
      if (value === undefined) {
        missing.add(key);
        return '';
      }
      return String(value);
    });
  if (missing.size > 0) throw new PromptTemplateError(`prompt placeholders without a value: ${[...missing].join(', ')}`, { missing: [...missing] });
  return `${text.replace(/\n{3,}/g, '\n\n').trim()}\n`;
}

/** {@link loadPrompt} then {@link renderTemplate}. */
export async function renderPrompt(name: PromptName, vars: Record<string, string | number> = {}, dir?: string): Promise<string> {
  return renderTemplate(await loadPrompt(name, dir), vars);
}
