import { escapeRegExp } from '../npm/usage.js';

/**
 * The identifier code refers to crate `name` by: `-` becomes `_` (Cargo's lib target name rule,
 * https://doc.rust-lang.org/cargo/reference/cargo-targets.html#the-name-field). A dependency
 * renamed in the manifest (`alias = { package = "name" }`) is referred to by its alias instead,
 * which this function cannot know.
 */
export function rustCrateIdent(name: string): string {
  return name.replace(/-/g, '_');
}

/**
 * Source lines of Rust code that use crate `name` (The Rust Reference, "Use declarations" and
 * "Extern crate declarations", https://doc.rust-lang.org/reference/items/use-declarations.html,
 * https://doc.rust-lang.org/reference/items/extern-crates.html, and "Paths"):
 * `use name::…;` / `pub(crate) use ::name;` / `use name as x;`, `extern crate name;`, and a path
 * `name::item` anywhere in code (`serde::Serialize` in a derive, `tokio::main`), not as the tail of
 * a longer path (`a::name::x`) or a longer identifier.
 */
export function rustUsagePatterns(name: string): RegExp[] {
  const id = escapeRegExp(rustCrateIdent(name));
  return [
    new RegExp(`^[ \\t]*(?:pub(?:\\([^)]*\\))?[ \\t]+)?use[ \\t]+(?:::)?${id}\\b`, 'm'),
    new RegExp(`\\bextern[ \\t]+crate[ \\t]+${id}\\b`, 'm'),
    new RegExp(`(?<![\\w:])${id}::`, 'm'),
  ];
}
