import type { Ecosystem } from '../types.js';
import { cargoTomlManager } from './cargo-toml.js';
import { proveCargoRemediated } from './proof.js';
import { rustUsagePatterns } from './usage.js';
import { cargoVersioning } from './versioning.js';

/**
 * Rust crates, purl type `cargo` (https://github.com/package-url/purl-spec/blob/main/PURL-TYPES.rst),
 * OSV ecosystem `crates.io` (https://ossf.github.io/osv-schema/#affectedpackage-field): Cargo's
 * semver requirements (bare = caret), `Cargo.toml` edited by {@link cargoTomlManager}, names
 * compared lowercase (crates.io names are unique case-insensitively; `-` and `_` stay distinct as
 * Cargo resolves them). The registry source is built per configuration
 * (`new CargoSparseIndexSource({ url: CARGO_INDEX_URL, credentials })`). `Cargo.lock` is not
 * regenerated: the PR's test guidance names `cargo update -p <crate>` (then `cargo test`).
 * Not registered in ECOSYSTEMS yet.
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
};
