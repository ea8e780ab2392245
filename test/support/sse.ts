import { createParser } from 'eventsource-parser';

/** One Server-Sent Event as a client sees it: its id, type and JSON data. */
export interface SseEvent {
  id: string;
  event: string;
  data: any;
}

/** An open events stream: what arrived so far, and a way to wait for more. */
export interface EventsStream {
  status: number;
  contentType: string | null;
  /** The JSON error body when the answer was not a stream. */
  error: any;
  events: SseEvent[];
  /** Comment lines (`: keep-alive` → ` keep-alive`). */
  comments: string[];
  /** Resolves with the first event (already received or not) matching `predicate`; throws naming what came on timeout or end. */
  until(predicate: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

/**
 * Opens `url` as a browser's fetch-streaming client would (`accept: text/event-stream` plus
 * `headers`) and parses the body with eventsource-parser as it arrives. Each stream opened is
 * added to `opened` so a test can close what it left open.
 */
export async function openEvents(url: URL, headers: Record<string, string>, opened: EventsStream[] = []): Promise<EventsStream> {
  const abort = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  let wake: () => void = () => undefined;
  const parser = createParser({
    onEvent: (m) => {
      events.push({ id: m.id ?? '', event: m.event ?? 'message', data: JSON.parse(m.data) });
      wake();
    },
    onComment: (c) => comments.push(c),
  });
  let ended = !res.ok;
  const error = res.ok ? null : await res.json().catch(() => null);
  if (res.ok && res.body) {
    void (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) parser.feed(decoder.decode(chunk, { stream: true }));
      } catch {
        // aborted
      }
      ended = true;
      wake();
    })();
  }
  const got = () => events.map((e) => `${e.id}:${e.event}:${e.data.to ?? e.data.event}`).join(' ');
  const stream: EventsStream = {
    status: res.status,
    contentType: res.headers.get('content-type'),
    error,
    events,
    comments,
    async until(predicate, timeoutMs = 90_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(predicate);
        if (found) return found;
        if (ended) throw new Error(`stream ended before the event; got ${got()}`);
        if (Date.now() > deadline) throw new Error(`timed out; got ${got()}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 250);
        });
      }
    },
    close: () => abort.abort(),
  };
  opened.push(stream);
  return stream;
}

/** Matches the state event whose `to` is `state`. */
export const isState = (state: string) => (e: SseEvent) => e.event === 'state' && e.data.to === state;
