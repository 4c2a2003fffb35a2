"""The dashboard in a real browser: Debian's headless Chromium driven through Selenium
and Debian's chromedriver (``Service("/usr/bin/chromedriver")``: Selenium Manager never
runs, nothing is downloaded; the browser's background networking is off, it talks only
to the service on 127.0.0.1), on a real ``dockwright watch --listen`` subprocess and
real containers:
- an edit of a spec file appears on the open page without a reload;
- a container killed by hand shows as drifted, then healed;
- a broken spec file shows as quarantined with its error, and the file fixed clears it.
Each test saves screenshots under the folder printed at the start (``artifacts``).
Neighbours: ``test_pages.py`` (the same pages without JavaScript),
``controller/service/dashboard/templates/dashboard.js`` (the script under test).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import wait_for
from tests.watch.helpers import Service, container_toml, get

pytestmark = pytest.mark.docker

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
QUIET = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--window-size=1400,1000", "--no-first-run", "--no-default-browser-check",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
         "--metrics-recording-only", "--disable-client-side-phishing-detection",
         "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
         "--no-proxy-server")
# records every text the state pill of one row shows, across fragment swaps
RECORD = """
const name = arguments[0];
window.__dwStates = [];
const seen = () => {
  const row = document.querySelector('tr[data-name="' + name + '"] .state');
  const text = row ? row.textContent.trim() : null;
  const states = window.__dwStates;
  if (text && states[states.length - 1] !== text) { states.push(text); }
};
seen();
new MutationObserver(seen).observe(document.getElementById('live'),
  {subtree: true, childList: true, characterData: true, attributes: true});
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    os.environ["SE_OFFLINE"] = "true"  # belt and braces: Selenium Manager stays offline
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in QUIET:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=ChromeService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def watch(spec_dir: Path, project_name: str, tmp_path: Path,
          start_service: Callable[..., Service]) -> Callable[[], Service]:
    def start() -> Service:
        svc = start_service(["--project", project_name, "watch", str(spec_dir)],
                            env={"DOCKWRIGHT_STATE_DIR": str(tmp_path / "state")})
        svc.wait_ready()
        return svc

    return start


def _open(browser: Any, svc: Service, path: str) -> None:
    """Load the page and wait until its event stream is connected."""
    browser.get(f"http://127.0.0.1:{svc.port}{path}")
    WebDriverWait(browser, 20).until(
        lambda b: _text(b, "#live-state") == "live")
    browser.execute_script("window.__dwMarker = 'no reload';")


def _until(browser: Any, what: str, pred: Callable[[Any], Any], timeout: float = 60) -> Any:
    try:
        return WebDriverWait(browser, timeout, poll_frequency=0.1).until(pred)
    except Exception as exc:
        raise AssertionError(f"the page never showed {what}:\n"
                             f"{_text(browser, '#live')}") from exc


def _text(browser: Any, selector: str) -> str:
    """The visible text of the first element matching ``selector`` ("" when none), read in
    one step in the page (a swap between a find and a read would leave a stale element)."""
    found = browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : '';",
        selector)
    return str(found).strip()


def _state(browser: Any, name: str) -> str:
    return _text(browser, f'tr[data-name="{name}"] .state')


def _not_reloaded(browser: Any) -> None:
    assert browser.execute_script("return window.__dwMarker") == "no reload"
    assert int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-swaps")) >= 1


def test_a_spec_edit_appears_without_a_reload(
        browser: Any, watch: Callable[[], Service], spec_dir: Path, project_name: str,
        artifacts: Path) -> None:
    web, api = f"{project_name}-web", f"{project_name}-api"
    (spec_dir / "web.toml").write_text(container_toml(web))
    svc = watch()
    _open(browser, svc, f"/p/{project_name}")
    _until(browser, "web in sync", lambda b: _state(b, web) == "in sync")
    browser.save_screenshot(str(artifacts / "spec-edit-1-before.png"))

    (spec_dir / "api.toml").write_text(container_toml(api, extra='ports = ["127.0.0.1::9090"]\n'))
    _until(browser, "the new container api", lambda b: _state(b, api) == "in sync")
    row = _text(browser, f'tr[data-name="{api}"]')
    assert "->9090/tcp" in row and "dockwright-test/busybox:latest" in row
    _not_reloaded(browser)
    browser.save_screenshot(str(artifacts / "spec-edit-2-after.png"))


def test_a_killed_container_shows_drifted_then_healed(
        browser: Any, watch: Callable[[], Service], spec_dir: Path, project_name: str,
        dclient: Any, artifacts: Path) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    svc = watch()
    container = wait_for(lambda: (c := get(dclient, web)) and c.status == "running" and c,
                         "web running")
    _open(browser, svc, f"/p/{project_name}")
    _until(browser, "web in sync", lambda b: _state(b, web) == "in sync")
    browser.execute_script(RECORD, web)

    container.kill()  # by hand, behind dockwright's back
    _until(browser, "web healed", lambda b: _state(b, web) == "healed")
    states = browser.execute_script("return window.__dwStates")
    assert "drifted" in states, states
    assert states.index("drifted") < states.index("healed"), states
    row = _text(browser, f'tr[data-name="{web}"]')
    assert "drift corrected" in row and "exit code 137" in row
    _not_reloaded(browser)
    browser.save_screenshot(str(artifacts / "drift-healed.png"))


def test_a_broken_spec_file_shows_quarantined_with_its_error(
        browser: Any, watch: Callable[[], Service], spec_dir: Path, project_name: str,
        artifacts: Path) -> None:
    web = f"{project_name}-web"
    (spec_dir / "web.toml").write_text(container_toml(web))
    svc = watch()
    _open(browser, svc, "/")
    card = f'section[data-project="{project_name}"]'

    def sync(b: Any) -> str:
        return _text(b, f"{card} .sync")

    _until(browser, "the project in sync", lambda b: sync(b) == "in sync")
    (spec_dir / "bad.toml").write_text('[container.bad1]\nimage = "x"\nbogus_key = 1\n')
    _until(browser, "the project quarantined", lambda b: sync(b) == "quarantined")
    quarantined = _text(browser, f"{card} .quarantined")
    assert "bad.toml:3" in quarantined and "bogus_key" in quarantined, quarantined
    _not_reloaded(browser)
    browser.save_screenshot(str(artifacts / "quarantined.png"))

    (spec_dir / "bad.toml").write_text('[container.bad1]\nimage = "x"\n')  # fixed (not started)
    (spec_dir / "bad.toml").unlink()
    _until(browser, "the project in sync again", lambda b: sync(b) == "in sync")
    assert _text(browser, f"{card} .quarantined") == "none"
