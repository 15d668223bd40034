// hotline wallboard: queues, tickets, and a row per agent with listen / whisper / barge for supervisors.
"use strict";
const Wallboard = (() => {
  const $ = (id) => document.getElementById(id);
  const { t, label, fmt } = I18N;
  const { api, errorText, esc } = Desktop;
  const SUPERVISE = ["listen", "whisper", "barge"]; // enabled on a row whose agent is on a call
  let data = null; // the last answers: { queues, agents, level, report, at }

  function render() {
    if (!data) return;
    const { queues, agents, level, report, at } = data;
    $("queue-table").innerHTML = `<table><tr><th>${esc(t("wb.queue"))}</th><th>${esc(t("wb.waiting"))}</th>
      <th>${esc(t("wb.longest"))}</th><th>${esc(t("wb.talking"))}</th><th>${esc(t("wb.sl"))}</th></tr>${
      queues.map((q) => `<tr><td>${esc(q.queue)}</td><td class="big">${fmt.number(q.waiting)}</td>
        <td>${esc(fmt.duration(q.longest_wait))}</td><td>${fmt.number(q.talking)}</td><td>${
        level[q.queue] ? esc(t("wb.sl_value", { percent: fmt.percent(level[q.queue].percent), calls: fmt.number(level[q.queue].calls) })) : "–"}</td></tr>`).join("")}</table>`;
    $("ticket-report").innerHTML = `${esc(t("wb.overdue"))}: <b>${fmt.number(report.overdue)}</b><br>${
      Object.entries(report.by_state).map(([s, n]) => `${esc(label("ticket.state", s))}: ${fmt.number(n)}`).join(", ")}`;
    const rows = agents.map((a) => {
      const onCall = a.state === "on_call" && a.call;
      const call = a.call ? [a.caller, a.queue, a.on_hold ? t("situation.held") : ""].filter(Boolean).join(" · ") : "";
      const since = a.seconds_in_state === null ? "" : at - a.seconds_in_state * 1000;
      return `<tr data-agent="${esc(a.id)}"><td>${esc(a.id)}</td>
        <td><span class="state" data-state="${esc(a.state)}">${esc(label("state", a.state))}</span></td>
        <td class="in-state" data-since="${since}">–</td><td>${esc(call) || "–"}</td>
        <td>${SUPERVISE.map((s) => `<button data-supervise="${s}" ${onCall ? "" : "disabled"}>${esc(t(`btn.${s}`))}</button>`).join("")}</td></tr>`;
    });
    $("agent-table").innerHTML = rows.length ? `<table><tr><th>${esc(t("wb.agent"))}</th><th>${esc(t("wb.state"))}</th>
      <th>${esc(t("wb.in_state"))}</th><th>${esc(t("wb.call"))}</th><th>${esc(t("wb.actions"))}</th></tr>${rows.join("")}</table>`
      : esc(t("wb.no_agents"));
    $("updated").textContent = t("updated", { at: fmt.time(new Date(at)) });
    tick();
  }

  /** Time in state counts on between answers. */
  function tick() {
    document.querySelectorAll("td[data-since]").forEach((td) => {
      if (td.dataset.since) td.textContent = fmt.duration((Date.now() - Number(td.dataset.since)) / 1000);
    });
  }

  async function refresh() {
    const [queues, agents, level, report] = await Promise.all([
      api("GET", "/api/queues"), api("GET", "/api/agents"), api("GET", "/api/reports/service_level"),
      api("GET", "/api/reports/tickets"),
    ]);
    data = { queues, agents, level, report, at: Date.now() };
    $("wb-error").textContent = "";
    render();
  }

  async function supervise(agent, action) {
    $("wb-error").textContent = "";
    $("wb-done").textContent = "";
    const contact = $("contact").value.trim();
    if (!contact) { $("wb-error").textContent = t("wb.need_contact"); return; }
    localStorage.setItem("hotline.contact", contact);
    try {
      await api("POST", `/api/supervise/${encodeURIComponent(agent)}/${action}`, { contact });
      $("wb-done").textContent = t("wb.ringing", { action: t(`btn.${action}`), agent });
    } catch (err) {
      $("wb-error").textContent = errorText(err);
    }
  }

  function page() {
    I18N.switcher($("lang"), render);
    $("contact").value = localStorage.getItem("hotline.contact") || "";
    $("agent-table").addEventListener("click", (ev) => {
      const button = ev.target.closest("button[data-supervise]");
      if (button) supervise(button.closest("tr").dataset.agent, button.dataset.supervise);
    });
    Desktop.onLogin(async () => {
      Desktop.show("queues", "agents", "sla");
      await refresh();
      setInterval(() => refresh().catch((err) => { $("wb-error").textContent = errorText(err); }), 5000);
      setInterval(tick, 1000);
    });
  }

  return { page };
})();
