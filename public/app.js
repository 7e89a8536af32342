// wamux web manager: entry point and hash router. Plain ES modules, no build step.

import { api, session, setUnauthorizedHandler } from "./js/api.js";
import { forgetMeta } from "./js/meta.js";
import { watchCatchingUp } from "./js/catching-up.js";
import { clear, clearToasts, h, toast } from "./js/ui.js";
import * as loginPage from "./js/pages/login.js";
import * as instancesPage from "./js/pages/instances.js";
import * as instanceForm from "./js/pages/instance-form.js";
import * as instancePage from "./js/pages/instance.js";
import * as accountPage from "./js/pages/account.js";
import * as adminPage from "./js/pages/admin.js";

const ROUTES = [
  { pattern: /^\/login$/, page: loginPage, public: true, nav: null },
  { pattern: /^\/instances$/, page: instancesPage, nav: "instances" },
  { pattern: /^\/instances\/new$/, page: instanceForm, nav: "instances", params: () => ({ id: null }) },
  { pattern: /^\/instances\/([^/]+)\/edit$/, page: instanceForm, nav: "instances", params: (m) => ({ id: m[1] }) },
  {
    pattern: /^\/instances\/([^/]+)(?:\/([a-z]+))?(?:\/(.+))?$/,
    page: instancePage,
    nav: "instances",
    params: (m) => ({ id: decodeURIComponent(m[1]), tab: m[2] || "overview", sub: m[3] ? decodeURIComponent(m[3]) : null }),
  },
  { pattern: /^\/account$/, page: accountPage, nav: "account" },
  { pattern: /^\/admin$/, page: adminPage, nav: "admin", admin: true },
];

const main = document.getElementById("main");
let cleanup = null;
let currentKey = null;
let currentPath = null;

export function navigate(path) {
  if (location.hash === `#${path}`) route();
  else location.hash = path;
}

// Below 720 px the main menu folds behind one button, so the top bar stays one row.
const menuToggle = document.getElementById("menu-toggle");
const topbar = document.querySelector(".topbar");
function setMenu(open) {
  topbar.classList.toggle("menu-open", open);
  menuToggle.setAttribute("aria-expanded", String(open));
}
menuToggle.addEventListener("click", () => setMenu(!topbar.classList.contains("menu-open")));
document.addEventListener("click", (ev) => {
  if (!topbar.contains(ev.target)) setMenu(false);
});
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape" && topbar.classList.contains("menu-open")) {
    setMenu(false);
    menuToggle.focus();
  }
});

function updateNav(active) {
  const nav = document.getElementById("nav");
  const user = session.user;
  nav.hidden = !session.token;
  menuToggle.hidden = !session.token;
  setMenu(false);
  nav.querySelector('[data-testid="nav-admin"]').hidden = !session.isAdmin;
  nav.querySelector('[data-testid="nav-user"]').textContent = user ? user.email : "";
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.testid === `nav-${active}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function route() {
  const path = (location.hash || "").replace(/^#/, "") || "/instances";
  let match = null;
  let entry = null;
  for (const r of ROUTES) {
    match = r.pattern.exec(path);
    if (match) {
      entry = r;
      break;
    }
  }
  if (!entry) {
    navigate(session.token ? "/instances" : "/login");
    return;
  }
  if (!entry.public && !session.token) {
    sessionStorage.setItem("wamux.next", path);
    navigate("/login");
    return;
  }
  if (entry.public && session.token && entry.page === loginPage) {
    navigate("/instances");
    return;
  }
  const params = entry.params ? entry.params(match) : {};
  // Tabs of one instance page share its live connection: re-render the tab, not the page.
  const key = entry.page === instancePage ? `instance:${params.id}` : path;
  updateNav(entry.nav);
  if (path !== currentPath) clearToasts(); // what was said on the page you leave stays there
  currentPath = path;
  if (key === currentKey && entry.page.update) {
    entry.page.update(params);
    return;
  }
  if (cleanup) {
    try {
      cleanup();
    } catch (err) {
      console.error(err);
    }
  }
  cleanup = null;
  currentKey = key;
  clear(main);
  if (entry.admin && !session.isAdmin) {
    main.append(h("div.alert.alert-error", { role: "alert", testid: "error" }, "admin role required"));
    return;
  }
  const result = entry.page.render(main, params, { navigate });
  cleanup = typeof result === "function" ? result : null;
  const heading = main.querySelector("h1");
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

export function logout(message) {
  session.clear();
  forgetMeta();
  currentKey = null;
  if (message) sessionStorage.setItem("wamux.flash", message);
  navigate("/login");
}

setUnauthorizedHandler((err) => {
  if (session.token) logout(`Session ended: ${err.message}`);
});

document.getElementById("logout").addEventListener("click", () => logout("You are logged out."));
window.addEventListener("hashchange", route);

async function boot() {
  watchCatchingUp(); // a banner while the server rebuilds its lists after a restart; not awaited
  if (session.token) {
    try {
      const me = await api.get("/api/auth/me");
      session.save(null, me);
    } catch (err) {
      if (err.status !== 401) toast(err.message, "error");
    }
  }
  route();
}

boot();
