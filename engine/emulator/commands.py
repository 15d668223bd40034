"""api/bgapi commands (mod_commands as far as hotline uses it); each returns the api/response body."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import quote

import gevent

from engine.emulator.channel import Channel, Message
from engine.emulator.originate import Dialplan, OriginateError, Originator, split_vars
from engine.emulator.switch import Switch

VERSION = "1.11.2-release+git~20260809T162310Z~3f13ad1b1d~64bit"
VERSION_LINE = f"FreeSWITCH Version {VERSION} (git 3f13ad1 2026-08-09 16:23:10Z 64bit)\n"
ORIGINATE_USAGE = (
    "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] "
    "[<cid_num>] [<timeout_sec>]\n"
)
NO_CHANNEL = "-ERR No such channel!\n"


class Commands:
    """``run(name, arg)`` executes one api command against the switch."""

    def __init__(self, switch: Switch, originator: Originator, dialplan: Dialplan) -> None:
        self.switch = switch
        self.originator = originator
        self.dialplan = dialplan
        self.lost_bridges = 0  # fault injection: this many uuid_bridge commands answer +OK and do nothing
        self.table: dict[str, Callable[[str], str]] = {
            "version": lambda _: VERSION_LINE,
            "status": self.status,
            "show": self.show,
            "originate": self.originate,
            "uuid_bridge": self.uuid_bridge,
            "uuid_kill": self.uuid_kill,
            "uuid_transfer": self.uuid_transfer,
            "uuid_record": self.uuid_record,
            "uuid_broadcast": self.uuid_broadcast,
            "uuid_break": self.uuid_break,
            "uuid_setvar": self.uuid_setvar,
            "uuid_getvar": self.uuid_getvar,
            "uuid_setvar_multi": self.uuid_setvar_multi,
            "uuid_dump": self.uuid_dump,
            "uuid_send_dtmf": self.uuid_send_dtmf,
            "uuid_hold": self.uuid_hold,
            "uuid_park": self.uuid_park,
            "uuid_exists": lambda arg: "true" if arg.strip() in self.switch.channels else "false",
            "uuid_answer": self.uuid_answer,
            "hupall": self.hupall,
            "sofia": self.sofia,
        }

    def run(self, name: str, arg: str) -> str:
        func = self.table.get(name)
        if func is None:
            return f"-ERR {name} Command not found!\n"
        return func(arg.strip())

    def _channel(self, uuid: str) -> Channel | None:
        return self.switch.channels.get(uuid)

    # ---- system -----------------------------------------------------------------------------------

    def status(self, _: str) -> str:
        up = self.switch.now_us() - self.switch.started_us
        secs, us = divmod(up, 1_000_000)
        mins, s = divmod(secs, 60)
        hours, m = divmod(mins, 60)
        days, h = divmod(hours, 24)
        years, d = divmod(days, 365)
        n = len(self.switch.channels)
        self.switch.peak_sessions = max(self.switch.peak_sessions, n)
        parts = zip(
            (years, d, h, m, s, us // 1000, us % 1000),
            ("year", "day", "hour", "minute", "second", "millisecond", "microsecond"),
            strict=True,
        )
        uptime = ", ".join(f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in parts)
        return (
            f"UP {uptime}\n"
            f"FreeSWITCH (Version 1.11.2-release git 3f13ad1 2026-08-09 16:23:10Z 64bit) is ready\n"
            f"{self.switch.sessions_since_startup} session(s) since startup\n"
            f"{n} session(s) - peak {self.switch.peak_sessions}, last 5min {self.switch.peak_sessions} \n"
            f"0 session(s) per Sec out of max 1000, peak 2, last 5min 2 \n"
            "5000 session(s) max\nmin idle cpu 0.00/97.43\nCurrent Stack Size/Max 240K/8192K\n"
        )

    def sofia(self, arg: str) -> str:
        if arg.split()[:1] != ["status"]:
            return "-ERR Usage: sofia status\n"
        ip = self.switch.ipv4
        bar = "=" * 97
        return (
            f"{'Name':>25}\t{'Type':>7}\t{'Data':>42}\tState\n{bar}\n"
            f"{ip:>25}\t{'alias':>7}\t{'internal':>42}\tALIASED\n"
            f"{'internal':>25}\t{'profile':>7}\t{'sip:mod_sofia@' + ip + ':5060':>42}\tRUNNING (0)\n"
            f"{bar}\n1 profile 1 alias\n"
        )

    def show(self, arg: str) -> str:
        words = arg.split()
        what = words[0] if words else ""
        chans = list(self.switch.channels.values())
        if what == "channels":
            rows = [self._row(ch) for ch in chans]
        elif what == "calls":  # FreeSWITCH's basic_calls view: every channel but a bridge's B side, b_* of its B
            rows = []
            for ch in chans:
                if ch.bridged_to is not None and ch.other_type == "originator":
                    continue
                row = self._row(ch)
                b = self._row(ch.bridged_to) if ch.bridged_to is not None else dict.fromkeys(row, "")
                rows.append({**row, **{f"b_{k}": v for k, v in b.items()}})
        else:
            return "-USAGE: show channels|calls [as json]\n"
        if "json" not in words:
            head = ",".join(rows[0]) if rows else "uuid,direction,created,created_epoch,name,state"
            body = "".join(",".join(r.values()) + "\n" for r in rows)
            return f"{head}\n{body}\n{len(rows)} total.\n"
        if not rows:
            return '{"row_count": 0}\n'
        return json.dumps({"row_count": len(rows), "rows": rows}) + "\n"

    def _row(self, ch: Channel) -> dict[str, str]:
        created = ch.times["created"] // 1_000_000
        return {
            "uuid": ch.uuid,
            "direction": ch.direction,
            "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
            "created_epoch": str(created),
            "name": ch.name,
            "state": ch.running_state,
            "cid_name": ch.cid_name,
            "cid_num": ch.cid_number,
            "ip_addr": "",
            "dest": ch.destination,
            "application": ch.variables.get("current_application", ""),
            "application_data": ch.variables.get("current_application_data", ""),
            "dialplan": "XML",
            "context": ch.context,
            "read_codec": "L16",
            "read_rate": "8000",
            "read_bit_rate": "128000",
            "write_codec": "L16",
            "write_rate": "8000",
            "write_bit_rate": "128000",
            "secure": "",
            "hostname": self.switch.hostname,
            "presence_id": "",
            "presence_data": "",
            "accountcode": "",
            "callstate": ch.callstate,
            "callee_name": ch.callee_name,
            "callee_num": ch.callee_number,
            "callee_direction": "",
            "call_uuid": ch.uuid,
            "sent_callee_name": "",
            "sent_callee_num": "",
            "initial_cid_name": ch.cid_name,
            "initial_cid_num": ch.cid_number,
            "initial_ip_addr": "",
            "initial_dest": ch.destination,
            "initial_dialplan": "XML",
            "initial_context": ch.context,
        }

    def hupall(self, arg: str) -> str:
        cause = arg.split()[0] if arg else "MANAGER_REQUEST"
        for ch in list(self.switch.channels.values()):
            ch.hangup(cause)
        return f"+OK hangup all channels with cause {cause}\n"

    # ---- originate --------------------------------------------------------------------------------

    def originate(self, arg: str) -> str:
        """<call url> <exten>|&<app>(<args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]."""
        _, rest = split_vars(arg)
        words = rest.split()
        if len(words) < 2:
            return ORIGINATE_USAGE
        url = arg[: len(arg) - len(rest)] + words[0]
        target, extra = words[1], words[2:]
        cid_name = extra[2] if len(extra) > 2 else ""
        cid_num = extra[3] if len(extra) > 3 else "0000000000"
        timeout = float(extra[4]) if len(extra) > 4 and extra[4].isdigit() else 60.0
        if target.startswith("&"):
            app, _, app_arg = target[1:].partition("(")
            apps = [(app, app_arg.removesuffix(")"))]
        else:
            apps = self.dialplan(target)
        try:
            leg = self.originator.originate(url, timeout=timeout, cid_number=cid_num, cid_name=cid_name)
        except OriginateError as exc:
            return f"-ERR {exc.cause}\n"
        leg.flip_caller_id()
        gevent.spawn(leg.start, apps)
        return f"+OK {leg.uuid}\n"

    # ---- uuid_* -----------------------------------------------------------------------------------

    def uuid_kill(self, arg: str) -> str:
        words = arg.split()
        ch = self._channel(words[0]) if words else None
        if ch is None:
            return NO_CHANNEL
        ch.hangup(words[1] if len(words) > 1 else "NORMAL_CLEARING")
        return "+OK\n"

    def uuid_bridge(self, arg: str) -> str:
        words = arg.split()
        if len(words) < 2:
            return "-USAGE: <uuid> <other_uuid>\n"
        a, b = self._channel(words[0]), self._channel(words[1])
        if a is None or b is None:
            return f"-ERR Invalid uuid {words[0] if a is None else words[1]}\n"
        if self.lost_bridges > 0:  # fault injection: accepted, never bridged
            self.lost_bridges -= 1
            return f"+OK {b.uuid}\n"
        for side in (a, b):  # switch_ivr_uuid_bridge: both leave their bridges (CF_TRANSFER), not hung up
            side.leave_bridge()
        a.send_first(Message("bridge", peer=b))  # CF_REDIRECT + a state change: queued applications wait
        a.interrupt.set()
        b.interrupt.set()  # an application B runs (a playback) ends: it is bridged next
        return f"+OK {b.uuid}\n"

    def uuid_transfer(self, arg: str) -> str:
        words = [w for w in arg.split() if w not in ("-bleg", "-both")]
        ch = self._channel(words[0]) if words else None
        if ch is None or len(words) < 2:
            return NO_CHANNEL
        ch.leave_bridge()  # CF_TRANSFER: out of its bridge; the partner applies its after-bridge rule
        if ch.parked or ch.bridged_to is not None or ch.session is None:
            ch.send(Message("execute", app="transfer", arg=" ".join(words[1:])))
        else:  # running its dialplan's applications: the one playing ends, the rest of the extension is left
            ch.transfer_to = " ".join(words[1:])
        ch.interrupt.set()
        return "+OK\n"

    def uuid_record(self, arg: str) -> str:
        words = arg.split()
        ch = self._channel(words[0]) if words else None
        if ch is None:
            return NO_CHANNEL
        if len(words) < 3:
            return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>]\n"
        action, path = words[1], words[2]
        if action == "start":
            ch.start_recording(path, float(words[3]) if len(words) > 3 and words[3].isdigit() else 0.0)
        elif action == "stop":
            paths = list(ch.recordings) if path == "all" else [path]
            if not any([ch.stop_recording(p) for p in paths]):
                return "-ERR Cannot stop record session!\n"
        return "+OK Success\n"

    def uuid_broadcast(self, arg: str) -> str:
        words = arg.split()
        ch = self._channel(words[0]) if words else None
        if ch is None or len(words) < 2:
            return NO_CHANNEL
        app, _, app_arg = words[1].partition("::")
        ch.send(Message("execute", app=app if app_arg else "playback", arg=app_arg or words[1]))
        return "+OK Message sent\n"

    def uuid_break(self, arg: str) -> str:
        ch = self._channel(arg.split()[0]) if arg else None
        if ch is None:
            return NO_CHANNEL
        if "all" in arg.split()[1:]:  # switch_core_session_flush_private_events: queued executes are dropped
            ch.flush_executes()
        ch.interrupt.set()
        return "+OK\n"

    def uuid_setvar(self, arg: str) -> str:
        words = arg.split(maxsplit=2)
        ch = self._channel(words[0]) if words else None
        if ch is None:
            return NO_CHANNEL
        if len(words) < 2:
            return "-USAGE: <uuid> <var> [value]\n"
        if len(words) > 2:
            ch.variables[words[1]] = words[2]
        else:
            ch.variables.pop(words[1], None)
        return "+OK\n"

    def uuid_setvar_multi(self, arg: str) -> str:
        """``<uuid> <var>=<value>;<var>=<value>...`` as mod_commands: split on ``;``, each at its first ``=``
        (no ``=`` or an empty value: the variable is unset, as switch_channel_set_variable does);
        ``-ERR No variable specified`` per empty name."""
        usage = "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n"
        if not arg:
            return usage
        uuid, space, rest = arg.partition(" ")
        if not space:
            return ""  # mod_commands: no variables given, no answer at all
        ch = self._channel(uuid)
        if ch is None:
            return NO_CHANNEL + usage
        out, done = "", 0
        for item in rest.split(";"):
            name, eq, value = item.partition("=")
            if not name:
                out += "-ERR No variable specified\n"
            elif eq and value:
                ch.variables[name] = value
                done += 1
            else:
                ch.variables.pop(name, None)
                done += 1
        return out + ("+OK\n" if done else usage)

    def uuid_dump(self, arg: str) -> str:
        """``<uuid> [format]``: the channel as a CHANNEL_DATA event (its data and ``variable_*`` headers),
        serialized as ``json`` or, by default, as plain ``Name: url-encoded value`` lines."""
        words = arg.split()
        ch = self._channel(words[0]) if words else None
        if ch is None:
            return NO_CHANNEL
        event = self.switch.build("CHANNEL_DATA", ch.channel_data() + ch.variable_pairs())
        if len(words) > 1 and words[1].lower() == "json":
            return json.dumps(dict(event.pairs))
        return "".join(f"{k}: {quote(v, safe='')}\n" for k, v in event.pairs)

    def uuid_getvar(self, arg: str) -> str:
        words = arg.split()
        ch = self._channel(words[0]) if words else None
        if ch is None:
            return NO_CHANNEL
        return ch.variables.get(words[1], "_undef_") if len(words) > 1 else "-USAGE: <uuid> <var>\n"

    def uuid_send_dtmf(self, arg: str) -> str:
        words = arg.split()
        ch = self._channel(words[0]) if words else None
        if ch is None or len(words) < 2:
            return NO_CHANNEL
        far_end = ch.loopback_peer or ch.bridged_to or ch
        far_end.queue_dtmf(words[1].split("@")[0])
        return f"+OK {ch.uuid} sent DTMF {words[1]}.\n"

    def uuid_hold(self, arg: str) -> str:
        """``uuid_hold [off|toggle] <uuid> [<display>]`` as mod_commands: ``-ERR Operation failed`` when
        the channel is already (not) held; an unknown uuid is a success (switch_ivr_hold_uuid). Checked
        against FreeSWITCH 1.10.12 (loopback legs; SIP legs from the source)."""
        words = arg.split()
        if not words:
            return "-USAGE: [off|toggle] <uuid> [<display>]\n-ERR Operation failed\n"  # both lines, as recorded
        mode = words.pop(0).lower() if words[0].lower() in ("off", "toggle") else "on"
        ch = self._channel(words[0]) if words else None
        if ch is None:
            return "+OK Success\n"
        if mode == "toggle":
            done = ch.unhold() if ch.callstate == "HELD" else ch.callstate not in ("ACTIVE", "UNHELD") or ch.hold()
        else:
            done = ch.hold() if mode == "on" else ch.unhold()
        return "+OK Success\n" if done else "-ERR Operation failed\n"

    def uuid_park(self, arg: str) -> str:
        """mod_commands park_function: ``switch_ivr_park_session`` (out of its bridge into park). FreeSWITCH
        1.10.12 answers ``-ERR No such channel!`` to a missing uuid too (checked against the real one)."""
        ch = self._channel(arg.split()[0]) if arg else None
        if ch is None:
            return NO_CHANNEL
        if ch.bridged_to is not None:
            ch.leave_bridge()
        elif not ch.parked:
            ch.send(Message("execute", app="park"))
            ch.interrupt.set()
        return "+OK\n"

    def uuid_answer(self, arg: str) -> str:
        ch = self._channel(arg.split()[0]) if arg else None
        if ch is None:
            return NO_CHANNEL
        ch.answer()
        return "+OK\n"
