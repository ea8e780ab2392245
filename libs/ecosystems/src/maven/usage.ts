import { escapeRegExp } from '../npm/usage.js';

/**
 * The Java package prefixes an artifact's classes usually live under, from its coordinates
 * `groupId:artifactId`. Maven does not record packages, so this is a convention
 * (https://maven.apache.org/guides/mini/guide-naming-conventions.html: the groupId follows the
 * package-name rules and usually is the root package): the groupId itself
 * (`org.apache.logging.log4j` for log4j-core); and the groupId's parent joined with the artifactId's
 * first and last `-`-separated words, for artifacts named after their package below a shared
 * group (`com.fasterxml.jackson.core:jackson-databind` → `com.fasterxml.jackson.databind`,
 * `org.apache.struts:struts2-core` → `org.apache.struts2`). Unique, in that order.
 */
export function javaPackagePrefixes(name: string): string[] {
  const [group = '', artifact = ''] = name.split(':');
  const parent = group.split('.').slice(0, -1).join('.');
  const words = artifact.split('-').filter((w) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(w));
  const derived = parent === '' ? [] : [words[0], words.at(-1)].filter((w): w is string => w !== undefined).map((w) => `${parent}.${w.toLowerCase()}`);
  return [...new Set([group, ...derived].filter((p) => p !== ''))];
}

/**
 * Source lines of Java or Kotlin code that use artifact `name` (`groupId:artifactId`), by the
 * packages of {@link javaPackagePrefixes}: an import (`import org.apache.logging.log4j.LogManager;`,
 * `import static …`, Kotlin's `import org.apache.logging.log4j.LogManager` without `;`; Java
 * Language Specification §7.5, https://docs.oracle.com/javase/specs/jls/se21/html/jls-7.html#jls-7.5)
 * and a fully qualified name in code (`org.apache.logging.log4j.LogManager.getLogger()`), not as
 * the tail of a longer name.
 */
export function javaUsagePatterns(name: string): RegExp[] {
  return javaPackagePrefixes(name).flatMap((prefix) => {
    const p = escapeRegExp(prefix);
    return [new RegExp(`^[ \\t]*import[ \\t]+(?:static[ \\t]+)?${p}\\.`, 'm'), new RegExp(`(?<![\\w.])${p}\\.[A-Za-z_]`, 'm')];
  });
}
