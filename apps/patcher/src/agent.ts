/**
 * The seam for the code-fix agent (a later issue): after the deterministic manifest edits, an
 * agent may change code that the upgrade breaks. Without an agent the patcher still runs end to
 * end and says, per target, when code changes would have needed it.
 */
export interface CodeFixAgent {
  /** Name shown in history, e.g. `anthropic:claude-…`. */
  readonly name: string;
  /**
   * Fixes code in `workspaceDir` for the given targets. Returns repository-relative paths it
   * changed. Never runs a shell or a package manager.
   */
  fix(input: {
    workspaceDir: string;
    targets: Array<{ name: string; from: string; to: string; manifestPath: string }>;
    heartbeat(details: Record<string, unknown>): void;
  }): Promise<{ changedPaths: string[] }>;
}

/** The default when no agent is configured: changes nothing. */
export const NO_AGENT: CodeFixAgent | null = null;
