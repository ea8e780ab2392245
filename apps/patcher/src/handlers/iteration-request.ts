import type { CurrentIteration } from '@remediation/persistence';

/**
 * What the agent is asked in an iteration after the first, derived from its reason: the feedback
 * (text, then the line comments) for `review` / `user_feedback`; for `rebase_reapply`, to re-apply
 * the previous version's change on the moved base (the bumps were re-run), with why it no longer
 * applied (the iteration's `detail`).
 * @param baseBranch the execution's base branch, named in a re-application's request.
 */
export function iterationRequest(iteration: CurrentIteration, baseBranch: string | null): string {
  if (iteration.reason === 'rebase_reapply' || !iteration.feedback) {
    return `The base branch${baseBranch ? ` ${baseBranch}` : ''} moved and the previous patch version no longer applies${iteration.detail ? ` (${iteration.detail})` : ''}. Re-apply the same change on the new code: the manifest bumps were re-run; re-do the code changes of the previous version shown below where they are still needed.`;
  }
  const comments = iteration.feedback.comments.map((c) => `- ${c.path}${c.line ? `:${c.line}` : ''}: ${c.body}`).join('\n');
  return comments ? `${iteration.feedback.text}\n\nComments on lines:\n${comments}` : iteration.feedback.text;
}
