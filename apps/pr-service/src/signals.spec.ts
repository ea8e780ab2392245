import type { PullRequestRecord } from '@remediation/persistence';
import { describe, expect, it } from 'vitest';
import type { ProviderRepository, RemotePullRequest } from './provider.js';
import { type PullRequestSignal, pollSignals } from './signals.js';

/** The polling half of the normaliser, over a provider repository that records what was read. */
function fakeRepository(now: RemotePullRequest, reads: string[]): ProviderRepository {
  const read = <T>(what: string, value: T) => async () => {
    reads.push(what);
    return value;
  };
  return {
    repository: 'acme/shop',
    open: read('open', now),
    update: read('update', undefined),
    comment: read('comment', ''),
    get: read('get', now),
    listReviews: read('reviews', [{ kind: 'review', providerId: 1, author: 'alice', body: 'LGTM', state: 'APPROVED' }]),
    listReviewComments: read('review comments', [{ kind: 'review_comment', providerId: 2, author: 'alice', body: 'here', path: 'a.js', line: 3 }]),
    listComments: read('comments', [{ kind: 'issue_comment', providerId: 3, author: 'bob', body: 'why?' }]),
    listCommits: read('commits', []),
    listCheckRuns: read('checks', []),
    branchHead: read('branch', 'b'.repeat(40)),
  };
}

const pullRequest = { id: 'pr-1', repository: 'acme/shop', number: 4, state: 'open' } as PullRequestRecord;

async function collect(signals: AsyncGenerator<PullRequestSignal>, reads: string[]): Promise<string[]> {
  const seen: string[] = [];
  for await (const s of signals) seen.push(`${s.type} after ${reads.at(-1)}`);
  return seen;
}

describe('pollSignals', () => {
  it('yields the head, the base, every review and comment, then the checks, reading each list only when reached', async () => {
    const reads: string[] = [];
    const signals = pollSignals(pullRequest, fakeRepository({ number: 4, url: 'u', state: 'open', headSha: 'a'.repeat(40) }, reads));
    expect(await collect(signals, reads)).toEqual([
      'head_pushed after get',
      'base_moved after get',
      'review_submitted after reviews',
      'comment_created after review comments',
      'comment_created after comments',
      'checks_changed after comments',
    ]);
    const again = pollSignals(pullRequest, fakeRepository({ number: 4, url: 'u', state: 'open', headSha: 'a'.repeat(40) }, []));
    const first = await again.next();
    const second = await again.next();
    expect([first.value, second.value]).toEqual([
      { type: 'head_pushed', pullRequest, headSha: 'a'.repeat(40) },
      { type: 'base_moved', pullRequest, headSha: 'a'.repeat(40) },
    ]);
  });

  it('yields only `closed` for a merged or closed pull request, and nothing for one without a number', async () => {
    for (const state of ['merged', 'closed'] as const) {
      const reads: string[] = [];
      const signals: PullRequestSignal[] = [];
      for await (const s of pollSignals(pullRequest, fakeRepository({ number: 4, url: 'u', state, headSha: 'a'.repeat(40) }, reads))) signals.push(s);
      expect(signals).toEqual([{ type: 'closed', pullRequest, merged: state === 'merged' }]);
      expect(reads).toEqual(['get']);
    }
    const reads: string[] = [];
    const none = pollSignals({ ...pullRequest, number: null } as PullRequestRecord, fakeRepository({ number: 4, url: 'u', state: 'open', headSha: 'a' }, reads));
    expect((await none.next()).done).toBe(true);
    expect(reads).toEqual([]);
  });
});
