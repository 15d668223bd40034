"""The agent desktop in headless Chromium against a running hotline on the emulator.

An agent logs in on the page, a real emulated call pops on screen with the caller's open ticket,
the agent writes a note and a disposition, opens a ticket and closes the call; the interaction and
the ticket are then checked in the database. Screenshots go to tmp_path, or to docs/img/ when
HOTLINE_DOCS_SCREENSHOTS=1. Skipped (with the reason) when chromium, chromedriver or selenium
is missing; CI installs them (scripts/setup.sh).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.emulator import Caller, Phone
from engine.store import agents, customers, kb, queues, skills, tickets, users
from engine.store.crm_models import Ticket
from engine.store.models import Interaction
from tests.hotline_rig import HOTLINE_NUMBER, seed, start_rig

pytestmark = [pytest.mark.integration, pytest.mark.db]

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and DRIVER):
    pytest.skip("headless browser test needs Debian's chromium and chromium-driver", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs the selenium package")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CALLER = "13900139000"
PASSWORD = "grace-pass-1"
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


def _seed(s) -> None:
    skills.create_skill(s, "support")
    queues.create_queue(s, "support", wrap_up_seconds=60, required_skills={"support": 1})
    for name in ("sales", "billing", "vip"):
        skills.create_skill(s, name)
        queues.create_queue(s, name, required_skills={name: 1})
    agents.create_agent(s, "1001", name="Grace", contact="user/1001", skills={"support": 7})
    users.create_user(s, "seed", "grace", PASSWORD, "agent", agent_id="1001", team="support")
    users.create_user(s, "seed", "sue", PASSWORD, "supervisor")
    c = customers.create_customer(s, "Ada Lovelace", region="CN", numbers=[CALLER])
    tickets.create_ticket(s, "seed", title="Line drops every evening", customer_id=c.id, team="support")
    kb.create_article(s, "seed", "How do I reset my router?", "Hold the reset button for ten seconds.", ["router"])


@pytest.fixture
def rig(tmp_path, db_url):
    seed(db_url, _seed)
    yield from start_rig(tmp_path, db_url, ["1001"])


@pytest.fixture
def browser() -> Iterator:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="hotline-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1280,900"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _shots(tmp_path: Path) -> Path:
    return DOCS_IMG if os.environ.get("HOTLINE_DOCS_SCREENSHOTS") == "1" else tmp_path


def _log_in(driver, wait, url: str, username: str) -> None:
    driver.get(url)
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#login button").click()
    wait.until(ec.invisibility_of_element_located((By.ID, "login-box")))


def test_agent_takes_a_call_on_the_desktop(rig, browser, tmp_path: Path) -> None:
    shots = _shots(tmp_path)
    wait = WebDriverWait(browser, 10)
    rig.emulator.phones["1001"] = Phone("1001", answer_delay=0.5)
    base = f"http://127.0.0.1:{rig.http_port}/desktop/"
    _log_in(browser, wait, base, "grace")
    wait.until(ec.text_to_be_present_in_element((By.ID, "state"), "ready"))

    browser.find_element(By.ID, "kb-q").send_keys("reset router\n")
    wait.until(ec.text_to_be_present_in_element((By.ID, "kb-results"), "How do I reset my router?"))

    uuid = rig.emulator.place_call(Caller(CALLER, script=["2"], talk_seconds=2), HOTLINE_NUMBER)
    wait.until(ec.text_to_be_present_in_element((By.ID, "pop-phase"), "answer"))
    pop = browser.find_element(By.ID, "pop-body").text
    assert "Ada Lovelace" in pop and "support" in pop and "Line drops every evening" in pop
    browser.find_element(By.ID, "notes").send_keys("Router reset fixed it. 客户满意 😀")
    browser.find_element(By.ID, "open-ticket").click()
    browser.find_element(By.ID, "ticket-title").send_keys("Send a new router")
    browser.save_screenshot(str(shots / "agent-desktop-pop.png"))

    assert rig.next_call().uuid == uuid  # the caller hung up and the call is recorded
    browser.find_element(By.ID, "save-wrap").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "wrap-done"), "ticket #"))
    assert browser.find_element(By.ID, "wrap-error").text == ""
    browser.save_screenshot(str(shots / "agent-desktop-wrapped-up.png"))

    with rig.engine.sessions() as s:
        interaction = s.scalar(select(Interaction).where(Interaction.call_uuid == uuid))
        assert (interaction.agent_id, interaction.disposition) == ("1001", "resolved")
        assert interaction.notes == "Router reset fixed it. 客户满意 😀"
        ticket = s.scalar(select(Ticket).where(Ticket.interaction_id == interaction.id))
        assert (ticket.title, ticket.assignee, ticket.state, ticket.created_by) == (
            "Send a new router", "1001", "assigned", "user:grace",
        )  # fmt: skip
        assert ticket.customer_id == interaction.customer_id is not None


def test_supervisor_wallboard_shows_queues_and_agents(rig, browser, tmp_path: Path) -> None:
    wait = WebDriverWait(browser, 10)
    rig.ready("1001")
    _log_in(browser, wait, f"http://127.0.0.1:{rig.http_port}/desktop/wallboard", "sue")
    wait.until(ec.text_to_be_present_in_element((By.ID, "agent-table"), "1001"))
    assert "support" in browser.find_element(By.ID, "queue-table").text
    assert "ready" in browser.find_element(By.ID, "agent-table").text
    browser.save_screenshot(str(_shots(tmp_path) / "wallboard.png"))
