import type { Ecosystem } from '../types.js';
import { cargoTomlManager } from './cargo-toml.js';
import { proveCargoRemediated } from './proof.js';
import { rustUsagePatterns } from './usage.js';
import { cargoVersioning } from './versioning.js';

/**
 * Rust crates, purl type `cargo` (https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst),
 * OSV ecosystem `crates.io` (https://ossf.github.io/osv-schema/#affectedpackage-field): Cargo's
 * semver requirements (bare = caret), `Cargo.toml` edited by {@link cargoTomlManager}, names
 * normalised to lowercase (the sparse index path is the lowercased name,
 * https://doc.rust-lang.org/cargo/reference/registry-index.html#index-files; `-` and `_` are kept
 * here because the index file is named by the published spelling, while the OSV evaluation of
 * `@remediation/advisories` also folds them, as crates.io does when it rejects look-alike names).
 * The registry source is built per configuration
 * (`new CargoSparseIndexSource({ url: CARGO_INDEX_URL, credentials })`). `Cargo.lock` is not
 * regenerated: the PR's test guidance names `cargo update -p <crate>` per upgraded crate, then
 * `cargo test`. Registered in ECOSYSTEMS; source files searched for usages: `.rs`.
 */
export const cargoEcosystem: Ecosystem = {
  purlType: 'cargo',
  osvEcosystem: 'crates.io',
  versioning: cargoVersioning,
  normaliseName: (name) => name.toLowerCase(),
  managers: [cargoTomlManager],
  defaultManifestPath: 'Cargo.toml',
  proveRemediated: proveCargoRemediated,
  usagePatterns: rustUsagePatterns,
  lockfileCommands: ['cargo update -p <crate>'],
  testCommands: ['cargo test'],
  sourceExtensions: ['.rs'],
};
