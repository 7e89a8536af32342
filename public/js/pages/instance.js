// One instance: header with the live status badge, tabs, and the shared live feed.

import { api, enc } from "../api.js";
import { LiveFeed } from "../live.js";
import { meta } from "../meta.js";
import { badge, clear, errorBox, h, setBadge } from "../ui.js";
import * as overview from "../tabs/overview.js";
import * as send from "../tabs/send.js";
import * as chats from "../tabs/chats.js";
import * as contacts from "../tabs/contacts.js";
import * as groups from "../tabs/groups.js";
import * as profile from "../tabs/profile.js";
import * as activity from "../tabs/activity.js";
import * as events from "../tabs/events.js";
import * as stats from "../tabs/stats.js";
import * as webhooks from "../tabs/webhooks.js";
import * as simulator from "../tabs/simulator.js";

const TABS = [
  ["overview", "Connection", overview],
  ["send", "Send", send],
  ["chats", "Chats", chats],
  ["contacts", "Contacts", contacts],
  ["groups", "Groups", groups],
  ["profile", "Profile & privacy", profile],
  ["activity", "Activity", activity],
  ["events", "Live events", events],
  ["stats", "Stats", stats],
  ["webhooks", "Webhooks", webhooks],
  ["simulator", "Simulator", simulator], // admins, when the server runs the simulator (shown once known)
];
// Every request addressed to an instance counts as one of its API calls (and towards maxApiCalls), so while
// the SSE stream is open the page polls only as a safety net; without it, it polls every 2 s.
const STATUS_POLL_MS = 2000;
const STATUS_POLL_STREAMING_MS = 30000;

let page = null;

export function render(root, params, { navigate }) {
  const id = params.id;
  const title = h("h1", { testid: "instance-name" }, "Instance");
  const statusBadge = badge(null, "instance-status");
  const sub = h("p.muted.small", { testid: "instance-subtitle" });
  const pageError = h("div", { testid: "instance-page-error" });
  const tabs = h(
    "nav.tabs",
    { "aria-label": "Instance sections", testid: "instance-tabs" },
    TABS.map(([key, label]) =>
      h("a", { href: `#/instances/${enc(id)}/${key}`, testid: `tab-${key}`, dataset: { tab: key }, hidden: key === "simulator" }, label),
    ),
  );
  // On a narrow screen the tabs scroll sideways: a fade with an arrow shows on the side where more are.
  const tabsWrap = h("div.tabs-wrap", { testid: "instance-tabs-wrap" }, tabs);
  const hint = () => {
    const more = tabs.scrollWidth - tabs.clientWidth;
    tabsWrap.classList.toggle("more-left", tabs.scrollLeft > 2);
    tabsWrap.classList.toggle("more-right", more - tabs.scrollLeft > 2);
  };
  tabs.addEventListener("scroll", hint, { passive: true });
  // The current tab in the middle of the bar, clear of the fades at its ends.
  function centerTab() {
    const a = tabs.querySelector('[aria-current="page"]');
    if (a && tabs.scrollWidth > tabs.clientWidth) tabs.scrollLeft = a.offsetLeft - tabs.offsetLeft - (tabs.clientWidth - a.offsetWidth) / 2;
  }
  const resized = new ResizeObserver(hint);
  resized.observe(tabs);
  const body = h("section", { testid: "tab-body" });
  root.append(
    h("p", h("a", { href: "#/instances", testid: "back-to-list" }, "← Instances")),
    h("div.row.between", h("div.row", title, statusBadge), h("a.btn.btn-small", { href: `#/instances/${enc(id)}/edit`, testid: "edit-instance" }, "Edit")),
    sub,
    pageError,
    tabsWrap,
    body,
  );
  simulator.available(id).then((yes) => {
    if (!yes || stopped) return;
    tabs.querySelector('[data-tab="simulator"]').hidden = false;
    centerTab();
    hint();
  });

  const live = new LiveFeed(id);
  const statusListeners = new Set();
  const ctx = {
    id,
    navigate,
    live,
    instance: null,
    status: null,
    onStatus(fn) {
      statusListeners.add(fn);
      return () => statusListeners.delete(fn);
    },
    async refreshInstance() {
      const inst = await api.get(`/api/instances/${enc(id)}`);
      ctx.instance = inst;
      title.textContent = inst.name;
      document.title = `${inst.name} · wamux`;
      const bits = [];
      if (inst.phone) bits.push(`+${inst.phone}`);
      if (inst.pushName) bits.push(inst.pushName);
      if (inst.description) bits.push(inst.description);
      sub.textContent = bits.join(" · ");
      setStatus(inst.status);
      return inst;
    },
    refreshStatus,
  };

  function setStatus(status) {
    if (!status || status === ctx.status) return;
    const previous = ctx.status;
    ctx.status = status;
    setBadge(statusBadge, status);
    for (const fn of statusListeners) fn(status, previous);
    if (status === "connected" && previous) ctx.refreshInstance().catch(() => {});
  }

  let timer = null;
  let stopped = false;
  async function refreshStatus() {
    clearTimeout(timer);
    try {
      const res = await api.get(`/api/instances/${enc(id)}/status`);
      clear(pageError);
      setStatus(res.status);
    } catch (err) {
      if (!stopped) clear(pageError).append(errorBox(err, "error"));
    } finally {
      if (!stopped) timer = setTimeout(refreshStatus, live.every(STATUS_POLL_MS, STATUS_POLL_STREAMING_MS));
    }
  }

  let lastMode = null;
  live.onMode((mode) => {
    // The stream just dropped: catch up at once, then poll fast until it is back.
    if (lastMode === "sse" && mode !== "sse" && !stopped) refreshStatus();
    lastMode = mode;
  });
  let statusEvents = [];
  meta()
    .then((m) => (statusEvents = m.statusEventTypes))
    .catch(() => {}); // without the list, the status is still polled
  live.on((fresh) => {
    if (fresh.some((e) => statusEvents.includes(e.type))) refreshStatus();
  });

  let tabCleanup = null;
  function showTab(params2) {
    const key = TABS.some(([k]) => k === params2.tab) ? params2.tab : "overview";
    for (const a of tabs.querySelectorAll("a")) {
      if (a.dataset.tab === key) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    centerTab();
    if (tabCleanup) tabCleanup();
    tabCleanup = null;
    clear(body);
    const mod = TABS.find(([k]) => k === key)[2];
    body.dataset.tab = key;
    // The tab reads ctx.status and ctx.instance as they are now, not as they were when it opened.
    const result = mod.render(body, Object.assign(Object.create(ctx), { sub: params2.sub }));
    tabCleanup = typeof result === "function" ? result : null;
  }

  page = { showTab };
  ctx.ready = ctx.refreshInstance();
  ctx.ready.then(
    () => {
      refreshStatus();
      live.start();
    },
    (err) => {
      clear(pageError).append(errorBox(err, "error"));
      tabs.hidden = true;
      clear(body);
      stopped = true;
    },
  );
  showTab(params);

  return () => {
    stopped = true;
    clearTimeout(timer);
    resized.disconnect();
    if (tabCleanup) tabCleanup();
    live.stop();
    page = null;
    document.title = "wamux manager";
  };
}

export function update(params) {
  if (page) page.showTab(params);
}
