import { describe, expect, it } from 'vitest';
import { checkRepositoryLocation, githubRepositoryNameProblem, parseRepositoryLocation, repositoryPolicyFromEnv } from './repository-policy.js';

const policy = { allowedHosts: ['github.com', 'gitlab.example.com'], allowLocal: false };
const local = { ...policy, allowLocal: true };

describe('checkRepositoryLocation', () => {
  it.each([
    'https://github.com/acme/widgets.git',
    'https://GitHub.com/acme/widgets',
    'ssh://git@github.com/acme/widgets.git',
    'ssh://git@gitlab.example.com:2222/group/sub/repo.git',
    'git@github.com:acme/widgets.git',
    'github.com:acme/widgets.git',
  ])('accepts %s', (location) => {
    expect(checkRepositoryLocation(location, policy)).toHaveProperty('location');
  });

  it.each([
    ['/srv/git/acme/app.git', 'local-disabled'],
    ['file:///srv/git/acme/app.git', 'local-disabled'],
    ['http://github.com/acme/widgets.git', 'scheme'],
    ['git://github.com/acme/widgets.git', 'scheme'],
    ['ext::sh -c touch% /tmp/pwned', 'scheme'],
    ['ext::ssh-evil', 'scheme'],
    ['fd::3', 'scheme'],
    ['https://user:secret@github.com/acme/widgets.git', 'credentials'],
    ['https://ghp_token123@github.com/acme/widgets.git', 'credentials'],
    ['ssh://git:secret@github.com/acme/widgets.git', 'credentials'],
    ['git:secret@github.com:acme/widgets.git', 'credentials'],
    ['ssh://-oProxyCommand=touch%20x/acme/widgets', 'option-like'],
    ['-oProxyCommand=x:acme/widgets', 'option-like'],
    ['git@github.com:-upload-pack=x', 'option-like'],
    ['https://github.com/-acme/widgets', 'option-like'],
    ['https://evil.example.com/acme/widgets.git', 'host-not-allowed'],
    ['git@evil.example.com:acme/widgets.git', 'host-not-allowed'],
    ['relative/path', 'unparseable'],
    ['./relative', 'unparseable'],
    ['', 'unparseable'],
    ['https://github.com/', 'unparseable'],
    // git reads the host after the last `@`; a URL parser reads `\` as `/`: one location, two hosts.
    ['https://github.com\\@evil.example.com/acme/widgets', 'unparseable'],
    ['https://github.com\\@10.0.0.5:8080/acme/widgets', 'unparseable'],
    ['ssh://git@github.com\\@evil.example.com/acme/widgets', 'unparseable'],
  ])('refuses %j (%s)', (location, rule) => {
    expect(checkRepositoryLocation(location, policy)).toMatchObject({ rule });
  });

  it('never repeats credentials in the message', () => {
    for (const location of ['https://user:s3cr3t@github.com/a/b.git', 'https://s3cr3t@evil.com/a/b', 'http://u:s3cr3t@github.com/a/b', 'u:s3cr3t@host:a/b']) {
      const refusal = checkRepositoryLocation(location, policy) as { message: string };
      expect(refusal.message).not.toContain('s3cr3t');
    }
  });

  it('accepts local paths and file:// only when enabled', () => {
    expect(checkRepositoryLocation('/srv/git/acme/app.git', local)).toMatchObject({ location: { kind: 'local', path: '/srv/git/acme/app.git' } });
    expect(checkRepositoryLocation('file:///srv/git/acme/app.git', local)).toMatchObject({ location: { kind: 'local', fileUrl: true } });
    expect(checkRepositoryLocation('relative/path', local)).toMatchObject({ rule: 'unparseable' });
  });

  it('parses the scp-like form (git-clone(1) "GIT URLS")', () => {
    expect(parseRepositoryLocation('git@github.com:acme/widgets.git')).toEqual({ kind: 'scp', username: 'git', password: '', host: 'github.com', path: 'acme/widgets.git' });
  });
});

describe('repositoryPolicyFromEnv', () => {
  it('defaults to github.com, local disabled; reads the list and the flag', () => {
    expect(repositoryPolicyFromEnv({})).toEqual({ allowedHosts: ['github.com'], allowLocal: false });
    expect(repositoryPolicyFromEnv({ REPOSITORY_HOSTS_ALLOWED: 'GitHub.com, gitlab.example.com,', ALLOW_LOCAL_REPOSITORIES: 'true' })).toEqual({
      allowedHosts: ['github.com', 'gitlab.example.com'],
      allowLocal: true,
    });
    expect(() => repositoryPolicyFromEnv({ ALLOW_LOCAL_REPOSITORIES: 'yes' })).toThrow(/ALLOW_LOCAL_REPOSITORIES/);
  });
});

describe('githubRepositoryNameProblem', () => {
  it.each([
    ['acme', 'widgets', null],
    ['a-b', 'x.y_z-1', null],
    ['a'.repeat(39), 'r'.repeat(100), null],
    ['-acme', 'w', /owner/],
    ['acme-', 'w', /owner/],
    ['ac--me', 'w', /owner/],
    ['a'.repeat(40), 'w', /owner/],
    ['ac_me', 'w', /owner/],
    ['acme', '.', /repo/],
    ['acme', '..', /repo/],
    ['acme', 'a/b', /repo/],
    ['acme', 'r'.repeat(101), /repo/],
  ])('%s/%s', (owner, repo, expected) => {
    const problem = githubRepositoryNameProblem(owner, repo);
    if (expected === null) expect(problem).toBeNull();
    else expect(problem).toMatch(expected);
  });
});
