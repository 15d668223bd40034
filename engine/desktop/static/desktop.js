// hotline agent desktop: plain fetch + EventSource against the JSON API (strings and formats: lang.js).
"use strict";
const Desktop = (() => {
  const $ = (id) => document.getElementById(id);
  const { t, label, fmt } = I18N;
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  let session = JSON.parse(sessionStorage.getItem("hotline") || "null");

  /** An API call that failed: `status` 0 when the server could not be reached, -1 refused before sending. */
  class ApiFailure extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: { "Content-Type": "application/json", ...(session ? { Authorization: `Bearer ${session.token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiFailure(0, "");
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new ApiFailure(res.status, (data && data.error) || res.statusText);
    return data;
  }

  /** An error as people read it: what happened in their language, then the server's own reason. */
  function errorText(err) {
    if (!(err instanceof ApiFailure)) return t("err.other");
    if (err.status === -1) return err.message;
    if (err.status === 0) return t("err.network");
    const head = [400, 401, 403, 404, 409].includes(err.status) ? t(`err.${err.status}`) : t("err.other");
    return err.message ? `${head}: ${err.message}` : head;
  }

  function onLogin(after) {
    $("login").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        session = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
        sessionStorage.setItem("hotline", JSON.stringify(session));
        $("login-error").textContent = "";
        await after();
      } catch (err) {
        $("login-error").textContent = errorText(err);
      }
    });
    if (session) after().catch((err) => { $("login-error").textContent = errorText(err); });
  }

  function show(...ids) {
    $("login-box").classList.add("hidden");
    ids.forEach((id) => $(id).classList.remove("hidden"));
    $("who").textContent = `${session.username} (${session.role}${session.team ? ", " + session.team : ""})`;
  }

  // ---- the buttons: which are enabled in which situation (the one table; situation() names its row) ----
  const ALLOWED = {
    logged_out: [],
    ready: ["break", "logout", "dial"],
    break: ["ready", "logout", "dial"],
    wrap_up: ["ready", "break", "logout", "dial"],
    reserved: [], // ringing: the agent answers on their phone
    talking: ["hold", "hangup", "transfer", "consult", "conference"],
    held: ["unhold", "hangup"],
    consulting: ["complete", "cancel", "hangup"],
    conference: ["leave", "cancel", "hangup"],
    dialling: ["hold", "hangup"], // the agent's own call: no transfer (only queued calls are)
    dial_held: ["unhold", "hangup"],
    engaged: [], // a colleague's consultation: it ends on the phone
  };
  const LIVE = new Set(["reserved", "on_call", "engaged"]);
  const STATE_ACTIONS = new Set(["ready", "break", "logout"]);
  const TARGETED = new Set(["transfer", "consult", "conference"]);

  const me = { id: null, state: "logged_out", since: Date.now(), call: null, caller: null, queue: null,
    held: false, consult: null, callStart: null, callEnd: null };
  let pop = null; // the screen pop of the live (or just ended) call

  function situation() {
    if (me.state === "on_call") {
      if (me.consult) return me.consult.mode === "conference" ? "conference" : "consulting";
      return me.held ? "held" : "talking";
    }
    if (me.state === "engaged" && me.call) return me.held ? "dial_held" : "dialling";
    return me.state in ALLOWED ? me.state : "logged_out";
  }

  function render() {
    const now = situation();
    const allowed = new Set(ALLOWED[now]);
    document.querySelectorAll("button[data-action]").forEach((b) => { b.disabled = !allowed.has(b.dataset.action); });
    $("call").dataset.situation = now;
    $("state").dataset.state = me.state;
    $("state").textContent = label("state", me.state);
    $("situation").textContent = t(`situation.${now}`) === `situation.${now}` ? "" : `· ${t(`situation.${now}`)}`;
    const parts = [];
    if (me.call) parts.push(t("call.with", { who: (pop && pop.customer_name !== "unknown" && pop.customer_name) || t("unknown_caller"), number: me.caller || "" }));
    if (me.consult) {
      parts.push(t("call.consult", { mode: t(`consult.mode.${me.consult.mode}`), target: me.consult.target, state: label("consult", me.consult.state) }));
    }
    $("call-info").textContent = parts.join(" · ") || t("call.none");
    tick();
  }

  function tick() {
    $("state-time").textContent = fmt.duration((Date.now() - me.since) / 1000);
    $("call-timer").textContent = me.callStart ? fmt.duration(((me.callEnd || Date.now()) - me.callStart) / 1000, true) : "";
    $("call-timer").title = t("call.timer");
  }

  let asked = 0, latest = null;
  /** Take the agent's real state from the API (what the feed says is a cue to ask, the answer is the API's);
   * resolves once the newest question asked so far is answered. */
  function refreshMe() {
    latest = askMe(++asked);
    return latest;
  }

  async function askMe(n) {
    const view = await api("GET", `/api/agents/${encodeURIComponent(me.id)}`);
    if (n !== asked) return latest; // a later question was asked: its answer counts
    const wasLive = LIVE.has(me.state), sameCall = view.call && view.call === me.call;
    me.since = Date.now() - (view.seconds_in_state ?? 0) * 1000;
    me.state = view.state;
    // Hold news comes in order from the buttons' answers and the feed's call_hold; the view's on_hold (from
    // FreeSWITCH's events, maybe not in yet) is taken for a call the page has not followed from its start.
    if (!sameCall) me.held = Boolean(view.on_hold);
    // The view's consult state is the server's (a feed event may come before the button's answer: not relied on).
    me.consult = view.consult ? { ...view.consult, state: view.consult.state || (me.consult && me.consult.state) || "ringing" } : null;
    if (view.call && !sameCall) { me.callStart = me.since; me.callEnd = null; }
    if (!view.call && me.call) me.callEnd = Date.now();
    [me.call, me.caller, me.queue] = [view.call, view.caller, view.queue];
    if (wasLive && !LIVE.has(me.state)) { refreshStats(); refreshCallback(); }
    render();
  }

  async function act(action, button) {
    const errors = button.closest("section").querySelector(".error");
    errors.textContent = "";
    $("call-done").textContent = "";
    try {
      let body;
      if (TARGETED.has(action)) {
        const name = $("target").value.trim();
        if (!name) throw new ApiFailure(-1, t("err.need_target"));
        body = { target: `${$("target-kind").value}:${name}` };
      } else if (action === "dial") {
        const number = $("dial-number").value.trim();
        if (!number) throw new ApiFailure(-1, t("err.need_number"));
        body = { number };
      } else if (action === "break") {
        body = { reason: "break" };
      }
      if (action === "logout") return logout();
      const verb = action === "ready" && me.state === "wrap_up" ? "end_wrap_up" : action;
      const path = STATE_ACTIONS.has(action) ? `/api/agents/${me.id}/${verb}` : `/api/agents/${me.id}/call/${verb}`;
      button.disabled = true;
      await api("POST", path, body);
      if (action === "hold" || action === "unhold") me.held = action === "hold";
      if (action === "consult" || action === "conference") me.consult = { mode: action, target: body.target, state: "ringing" };
      if (["complete", "leave", "cancel"].includes(action)) me.consult = null;
      if (!STATE_ACTIONS.has(action)) $("call-done").textContent = t(`done.${action}`, body || {});
      render();
      await refreshMe();
    } catch (err) {
      errors.textContent = errorText(err);
      render();
    }
  }

  async function logout() {
    await api("POST", `/api/agents/${me.id}/logout`).catch(() => {});
    await api("POST", "/api/logout", { token: session.token }).catch(() => {});
    sessionStorage.removeItem("hotline");
    location.reload();
  }

  // ---- agent page ------------------------------------------------------------------------------
  function agentPage() {
    I18N.switcher($("lang"), () => { render(); renderPop(); refreshStats(); refreshCallback(); refreshTickets(); });
    render();
    onLogin(async () => {
      if (!session.agent) throw new ApiFailure(-1, t("login.agents_only"));
      me.id = session.agent;
      show("call", "controls", "pop", "wrap", "kb", "tickets");
      // Logging in to the ACD makes the agent ready; one the CLI or another desktop logged in answers 409.
      await api("POST", `/api/agents/${me.id}/login`).catch((err) => { if (err.status !== 409) throw err; });
      const feed = new EventSource(`/api/agents/${me.id}/feed?token=${encodeURIComponent(session.token)}`);
      const quietly = (promise) => promise.catch((err) => { $("call-error").textContent = errorText(err); });
      feed.addEventListener("open", () => quietly(refreshMe()));
      feed.addEventListener("agent_state", () => quietly(refreshMe()));
      // Pops are applied one after another in the order they came (each after its own refresh): the ring's
      // must not land after the answer's when the API is slow (a resolved refresh's callbacks run in any order).
      let pops = Promise.resolve();
      feed.addEventListener("screen_pop", (ev) => {
        const news = JSON.parse(ev.data);
        pops = pops.then(() => quietly(refreshMe().then(() => {
          // A live call's pop, or news of the one shown; a finished call's pop replayed at connect is not shown.
          if (LIVE.has(me.state) || (pop && pop.call_id === news.call_id)) { pop = news; renderPop(); }
        })));
      });
      feed.addEventListener("call_hold", (ev) => { me.held = JSON.parse(ev.data).on_hold; render(); });
      feed.addEventListener("consult", (ev) => {
        const news = JSON.parse(ev.data);
        if (me.consult && news.state === "answered") me.consult.state = "answered";
        if (news.state.startsWith("back")) { me.consult = null; $("call-done").textContent = t("done.cancel"); }
        render();
        quietly(refreshMe());
      });
      document.querySelectorAll("button[data-action]").forEach((b) => b.addEventListener("click", (ev) => {
        ev.preventDefault();
        act(b.dataset.action, b);
      }));
      $("dial-form").addEventListener("submit", (ev) => ev.preventDefault());
      $("save-wrap").onclick = saveWrapUp;
      $("kb-form").addEventListener("submit", (ev) => { ev.preventDefault(); searchKb(); });
      await refreshMe();
      refreshStats();
      refreshCallback();
      refreshTickets();
      setInterval(tick, 1000);
      setInterval(() => { refreshStats(); refreshCallback(); }, 60000);
    });
  }

  function renderPop() {
    if (!pop) return;
    const c = pop.customer;
    const tickets = (c && c.open_tickets) || [];
    const who = pop.customer_name && pop.customer_name !== "unknown" ? pop.customer_name : t("unknown_caller");
    $("pop-body").innerHTML = `
      <div id="pop-caller"><b>${esc(who)}</b> ${pop.tier === "vip" ? '<span class="vip">VIP</span>' : ""}
        — ${esc(pop.caller_number || pop.number)}</div>
      ${pop.queue ? `<div>${esc(t("pop.queue", { queue: pop.queue, waited: fmt.duration(pop.waited_seconds || 0) }))}</div>` : ""}
      <div>${esc(t("pop.phase"))}: <b id="pop-phase" data-phase="${esc(pop.phase)}">${esc(label("phase", pop.phase))}</b></div>
      ${pop.callback ? `<div id="pop-callback">${esc(t("pop.callback", { at: fmt.dateTime(pop.callback.requested_at), number: pop.callback.number, attempt: fmt.number(pop.callback.attempts + 1) }))}</div>` : ""}
      ${(pop.ivr_path || []).length ? `<div>${esc(t("pop.ivr"))}: ${esc(pop.ivr_path.join(" → "))}</div>` : ""}
      <h3>${esc(t("pop.tickets"))}</h3>${tickets.map((x) => `<div>#${esc(x.number)} ${esc(x.title)} (${esc(label("ticket.state", x.state))})</div>`).join("") || esc(t("none"))}
      <h3>${esc(t("pop.contacts"))}</h3>${(pop.last_interactions || []).map((i) => `<div>${esc(fmt.dateTime(i.at))} ${esc(i.kind)} ${esc(i.disposition || "")} ${esc(i.notes)}</div>`).join("") || esc(t("none"))}`;
    $("wrap-done").textContent = "";
    render();
  }

  async function interactionOf(callId) {
    // The interaction is written when the call has ended; wait for it with a growing delay.
    for (let delay = 100; delay < 5000; delay *= 2) {
      try {
        return await api("GET", `/api/calls/${encodeURIComponent(callId)}/interaction`);
      } catch (err) {
        if (err.status !== 404) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    throw new ApiFailure(-1, t("wrap.not_ended"));
  }

  async function saveWrapUp() {
    $("wrap-error").textContent = "";
    if (!pop) { $("wrap-error").textContent = t("wrap.no_call"); return; }
    try {
      const interaction = await interactionOf(pop.call_id);
      await api("POST", `/api/interactions/${interaction.id}/wrap_up`, { disposition: $("disposition").value, notes: $("notes").value });
      let done = t("wrap.saved", { id: interaction.id });
      if ($("open-ticket").checked) {
        const ticket = await api("POST", "/api/tickets", {
          title: $("ticket-title").value || t("wrap.default_title", { number: pop.caller_number || pop.number }),
          category: $("ticket-category").value, description: $("notes").value,
          customer_id: pop.customer ? pop.customer.id : null, interaction_id: interaction.id, assignee: session.agent,
        });
        done += t("wrap.ticket", { number: ticket.number });
      }
      if (me.state === "wrap_up") await api("POST", `/api/agents/${session.agent}/end_wrap_up`).catch(() => {});
      $("wrap-done").textContent = done;
      pop = null;
      refreshStats();
      refreshTickets();
    } catch (err) {
      $("wrap-error").textContent = errorText(err);
    }
  }

  async function searchKb() {
    try {
      const found = await api("GET", `/api/kb?q=${encodeURIComponent($("kb-q").value)}`);
      $("kb-results").innerHTML = found.map((a) => `<details><summary>${esc(a.question)}</summary>${esc(a.answer)}</details>`).join("") || esc(t("kb.nothing"));
    } catch (err) {
      $("kb-results").textContent = errorText(err);
    }
  }

  async function refreshStats() {
    if (!me.id) return;
    try {
      const s = await api("GET", `/api/agents/${me.id}/stats`);
      $("stats").textContent = t("stats.line", { calls: fmt.number(s.calls), talk: fmt.duration(s.talk_seconds), tickets: fmt.number(s.open_tickets) });
      $("stats").title = t("updated", { at: fmt.time(new Date()) });
    } catch (err) {
      $("stats").textContent = errorText(err);
    }
  }

  async function refreshCallback() {
    if (!me.id) return;
    try {
      const next = await api("GET", "/api/callbacks/next");
      $("next-callback").textContent = next ? t("callback.line", {
        queue: next.queue, at: fmt.dateTime(next.requested_at),
        status: t(`callback.status.${next.status}`, { at: next.retry_at ? fmt.dateTime(next.retry_at) : "" }),
      }) : t("callback.none");
    } catch (err) {
      $("next-callback").textContent = errorText(err);
    }
  }

  async function refreshTickets() {
    if (!me.id) return;
    try {
      const list = await api("GET", "/api/tickets?limit=10");
      $("ticket-list").innerHTML = list.map((x) => `<div>#${esc(x.number)} ${esc(x.title)} — ${esc(label("ticket.state", x.state))}</div>`).join("") || esc(t("none"));
    } catch (err) {
      $("ticket-list").textContent = errorText(err);
    }
  }

  return { agentPage, api, errorText, onLogin, show, esc, ApiFailure };
})();
