// The server's lists and limits (GET /api/meta: statuses, event types, activity actions, ...), fetched once
// and shared, so the web manager keeps no copy of them that could drift from the server.

import { api } from "./api.js";

let pending = null;

/** The meta document (a promise); a failed fetch is tried again on the next call. */
export function meta() {
  if (!pending) {
    pending = api.get("/api/meta").catch((err) => {
      pending = null;
      throw err;
    });
  }
  return pending;
}

/** Forget the cached document (its limits are the caller's: fetch again after a new login). */
export function forgetMeta() {
  pending = null;
}
