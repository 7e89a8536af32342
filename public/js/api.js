// The HTTP client: every call goes to the documented /api routes with the session's JWT.
// The token lives in sessionStorage only (gone when the tab closes); nothing is put in localStorage.

const TOKEN_KEY = "wamux.token";
const USER_KEY = "wamux.user";

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const message = (body && typeof body.error === "string" && body.error) || fallback || `HTTP ${status}`;
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = (body && body.code) || null;
    this.details = (body && body.details) || null;
    this.body = body;
    this.retryAfter = null; // seconds, from the Retry-After header of a 429 or a 503 (catching_up)
  }

  /** A route the server does not have yet answers 404 with code not_found / "route not found". */
  get missingRoute() {
    return this.status === 404 && /route not found/i.test(this.message);
  }
}

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY);
  },
  get user() {
    try {
      return JSON.parse(sessionStorage.getItem(USER_KEY) || "null");
    } catch {
      return null;
    }
  },
  get isAdmin() {
    return this.user?.role === "admin";
  },
  save(token, user) {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    if (user) {
      // Never keep the API key around: it is a secret shown once.
      const { apiKey: _omit, ...safe } = user;
      sessionStorage.setItem(USER_KEY, JSON.stringify(safe));
    }
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(USER_KEY);
  },
};

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

function buildUrl(path, query) {
  const url = new URL(path, location.origin);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
    }
  }
  return url.pathname + url.search;
}

async function readBody(response) {
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("application/json")) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }
  const text = await response.text().catch(() => "");
  return text ? { error: text.slice(0, 300) } : null;
}

/**
 * Call the API. Options: query (object), json (body), form (FormData), as ("json" | "blob" | "response"),
 * signal, auth (false for login). Resolves with the parsed JSON body (or a Blob); throws ApiError with the
 * server's `error` text on any non-2xx answer.
 */
export async function request(method, path, opts = {}) {
  const headers = { Accept: "application/json" };
  const token = session.token;
  if (token && opts.auth !== false) headers.Authorization = `Bearer ${token}`;
  let body;
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.json);
  } else if (opts.form) {
    body = opts.form; // the browser sets the multipart boundary
  }
  let response;
  try {
    response = await fetch(buildUrl(path, opts.query), { method, headers, body, signal: opts.signal, cache: "no-store" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, null, "cannot reach the server: " + (err.message || "network error"));
  }
  if (response.status === 401 && opts.auth !== false) {
    const parsed = await readBody(response);
    const error = new ApiError(401, parsed);
    onUnauthorized(error);
    throw error;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, await readBody(response));
    const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "", 10);
    if (Number.isFinite(retryAfter) && retryAfter >= 0) error.retryAfter = retryAfter;
    throw error;
  }
  if (opts.as === "response") return response;
  if (opts.as === "blob") return { status: response.status, blob: await response.blob(), type: response.headers.get("Content-Type") };
  if (response.status === 204) return null;
  const parsed = await readBody(response);
  if (opts.withStatus) return { status: response.status, body: parsed };
  return parsed;
}

export const api = {
  get: (path, opts) => request("GET", path, opts),
  post: (path, json, opts = {}) => request("POST", path, { ...opts, json: json ?? {} }),
  put: (path, json, opts = {}) => request("PUT", path, { ...opts, json: json ?? {} }),
  del: (path, opts) => request("DELETE", path, opts),
  upload: (path, form, opts = {}) => request("POST", path, { ...opts, form }),
  uploadPut: (path, form, opts = {}) => request("PUT", path, { ...opts, form }),
};

export const enc = encodeURIComponent;
