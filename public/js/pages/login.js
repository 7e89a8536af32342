// Login: email + password → JWT in sessionStorage.

import { api, session } from "../api.js";
import { busy, field, h } from "../ui.js";

export function render(root, _params, { navigate }) {
  const flash = sessionStorage.getItem("wamux.flash");
  sessionStorage.removeItem("wamux.flash");
  const email = field("Email", { type: "email", name: "email", autocomplete: "username", required: true, testid: "login-email" });
  const password = field("Password", {
    type: "password",
    name: "password",
    autocomplete: "current-password",
    required: true,
    testid: "login-password",
  });
  const errors = h("div", { testid: "login-errors", dataset: { errorTestid: "login-error" }, "aria-live": "assertive" });
  const submit = h("button.btn.btn-primary", { type: "submit", testid: "login-submit" }, "Log in");
  const form = h(
    "form.card.login",
    { testid: "login-form", novalidate: false },
    h("h1", "Sign in to wamux"),
    flash ? h("p.alert.alert-info", { testid: "login-flash" }, flash) : null,
    email,
    password,
    errors,
    h("div.row.end", submit),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    busy(submit, errors, async () => {
      const res = await api.post(
        "/api/auth/login",
        { email: email.input.value.trim(), password: password.input.value },
        { auth: false },
      );
      session.save(res.token, res.user);
      const next = sessionStorage.getItem("wamux.next");
      sessionStorage.removeItem("wamux.next");
      navigate(next && next !== "/login" ? next : "/instances");
    });
  });
  root.append(form);
  setTimeout(() => email.input.focus(), 0);
}
