// The live event feed of one instance: the SSE stream (GET /api/instances/{id}/events/stream?token=<jwt>),
// falling back to polling GET /api/instances/{id}/events?since=<latestTimestamp> when the stream is not available.

import { api, enc, session } from "./api.js";
import { meta } from "./meta.js";

const POLL_MS = 2000;
const POLL_ERROR_MS = 10000;
const BUFFER = 300;

export class LiveFeed {
  constructor(instanceId) {
    this.instanceId = instanceId;
    this.events = []; // oldest first, at most BUFFER
    this.mode = "idle"; // idle | connecting | sse | polling | error
    this.error = null;
    this.listeners = new Set();
    this.modeListeners = new Set();
    this.seen = new Set();
    this.seenOrder = [];
    this.since = null;
    this.cursor = null;
    this.source = null;
    this.timer = null;
    this.stopped = false;
  }

  /** True while the SSE stream is open: then pages can poll slowly (each request counts as an API call). */
  get streaming() {
    return this.mode === "sse";
  }

  /** The poll interval to use: `fast` without the stream, `slow` with it. */
  every(fast, slow) {
    return this.streaming ? slow : fast;
  }

  on(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onMode(fn) {
    this.modeListeners.add(fn);
    return () => this.modeListeners.delete(fn);
  }

  setMode(mode, error = null) {
    this.mode = mode;
    this.error = error;
    for (const fn of this.modeListeners) fn(mode, error);
  }

  async start() {
    this.setMode("connecting");
    // Recent history first, so the feed is not empty; it also tells us where polling would resume.
    try {
      await this.pollOnce({ limit: 50 });
    } catch (err) {
      this.error = err;
    }
    if (this.stopped) return;
    // The SSE stream names each event by its type: listen to the server's list of them.
    let types = [];
    try {
      types = (await meta()).eventTypes;
    } catch (err) {
      this.error = err;
    }
    if (this.stopped) return;
    this.openStream(types);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
    this.listeners.clear();
    this.modeListeners.clear();
  }

  openStream(types) {
    if (typeof EventSource === "undefined" || !types.length) {
      this.startPolling();
      return;
    }
    // Resume right after the history we already have, so nothing falls between the two.
    let url = `/api/instances/${enc(this.instanceId)}/events/stream?token=${enc(session.token || "")}`;
    if (this.cursor) url += `&lastEventId=${enc(this.cursor)}`;
    else if (this.since) url += `&since=${enc(this.since)}`;
    let opened = false;
    const source = new EventSource(url);
    this.source = source;
    const handle = (msg) => {
      if (!msg.data) return;
      let event;
      try {
        event = JSON.parse(msg.data);
      } catch {
        return;
      }
      if (!event.type && msg.type && msg.type !== "message") event = { type: msg.type, data: event, timestamp: event.timestamp };
      this.dispatch([event]);
      if (event.timestamp) this.since = event.timestamp;
      if (msg.lastEventId) this.cursor = msg.lastEventId;
    };
    source.onmessage = handle;
    for (const type of types) source.addEventListener(type, handle);
    source.onopen = () => {
      opened = true;
      this.setMode("sse");
    };
    source.onerror = () => {
      if (this.stopped) return;
      if (!opened || source.readyState === EventSource.CLOSED) {
        // Not available (404, 401, wrong content type) or gave up: poll instead.
        source.close();
        this.source = null;
        this.startPolling();
      } else {
        this.setMode("connecting");
      }
    };
  }

  startPolling() {
    if (this.stopped) return;
    this.setMode("polling");
    const tick = async () => {
      if (this.stopped) return;
      let delay = POLL_MS;
      try {
        await this.pollOnce(this.cursor ? { after: this.cursor } : this.since ? { since: this.since } : { limit: 50 });
        if (this.mode !== "polling") this.setMode("polling");
      } catch (err) {
        if (this.stopped) return;
        this.setMode("error", err);
        delay = POLL_ERROR_MS;
      }
      this.timer = setTimeout(tick, delay);
    };
    this.timer = setTimeout(tick, this.error ? 0 : POLL_MS);
  }

  async pollOnce(query) {
    // Page until nothing is left, so a burst is never cut short.
    for (let page = 0; page < 20; page += 1) {
      const res = await api.get(`/api/instances/${enc(this.instanceId)}/events`, { query: { limit: 100, ...query } });
      if (this.stopped) return;
      this.error = null;
      this.dispatch(res.events || []);
      if (res.latestTimestamp) this.since = res.latestTimestamp;
      if (res.cursor) this.cursor = res.cursor;
      if (!res.hasMore || !(res.events || []).length || query.limit === 50) return;
      query = this.cursor ? { after: this.cursor } : { since: this.since };
    }
  }

  dispatch(events) {
    const fresh = [];
    for (const event of events) {
      if (!event || typeof event !== "object") continue;
      const key = JSON.stringify([event.type, event.timestamp, event.data]);
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.seenOrder.push(key);
      if (this.seenOrder.length > BUFFER * 3) this.seen.delete(this.seenOrder.shift());
      fresh.push(event);
    }
    if (!fresh.length) return;
    this.events.push(...fresh);
    if (this.events.length > BUFFER) this.events.splice(0, this.events.length - BUFFER);
    for (const fn of this.listeners) {
      try {
        fn(fresh);
      } catch (err) {
        console.error(err);
      }
    }
  }
}
