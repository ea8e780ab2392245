import { type MessagesApiLocal, type ScriptTurn, startMessagesApiLocal } from '@remediation/messages-api-local';
import { startTcpProxy } from '@remediation/stack';

/**
 * The model the services talk to in a test: messages-api-local on a fixed port (known before the
 * services start), whose script is replaced per test with {@link ScriptedModel.use}.
 */
export interface ScriptedModel {
  readonly port: number;
  /** Environment for a service's agent settings (patcher, pr-service). */
  env(): Record<string, string>;
  /** Serves `script` from now on (closing the previous server). */
  use(script: ScriptTurn[]): Promise<MessagesApiLocal>;
  /** The server of the current script, if any. */
  current(): MessagesApiLocal | null;
  close(): Promise<void>;
}

/**
 * Holds a port for the scripted model for the whole test: a TCP proxy listens on it and forwards
 * to the messages-api-local of the current script (each `use` starts one on a free port). A server
 * reopened on the held port itself could find it taken meanwhile by another test's listener
 * (EADDRINUSE). No server runs until the first `use` (connections are closed until then).
 * @param apiKey the key the services must send (default `test-key`).
 */
export async function scriptedModel(apiKey = 'test-key'): Promise<ScriptedModel> {
  let server: MessagesApiLocal | null = null;
  const proxy = await startTcpProxy(() => (server ? Number(new URL(server.url).port) : 0));
  const port = proxy.port;
  return {
    port,
    env: () => ({ ANTHROPIC_API_KEY: apiKey, ANTHROPIC_BASE_URL: `http://127.0.0.1:${port}`, AGENT_MODEL: 'claude-test', AGENT_RETRY_BASE_MS: '100' }),
    async use(script) {
      await server?.close();
      server = null;
      server = await startMessagesApiLocal({ script, port: 0, apiKey });
      return server;
    },
    current: () => server,
    async close() {
      await server?.close();
      await proxy.close();
    },
  };
}
