// After a restart on a big log (a restore, an upgrade, an empty read-model store) the server serves at once and
// rebuilds its read models in the background: `GET /api/health` then answers `"status": "catching_up"`.
// This module asks once at boot and, only while that lasts, shows a banner under the top bar in words for
// people and asks again every few seconds; when the server is up to date the banner goes and a toast says so.

import { api } from "./api.js";
import { h, toast } from "./ui.js";

const POLL_MS = 3000;

// The read models in words; one not named here is shown by its name.
const READ_MODEL_WORDS = {
  messages: "messages and chats",
  contacts: "contacts",
  stats: "statistics",
  outbox: "webhook deliveries",
};

/** A read model's name in words: "messages" → "messages and chats". */
function readModelWords(name) {
  return READ_MODEL_WORDS[name] || String(name).replace(/_/g, " ");
}

/** How far a read model got, as a whole percentage that says 100 only when it is there. */
function percent(progress) {
  const value = Number(progress);
  if (!Number.isFinite(value)) return 0;
  return Math.max(0, Math.min(100, Math.floor(value * 100)));
}

/** The read models of a health answer still catching up: [{name, words, progress}], the slowest first. */
function behind(health) {
  const models = health?.readModels || {};
  return Object.entries(models)
    .filter(([, state]) => state && state.catchingUp)
    .map(([name, state]) => {
      const position = Number(state.position) || 0;
      const lag = Number(state.lag) || 0;
      return { name, words: readModelWords(name), progress: position + lag > 0 ? position / (position + lag) : 1 };
    })
    .sort((a, b) => a.progress - b.progress);
}

/** "messages and chats 37 %"; read models at the same point are named together: "contacts and statistics: 37 %". */
function listText(models) {
  const groups = new Map();
  for (const m of models) {
    const pct = percent(m.progress);
    groups.set(pct, [...(groups.get(pct) || []), m.words]);
  }
  return [...groups]
    .map(([pct, words]) => {
      if (words.length === 1) return `${words[0]} ${pct} %`;
      return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}: ${pct} %`;
    })
    .join("; ");
}

function catchingUpSentence(models) {
  const which = models.length ? ` (${listText(models)})` : "";
  return (
    `The server restarted and is still rebuilding its lists from its history${which}. ` +
    "Sending works; some lists will ask you to try again in a moment."
  );
}

function unreachableSentence(models) {
  const which = models.length ? ` (${listText(models)} when it last answered)` : "";
  return `The server does not answer. It was still rebuilding its lists from its history${which}; asking again in a few seconds.`;
}

class Banner {
  constructor() {
    this.text = h("p.catching-up-text", { testid: "catching-up-text" });
    this.bar = h("progress.catching-up-bar", { max: "100", value: "0", "aria-hidden": "true" });
    this.el = h(
      "div.catching-up",
      { role: "status", "aria-live": "polite", testid: "catching-up", dataset: { state: "catching-up" } },
      h("div.catching-up-inner", this.text, this.bar),
    );
    const topbar = document.querySelector(".topbar");
    if (topbar) topbar.after(this.el);
    else document.body.prepend(this.el);
  }

  show(models) {
    const slowest = models.length ? percent(models[0].progress) : 0;
    this.el.dataset.state = "catching-up";
    this.el.dataset.progress = String(slowest);
    this.text.textContent = catchingUpSentence(models);
    this.bar.value = slowest;
  }

  unreachable(models) {
    this.el.dataset.state = "unreachable";
    this.text.textContent = unreachableSentence(models);
  }

  remove() {
    this.el.remove();
  }
}

async function health() {
  return api.get("/api/health", { auth: false });
}

/**
 * Read `/api/health` once; while the server is catching up, show the banner and ask again every few seconds.
 * No polling at all when the first answer says the server is up to date (or no answer comes).
 */
export async function watchCatchingUp() {
  let first;
  try {
    first = await health();
  } catch {
    return; // the pages say themselves when the server cannot be reached
  }
  if (first?.status !== "catching_up") return;
  const banner = new Banner();
  let models = behind(first);
  banner.show(models);
  const tick = async () => {
    let answer;
    try {
      answer = await health();
    } catch {
      banner.unreachable(models);
      setTimeout(tick, POLL_MS);
      return;
    }
    if (answer?.status === "ok") {
      banner.remove();
      toast("The server is up to date");
      return;
    }
    if (answer?.status === "catching_up") models = behind(answer);
    banner.show(models);
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}
