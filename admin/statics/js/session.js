/* wuye: a login that never costs the user their typed work (admin/auth.py session_clock, the 登录状态 ping).
 * - Two minutes before the session ends — 30 minutes without a request, or the absolute limit of the login — a bar
 *   says so; 「继续工作」 asks the server once, which restarts the idle clock. At the absolute limit it can only warn.
 * - Every POST form first asks whether the session is still alive. If it is not, a dialog asks for the password
 *   (the form stays on the page, as typed), logs in again in the background, puts the new CSRF token in the
 *   forms and sends the form the user submitted — with the button they pressed — so it lands where it would have.
 * CSP-safe: no inline handlers; the meta tag is present only on pages of a logged-in user. */
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="wuye-session"]');
  if (!meta || !window.fetch) { return; }
  var conf = JSON.parse(meta.getAttribute("content"));
  var WARN_MS = 2 * 60 * 1000;
  var loaded = Date.now();
  var absoluteEnd = loaded + conf.left * 1000;
  var idleEnd = loaded + conf.idle * 1000;
  var timer = null;
  var bar = null;

  function hhmm(ms) {
    var d = new Date(ms);
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function setToken(token) {
    if (!token) { return; }
    document.querySelectorAll('input[name="csrf_token"]').forEach(function (input) { input.value = token; });
    var csrfMeta = document.querySelector('meta[name="csrf-token"]');
    if (csrfMeta) { csrfMeta.setAttribute("content", token); }
    if (window.jQuery) { window.jQuery.ajaxSetup({ headers: { "X-CSRF-Token": token } }); }
  }

  // The session as the server sees it: the JSON of the ping, or null when it has ended (a redirect to the login).
  function ping() {
    return fetch(conf.ping, { credentials: "same-origin", redirect: "manual", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; });
  }

  function schedule() {
    if (timer) { clearTimeout(timer); }
    var end = Math.min(idleEnd, absoluteEnd);
    timer = setTimeout(warn, Math.max(0, end - WARN_MS - Date.now()));
  }

  function hideBar() {
    if (bar) { bar.remove(); bar = null; }
  }

  function warn() {
    hideBar();
    bar = el("div", { "class": "alert alert-warning wuye-session-bar", role: "alert" });
    var atLimit = absoluteEnd <= idleEnd;
    if (atLimit) {
      bar.appendChild(el("span", {}, "本次登录已满 " + conf.hours + " 小时，将于 " + hhmm(absoluteEnd) +
        " 结束：请先保存正在填写的内容，结束后输入密码即可继续。"));
    } else {
      bar.appendChild(el("span", {}, "长时间未操作，登录将于 " + hhmm(idleEnd) + " 过期。"));
      var stay = el("button", { type: "button", "class": "btn btn-sm btn-primary ms-2" }, "继续工作");
      stay.addEventListener("click", function () {
        ping().then(function (state) {
          if (state) {
            idleEnd = Date.now() + state.idle * 1000;
            absoluteEnd = Date.now() + state.left * 1000;
            setToken(state.csrf);
            hideBar();
            schedule();
          }
        });
      });
      bar.appendChild(stay);
    }
    document.body.appendChild(bar);
  }

  // --- a submit after the end: ask for the password, log in again, send the form as it was ---
  function send(form, submitter) {
    form.setAttribute("data-wuye-checked", "1");
    if (form.requestSubmit) { form.requestSubmit(submitter || undefined); } else { form.submit(); }
  }

  function relogin(password) {
    return fetch(conf.login, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (page) {
        var token = /name="csrf_token" value="([^"]+)"/.exec(page);
        var body = new URLSearchParams();
        body.set("username", conf.user);
        body.set("password", password);
        body.set("csrf_token", token ? token[1] : "");
        return fetch(conf.login, { method: "POST", body: body, credentials: "same-origin", redirect: "manual" });
      })
      .then(function (r) { return r.type === "opaqueredirect" || r.status === 302 ? ping() : null; });
  }

  function askPassword(form, submitter) {
    var shade = el("div", { "class": "wuye-relogin", role: "dialog", "aria-modal": "true" });
    var box = el("form", { "class": "card card-body wuye-relogin-box" });
    box.appendChild(el("h3", {}, "登录已过期"));
    box.appendChild(el("p", {}, "请输入 " + conf.user + " 的密码继续。您填写的内容仍在页面上，登录后将按原样提交。"));
    var input = el("input", { type: "password", "class": "form-control", name: "wuye-relogin-password",
      autocomplete: "current-password", placeholder: "密码" });
    var error = el("div", { "class": "text-danger small mt-1" });
    var go = el("button", { type: "submit", "class": "btn btn-primary mt-2" }, "登录并提交");
    box.appendChild(input);
    box.appendChild(error);
    box.appendChild(go);
    shade.appendChild(box);
    document.body.appendChild(shade);
    input.focus();
    box.addEventListener("submit", function (e) {
      e.preventDefault();
      e.stopPropagation();
      go.disabled = true;
      error.textContent = "";
      relogin(input.value).then(function (state) {
        if (!state) {
          error.textContent = "登录失败：请检查密码（多次失败会暂时锁定账号）";
          go.disabled = false;
          return;
        }
        setToken(state.csrf);
        shade.remove();
        send(form, submitter);
      }).catch(function () {
        error.textContent = "网络异常，请稍后再试";
        go.disabled = false;
      });
    });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form || (form.getAttribute("method") || "").toLowerCase() !== "post") { return; }
    if (form.closest(".wuye-relogin")) { return; }
    if (form.getAttribute("data-wuye-checked")) { form.removeAttribute("data-wuye-checked"); return; }
    e.preventDefault();
    var submitter = e.submitter || null;
    ping().then(function (state) {
      if (state) {
        setToken(state.csrf);
        send(form, submitter);
      } else {
        askPassword(form, submitter);
      }
    }).catch(function () { send(form, submitter); });  // the server answers for itself
  }, true);

  window.wuyeSession = { warn: warn, ping: ping };
  schedule();
})();
