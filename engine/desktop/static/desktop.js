// hotline agent desktop and wallboard: plain fetch + EventSource against the JSON API.
"use strict";
const Desktop = (() => {
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  let session = JSON.parse(sessionStorage.getItem("hotline") || "null");
  let call = null; // the screen pop of the current call

  async function api(method, path, body) {
    const res = await fetch(path, {
      method,
      headers: { "Content-Type": "application/json", ...(session ? { Authorization: `Bearer ${session.token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await res.json();
    if (!res.ok) throw new Error(data.error || res.statusText);
    return data;
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
        $("login-error").textContent = err.message;
      }
    });
    if (session) after().catch((err) => { $("login-error").textContent = err.message; });
  }

  function show(...ids) {
    $("login-box").classList.add("hidden");
    ids.forEach((id) => $(id).classList.remove("hidden"));
    $("who").textContent = `${session.username} (${session.role}${session.team ? ", " + session.team : ""})`;
  }

  // ---- agent page ------------------------------------------------------------------------------
  async function agentPage() {
    onLogin(async () => {
      if (!session.agent) throw new Error("this page is for agents");
      const me = session.agent;
      show("controls", "pop", "wrap", "kb", "tickets");
      // Logging in to the ACD makes the agent ready; a desktop reopened mid-shift is already logged in.
      await api("POST", `/api/agents/${me}/login`).then((r) => setState(r.state), () => setState("logged in"));
      const feed = new EventSource(`/api/agents/${me}/feed?token=${encodeURIComponent(session.token)}`);
      feed.addEventListener("screen_pop", (ev) => renderPop(JSON.parse(ev.data)));
      feed.addEventListener("agent_state", (ev) => setState(JSON.parse(ev.data).state));
      $("ready").onclick = async () => setState((await api("POST", `/api/agents/${me}/ready`)).state);
      $("break").onclick = async () => setState((await api("POST", `/api/agents/${me}/break`, { reason: "break" })).state);
      $("logout").onclick = async () => {
        await api("POST", `/api/agents/${me}/logout`).catch(() => {});
        await api("POST", "/api/logout", { token: session.token }).catch(() => {});
        sessionStorage.removeItem("hotline");
        location.reload();
      };
      $("save-wrap").onclick = saveWrapUp;
      $("kb-form").addEventListener("submit", (ev) => { ev.preventDefault(); searchKb(); });
      refreshStats();
      refreshTickets();
    });
  }

  function setState(state) {
    $("state").textContent = state;
  }

  function renderPop(pop) {
    call = pop;
    const c = pop.customer;
    const tickets = (c && c.open_tickets) || [];
    $("pop-body").innerHTML = `
      <div id="pop-caller"><b>${esc(pop.customer_name)}</b> ${pop.tier === "vip" ? '<span class="vip">VIP</span>' : ""}
        — ${esc(pop.caller_number)}</div>
      <div>Queue <b>${esc(pop.queue)}</b>, waited ${esc(pop.waited_seconds)} s, phase <b id="pop-phase">${esc(pop.phase)}</b></div>
      ${pop.callback ? `<div id="pop-callback"><b>Callback</b> requested at ${esc(pop.callback.requested_at.slice(0, 16).replace("T", " "))} on ${esc(pop.callback.number)}, waited ${esc(Math.round(pop.waited_seconds / 60))} min (attempt ${esc(pop.callback.attempts + 1)})</div>` : ""}
      <div>IVR: ${esc((pop.ivr_path || []).join(" → "))}</div>
      <h3>Open tickets</h3>${tickets.length ? tickets.map((t) => `<div>#${esc(t.number)} ${esc(t.title)} (${esc(t.state)})</div>`).join("") : "none"}
      <h3>Last contacts</h3>${(pop.last_interactions || []).map((i) => `<div>${esc(i.at.slice(0, 16))} ${esc(i.kind)} ${esc(i.disposition || "")} ${esc(i.notes)}</div>`).join("") || "none"}`;
    $("wrap-done").textContent = "";
  }

  async function interactionOf(callId) {
    // The interaction is written when the call has ended; wait for it with a growing delay.
    for (let delay = 100; delay < 5000; delay *= 2) {
      try {
        return await api("GET", `/api/calls/${encodeURIComponent(callId)}/interaction`);
      } catch (err) {
        if (!/not found/.test(err.message)) throw err;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    throw new Error("the call has not ended yet");
  }

  async function saveWrapUp() {
    $("wrap-error").textContent = "";
    if (!call) { $("wrap-error").textContent = "no call to wrap up"; return; }
    try {
      const interaction = await interactionOf(call.call_id);
      await api("POST", `/api/interactions/${interaction.id}/wrap_up`, { disposition: $("disposition").value, notes: $("notes").value });
      let done = `interaction ${interaction.id} saved`;
      if ($("open-ticket").checked) {
        const ticket = await api("POST", "/api/tickets", {
          title: $("ticket-title").value || `Call from ${call.caller_number}`, category: $("ticket-category").value,
          description: $("notes").value, customer_id: call.customer ? call.customer.id : null,
          interaction_id: interaction.id, assignee: session.agent,
        });
        done += `, ticket #${ticket.number} opened`;
      }
      await api("POST", `/api/agents/${session.agent}/end_wrap_up`).catch(() => {});
      $("wrap-done").textContent = done;
      call = null;
      refreshStats();
      refreshTickets();
    } catch (err) {
      $("wrap-error").textContent = err.message;
    }
  }

  async function searchKb() {
    const found = await api("GET", `/api/kb?q=${encodeURIComponent($("kb-q").value)}`);
    $("kb-results").innerHTML = found.map((a) => `<details><summary>${esc(a.question)}</summary>${esc(a.answer)}</details>`).join("") || "nothing found";
  }

  async function refreshStats() {
    const s = await api("GET", `/api/agents/${session.agent}/stats`);
    $("stats").innerHTML = `${s.calls} calls, ${s.talk_seconds} s talk, ${s.open_tickets} open tickets`;
  }

  async function refreshTickets() {
    const list = await api("GET", "/api/tickets?limit=10");
    $("ticket-list").innerHTML = list.map((t) => `<div>#${esc(t.number)} ${esc(t.title)} — ${esc(t.state)}</div>`).join("") || "none";
  }

  // ---- wallboard -------------------------------------------------------------------------------
  async function wallboardPage() {
    onLogin(async () => {
      show("queues", "agents", "sla");
      const refresh = async () => {
        const [queues, agents, level, report] = await Promise.all([
          api("GET", "/api/queues"), api("GET", "/api/agents"), api("GET", "/api/reports/service_level"),
          api("GET", "/api/reports/tickets"),
        ]);
        $("queue-table").innerHTML = `<table><tr><th>queue</th><th>waiting</th><th>longest wait</th><th>talking</th><th>service level</th></tr>${
          queues.map((q) => `<tr><td>${esc(q.queue)}</td><td class="big">${q.waiting}</td><td>${q.longest_wait} s</td><td>${q.talking}</td><td>${
            level[q.queue] ? `${level[q.queue].percent}% of ${level[q.queue].calls}` : "–"}</td></tr>`).join("")}</table>`;
        const byState = {};
        agents.forEach((a) => { (byState[a.state] = byState[a.state] || []).push(a.id); });
        $("agent-table").innerHTML = Object.entries(byState).map(([s, ids]) => `<div><b>${esc(s)}</b>: ${ids.map(esc).join(", ")}</div>`).join("") || "no agents";
        $("ticket-report").innerHTML = `overdue: <b>${report.overdue}</b><br>${Object.entries(report.by_state).map(([s, n]) => `${esc(s)}: ${n}`).join(", ")}`;
      };
      await refresh();
      setInterval(() => refresh().catch(() => {}), 5000);
    });
  }

  return { agentPage, wallboardPage };
})();
