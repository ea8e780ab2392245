/**
 * Planner benchmark (issue 12, deliverable 5; docs/benchmarks.md "planner"): CycloneDX scans of
 * 100, 2,000, 20,000 and 100,000 npm components, 10 % of them vulnerable, planned by the planner's
 * own code path (`parseCycloneDx` of @remediation/sbom, then `computePlan` of
 * apps/planner/src/plan.ts with a `SnapshotDirectorySource`, one per child as the planner holds one
 * registry source: no network) against
 *   1. the fixture advisories (test/fixtures/osv/npm, loaded with `loadOsvDirectory` as the planner
 *      does with OSV_DIR), vulnerable components being fixture packages at affected versions, and
 *   2. a synthetic set of 200,000 OSV records spread over the components' names (two per name), and
 *   3. the same records in the PostgreSQL advisory database.
 * The registry snapshot of each scan (`generateRegistry`) holds a packument of every generated
 * package whose versions list their dependencies on the component's children, so every transitive
 * finding of a generated package gets its fix options (lockfile update, parent bumps along the
 * path, override) computed as against a real registry; the table counts the findings with a
 * lockfile update. (Set `fixtures` copies the fixture packuments, which list no dependencies: a
 * path through a fixture package is not followed.)
 * Each (advisory set, size) runs in its own child process so its peak RSS is its own. Reported:
 * advisory load time and the RSS after it, parse time (JSON.parse + parseCycloneDx), plan time,
 * and the peak RSS while parsing and planning (VmHWM reset through /proc/self/clear_refs after the
 * load, Linux ≥ 4.0; else the process's peak, `process.resourceUsage().maxRSS`).
 *
 *   node --import tsx scripts/bench-planner.ts [--sizes 100,2000,20000,100000] [--records 200000]
 *        [--timeout-s 180] [--sets fixtures,synthetic,database] [--changed 1000] [--no-change-list] [--no-watch] [--json] [--keep]
 *        [--plans 1] [--cold-connections] [--tsx] [--node-flags="<flags>"]
 *
 * Each child runs the planner's code as the planner service runs (decision 0031): from a bundle
 * (`dist/bench-planner.mjs`, built at start) with the planner's Node.js flags (libs/config
 * SERVICE_NODE_FLAGS). `--tsx` runs it through tsx instead, `--node-flags` replaces the flags:
 * `--tsx --node-flags="--max-semi-space-size=2 --heap-growing-percent=20"` is the planner before 0031
 * (the `=` form: a value that starts with `--` is otherwise taken for an option).
 *
 * A size whose child takes longer than `--timeout-s` is stopped, and larger sizes of that advisory
 * set are skipped (the table says so). `--plans N` has each child plan its scan N times: the first
 * plan is the table's figures (a planner's first plan after start: cold code, caches empty); the
 * medians of the N − 1 later ones are a second table (a running planner's plans). A `database`
 * child readies its look-up connections at start as the planner does (`warmAdvisoryLookup`,
 * decision 0029; part of *load*), unless `--cold-connections`. Set `database` (in `--sets`, default all three) first runs
 * {@link benchAdvisoryDatabase} (full import and incremental sync of the synthetic records into a
 * fresh PostgreSQL database, `--changed` records changed) and then plans each size with the
 * advisories looked up there (`loadPlanAdvisories`, as the planner does); unless `--no-change-list`,
 * it also runs {@link benchChangeList} (the URL source's incremental sync through OSV's
 * `modified_id.csv`, on a second fresh database). `--no-watch` turns the folder source's watch off
 * (decision 0030): its incremental sync then stats every file.
 * `--keep` leaves the work folder (scans, a registry snapshot per set and size) and the database in place and prints
 * each child's command line, so one plan can be re-run alone; a child given `--profile FILE` writes
 * a CPU profile (`.cpuprofile`, Chrome DevTools format) of the measured window only (parse, look-up
 * and plan; not the module loading that `node --cpu-prof` would mostly show), and given
 * `--heap-profile FILE` a sampling heap profile (`.heapprofile`) of what that window allocated,
 * collected objects included.
 */
import { spawn } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
import { serviceNodeFlags } from '@remediation/config';
import { bundleEntry } from '@remediation/service-bundle';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type AdvisorySource, OsvAdvisoryIndex, OsvRecord, loadOsvDirectory, toAdvisory } from '@remediation/advisories';
import { SnapshotDirectorySource } from '@remediation/registry';
import { parseCycloneDx } from '@remediation/sbom';
import semver from 'semver';
import { ADVISORY_LOOKUP_CONNECTIONS, ensureDatabaseExists, migrate, openDatabase, syncAdvisorySource, warmAdvisoryLookup, type Database, type FetchedRecords } from '@remediation/persistence';
import { dropDatabase, freshDatabaseUrl } from '@remediation/testing';
import { archiveSource, directorySource, loadPlanAdvisories, type ConfiguredSource } from '../apps/planner/src/adapters/advisory-database.js';
import { computePlan } from '../apps/planner/src/plan.js';
import { parseScriptArgs } from './cli-args.js';
import { median } from './statistics.js';

const repoRoot = resolve(import.meta.dirname, '..');
const FIXTURE_OSV = join(repoRoot, 'test/fixtures/osv/npm');
const FIXTURE_REGISTRY = join(repoRoot, 'test/fixtures/registry/npm');
/** Share of components that are vulnerable. */
const VULNERABLE_EVERY = 10;
/** Share of components that are direct dependencies of the scanned project (the rest hang below them). */
const DIRECT_EVERY = 10;
/** Children per component in the generated dependency tree. */
const FANOUT = 4;

type AdvisorySet = 'fixtures' | 'synthetic' | 'database';

/** What one child reports (times in ms, memory in MiB). */
interface RunFigures {
  set: AdvisorySet;
  components: number;
  advisories: number;
  loadMs: number;
  rssAfterLoadMiB: number;
  parseMs: number;
  /** `loadPlanAdvisories` (set `database` only: the per-plan look-up in PostgreSQL; 0 otherwise). */
  lookupMs: number;
  planMs: number;
  /** CPU time of the whole process (user + system, every thread: GC and the loader included) while parsing, looking up and planning. */
  cpuMs: number;
  /** Main-thread garbage collection in that window (`PerformanceObserver` entries of type `gc`), ms. */
  gcMs: number;
  peakRssMiB: number;
  /** How `peakRssMiB` was read: `VmHWM after reset` or `maxRSS (whole process)`. */
  peakRssFrom: string;
  targets: number;
  transitive: number;
  /**
   * Transitive findings of the first plan with a lockfile update among their options: one needs
   * each parent's requirement from the registry (an override is found without the registry's
   * dependencies, so a count of findings with any option would not show a snapshot without them).
   */
  transitiveLockfileUpdates: number;
  /**
   * With `--plans N` (N > 1): the N − 1 plans of the same scan that the same process ran after the
   * first, as a running planner would: medians of their times, and the process's peak RSS over
   * all N plans (VmHWM not reset after the first).
   */
  later?: { plans: number; parseMs: number; lookupMs: number; planMs: number; totalMs: number; peakRssMiB: number };
}

const log = (m: string) => process.stderr.write(`[bench-planner] ${m}\n`);
const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

/** `bench-pkg-<i>`: the name of generated component i (and of the synthetic records' packages). */
const benchName = (i: number) => `bench-pkg-${i}`;

/**
 * A CycloneDX 1.5 scan of `n` npm components: components 0..n/10-1 are the project's direct
 * dependencies, each other component i depends from component ⌊(i - d) / FANOUT⌋ (a tree of depth
 * ≈ log₄ n); every 10th component is vulnerable (`vulnerable(i)` gives its name and version),
 * the others are `bench-pkg-<i>@1.0.0`.
 */
export function generateScan(n: number, vulnerable: (i: number) => { name: string; version: string }): Record<string, unknown> {
  const direct = Math.max(1, Math.floor(n / DIRECT_EVERY));
  const components: Array<Record<string, string>> = [];
  const children = new Map<number, string[]>();
  for (let i = 0; i < n; i++) {
    const { name, version } = i % VULNERABLE_EVERY === 0 ? vulnerable(i) : { name: benchName(i), version: '1.0.0' };
    const ref = `${name}@${version}#${i}`;
    components.push({ type: 'library', 'bom-ref': ref, name, version, purl: `pkg:npm/${name}@${version}` });
    if (i >= direct) {
      const parent = Math.floor((i - direct) / FANOUT);
      const list = children.get(parent) ?? [];
      list.push(ref);
      children.set(parent, list);
    }
  }
  const root = 'bench-app@1.0.0';
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    metadata: { component: { type: 'application', 'bom-ref': root, name: 'bench-app', version: '1.0.0' } },
    components,
    dependencies: [
      { ref: root, dependsOn: components.slice(0, direct).map((c) => c['bom-ref']) },
      ...[...children].map(([parent, dependsOn]) => ({ ref: components[parent]!['bom-ref'], dependsOn })),
    ],
  };
}

/**
 * `count` OSV 1.6 records spread over the packages `bench-pkg-0 … bench-pkg-<names-1>` (round
 * robin): record r names package r mod names; even records affect `<0.9.1` (so a component at
 * 0.9.0 is vulnerable, one at 1.0.0 is not), odd ones `>=2.0.0 <2.0.1`. Each has a CVE alias and
 * a severity. Reusable by the advisory database benchmark (write them out as a directory or zip).
 */
export function syntheticOsvRecords(count: number, names: number): OsvRecord[] {
  const records: OsvRecord[] = [];
  for (let r = 0; r < count; r++) {
    const pkg = benchName(r % names);
    const events = r % 2 === 0 ? [{ introduced: '0' }, { fixed: '0.9.1' }] : [{ introduced: '2.0.0' }, { fixed: '2.0.1' }];
    records.push({
      schema_version: '1.6.0',
      id: `GHSA-bench-${r.toString(36).padStart(4, '0')}`,
      modified: '2026-01-01T00:00:00Z',
      published: '2025-06-01T00:00:00Z',
      aliases: [`CVE-2099-${100000 + r}`],
      summary: `synthetic advisory ${r} of ${pkg}`,
      affected: [{ package: { ecosystem: 'npm', name: pkg }, ranges: [{ type: 'SEMVER', events }] }],
      references: [{ type: 'ADVISORY', url: `https://example.invalid/advisories/${r}` }],
      database_specific: { severity: ['LOW', 'MODERATE', 'HIGH', 'CRITICAL'][r % 4] },
    } as OsvRecord);
  }
  return records;
}

/** Published versions of a generated package installed at 0.9.0 (vulnerable) or at 1.0.0: versions around the fixes. */
const VULNERABLE_LINE = ['0.9.0', '0.9.1', '0.9.2', '1.0.0', '1.1.0', '2.0.0', '2.0.1', '2.1.0'];
const CLEAN_LINE = ['1.0.0', '1.0.1', '1.1.0', '2.0.0'];

/**
 * The registry snapshot of a scan made by {@link generateScan}: one packument (`GET <registry>/<name>`
 * body, file name → document) per generated `bench-pkg-*` component, whose versions list
 * `dependencies` on the component's children in the scan's tree, so that a plan computes every
 * transitive finding's fix options as against a real registry: each parent's requirement (lockfile
 * update) and each version along the path from the direct dependency (parent bumps). The installed
 * version requires each child at `^<its version>`; every newer version requires a child installed
 * at 0.9.0 (vulnerable to the synthetic `<0.9.1` advisory) at `^0.9.1` (a patch bump of the parent
 * fixes it), the others as installed. Components named otherwise (the fixture packages of set
 * `fixtures`) are left to their real packuments.
 */
export function generateRegistry(scan: ReturnType<typeof generateScan>): Map<string, string> {
  const components = scan['components'] as Array<Record<string, string>>;
  const byRef = new Map(components.map((c) => [c['bom-ref']!, c]));
  const children = new Map<string, Array<Record<string, string>>>();
  for (const entry of scan['dependencies'] as Array<{ ref: string; dependsOn: string[] }>) children.set(entry.ref, entry.dependsOn.map((ref) => byRef.get(ref)!));
  const files = new Map<string, string>();
  for (const c of components) {
    const name = c['name']!;
    if (!name.startsWith('bench-pkg-')) continue;
    const installed = c['version']!;
    const below = children.get(c['bom-ref']!) ?? [];
    const dependencies = (fixed: boolean) =>
      Object.fromEntries(below.map((child) => [child['name']!, fixed && child['version'] === '0.9.0' ? '^0.9.1' : `^${child['version']}`]));
    const line = installed === '0.9.0' ? VULNERABLE_LINE : CLEAN_LINE;
    const versions = Object.fromEntries(line.map((v) => [v, { name, version: v, dependencies: dependencies(v !== installed) }]));
    files.set(`${name}.json`, JSON.stringify({ name, 'dist-tags': { latest: line.at(-1) }, versions }));
  }
  return files;
}

/** Writes {@link generateRegistry}'s packuments of `scan` into `dir` (created), with the fixture registry's files when `withFixtures`. */
async function writeRegistry(dir: string, scan: ReturnType<typeof generateScan>, withFixtures: boolean): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  if (withFixtures) for (const file of readdirSync(FIXTURE_REGISTRY)) copyFileSync(join(FIXTURE_REGISTRY, file), join(dir, file));
  for (const [file, body] of generateRegistry(scan)) writeFileSync(join(dir, file), body);
}

/**
 * For each fixture package with a registry snapshot: a published version the fixture advisories
 * affect (the newest such), so generated vulnerable components are planned with real tiers.
 */
async function fixtureVulnerableVersions(advisories: AdvisorySource): Promise<Array<{ name: string; version: string }>> {
  const registry = new SnapshotDirectorySource(FIXTURE_REGISTRY);
  const names = ['body-parser', 'cookie', 'express', 'express-jwt', 'marked', 'path-to-regexp', 'send', 'serve-static'];
  const found: Array<{ name: string; version: string }> = [];
  for (const name of names) {
    const versions = (await registry.listVersions(name)).versions.filter((v) => semver.prerelease(v) === null);
    const affected = versions.filter((v) => advisories.matchAdvisories(name, v).length > 0).sort(semver.rcompare);
    if (affected[0]) found.push({ name, version: affected[0] });
  }
  if (found.length === 0) throw new Error('no fixture package has an affected published version');
  return found;
}

/** Loads the advisory set the way the planner does (directory) or from generated records. */
async function loadAdvisories(set: AdvisorySet, records: number, names: number): Promise<AdvisorySource & { size: number }> {
  if (set === 'fixtures') return loadOsvDirectory(FIXTURE_OSV, { ecosystem: 'npm' });
  // Same per-record work as loadOsvDirectory (schema check, toAdvisory), without 200,000 files.
  const advisories = syntheticOsvRecords(records, names).map((r) => toAdvisory(OsvRecord.parse(r), 'npm')!);
  return new OsvAdvisoryIndex('npm', advisories);
}

function vmHwmKiB(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Resets the peak RSS (VmHWM) to the current RSS: `echo 5 > /proc/self/clear_refs` (Linux ≥ 4.0). */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** The child: load advisories, then parse and plan one scan file; prints RunFigures as JSON. */
async function child(
  set: AdvisorySet,
  scanFile: string,
  registryDir: string,
  components: number,
  records: number,
  names: number,
  options: { databaseUrl?: string; profileFile?: string; heapProfileFile?: string; plans: number; coldConnections?: boolean },
): Promise<void> {
  const { databaseUrl, profileFile, heapProfileFile } = options;
  const t0 = performance.now();
  // Set `database`: the planner opens its pool at start, with the connections its look-up uses at
  // once, and readies them (apps/planner/src/main.ts, decision 0029); advisories are looked up per plan (below).
  const db: Database | undefined = set === 'database' ? await openDatabase(databaseUrl!, { poolMin: ADVISORY_LOOKUP_CONNECTIONS }) : undefined;
  if (db && !options.coldConnections) await warmAdvisoryLookup(db);
  const preloaded = db ? undefined : await loadAdvisories(set, records, names);
  const loadMs = performance.now() - t0;
  (globalThis as { gc?: () => void }).gc?.();
  const rssAfterLoadMiB = mib(process.memoryUsage.rss() / 1024);
  const reset = resetPeakRss();

  const profiler = profileFile || heapProfileFile ? new Session() : undefined;
  profiler?.connect();
  if (profiler && profileFile) {
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    await profiler.post('Profiler.start');
  }
  if (profiler && heapProfileFile) {
    await profiler.post('HeapProfiler.enable');
    await profiler.post('HeapProfiler.startSampling', { samplingInterval: 32_768, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  let gcMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  gc.observe({ entryTypes: ['gc'] });
  // One registry source for every plan, as the planner holds one from its start (registrySourcesFromEnv).
  const versions = new SnapshotDirectorySource(registryDir);
  /**
   * One plan as the planner makes it: parse the scan, look its advisories up, plan. Returns its
   * figures only: the plan itself is dropped, as the planner drops it once stored (holding every
   * plan of the process would add each one to the later plans' peak RSS).
   */
  const planOnce = async () => {
    const t1 = performance.now();
    const scan = parseCycloneDx(JSON.parse(await readFile(scanFile, 'utf8')));
    const parseMs = performance.now() - t1;
    const tLookup = performance.now();
    const advisories = preloaded ?? (await loadPlanAdvisories(db!, scan));
    const lookupMs = db ? performance.now() - tLookup : 0;
    const t2 = performance.now();
    const plan = await computePlan(scan, { advisories, versions, registryLabel: registryDir });
    const planMs = performance.now() - t2;
    return {
      parseMs,
      lookupMs,
      planMs,
      advisories: advisories.size,
      targets: plan.targets.length,
      transitive: plan.transitive.length,
      transitiveLockfileUpdates: plan.transitive.filter((t) => t.options?.some((o) => o.kind === 'lockfile_update') === true).length,
    };
  };
  const cpu0 = process.cpuUsage();
  const { parseMs, lookupMs, planMs, advisories, targets, transitive, transitiveLockfileUpdates } = await planOnce();
  const cpu = process.cpuUsage(cpu0);
  // Entries are delivered asynchronously: let the last ones of the window arrive.
  await new Promise((r) => setImmediate(r));
  gc.disconnect();
  if (profiler && profileFile) writeFileSync(profileFile, JSON.stringify((await profiler.post('Profiler.stop')).profile));
  if (profiler && heapProfileFile) writeFileSync(heapProfileFile, JSON.stringify((await profiler.post('HeapProfiler.stopSampling')).profile));
  profiler?.disconnect();

  const hwm = reset ? vmHwmKiB() : null;
  const later: Array<Awaited<ReturnType<typeof planOnce>>> = [];
  for (let i = 1; i < options.plans; i++) later.push(await planOnce());
  const hwmAll = reset ? vmHwmKiB() : null;
  const figures: RunFigures = {
    set,
    components,
    advisories,
    loadMs: Math.round(loadMs),
    rssAfterLoadMiB,
    parseMs: Math.round(parseMs),
    lookupMs: Math.round(lookupMs),
    planMs: Math.round(planMs),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    gcMs: Math.round(gcMs),
    peakRssMiB: hwm !== null ? mib(hwm) : mib(process.resourceUsage().maxRSS),
    peakRssFrom: hwm !== null ? 'VmHWM after reset' : 'maxRSS (whole process)',
    targets,
    transitive,
    transitiveLockfileUpdates,
    ...(later.length > 0
      ? {
          later: {
            plans: later.length,
            parseMs: Math.round(median(later.map((r) => r.parseMs))),
            lookupMs: Math.round(median(later.map((r) => r.lookupMs))),
            planMs: Math.round(median(later.map((r) => r.planMs))),
            totalMs: Math.round(median(later.map((r) => r.parseMs + r.lookupMs + r.planMs))),
            peakRssMiB: hwmAll !== null ? mib(hwmAll) : mib(process.resourceUsage().maxRSS),
          },
        }
      : {}),
  };
  await db?.close();
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

/**
 * How a child runs the planner's code: with the planner's Node.js flags (libs/config
 * SERVICE_NODE_FLAGS, or `--node-flags`) and, as the planner service runs (decision 0031), from a
 * bundle of this script (`dist/bench-planner.mjs`, built here: `bundleEntry` of
 * @remediation/service-bundle); with `--tsx`, through tsx as before.
 */
async function childCommand(options: { tsx: boolean; nodeFlags: string | undefined }): Promise<string[]> {
  const flags = options.nodeFlags === undefined ? [...serviceNodeFlags('planner')] : options.nodeFlags.split(' ').filter(Boolean);
  if (options.tsx) return [...flags, '--import', 'tsx', import.meta.filename];
  // In dist/, one folder below the repository like scripts/: `repoRoot` (import.meta.dirname/..) stays the repository.
  const bundle = join(repoRoot, 'dist', 'bench-planner.mjs');
  await bundleEntry(repoRoot, 'scripts/bench-planner.ts', bundle);
  return [...flags, '--enable-source-maps', bundle];
}

/**
 * Runs one child; null when it ran past `timeoutMs` (killed). `command`: the Node.js arguments
 * before `--child` (the planner's flags and how its code runs, {@link childCommand}).
 */
function runChild(command: readonly string[], args: string[], timeoutMs: number): Promise<RunFigures | null> {
  return new Promise((resolveRun, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', ...command, '--child', ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      proc.kill('SIGKILL');
    }, timeoutMs);
    proc.on('error', reject);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      if (timedOut) return resolveRun(null);
      if (code !== 0) return reject(new Error(`child ${args.join(' ')} exited with ${code}`));
      resolveRun(JSON.parse(out.trim().split('\n').at(-1)!) as RunFigures);
    });
  });
}

/** Figures of the advisory database (PostgreSQL) benchmark, in ms. */
interface DatabaseFigures {
  records: number;
  /** Full import: the whole `syncAdvisorySource` (reading and checking the files, database writes). */
  fullImportMs: number;
  /** Of which the source's fetch (`OsvDirectoryLister.list`: stat, read and JSON.parse of the files; schema checks happen in the import). */
  fullImportFetchMs: number;
  fullImportImported: number;
  /** Incremental sync after `changed` records got a newer `modified` (whole `syncAdvisorySource`). */
  incrementalSyncMs: number;
  incrementalSyncFetchMs: number;
  /** How the incremental sync's listing chose the files it stat'ed (`OsvListingScope`: `watched` with the folder watch, `off` with `--no-watch`). */
  incrementalSyncScope: string;
  changed: number;
  incrementalImported: number;
  incrementalUnchanged: number;
  /** (c) A sync as after a restart (a new `directorySource`: every file read, id/modified compared), nothing changed. */
  restartSyncMs: number;
  restartSyncFetchMs: number;
  restartImported: number;
}

/** `source` with its fetch timed into `timing.fetchMs`. */
function timedSource(source: ConfiguredSource, timing: { fetchMs: number }): ConfiguredSource {
  return {
    name: source.name,
    fetch: async (state) => {
      const t = performance.now();
      try {
        return await source.fetch(state);
      } finally {
        timing.fetchMs = performance.now() - t;
      }
    },
    close: () => source.close?.(),
  };
}

/**
 * The advisory database (PostgreSQL; issue 12, deliverables 3 and 5) on a fresh database, through
 * the planner's production path for `OSV_DIR`: `syntheticOsvRecords(records, names)` written as an
 * OSV folder `npm/` of one file per record, synced by `syncAdvisorySource` with the planner's
 * `directorySource` (first sync of a process: every file read; later: only files whose size or
 * mtime changed, of those the folder watch named, or of every file with `--no-watch`; decision 0030):
 *   (a) full import of every record into the empty database (target ≤ 60 s);
 *   (b) `changed` records (evenly spread) rewritten with a newer `modified` and a later fix, then
 *       one sync with the same source, which must import exactly those (target ≤ 2 s);
 *   (c) one sync with a new `directorySource`, as after a restart: every file read, `id`/`modified`
 *       compared, nothing imported or removed.
 * Not through tools/osv-local's all.zip: a folder of 200,000 files is zipped there on request
 * (tens of seconds), which would measure osv-local rather than the sync.
 * The database is left migrated and filled for the plan runs (set `database`); the caller drops it.
 */
async function benchAdvisoryDatabase(url: string, workDir: string, records: number, names: number, changed: number, watch: boolean): Promise<DatabaseFigures> {
  const osvDir = join(workDir, 'osv');
  await mkdir(join(osvDir, 'npm'), { recursive: true });
  const all = syntheticOsvRecords(records, names);
  const file = (r: OsvRecord) => join(osvDir, 'npm', `${r.id}.json`);
  for (let i = 0; i < all.length; i += 1000) await Promise.all(all.slice(i, i + 1000).map((r) => writeFile(file(r), JSON.stringify(r))));
  log(`advisory database: ${records} records written to ${osvDir}/npm`);
  await ensureDatabaseExists(url);
  const db = await openDatabase(url);
  const sources: ConfiguredSource[] = [];
  try {
    await migrate(db);
    const timing = { fetchMs: 0 };
    const listed: { scope?: string } = {};
    const source = timedSource(directorySource(osvDir, { watch, logger: { info: (o: { scope?: string }) => void (listed.scope = o.scope) } }), timing);
    sources.push(source);

    log('advisory database: full import…');
    const t1 = performance.now();
    const full = await syncAdvisorySource(db, source.name, source.fetch);
    const fullImportMs = performance.now() - t1;
    const fullImportFetchMs = timing.fetchMs;
    log(`advisory database: full import ${Math.round(fullImportMs)} ms (fetch ${Math.round(fullImportFetchMs)} ms)`);
    if (full.imported !== records) throw new Error(`full import imported ${full.imported} of ${records} records`);

    // Newer `modified` (and a later fix) for every (records/changed)-th record.
    const step = Math.floor(records / changed);
    for (let i = 0; i < changed; i++) {
      const r = all[i * step]!;
      await writeFile(file(r), JSON.stringify(changedRecord(r, '2026-06-01T00:00:00Z')));
    }
    log(`advisory database: ${changed} records changed; incremental sync…`);
    const t2 = performance.now();
    const incremental = await syncAdvisorySource(db, source.name, source.fetch);
    const incrementalSyncMs = performance.now() - t2;
    const incrementalSyncFetchMs = timing.fetchMs;
    const incrementalSyncScope = listed.scope ?? 'unknown';
    log(`advisory database: incremental sync ${Math.round(incrementalSyncMs)} ms (fetch ${Math.round(incrementalSyncFetchMs)} ms, listing scope ${incrementalSyncScope})`);
    if (incremental.imported !== changed) throw new Error(`incremental sync imported ${incremental.imported}, expected ${changed}`);

    const restartTiming = { fetchMs: 0 };
    const restarted = timedSource(directorySource(osvDir, { watch }), restartTiming);
    sources.push(restarted);
    log('advisory database: sync as after a restart (every file read, nothing changed)…');
    const t3 = performance.now();
    const restart = await syncAdvisorySource(db, restarted.name, restarted.fetch);
    const restartSyncMs = performance.now() - t3;
    log(`advisory database: sync after a restart ${Math.round(restartSyncMs)} ms (fetch ${Math.round(restartTiming.fetchMs)} ms)`);
    if (restart.imported !== 0 || restart.removed !== 0) throw new Error(`sync after a restart imported ${restart.imported}, removed ${restart.removed}`);
    return {
      records,
      fullImportMs: Math.round(fullImportMs),
      fullImportFetchMs: Math.round(fullImportFetchMs),
      fullImportImported: full.imported,
      incrementalSyncMs: Math.round(incrementalSyncMs),
      incrementalSyncFetchMs: Math.round(incrementalSyncFetchMs),
      incrementalSyncScope,
      changed,
      incrementalImported: incremental.imported,
      incrementalUnchanged: incremental.unchanged,
      restartSyncMs: Math.round(restartSyncMs),
      restartSyncFetchMs: Math.round(restartTiming.fetchMs),
      restartImported: restart.imported,
    };
  } finally {
    for (const source of sources) source.close?.();
    await db.close();
    await rm(osvDir, { recursive: true, force: true });
  }
}

/** `r` as changed at `modified`: a later fix (0.9.1 → 0.9.2) of a synthetic record. */
function changedRecord(r: OsvRecord, modified: string): OsvRecord {
  const events = r.affected![0]!.ranges![0]!.events.map((e) => ('fixed' in e && e.fixed === '0.9.1' ? { fixed: '0.9.2' } : e));
  return { ...r, modified, affected: [{ ...r.affected![0]!, ranges: [{ type: 'SEMVER', events }] }] };
}

/** Figures of the change-list benchmark ({@link benchChangeList}), in ms. */
interface ChangeListFigures {
  records: number;
  /** The first import (records from memory under the source's name, as all.zip would list them). */
  firstImportMs: number;
  /** Incremental sync after `changed` records changed: `modified_id.csv` read up to the last sync, those records fetched. */
  incrementalSyncMs: number;
  incrementalSyncFetchMs: number;
  changed: number;
  incrementalImported: number;
  incrementalUnchanged: number;
  /** Records the incremental sync fetched (`<id>.json`, one request each, after the list). */
  fetchedRecords: number;
}

/**
 * tools/osv-local in a child process (its own event loop and CPU, as a remote server would be),
 * serving `dir`; resolves once it prints its URL.
 */
function startOsvLocalProcess(dir: string): Promise<{ url: string; close(): void }> {
  return new Promise((resolveStart, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'tools/osv-local/src/main.ts'), '--dir', dir, '--port', '0'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    proc.on('error', reject);
    proc.on('exit', (code) => reject(new Error(`osv-local exited with ${code} before listening`)));
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /osv-local listening on (\S+)/.exec(out);
      if (m) resolveStart({ url: m[1]!, close: () => proc.kill('SIGTERM') });
    });
  });
}

/**
 * The URL source with OSV's change list (`archiveSource(url, 'npm', { changeList: true })`, the
 * planner's `OSV_ALL_ZIP_URL` + `OSV_CHANGE_LIST`) against tools/osv-local, on its own fresh
 * database (dropped at the end), osv-local in a child process: the synthetic records with `modified` one second apart (OSV's
 * are spread; one shared time would put every line at the last sync's time) are imported first
 * from memory under the source's name (what all.zip would list: zipping 200,000 files in
 * osv-local would measure osv-local); then `changed` records (evenly spread) are written to the
 * served folder at a newer `modified`, with a `modified_id.csv` of every record, newest first, as
 * OSV's exporter writes it, and one sync runs, which must read the list, fetch exactly those
 * records (no all.zip) and import them.
 */
async function benchChangeList(url: string, workDir: string, records: number, names: number, changed: number): Promise<ChangeListFigures> {
  const served = join(workDir, 'served');
  await mkdir(join(served, 'npm'), { recursive: true });
  const start = Date.parse('2026-01-01T00:00:00Z');
  const all = syntheticOsvRecords(records, names).map((r, i) => ({ ...r, modified: new Date(start + i * 1000).toISOString() }));
  const osv = await startOsvLocalProcess(served);
  await ensureDatabaseExists(url);
  const db = await openDatabase(url);
  try {
    await migrate(db);
    const timing = { fetchMs: 0 };
    const archive = archiveSource(osv.url, 'npm', { changeList: true });
    let fetched: FetchedRecords | undefined;
    const source = timedSource({ name: archive.name, fetch: async (state) => (fetched = await archive.fetch(state)) }, timing);
    log('change list: first import (from memory)…');
    const t1 = performance.now();
    const first = await syncAdvisorySource(db, source.name, async () => ({ status: 'ok', records: all, complete: true }));
    const firstImportMs = performance.now() - t1;
    if (first.imported !== records) throw new Error(`first import imported ${first.imported} of ${records} records`);

    const step = Math.floor(records / changed);
    const newer = Date.parse('2026-06-01T00:00:00Z');
    const changedLines: string[] = [];
    const changedIds = new Set<string>();
    for (let i = 0; i < changed; i++) {
      const r = all[i * step]!;
      const modified = new Date(newer + i * 1000).toISOString();
      await writeFile(join(served, 'npm', `${r.id}.json`), JSON.stringify(changedRecord(r, modified)));
      changedLines.push(`${modified},${r.id}\n`);
      changedIds.add(r.id);
    }
    // The list is read down to the last sync's time inclusive: that record (the newest unchanged one) is fetched too.
    // The served folder holds only what the sync may fetch (OSV's holds every record; writing 200,000 files would take a minute).
    const newest = all.at(-1)!;
    if (!changedIds.has(newest.id)) await writeFile(join(served, 'npm', `${newest.id}.json`), JSON.stringify(newest));
    const lines = changedLines.reverse();
    for (let i = all.length - 1; i >= 0; i--) if (!changedIds.has(all[i]!.id)) lines.push(`${all[i]!.modified},${all[i]!.id}\n`);
    await writeFile(join(served, 'npm', 'modified_id.csv'), lines.join(''));
    // A remote bucket is warm: 200 untimed requests first, so the timed sync does not measure osv-local's JIT warm-up (≈ 2 s cold).
    for (let i = 0; i < 200; i++) await (await fetch(`${osv.url}/npm/${encodeURIComponent(newest.id)}.json`)).text();
    log(`change list: ${changed} records changed; incremental sync…`);
    const t2 = performance.now();
    const incremental = await syncAdvisorySource(db, source.name, source.fetch);
    const incrementalSyncMs = performance.now() - t2;
    const listed = fetched?.status === 'ok' ? fetched.records : [];
    log(`change list: incremental sync ${Math.round(incrementalSyncMs)} ms (fetch ${Math.round(timing.fetchMs)} ms, ${listed.length} records fetched)`);
    // Records of all.zip are named `<url>!<entry>`; those of the change list `<base>/npm/<id>.json`.
    const fromArchive = listed.some((r) => 'where' in r && String(r.where).includes('!'));
    if (listed.length !== changed + 1 || fromArchive) throw new Error(`the change-list sync fetched ${listed.length} records (all.zip: ${fromArchive})`);
    if (incremental.imported !== changed) throw new Error(`change-list sync imported ${incremental.imported}, expected ${changed}`);
    return {
      records,
      firstImportMs: Math.round(firstImportMs),
      incrementalSyncMs: Math.round(incrementalSyncMs),
      incrementalSyncFetchMs: Math.round(timing.fetchMs),
      changed,
      incrementalImported: incremental.imported,
      incrementalUnchanged: incremental.unchanged,
      fetchedRecords: listed.length,
    };
  } finally {
    await db.close();
    osv.close();
    await dropDatabase(url);
    await rm(served, { recursive: true, force: true });
  }
}

const { values } = parseScriptArgs(import.meta.url, {
  allowNegative: true,
  options: {
    child: { type: 'boolean', default: false },
    set: { type: 'string' },
    scan: { type: 'string' },
    registry: { type: 'string' },
    components: { type: 'string' },
    sizes: { type: 'string', default: '100,2000,20000,100000' },
    records: { type: 'string', default: '200000' },
    'timeout-s': { type: 'string', default: '180' },
    sets: { type: 'string', default: 'fixtures,synthetic,database' },
    changed: { type: 'string', default: '1000' },
    'change-list': { type: 'boolean', default: true },
    watch: { type: 'boolean', default: true },
    'database-url': { type: 'string' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    profile: { type: 'string' },
    'heap-profile': { type: 'string' },
    plans: { type: 'string', default: '1' },
    'cold-connections': { type: 'boolean', default: false },
    tsx: { type: 'boolean', default: false },
    'node-flags': { type: 'string' },
  },
});
const RECORDS = Number(values.records);
const PLANS = Number(values.plans);
if (!Number.isInteger(PLANS) || PLANS < 1) {
  process.stderr.write(`--plans: a whole number ≥ 1, not ${JSON.stringify(values.plans)}\n`);
  process.exit(2);
}
const SIZES = values.sizes!.split(',').map(Number);
/** The synthetic records are spread over the names of the largest scan. */
const NAMES = Math.max(...SIZES);

if (import.meta.filename !== resolve(process.argv[1] ?? '')) {
  // Imported (e.g. for `syntheticOsvRecords`): no run.
} else if (values.child) {
  await child(values.set as AdvisorySet, values.scan!, values.registry!, Number(values.components), RECORDS, NAMES, {
    ...(values['database-url'] !== undefined ? { databaseUrl: values['database-url'] } : {}),
    ...(values.profile !== undefined ? { profileFile: values.profile } : {}),
    ...(values['heap-profile'] !== undefined ? { heapProfileFile: values['heap-profile'] } : {}),
    plans: PLANS,
    coldConnections: values['cold-connections']!,
  });
} else {
  const dir = await mkdtemp(join(tmpdir(), 'bench-planner-'));
  const results: Array<RunFigures | { set: AdvisorySet; components: number; skipped: string }> = [];
  const sets = values.sets!.split(',') as AdvisorySet[];
  const databaseUrl = sets.includes('database') ? freshDatabaseUrl('bench_planner') : undefined;
  let database: DatabaseFigures | null = null;
  let changeList: ChangeListFigures | null = null;
  try {
    const fixtureVulnerable = await fixtureVulnerableVersions(await loadOsvDirectory(FIXTURE_OSV, { ecosystem: 'npm' }));
    log(`fixture packages at affected versions: ${fixtureVulnerable.map((p) => `${p.name}@${p.version}`).join(', ')}`);

    const timeoutMs = Number(values['timeout-s']) * 1000;
    const command = await childCommand({ tsx: values.tsx!, nodeFlags: values['node-flags'] });
    for (const set of sets) {
      // The database set plans against what the import and sync below stored (the synthetic records).
      if (set === 'database') {
        database = await benchAdvisoryDatabase(databaseUrl!, dir, RECORDS, NAMES, Number(values.changed), values.watch!);
        if (values['change-list']) changeList = await benchChangeList(freshDatabaseUrl('bench_planner_changes'), dir, RECORDS, NAMES, Number(values.changed));
      }
      let stopped: number | null = null;
      for (const n of SIZES) {
        if (stopped !== null) {
          results.push({ set, components: n, skipped: `not run: ${stopped} components took longer than ${values['timeout-s']} s` });
          continue;
        }
        const vulnerable =
          set === 'fixtures' ? (i: number) => fixtureVulnerable[(i / VULNERABLE_EVERY) % fixtureVulnerable.length]! : (i: number) => ({ name: benchName(i), version: '0.9.0' });
        const scanFile = join(dir, `scan-${set}-${n}.cdx.json`);
        const scan = generateScan(n, vulnerable);
        await writeFile(scanFile, JSON.stringify(scan));
        const registry = join(dir, `registry-${set}-${n}`);
        await writeRegistry(registry, scan, set === 'fixtures');
        log(`${set}: ${n} components…`);
        const args = ['--set', set, '--scan', scanFile, '--registry', registry, '--components', String(n), '--records', String(RECORDS), '--sizes', values.sizes!, '--plans', String(PLANS), ...(values['cold-connections'] ? ['--cold-connections'] : [])];
        const childArgs = databaseUrl && set === 'database' ? [...args, '--database-url', databaseUrl] : args;
        if (values.keep) log(`child: node --expose-gc ${command.join(' ')} --child ${childArgs.join(' ')}`);
        const figures = await runChild(command, childArgs, timeoutMs);
        if (!values.keep) await Promise.all([rm(scanFile), rm(registry, { recursive: true })]);
        if (figures === null) {
          stopped = n;
          results.push({ set, components: n, skipped: `stopped after ${values['timeout-s']} s` });
        } else {
          // Every transitive finding of a generated package has a lockfile update in the generated
          // registry (its parent requires it at ^0.9.0); fewer means the parents' packuments were not read as intended.
          if (set !== 'fixtures' && figures.transitiveLockfileUpdates < figures.transitive) {
            log(`warning: ${set} ${n}: ${figures.transitive - figures.transitiveLockfileUpdates} of ${figures.transitive} transitive findings without a lockfile update`);
          }
          results.push(figures);
        }
      }
    }

    const fmt = (x: number) => x.toLocaleString('en-US');
    const rows = results.map((r) =>
      'skipped' in r
        ? `| ${r.set} | ${fmt(r.components)} | — | — | — | — | — | — | — | — | — | ${r.skipped} |`
        : `| ${r.set} | ${fmt(r.components)} | ${fmt(r.advisories)} | ${fmt(r.loadMs)} ms / ${r.rssAfterLoadMiB} MiB | ${fmt(r.parseMs)} ms | ${r.set === 'database' ? `${fmt(r.lookupMs)} ms` : '—'} | ${fmt(r.planMs)} ms | **${fmt(r.parseMs + r.lookupMs + r.planMs)} ms** | ${fmt(r.cpuMs)} ms / ${fmt(r.gcMs)} ms | **${r.peakRssMiB} MiB** | ${fmt(r.targets)} / ${fmt(r.transitive)} (${fmt(r.transitiveLockfileUpdates)} with a lockfile update) | ${r.peakRssFrom} |`,
    );
    const table = [
      '| advisories | components | advisories held | load (time / RSS after) | parse | look-up | plan | parse + plan | CPU / GC (parse + plan) | peak RSS (parse + plan) | targets / transitive findings | RSS from |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n');
    process.stdout.write(`${table}\n\n`);
    const laterRows = results.flatMap((r) =>
      'later' in r && r.later !== undefined
        ? [`| ${r.set} | ${fmt(r.components)} | ${r.later.plans} | ${fmt(r.later.parseMs)} ms | ${r.set === 'database' ? `${fmt(r.later.lookupMs)} ms` : '—'} | ${fmt(r.later.planMs)} ms | **${fmt(r.later.totalMs)} ms** | **${r.later.peakRssMiB} MiB** |`]
        : [],
    );
    if (laterRows.length > 0) {
      process.stdout.write(
        [
          'Later plans of the same scan in the same process (--plans), medians; peak RSS over every plan of the process:',
          '',
          '| advisories | components | plans | parse | look-up | plan | parse + plan | peak RSS (all plans) |',
          '|---|---|---|---|---|---|---|---|',
          ...laterRows,
        ].join('\n') + '\n\n',
      );
    }
    process.stdout.write(
      database
        ? `advisory database (OSV directory source, ${fmt(database.records)} records): ` +
            `full import ${fmt(database.fullImportMs)} ms (fetch ${fmt(database.fullImportFetchMs)} ms, ${fmt(database.fullImportImported)} imported); ` +
            `incremental sync of ${fmt(database.changed)} changed ${fmt(database.incrementalSyncMs)} ms (fetch ${fmt(database.incrementalSyncFetchMs)} ms, listing scope ${database.incrementalSyncScope}, ` +
            `${fmt(database.incrementalImported)} imported, ${fmt(database.incrementalUnchanged)} unchanged); ` +
            `sync after a restart ${fmt(database.restartSyncMs)} ms (fetch ${fmt(database.restartSyncFetchMs)} ms, ${fmt(database.restartImported)} imported)\n`
        : 'advisory database: not run (--sets without database)\n',
    );
    if (changeList) {
      process.stdout.write(
        `advisory database (URL source with OSV's change list, ${fmt(changeList.records)} records): first import from memory ${fmt(changeList.firstImportMs)} ms; ` +
          `incremental sync of ${fmt(changeList.changed)} changed ${fmt(changeList.incrementalSyncMs)} ms (fetch ${fmt(changeList.incrementalSyncFetchMs)} ms, ` +
          `${fmt(changeList.fetchedRecords)} records fetched, ${fmt(changeList.incrementalImported)} imported, ${fmt(changeList.incrementalUnchanged)} unchanged)\n`,
      );
    }
    process.stdout.write(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}; ${new Date().toISOString()}\n`);
    if (values.json) process.stdout.write(`${JSON.stringify({ results, database, changeList })}\n`);
  } finally {
    if (values.keep) log(`kept: ${dir}${databaseUrl ? ` and database ${databaseUrl}` : ''}`);
    else {
      await rm(dir, { recursive: true, force: true });
      if (databaseUrl) await dropDatabase(databaseUrl);
    }
  }
}
