// hotline desktop strings, one table per language, and the browser's Intl for dates, numbers, durations.
// The language: the one saved by the switch (localStorage "hotline.lang"), else the browser's, else English.
"use strict";
const I18N = (() => {
  const STRINGS = {
    en: {
      "lang.name": "English", "title.agent": "hotline — agent desktop", "title.wallboard": "hotline — wallboard",
      "login.title": "Log in", "login.supervisor": "Log in (supervisor)", "login.username": "Username",
      "login.password": "Password", "login.button": "Log in", "login.agents_only": "This page is for agents.",
      "state.logged_out": "logged out", "state.ready": "ready", "state.break": "on break", "state.reserved": "ringing",
      "state.on_call": "on a call", "state.wrap_up": "wrap-up", "state.engaged": "engaged", "state.unknown": "unknown",
      "situation.talking": "talking", "situation.held": "on hold", "situation.consulting": "consulting",
      "situation.conference": "in conference", "situation.dialling": "own call", "situation.dial_held": "own call, on hold",
      "mystate.title": "My state", "btn.ready": "Ready", "btn.break": "Break", "btn.logout": "Log out",
      "stats.title": "My stats today", "stats.line": "{calls} calls, {talk} talk, {tickets} open tickets",
      "callback.title": "Next callback due", "callback.none": "none waiting",
      "callback.line": "queue {queue}, requested {at}, {status}",
      "callback.status.pending": "waiting", "callback.status.dialling": "being dialled", "callback.status.retry": "retry at {at}",
      "call.title": "Call", "call.none": "No call.", "call.timer": "Call time",
      "call.with": "{who} — {number}", "call.consult": "{mode} with {target}: {state}",
      "consult.mode.consult": "Consultation", "consult.mode.conference": "Conference",
      "consult.ringing": "ringing", "consult.answered": "answered",
      "btn.hold": "Hold", "btn.unhold": "Resume", "btn.hangup": "Hang up", "btn.transfer": "Transfer",
      "btn.consult": "Consult", "btn.complete": "Complete transfer", "btn.cancel": "Cancel", "btn.conference": "Conference",
      "btn.leave": "Leave conference", "btn.dial": "Dial",
      "target.label": "Transfer / consult to", "target.agent": "agent", "target.queue": "queue", "target.number": "number",
      "target.placeholder": "1002, support or 13900139000", "dial.placeholder": "number to dial",
      "done.hold": "Caller on hold.", "done.unhold": "Caller back.", "done.hangup": "Hung up.",
      "done.transfer": "Transferred to {target}.", "done.consult": "Calling {target}…",
      "done.complete": "Transfer completed.", "done.cancel": "Back with the caller.",
      "done.conference": "Adding {target}…", "done.leave": "You left the conference.", "done.dial": "Dialling {number}…",
      "err.400": "Not accepted", "err.401": "Your session has ended: log in again", "err.403": "Not allowed",
      "err.404": "Not found", "err.409": "Not possible now", "err.network": "The server cannot be reached",
      "err.other": "The server had a problem", "err.need_target": "Give an agent, a queue or a number first",
      "err.need_number": "Give a number to dial first",
      "pop.title": "Screen pop", "pop.queue": "Queue {queue}, waited {waited}", "pop.phase": "phase",
      "phase.offer": "ringing", "phase.answer": "answered", "phase.dial": "own call", "phase.consult": "consultation",
      "pop.callback": "Callback requested at {at} on {number} (attempt {attempt})",
      "pop.ivr": "IVR", "pop.tickets": "Open tickets", "pop.contacts": "Last contacts", "none": "none",
      "unknown_caller": "unknown caller",
      "wrap.title": "Wrap-up", "wrap.disposition": "Disposition", "disp.resolved": "resolved",
      "disp.ticket_opened": "ticket opened", "disp.callback_needed": "callback needed", "disp.wrong_number": "wrong number",
      "wrap.notes": "Notes", "wrap.open_ticket": "open a ticket", "wrap.ticket_title": "Ticket title",
      "wrap.category": "Category", "cat.question": "question", "cat.fault": "fault", "cat.complaint": "complaint",
      "cat.suggestion": "suggestion", "cat.other": "other", "wrap.save": "Save and close call",
      "wrap.no_call": "No call to wrap up.", "wrap.not_ended": "The call has not ended yet.",
      "wrap.saved": "Interaction {id} saved", "wrap.ticket": ", ticket #{number} opened",
      "wrap.default_title": "Call from {number}",
      "kb.title": "Knowledge base", "kb.search": "search…", "kb.nothing": "nothing found", "tickets.title": "My tickets",
      "wb.queues": "Queues", "wb.queue": "queue", "wb.waiting": "waiting", "wb.longest": "longest wait",
      "wb.talking": "talking", "wb.sl": "service level", "wb.sl_value": "{percent} of {calls}",
      "wb.agents": "Agents", "wb.agent": "agent", "wb.state": "state", "wb.in_state": "time in state",
      "wb.call": "current call", "wb.actions": "supervise", "wb.no_agents": "no agents",
      "wb.contact": "My phone (for listen / whisper / barge)", "wb.contact_placeholder": "user/1009",
      "btn.listen": "Listen", "btn.whisper": "Whisper", "btn.barge": "Barge",
      "wb.ringing": "Ringing your phone to {action} on {agent}.", "wb.need_contact": "Give your phone first (e.g. user/1009).",
      "wb.tickets": "Tickets", "wb.overdue": "overdue", "ticket.state.new": "new", "ticket.state.assigned": "assigned",
      "ticket.state.in_progress": "in progress", "ticket.state.waiting_customer": "waiting for customer",
      "ticket.state.resolved": "resolved", "ticket.state.closed": "closed", "ticket.state.reopened": "reopened",
      "updated": "updated {at}",
    },
    "zh-CN": {
      "lang.name": "中文", "title.agent": "hotline — 坐席工作台", "title.wallboard": "hotline — 监控大屏",
      "login.title": "登录", "login.supervisor": "登录（班长）", "login.username": "用户名",
      "login.password": "密码", "login.button": "登录", "login.agents_only": "此页面仅供坐席使用。",
      "state.logged_out": "已签出", "state.ready": "就绪", "state.break": "小休", "state.reserved": "振铃中",
      "state.on_call": "通话中", "state.wrap_up": "话后处理", "state.engaged": "忙碌", "state.unknown": "未知",
      "situation.talking": "通话中", "situation.held": "保持中", "situation.consulting": "咨询中",
      "situation.conference": "会议中", "situation.dialling": "外呼中", "situation.dial_held": "外呼保持中",
      "mystate.title": "我的状态", "btn.ready": "就绪", "btn.break": "小休", "btn.logout": "签出",
      "stats.title": "今日统计", "stats.line": "{calls} 通电话，通话 {talk}，未结工单 {tickets} 张",
      "callback.title": "下一个待回呼", "callback.none": "暂无等待",
      "callback.line": "队列 {queue}，请求于 {at}，{status}",
      "callback.status.pending": "等待中", "callback.status.dialling": "正在拨打", "callback.status.retry": "{at} 重试",
      "call.title": "通话", "call.none": "没有通话。", "call.timer": "通话时长",
      "call.with": "{who} — {number}", "call.consult": "与 {target} {mode}：{state}",
      "consult.mode.consult": "咨询", "consult.mode.conference": "会议",
      "consult.ringing": "振铃中", "consult.answered": "已接通",
      "btn.hold": "保持", "btn.unhold": "恢复", "btn.hangup": "挂断", "btn.transfer": "转接",
      "btn.consult": "咨询", "btn.complete": "完成转接", "btn.cancel": "取消", "btn.conference": "三方会议",
      "btn.leave": "退出会议", "btn.dial": "外呼",
      "target.label": "转接 / 咨询给", "target.agent": "坐席", "target.queue": "队列", "target.number": "号码",
      "target.placeholder": "1002、support 或 13900139000", "dial.placeholder": "要拨打的号码",
      "done.hold": "客户已保持。", "done.unhold": "已恢复通话。", "done.hangup": "已挂断。",
      "done.transfer": "已转接给 {target}。", "done.consult": "正在呼叫 {target}…",
      "done.complete": "转接完成。", "done.cancel": "已回到客户通话。",
      "done.conference": "正在加入 {target}…", "done.leave": "您已退出会议。", "done.dial": "正在拨打 {number}…",
      "err.400": "输入有误", "err.401": "会话已过期，请重新登录", "err.403": "无权操作",
      "err.404": "找不到", "err.409": "当前无法执行", "err.network": "无法连接服务器",
      "err.other": "服务器出错", "err.need_target": "请先填写坐席、队列或号码",
      "err.need_number": "请先填写要拨打的号码",
      "pop.title": "来电弹屏", "pop.queue": "队列 {queue}，等待 {waited}", "pop.phase": "阶段",
      "phase.offer": "振铃", "phase.answer": "已接听", "phase.dial": "外呼", "phase.consult": "咨询",
      "pop.callback": "回呼请求于 {at}，号码 {number}（第 {attempt} 次）",
      "pop.ivr": "语音导航", "pop.tickets": "未结工单", "pop.contacts": "最近联系", "none": "无",
      "unknown_caller": "未知来电",
      "wrap.title": "话后处理", "wrap.disposition": "处理结果", "disp.resolved": "已解决",
      "disp.ticket_opened": "已建工单", "disp.callback_needed": "需要回呼", "disp.wrong_number": "打错电话",
      "wrap.notes": "备注", "wrap.open_ticket": "新建工单", "wrap.ticket_title": "工单标题",
      "wrap.category": "类别", "cat.question": "咨询", "cat.fault": "故障", "cat.complaint": "投诉",
      "cat.suggestion": "建议", "cat.other": "其他", "wrap.save": "保存并结束",
      "wrap.no_call": "没有需要处理的通话。", "wrap.not_ended": "通话尚未结束。",
      "wrap.saved": "联系记录 {id} 已保存", "wrap.ticket": "，工单 #{number} 已创建",
      "wrap.default_title": "来电 {number}",
      "kb.title": "知识库", "kb.search": "搜索…", "kb.nothing": "没有找到", "tickets.title": "我的工单",
      "wb.queues": "队列", "wb.queue": "队列", "wb.waiting": "排队", "wb.longest": "最长等待",
      "wb.talking": "通话", "wb.sl": "服务水平", "wb.sl_value": "{percent}（共 {calls}）",
      "wb.agents": "坐席", "wb.agent": "坐席", "wb.state": "状态", "wb.in_state": "持续时间",
      "wb.call": "当前通话", "wb.actions": "监控", "wb.no_agents": "没有坐席",
      "wb.contact": "我的话机（监听 / 密语 / 强插用）", "wb.contact_placeholder": "user/1009",
      "btn.listen": "监听", "btn.whisper": "密语", "btn.barge": "强插",
      "wb.ringing": "正在呼叫您的话机，{action}坐席 {agent}。", "wb.need_contact": "请先填写您的话机（如 user/1009）。",
      "wb.tickets": "工单", "wb.overdue": "逾期", "ticket.state.new": "新建", "ticket.state.assigned": "已分配",
      "ticket.state.in_progress": "处理中", "ticket.state.waiting_customer": "等待客户",
      "ticket.state.resolved": "已解决", "ticket.state.closed": "已关闭", "ticket.state.reopened": "重新打开",
      "updated": "更新于 {at}",
    },
  };
  const KEY = "hotline.lang";
  const listeners = [];

  function choose() {
    const saved = localStorage.getItem(KEY);
    if (saved && STRINGS[saved]) return saved;
    for (const tag of navigator.languages || [navigator.language]) {
      if (/^zh\b/i.test(tag)) return "zh-CN";
      if (/^en\b/i.test(tag)) return "en";
    }
    return "en";
  }
  let lang = choose();

  /** The string `key` in the current language with {name} filled from `vars` (English if missing). */
  function t(key, vars = {}) {
    const text = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
  }

  /** The translation of `prefix.value` if there is one, else `value` itself (states the API may add). */
  function label(prefix, value) {
    const key = `${prefix}.${value}`;
    return STRINGS[lang][key] ?? STRINGS.en[key] ?? String(value ?? "");
  }

  /** Fill every [data-i18n] element's text and [data-i18n-placeholder] placeholder under `root`. */
  function apply(root = document) {
    document.documentElement.lang = lang;
    root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
    const title = document.querySelector("title[data-i18n]");
    if (title) document.title = t(title.dataset.i18n);
  }

  /** Add the language switch to `select` (saved in localStorage); `onChange` re-renders what is dynamic. */
  function switcher(select, onChange) {
    select.innerHTML = Object.keys(STRINGS).map((l) => `<option value="${l}">${STRINGS[l]["lang.name"]}</option>`).join("");
    select.value = lang;
    select.addEventListener("change", () => {
      lang = select.value;
      localStorage.setItem(KEY, lang);
      apply();
      listeners.forEach((f) => f());
    });
    if (onChange) listeners.push(onChange);
    apply();
  }

  const number = (n) => new Intl.NumberFormat(lang).format(n);
  const percent = (p) => new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 }).format(p / 100);
  const dateTime = (iso) => new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" }).format(new Date(iso));
  const time = (d) => new Intl.DateTimeFormat(lang, { timeStyle: "medium" }).format(d);

  function parts(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return { hours: Math.floor(s / 3600), minutes: Math.floor((s % 3600) / 60), seconds: s % 60 };
  }

  /** A duration in words ("1 min, 5 sec" / "1分钟5秒"); the clock style ("1:05") with `digital`. */
  function duration(seconds, digital = false) {
    const p = parts(seconds);
    if (digital) {
      const two = (n) => String(n).padStart(2, "0");
      return (p.hours ? `${p.hours}:${two(p.minutes)}` : `${p.minutes}`) + `:${two(p.seconds)}`;
    }
    if (typeof Intl.DurationFormat === "function") {
      if (!p.hours) delete p.hours;
      if (!p.hours && !p.minutes) delete p.minutes;
      return new Intl.DurationFormat(lang, { style: "narrow", secondsDisplay: "always" }).format(p);
    }
    const unit = (n, u) => new Intl.NumberFormat(lang, { style: "unit", unit: u, unitDisplay: "narrow" }).format(n);
    return [p.hours && unit(p.hours, "hour"), (p.hours || p.minutes) && unit(p.minutes, "minute"), unit(p.seconds, "second")]
      .filter(Boolean).join(" ");
  }

  return { t, label, apply, switcher, lang: () => lang, fmt: { number, percent, dateTime, time, duration } };
})();
