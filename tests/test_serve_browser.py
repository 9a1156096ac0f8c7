"""The service in a real browser: Debian's Chromium driven by Playwright, over
a real `snapshot-runner serve` of a real history. A reader's path: runs →
grid → a changed cell → its diff → the case's timeline → compare; and the
runs page following a new sharded run without a reload. Screenshots of each
page go to $SERVE_SHOTS (default /tmp/serve-shots)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .served import BISECTED, EVIL_LABEL, build_history, serving
from .tools import require

pytestmark = pytest.mark.xdist_group("serve_browser")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"]
SHOTS = Path(os.environ.get("SERVE_SHOTS", "/tmp/serve-shots"))


@pytest.fixture(scope="module")
def browser():
    require(CHROMIUM.is_file(), "Chromium is not installed (Debian: apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def _start_shard(db: str) -> None:
    """Shard 1 of 2 of a run begins, as `record --shard 1/2` does before capturing."""
    from snapshot_runner.history.shards import Shard, begin_part, plan
    from snapshot_runner.history.store import Store

    store = Store.open(db, create=False)
    try:
        names = [BISECTED, "inductor.models::layer_norm"]
        plan(store, "ci-77-cpu", Shard(1, 2), names, "fingerprint")
        environment = {"torch_version": "2.15.0+cpu", "python": "3.11.7", "platform": "Linux-x86_64", "device": "cpu"}
        begin_part(store, "ci-77-cpu", Shard(1, 2), environment=environment, label="sharded-nightly", runner_version="test", normalize="canonical")
    finally:
        store.close()


def test_reader_path_in_chromium(browser, tmp_path: Path) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{tmp_path / 'history.sqlite'}"
    runs = build_history(db)
    errors: list[str] = []
    with serving(db) as server:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        # A CSP violation or a script error is a failure, not a console line.
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        page.goto(server.base + "/")
        rows = page.locator("#run-rows tr.run")
        assert rows.count() == 4
        assert rows.first.get_attribute("data-run") == str(runs["evil"])  # newest first
        # The hostile label is text on the page, not markup.
        assert EVIL_LABEL in rows.first.inner_text()
        assert page.evaluate("document.querySelectorAll('#run-rows script').length") == 0
        new_row = page.locator(f'#run-rows tr[data-run="{runs["new"]}"]')
        assert "changed" in new_row.inner_text()
        page.screenshot(path=str(SHOTS / "1-runs.png"), full_page=True)

        # Live: a shard begins in another process; the open page shows it without a reload.
        _start_shard(db)
        sharded = page.locator("#run-rows tr.run", has_text="sharded-nightly")
        sharded.wait_for(timeout=20_000)
        assert "shards 0/2 complete" in sharded.inner_text()
        assert "1: running" in sharded.inner_text()
        page.screenshot(path=str(SHOTS / "2-runs-live.png"), full_page=True)

        page.click("header.site >> text=Grid")
        page.wait_for_url("**/grid")
        page.screenshot(path=str(SHOTS / "3-grid.png"), full_page=True)
        # A changed cell of the bisected case's AOT forward graph: 2.13.0 → 2.14.1 changed its signature.
        case_rows = page.locator("table.grid tbody tr").filter(has=page.locator(f'a[href$="{BISECTED.split("::")[1]}"]'))
        assert case_rows.count() == 1
        changed = page.locator(f'table.grid td.lv a[href*="twotensor_view"][href*="artifact=aot_forward"][href*="to={runs["new"]}"]')
        assert changed.count() == 1
        title = changed.locator("xpath=..").get_attribute("title") or ""
        assert "signature change" in title, title

        changed.click()
        page.wait_for_url("**/compare?**")
        diff = page.locator("details.diff").first
        assert diff.get_attribute("open") is not None  # a real change opens at once
        assert "aot_forward" in diff.locator("> summary").inner_text()
        assert page.locator("details.diff table.sbs td.ins").count() > 0 or page.locator("pre.semantic").count() > 0
        page.screenshot(path=str(SHOTS / "4-diff.png"))

        page.click("text=" + BISECTED)
        page.wait_for_url("**/case/**")
        timeline = page.locator("#a-aot_forward")
        assert "2 versions" in timeline.inner_text()
        assert "signature" in timeline.locator("ul.changes").inner_text()
        bisect = page.locator("section.bisect").first
        assert "first bad: torch 2.14.1" in bisect.inner_text()
        page.screenshot(path=str(SHOTS / "5-case.png"), full_page=True)

        timeline.locator("ul.changes a", has_text="whole case").first.click()
        page.wait_for_url("**/compare?**")
        assert page.locator("table.cases td.case").all_inner_texts() == [BISECTED]

        page.goto(server.base + "/compare?from=nightly-a&to=nightly-c")
        levels = page.locator("table.cases .badge").all_inner_texts()
        assert "renamed" in levels and "signature" in levels  # layer_norm's backward; the subclass signatures
        page.select_option("select[name=fail_on]", "signature")
        page.click("form.filters button")
        page.wait_for_url("**fail_on=signature**")
        assert "Showing changes at fail-on signature" in page.inner_text("main")
        levels = page.locator("table.cases .badge").all_inner_texts()
        assert "signature" in levels and "renamed" not in levels  # below the filter
        page.click("text=expand all diffs")  # the report's own script runs under the CSP
        assert page.locator("details.diff:not([open])").count() == 0
        page.screenshot(path=str(SHOTS / "6-compare.png"))
    assert errors == []
