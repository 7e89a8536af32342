#!/usr/bin/env node
// A wamux webhook receiver for Node 20+, no dependencies: checks signatures, drops duplicates.
//
//   WEBHOOK_SECRET=s3cret node webhook_receiver.mjs --port 8080
//
// Set the same secret as the instance's `webhookSecret`. Each delivery is checked: `X-Webhook-Signature`
// must be the lowercase hex HMAC-SHA256 of the raw body keyed by the secret, compared in constant time
// (401 otherwise). wamux delivers at least once — a retry after a lost answer repeats the same
// `X-Webhook-Id` — so ids already seen are answered 200 and not processed again. Answer quickly with a
// 2xx; anything else makes wamux retry. Each accepted event is printed as one JSON line.

import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "8080" }, // 0 picks a free port
    secret: { type: "string", default: process.env.WEBHOOK_SECRET },
  },
});
const MAX_REMEMBERED = 10_000;
const seen = new Set(); // the most recent delivery ids; a real service keeps them in its database

function validSignature(secret, body, signature) {
  if (!signature) return false;
  const expected = Buffer.from(createHmac("sha256", secret).update(body).digest("hex"));
  const offered = Buffer.from(signature.trim().toLowerCase());
  return expected.length === offered.length && timingSafeEqual(expected, offered);
}

function firstTime(id) {
  if (seen.has(id)) return false;
  seen.add(id);
  if (seen.size > MAX_REMEMBERED) seen.delete(seen.values().next().value);
  return true;
}

function answer(res, status, payload) {
  const data = JSON.stringify(payload);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(data) });
  res.end(data);
}

if (!args.secret) console.error("warning: no WEBHOOK_SECRET: signatures are not checked");

const server = createServer((req, res) => {
  if (req.method !== "POST") return answer(res, 405, { error: "POST only" });
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks); // the raw bytes: sign-check them before parsing
    if (args.secret && !validSignature(args.secret, body, req.headers["x-webhook-signature"])) {
      return answer(res, 401, { error: "bad signature" });
    }
    const id = req.headers["x-webhook-id"] ?? "";
    // The id is the event's: every target of an instance gets the same one, so duplicates are per target.
    const target = req.headers["x-webhook-target"] ?? "default";
    if (id && !firstTime(`${target}:${id}`)) return answer(res, 200, { duplicate: true });
    let event;
    try {
      event = JSON.parse(body.toString("utf8"));
    } catch {
      return answer(res, 400, { error: "body is not JSON" });
    }
    const line = {
      id,
      event: req.headers["x-webhook-event"] ?? null,
      target,
      attempt: req.headers["x-webhook-attempt"] ?? null,
      data: event.data ?? null,
    };
    console.log(JSON.stringify(line));
    answer(res, 200, { ok: true });
  });
});

server.listen(Number(args.port), args.host, () => {
  const { address, port } = server.address();
  console.log(`listening on http://${address}:${port}`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
