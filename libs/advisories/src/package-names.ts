/**
 * Package name as stored for look-ups, per ecosystem: PyPI names by PEP 503
 * (https://peps.python.org/pep-0503/#normalized-names: runs of `-`, `_`, `.` become `-`, lower-case);
 * ecosystems whose registries compare names case-insensitively (npm — GHSA writes e.g. `Axios` —,
 * crates.io, NuGet, RubyGems, Packagist, Hex, Pub) lower-case; others (Go module paths, Maven
 * `group:artifact`) as written.
 */
export function normalisePackageName(ecosystem: string, name: string): string {
  const trimmed = name.trim();
  switch (ecosystem) {
    case 'PyPI':
      return trimmed.replace(/[-_.]+/g, '-').toLowerCase();
    case 'npm':
    case 'crates.io':
    case 'NuGet':
    case 'RubyGems':
    case 'Packagist':
    case 'Hex':
    case 'Pub':
      return trimmed.toLowerCase();
    default:
      return trimmed;
  }
}
