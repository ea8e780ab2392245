import Anthropic, { APIError, BadRequestError, OverloadedError, RateLimitError } from '@anthropic-ai/sdk';
import type { MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { afterEach, describe, expect, it } from 'vitest';
import { lastToolResults, startMessagesApiLocal, type MessagesApiLocal, type ScriptTurn } from './index.js';

const tools: Tool[] = [{ name: 'read_file', description: 'Reads a file', input_schema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } }];

let api: MessagesApiLocal | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function start(script: ScriptTurn[]): Promise<{ api: MessagesApiLocal; client: Anthropic }> {
  api = await startMessagesApiLocal({ script, chunkSize: 5 });
  return { api, client: new Anthropic({ apiKey: 'test-key', baseURL: api.url, maxRetries: 2 }) };
}

describe('messages-api-local with the real SDK', () => {
  it('answers a non-streaming request with a Message and records it', async () => {
    const { api, client } = await start([{ content: [{ type: 'text', text: 'hello' }], usage: { input_tokens: 11, output_tokens: 3 } }]);
    const msg = await client.messages.create({ model: 'claude-test', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    expect(msg.content).toEqual([{ type: 'text', text: 'hello', citations: null }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.usage.input_tokens).toBe(11);
    expect(msg.usage.output_tokens).toBe(3);
    expect(api.requests[0]!.headers['authorization']).toBe('Bearer test-key');
    expect(api.requests[0]!.headers['anthropic-version']).toBeTruthy();
    api.assertDone();
  });

  it('streams text and tool_use with the real event sequence', async () => {
    const { api, client } = await start([
      {
        content: [
          { type: 'text', text: 'Let me read the file first.' },
          { type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: 'src/app.js', nested: { a: [1, 2] } } },
        ],
        usage: { input_tokens: 40, output_tokens: 25 },
      },
    ]);
    const stream = client.messages.stream({ model: 'claude-test', max_tokens: 100, tools, messages: [{ role: 'user', content: 'fix it' }] });
    const events: string[] = [];
    const deltas: string[] = [];
    stream.on('streamEvent', (e) => {
      events.push(e.type);
      if (e.type === 'content_block_delta') deltas.push(e.delta.type);
    });
    const msg = await stream.finalMessage();
    expect(events[0]).toBe('message_start');
    expect(events.at(-2)).toBe('message_delta');
    expect(events.at(-1)).toBe('message_stop');
    expect(deltas).toContain('text_delta');
    expect(deltas).toContain('input_json_delta');
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content[0]).toMatchObject({ type: 'text', text: 'Let me read the file first.' });
    expect(msg.content[1]).toMatchObject({ type: 'tool_use', id: 'toolu_1', name: 'read_file', input: { path: 'src/app.js', nested: { a: [1, 2] } } });
    expect(msg.usage).toMatchObject({ input_tokens: 40, output_tokens: 25 });
    expect(api.requests[0]!.stream).toBe(true);
  });

  it('rejects invalid requests with 400 invalid_request_error in the API wording, consuming no turn', async () => {
    const { api, client } = await start([{ content: [{ type: 'text', text: 'ok' }] }]);
    const bad = async (messages: MessageParam[], extra: Record<string, unknown> = {}) => {
      const err = await client.messages.create({ model: 'm', max_tokens: 10, messages, tools, ...extra }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BadRequestError);
      return (err as APIError).apiMessage ?? (err as APIError).message;
    };
    expect(await bad([{ role: 'assistant', content: 'x' }])).toMatch(/first message must use the "user" role/);
    expect(await bad([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }])).toMatch(/roles must alternate/);
    expect(
      await bad([
        { role: 'user', content: 'a' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_9', name: 'read_file', input: {} }] },
        { role: 'user', content: 'no results' },
      ]),
    ).toMatch(/`tool_use` ids were found without `tool_result` blocks immediately after: toolu_9/);
    expect(
      await bad([
        { role: 'user', content: 'a' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_9', name: 'read_file', input: {} }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_other', content: 'x' }] },
      ]),
    ).toMatch(/unexpected `tool_use_id` found in `tool_result` blocks: toolu_other/);
    expect(await bad([{ role: 'user', content: 'a' }], { tools: [{ name: 'x', input_schema: { type: 'string' } }] })).toMatch(/input_schema.type/);
    expect(await bad([{ role: 'user', content: 'a' }], { tool_choice: { type: 'tool', name: 'nope' } })).toMatch(/Tool 'nope' not found/);
    expect(await bad([{ role: 'user', content: 'a' }], { bogus: 1 })).toMatch(/bogus: Extra inputs are not permitted/);
    expect(api.remainingTurns).toBe(1);
    const ok = await client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'a' }] });
    expect(ok.content[0]).toMatchObject({ text: 'ok' });
    api.assertDone();
  });

  it('requires an API key (x-api-key, or the Bearer form the SDK sends) and anthropic-version', async () => {
    const { api, client } = await start([{ content: [{ type: 'text', text: 'ok' }] }]);
    const body = JSON.stringify({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'a' }] });
    const post = (headers: Record<string, string>) => fetch(`${api.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const noKey = await post({ 'anthropic-version': '2023-06-01' });
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error', message: 'x-api-key header is required' } });
    const noVersion = await post({ 'x-api-key': 'k' });
    expect(noVersion.status).toBe(400);
    expect(api.remainingTurns).toBe(1);
    await client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'a' }] });
    expect(api.requests.at(-1)!.headers['authorization']).toBe('Bearer test-key');
    api.assertDone();
  });

  it('serves 429 with retry-after and 529 overloaded; the SDK retries them', async () => {
    const { api, client } = await start([
      { error: 'rate_limit_error', retryAfterSeconds: 0.01 },
      { error: 'overloaded_error', retryAfterSeconds: 0.01 },
      { content: [{ type: 'text', text: 'finally' }] },
    ]);
    const msg = await client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'a' }] });
    expect(msg.content[0]).toMatchObject({ text: 'finally' });
    expect(api.requests.map((r) => r.status)).toEqual([429, 529, 200]);
    api.assertDone();
  });

  it('surfaces errors as the SDK classes once retries are spent, and mid-stream errors as events', async () => {
    const { api } = await start([{ error: 'overloaded_error' }, { error: 'rate_limit_error', retryAfterSeconds: 0.01 }, { error: 'overloaded_error', midStream: true }]);
    const client = new Anthropic({ apiKey: 'k', baseURL: api.url, maxRetries: 0 });
    const params = { model: 'm', max_tokens: 10, messages: [{ role: 'user' as const, content: 'a' }] };
    await expect(client.messages.create(params)).rejects.toBeInstanceOf(OverloadedError);
    await expect(client.messages.create(params)).rejects.toBeInstanceOf(RateLimitError);
    const err = await client.messages.stream(params).finalMessage().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).type).toBe('overloaded_error');
    api.assertDone();
  });

  it('runs assertions on the request and fails the script (no SDK retry) when they throw', async () => {
    const { api, client } = await start([
      {
        content: [{ type: 'text', text: 'done' }],
        expect: (req) => {
          const results = lastToolResults(req);
          if (results[0]?.content !== 'expected') throw new Error(`got ${results[0]?.content}`);
        },
      },
    ]);
    const messages: MessageParam[] = [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'read_file', input: { path: 'x' } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'unexpected' }], is_error: true }] },
    ];
    await expect(client.messages.create({ model: 'm', max_tokens: 10, tools, messages })).rejects.toBeInstanceOf(BadRequestError);
    expect(api.requests).toHaveLength(1);
    expect(api.failures[0]).toMatch(/assertion failed: got unexpected/);
    expect(() => api.assertDone()).toThrow(/assertion failed/);
  });

  it('fails the script when it is exhausted', async () => {
    const { api, client } = await start([]);
    await expect(client.messages.create({ model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'a' }] })).rejects.toThrow(/script exhausted/);
    expect(api.requests).toHaveLength(1);
  });
});
