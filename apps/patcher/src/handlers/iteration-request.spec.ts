import { describe, expect, it } from 'vitest';
import { iterationRequest } from './iteration-request.js';

describe('iterationRequest: what the agent is asked, from the iteration reason', () => {
  it('feedback (review or user_feedback): the text, then the line comments', () => {
    const feedback = { text: 'Use HS256.', comments: [{ path: 'lib/auth.js', line: 12, body: 'here' }, { path: 'README.md', body: 'and here' }] };
    expect(iterationRequest({ number: 2, reason: 'user_feedback', baseVersion: 1, detail: null, feedback }, 'main')).toBe(
      'Use HS256.\n\nComments on lines:\n- lib/auth.js:12: here\n- README.md: and here',
    );
    expect(iterationRequest({ number: 3, reason: 'review', baseVersion: 2, detail: null, feedback: { text: 'Add a comment.', comments: [] } }, 'main')).toBe('Add a comment.');
  });

  it('a re-application on a moved base: re-do the previous change on the new code, with why', () => {
    const text = iterationRequest({ number: 4, reason: 'rebase_reapply', baseVersion: 3, detail: 'conflicts in package.json', feedback: null }, 'master');
    expect(text).toContain('The base branch master moved and the previous patch version no longer applies (conflicts in package.json).');
    expect(text).toContain('re-do the code changes of the previous version shown below');
    expect(iterationRequest({ number: 4, reason: 'rebase_reapply', baseVersion: 3, detail: null, feedback: null }, null)).toMatch(/^The base branch moved and the previous patch version no longer applies\. Re-apply/);
  });
});
