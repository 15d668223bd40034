"""The agent desktop and the wallboard in headless Chromium against a running hotline on the emulator.

In English and in Chinese (chosen from the browser's language): an agent logs in, a real emulated call
pops on screen, and the agent works it with the page's buttons only (hold, resume, consult a colleague,
cancel, hang up, dial a number of their own, hang up), each button enabled only when it may be used;
what the emulator's channels did is checked after each step. The wrap-up is saved to the database; the
wallboard shows a row per agent and rings the supervisor's phone to listen. Screenshots go to tmp_path,
or to docs/images/ when HOTLINE_DOCS_SCREENSHOTS=1. Skipped (with the reason) when chromium,
chromedriver or selenium is missing; CI installs them and the CJK fonts (scripts/setup.sh).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.emulator import CalledParty, Caller, Phone
from engine.store import agents, customers, kb, queues, skills, tickets, users
from engine.store.crm_models import Ticket
from engine.store.models import Interaction
from tests.acd_rig import wait_until
from tests.hotline_rig import HOTLINE_NUMBER, seed, start_rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip("headless browser test needs Debian's chromium and chromium-driver", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs the selenium package")
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CALLER = "13900139000"
CUSTOMER = "13900000042"  # the number the agent dials
PASSWORD = "grace-pass-1"
DOCS_IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
WAIT = 20  # seconds: generous on a loaded machine; a passing wait returns as soon as its condition holds

# What each language's page must say, written out here (not read from lang.js).
SAYS = {
    "en": {"title": "hotline — agent desktop", "ready": "ready", "on_call": "on a call", "wrap_up": "wrap-up",
           "held": "on hold", "answered": "answered", "bad_input": "Not accepted: ", "back": "Back with the caller.",
           "two_calls": "2 calls, ", "wallboard": "hotline — wallboard",
           "ringing": "Ringing your phone to Listen on 1001."},
    "zh-CN": {"title": "hotline — 坐席工作台", "ready": "就绪", "on_call": "通话中", "wrap_up": "话后处理",
              "held": "保持中", "answered": "已接通", "bad_input": "输入有误: ", "back": "已回到客户通话。",
              "two_calls": "2 通电话，", "wallboard": "hotline — 监控大屏",
              "ringing": "正在呼叫您的话机，监听坐席 1001。"},
}  # fmt: skip


def _seed(s) -> None:
    skills.create_skill(s, "support")
    queues.create_queue(s, "support", wrap_up_seconds=60, required_skills={"support": 1})
    for name in ("sales", "billing", "vip"):
        skills.create_skill(s, name)
        queues.create_queue(s, name, required_skills={name: 1})
    agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"support": 7})
    agents.create_agent(s, "1002", name="Lin", contact="user/1002", skills={"sales": 5})  # never offered support
    users.create_user(s, "seed", "grace", PASSWORD, "agent", agent_id="1001", team="support")
    users.create_user(s, "seed", "sue", PASSWORD, "supervisor")
    c = customers.create_customer(s, "Ada Lovelace", region="CN", numbers=[CALLER])
    tickets.create_ticket(s, "seed", title="Line drops every evening", customer_id=c.id, team="support")
    kb.create_article(s, "seed", "How do I reset my router?", "Hold the reset button for ten seconds.", ["router"])


@pytest.fixture
def rig(tmp_path, db_url):
    seed(db_url, _seed)
    config = {"agent_calls": {"caller_id": "4000", "wrap_up_seconds": 60, "agent_ring_seconds": 100}}
    for rig in start_rig(tmp_path, db_url, ["1001", "1002"], config=config):
        for ext in ("1001", "1002", "1009"):
            rig.emulator.phones[ext] = Phone(ext, answer_delay=0.5)
        rig.emulator.parties[CUSTOMER] = CalledParty(
            CUSTOMER, "live", answer_delay=1, talk_seconds=None, patience_seconds=100_000
        )
        yield rig


@pytest.fixture
def browser() -> Iterator[Callable[[str], object]]:
    """``browser(lang)``: a fresh headless Chromium whose language is ``lang``."""
    opened: list[tuple[object, str]] = []

    def start(lang: str):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        profile = tempfile.mkdtemp(prefix="hotline-chromium-")
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     f"--user-data-dir={profile}", "--window-size=1100,860", f"--lang={lang}",
                     f"--accept-lang={lang}"):  # fmt: skip
            options.add_argument(flag)
        options.add_experimental_option("prefs", {"intl.accept_languages": lang})
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
        opened.append((driver, profile))
        return driver

    yield start
    for driver, profile in opened:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _shots(tmp_path: Path) -> Path:
    return DOCS_IMAGES if os.environ.get("HOTLINE_DOCS_SCREENSHOTS") == "1" else tmp_path


def _shot(driver, path: Path) -> None:
    """The page as far as it goes (no empty window below it), as a PNG."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1100, min(max(height, 400), 1400) + 90)
    assert driver.save_screenshot(str(path)), path


def _log_in(driver, url: str, username: str) -> WebDriverWait:
    wait = WebDriverWait(driver, WAIT, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    driver.get(url)
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    wait.until(ec.invisibility_of_element_located((By.ID, "login-box")))
    return wait


def _situation(wait: WebDriverWait, name: str) -> None:
    wait.until(lambda d: d.find_element(By.ID, "call").get_attribute("data-situation") == name, f"situation {name}")


def _state(wait: WebDriverWait, state: str, text: str) -> None:
    def shown(d) -> bool:
        badge = d.find_element(By.ID, "state")
        return badge.get_attribute("data-state") == state and badge.text == text

    wait.until(shown, f"state {state} shown as {text!r}")


def _enabled(driver) -> set[str]:
    buttons = driver.find_elements(By.CSS_SELECTOR, "#call button[data-action]")
    return {b.get_attribute("data-action") for b in buttons if b.is_enabled()}


def _click(driver, action: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'button[data-action="{action}"]').click()


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_agent_works_a_call_with_the_buttons(rig, browser, tmp_path: Path, lang: str) -> None:
    says, driver = SAYS[lang], browser(lang)
    rig.ready("1002")  # the colleague to consult
    rig.ready("1001")  # made ready before the desktop opens (as the CLI does): the page shows it, not "logged in"
    wait = _log_in(driver, f"http://127.0.0.1:{rig.http_port}/desktop", "grace")  # no slash: redirected
    assert driver.current_url.endswith("/desktop/")
    assert driver.find_element(By.TAG_NAME, "h1").text == says["title"]
    _state(wait, "ready", says["ready"])
    assert _enabled(driver) == {"dial"}

    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"]), HOTLINE_NUMBER)
    _situation(wait, "talking")  # the phone answered: the call is bridged
    _state(wait, "on_call", says["on_call"])
    wait.until(ec.text_to_be_present_in_element((By.ID, "pop-body"), "Line drops every evening"))
    assert "Ada Lovelace" in driver.find_element(By.ID, "pop-body").text
    assert _enabled(driver) == {"hold", "hangup", "transfer", "consult", "conference"}
    wait.until(lambda d: d.find_element(By.ID, "call-timer").text not in ("", "0:00"), "the call timer running")
    agent_leg = rig.emulator.channels[rig.engine.acd.agent_legs[uuid]]

    _click(driver, "hold")
    _situation(wait, "held")
    assert agent_leg.callstate == "HELD"
    assert says["held"] in driver.find_element(By.ID, "situation").text
    assert _enabled(driver) == {"unhold", "hangup"}
    _shot(driver, _shots(tmp_path) / f"desktop-on-hold-{lang}.png")
    _click(driver, "unhold")
    _situation(wait, "talking")
    assert agent_leg.callstate == "UNHELD"  # as FreeSWITCH reports a resumed leg

    Select(driver.find_element(By.ID, "target-kind")).select_by_value("agent")
    driver.find_element(By.ID, "target").send_keys("1002")
    _click(driver, "consult")
    _situation(wait, "consulting")
    wait.until(ec.text_to_be_present_in_element((By.ID, "call-info"), says["answered"]))
    colleague = wait_until(lambda: agent_leg.bridged_to, what="1001 talking to 1002")
    assert colleague.name.startswith("sofia/internal/1002@")
    assert _enabled(driver) == {"complete", "cancel", "hangup"}
    _shot(driver, _shots(tmp_path) / f"desktop-consulting-{lang}.png")
    _click(driver, "cancel")
    _situation(wait, "talking")
    wait.until(ec.text_to_be_present_in_element((By.ID, "call-done"), says["back"]))
    wait_until(lambda: rig.emulator.channels[uuid].bridged_to is agent_leg, what="the caller back with 1001")

    _click(driver, "hangup")
    _state(wait, "wrap_up", says["wrap_up"])
    assert rig.next_call().uuid == uuid
    assert _enabled(driver) == {"dial"}

    driver.find_element(By.ID, "dial-number").send_keys("12ab")  # refused by the API: said in words
    _click(driver, "dial")
    refused = says["bad_input"] + "number: '12ab' is not a dialable number (digits, *, #, an optional leading +)"
    wait.until(ec.text_to_be_present_in_element((By.ID, "call-error"), refused))
    number = driver.find_element(By.ID, "dial-number")
    number.clear()
    number.send_keys(CUSTOMER)
    _click(driver, "dial")
    _situation(wait, "dialling")
    party = wait_until(
        lambda: next((c for c in rig.emulator.channels.values() if c.destination == CUSTOMER and c.bridged_to), None),
        what="the agent bridged to the number",
    )
    assert _enabled(driver) == {"hold", "hangup"}
    wait.until(ec.text_to_be_present_in_element((By.ID, "pop-body"), CUSTOMER))
    _click(driver, "hangup")
    _state(wait, "wrap_up", says["wrap_up"])
    wait_until(lambda: not party.alive, what="the dialled party hung up")
    # refreshed at the call's end: the queued call and the agent's own (its record is written before the wrap-up)
    wait.until(lambda d: d.find_element(By.ID, "stats").text.startswith(says["two_calls"]), "stats refreshed")
    assert driver.find_element(By.ID, "call-error").text == ""


def test_a_reopened_desktop_shows_no_finished_call_and_the_language_switch_sticks(rig, browser) -> None:
    driver = browser("en")
    rig.ready("1001")
    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=2), HOTLINE_NUMBER)
    assert rig.next_call().uuid == uuid  # talked and hung up before the desktop opened
    wait = _log_in(driver, f"http://127.0.0.1:{rig.http_port}/desktop/", "grace")
    _state(wait, "wrap_up", SAYS["en"]["wrap_up"])
    wait.until(lambda d: d.find_element(By.ID, "stats").text.startswith("1 calls"), "stats today")
    assert "Ada Lovelace" not in driver.find_element(By.ID, "pop-body").text  # the old pop is not replayed

    Select(driver.find_element(By.ID, "lang")).select_by_value("zh-CN")
    wait.until(ec.text_to_be_present_in_element((By.ID, "state"), SAYS["zh-CN"]["wrap_up"]))
    driver.refresh()
    _state(wait, "wrap_up", SAYS["zh-CN"]["wrap_up"])
    assert driver.find_element(By.TAG_NAME, "h1").text == SAYS["zh-CN"]["title"]
    assert driver.execute_script("return document.documentElement.lang") == "zh-CN"


def test_agent_wraps_up_a_call_with_a_ticket(rig, browser, tmp_path: Path) -> None:
    driver = browser("en")
    rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
    wait = _log_in(driver, f"http://127.0.0.1:{rig.http_port}/desktop/", "grace")
    _state(wait, "ready", "ready")
    driver.find_element(By.ID, "kb-q").send_keys("reset router\n")
    wait.until(ec.text_to_be_present_in_element((By.ID, "kb-results"), "How do I reset my router?"))

    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"]), HOTLINE_NUMBER)
    wait.until(lambda d: d.find_element(By.ID, "pop-phase").get_attribute("data-phase") == "answer", "answered")
    pop = driver.find_element(By.ID, "pop-body").text
    assert "Ada Lovelace" in pop and "support" in pop and "Line drops every evening" in pop
    driver.find_element(By.ID, "notes").send_keys("Router reset fixed it. 客户满意 😀")
    driver.find_element(By.ID, "open-ticket").click()
    driver.find_element(By.ID, "ticket-title").send_keys("Send a new router")

    rig.emulator.hangup(uuid)
    assert rig.next_call().uuid == uuid  # the caller hung up and the call is recorded
    driver.find_element(By.ID, "save-wrap").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "wrap-done"), "ticket #"))
    assert driver.find_element(By.ID, "wrap-error").text == ""
    _state(wait, "ready", "ready")  # saving ended the wrap-up
    _shot(driver, _shots(tmp_path) / "desktop-wrapped-up-en.png")

    with rig.engine.sessions() as s:
        interaction = s.scalar(select(Interaction).where(Interaction.call_uuid == uuid))
        assert (interaction.agent_id, interaction.disposition) == ("1001", "resolved")
        assert interaction.notes == "Router reset fixed it. 客户满意 😀"
        ticket = s.scalar(select(Ticket).where(Ticket.interaction_id == interaction.id))
        assert (ticket.title, ticket.assignee, ticket.state, ticket.created_by) == (
            "Send a new router", "1001", "assigned", "user:grace",
        )  # fmt: skip
        assert ticket.customer_id == interaction.customer_id is not None


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_supervisor_sees_a_row_per_agent_and_listens_in(rig, browser, tmp_path: Path, lang: str) -> None:
    says, driver = SAYS[lang], browser(lang)
    rig.ready("1001")
    rig.ready("1002")
    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"]), HOTLINE_NUMBER)
    wait_until(lambda: uuid in rig.engine.acd.agent_legs, what="1001 talking")
    wait = _log_in(driver, f"http://127.0.0.1:{rig.http_port}/desktop/wallboard", "sue")
    assert driver.find_element(By.TAG_NAME, "h1").text == says["wallboard"]
    row = '#agent-table tr[data-agent="{}"]'
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, row.format("1001")), CALLER))
    talking, idle = (
        driver.find_element(By.CSS_SELECTOR, row.format("1001")),
        driver.find_element(By.CSS_SELECTOR, row.format("1002")),
    )
    assert says["on_call"] in talking.text and "support" in talking.text
    assert says["ready"] in idle.text
    assert all(b.is_enabled() for b in talking.find_elements(By.TAG_NAME, "button"))
    assert not any(b.is_enabled() for b in idle.find_elements(By.TAG_NAME, "button"))
    assert "support" in driver.find_element(By.ID, "queue-table").text

    driver.find_element(By.ID, "contact").send_keys("user/1009")
    talking.find_element(By.CSS_SELECTOR, 'button[data-supervise="listen"]').click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "wb-done"), says["ringing"]))
    listener = wait_until(
        lambda: next((c for c in rig.emulator.channels.values() if c.name.startswith("sofia/internal/1009@")), None),
        what="the supervisor's phone rung",
    )
    assert listener.alive
    log = rig.api("GET", "/api/call-control-log?agent=1001", rig.admin)[1]
    assert [(r["actor"], r["action"], r["detail"], r["result"]) for r in log] == [
        ("supervisor", "listen", "user/1009", "ok")
    ]
    _shot(driver, _shots(tmp_path) / f"wallboard-{lang}.png")
    rig.emulator.hangup(uuid)
    assert rig.next_call().uuid == uuid


def _room(rig, call_id: str) -> int:
    """How many channels are in the call's mod_conference room in the emulator."""
    room = rig.emulator.conferences.rooms.get(f"hotline-{call_id}")
    return len(room.members) if room else 0


def test_blind_transfer_ready_out_of_wrap_up_and_a_conference_the_agent_leaves(rig, browser) -> None:
    says, driver = SAYS["zh-CN"], browser("zh-CN")
    rig.emulator.dialplan["1002"] = [("bridge", "user/1002")]  # dialplans/default.xml: agent_to_agent
    rig.ready("1002")
    wait = _log_in(driver, f"http://127.0.0.1:{rig.http_port}/desktop/", "grace")
    _state(wait, "ready", says["ready"])

    first = rig.emulator.place_call(Caller(CALLER, script=["2"]), HOTLINE_NUMBER)
    _situation(wait, "talking")
    driver.find_element(By.ID, "target").send_keys("1002")  # an agent: the first kind offered
    _click(driver, "transfer")
    _state(wait, "wrap_up", says["wrap_up"])
    caller = rig.emulator.channels[first]
    wait_until(lambda: caller.bridged_to and caller.bridged_to.name.startswith("sofia/internal/1002@"), what="1002")
    rig.emulator.hangup(first)
    assert rig.next_call().uuid == first
    assert _enabled(driver) == {"dial"}
    _click(driver, "ready")  # out of wrap-up before it runs out
    _state(wait, "ready", says["ready"])

    second = rig.emulator.place_call(Caller(CALLER, script=["2"]), HOTLINE_NUMBER)
    _situation(wait, "talking")
    _click(driver, "conference")  # with 1002, still in the target field
    _situation(wait, "conference")
    wait.until(ec.text_to_be_present_in_element((By.ID, "call-info"), says["answered"]))
    assert _enabled(driver) == {"leave", "cancel", "hangup"}
    wait_until(lambda: _room(rig, second) == 3, what="caller, 1001 and 1002 in the room")
    _click(driver, "leave")
    _state(wait, "wrap_up", says["wrap_up"])
    wait_until(lambda: _room(rig, second) == 2, what="the caller and 1002 talking on")
    assert driver.find_element(By.ID, "call-error").text == ""
    rig.emulator.hangup(second)
    assert rig.next_call().uuid == second
