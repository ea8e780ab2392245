import { describe, expect, it } from 'vitest';
import { providerRepository } from './codebase.js';

describe('providerRepository', () => {
  it.each([
    ['https://github.com/Acme/Widgets.git', { owner: 'Acme', repo: 'Widgets' }],
    ['https://github.com/Acme/Widgets', { owner: 'Acme', repo: 'Widgets' }],
    ['git@github.com:Acme/Widgets.git', { owner: 'Acme', repo: 'Widgets' }],
    ['ssh://git@github.com/Acme/Widgets.git', { owner: 'Acme', repo: 'Widgets' }],
    ['git+https://github.com/Acme/Widgets.git', { owner: 'Acme', repo: 'Widgets' }],
    ['https://github.example.com/org/repo.git?x=1#frag', { owner: 'org', repo: 'repo' }],
    ['http://127.0.0.1:3000/acme/widgets.git', { owner: 'acme', repo: 'widgets' }],
    ['git@git.example.com:group/sub/repo.git', { owner: 'sub', repo: 'repo' }],
    ['/srv/git/acme/widgets.git', { owner: 'acme', repo: 'widgets' }],
    ['file:///srv/git/acme/widgets.git/', { owner: 'acme', repo: 'widgets' }],
  ])('%s → %o', (repository, expected) => {
    expect(providerRepository({ repository })).toEqual(expected);
  });

  it.each(['https://github.example.com/only', 'widgets', 'https://host/a b/c', 'http://['])('%s → null', (repository) => {
    expect(providerRepository({ repository })).toBeNull();
  });

  it('prefers an explicit pullRequestRepository', () => {
    expect(providerRepository({ repository: '/srv/x/y', pullRequestRepository: { owner: 'o', repo: 'r' } })).toEqual({ owner: 'o', repo: 'r' });
  });
});
