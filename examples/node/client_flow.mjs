#!/usr/bin/env node
// A wamux client, start to finish: log in, create an instance, link it, send, and follow incoming messages.
// Node 20+, no dependencies (global fetch).
//
//   WAMUX_URL=http://127.0.0.1:3000 WAMUX_EMAIL=admin@example.com WAMUX_PASSWORD=admin123 \
//     node client_flow.mjs [--simulate] [--to 79001234567] [--webhook-url URL --webhook-secret S]
//
// Authentication: WAMUX_API_KEY (sent as `x-api-key`), else WAMUX_EMAIL + WAMUX_PASSWORD (a JWT from
// /api/auth/login). Without --simulate, scan the printed QR code with WhatsApp on your phone, then the
// script sends one message and prints every incoming message until Ctrl-C. With --simulate (server started
// with WHATSAPP_TRANSPORT=simulator, admin user), the simulator "scans" the code and injects one incoming
// message, and the script exits after seeing it.

import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    url: { type: "string", default: process.env.WAMUX_URL ?? "http://127.0.0.1:3000" },
    name: { type: "string", default: "Example instance" },
    to: { type: "string", default: "79001234567" },
    "webhook-url": { type: "string", default: process.env.WAMUX_WEBHOOK_URL },
    "webhook-secret": { type: "string", default: process.env.WAMUX_WEBHOOK_SECRET },
    simulate: { type: "boolean", default: false },
    timeout: { type: "string", default: "120" },
  },
});
const baseUrl = args.url.replace(/\/+$/, "");
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function fail(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}

let authHeaders = {};

// One request; returns {status, body}. Stops with the API's own error text unless the status is expected.
async function call(method, path, { json, params, expect = [200] } = {}) {
  const url = new URL(baseUrl + path);
  for (const [key, value] of Object.entries(params ?? {})) if (value != null) url.searchParams.set(key, value);
  const response = await fetch(url, {
    method,
    headers: { ...authHeaders, ...(json !== undefined ? { "Content-Type": "application/json" } : {}) },
    body: json !== undefined ? JSON.stringify(json) : undefined,
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (!expect.includes(response.status)) {
    const reason = typeof body === "object" ? `${body.code}: ${body.error}` : String(body).slice(0, 200);
    fail(`${method} ${path} -> ${response.status} ${reason}`);
  }
  return { status: response.status, body };
}

async function authenticate() {
  if (process.env.WAMUX_API_KEY) {
    authHeaders = { "x-api-key": process.env.WAMUX_API_KEY };
    console.log("authenticating with an API key");
    return;
  }
  const { WAMUX_EMAIL: email, WAMUX_PASSWORD: password } = process.env;
  if (!email || !password) fail("set WAMUX_API_KEY, or WAMUX_EMAIL and WAMUX_PASSWORD");
  const { body } = await call("POST", "/api/auth/login", { json: { email, password } });
  authHeaders = { Authorization: `Bearer ${body.token}` };
  console.log(`logged in as ${body.user.email}`);
}

async function createInstance() {
  const body = { name: args.name, description: "created by examples/node/client_flow.mjs" };
  if (args["webhook-url"]) {
    Object.assign(body, {
      webhookUrl: args["webhook-url"],
      webhookEnabled: true,
      notifyReceived: true,
      notifySent: true,
      notifyDelivery: true,
      notifyRead: false,
      maxRetries: 3,
      retryInterval: 5000,
      headers: { "X-Source": "wamux-example" },
    });
    if (args["webhook-secret"]) body.webhookSecret = args["webhook-secret"];
  }
  const { body: instance } = await call("POST", "/api/instances", { json: body, expect: [201] });
  console.log(`instance ${instance.id} created (status ${instance.status})`);
  return instance.id;
}

// Poll /qr: 202 while the code is generated, then 200 with the string to render as a QR code.
async function waitForQr(id, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { status, body } = await call("GET", `/api/instances/${id}/qr`, { expect: [200, 202] });
    if (status === 200) {
      console.log(`QR code: ${body.qrCode}`);
      console.log(`  (as an image: GET /api/instances/${id}/qr?format=png)`);
      return body.qrCode;
    }
    await sleep(500);
  }
  fail("no QR code in time");
}

async function waitUntilReady(id, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { body } = await call("GET", `/api/whatsapp/${id}/status`);
    if (body.ready) {
      console.log(`connected: status ${body.status}`);
      return;
    }
    await sleep(500);
  }
  fail("the instance did not connect in time");
}

// Poll /events with since=latestTimestamp: every event exactly once, in order.
async function follow(id, since, stopAfter) {
  let seen = 0;
  while (stopAfter == null || seen < stopAfter) {
    const params = { types: "message_received", limit: "100", since };
    const { body: page } = await call("GET", `/api/instances/${id}/events`, { params });
    for (const event of page.events) {
      const message = event.data;
      console.log(`incoming from ${message.from}: ${message.body}`);
      seen += 1;
    }
    since = page.latestTimestamp ?? since;
    if (!page.hasMore) await sleep(1000);
  }
}

await authenticate();
const id = await createInstance();
await waitForQr(id, 30_000);
if (args.simulate) {
  await call("POST", `/api/simulator/instances/${id}/scan`, { json: { pushName: "Example" } });
  console.log("scanned with the simulator");
} else {
  console.log("scan it with WhatsApp: Settings → Linked devices → Link a device");
}
await waitUntilReady(id, Number(args.timeout) * 1000);

const { body: sent } = await call("POST", `/api/whatsapp/${id}/send`, { json: { phone: args.to, message: "Hello!" } });
console.log(`sent message ${sent.id}`);

// Start following from the newest event now, so old ones are not printed again.
const { body: head } = await call("GET", `/api/instances/${id}/events`, { params: { limit: "1" } });
if (args.simulate) {
  const incoming = { from: "79005554433", body: "Hello from the simulator", pushName: "Sim" };
  await call("POST", `/api/simulator/instances/${id}/incoming`, { json: incoming });
  await follow(id, head.latestTimestamp, 1);
  console.log("done");
} else {
  console.log("waiting for incoming messages (Ctrl-C to stop)");
  await follow(id, head.latestTimestamp, null);
}
