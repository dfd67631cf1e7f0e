"""The alignment explorer in a real browser: headless Debian chromium driven by Selenium.

Skips without selenium, chromium or chromedriver (`.ci/run` installs them as root). The
screenshot goes to pytest's tmp_path, never into the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rnnsearch.evaluation import explorer

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (BROWSER and DRIVER),
                                reason="no chromium/chromedriver (apt-get install chromium "
                                       "chromium-driver)")


@pytest.fixture
def browser(tmp_path: Path):
    """Headless chromium with a fresh profile, no network services."""
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,900",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_click_shows_heat_map_and_hover_tints_source(explorer_files, browser, tmp_path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    prepared, trans, alphas = explorer_files
    text = explorer.read_test_text(prepared, "en", "fr")
    names, buckets = explorer.bucket_labels([len(s.split()) for s in text.src_tok], [10], 0)
    page = tmp_path / "alignments.html"
    page.write_text(explorer.render_page(explorer.page_data(
        explorer.sentence_entries(text, buckets),
        [explorer.model_entry("RNNsearch-50", trans, text)], names)), "utf-8")
    browser.get(page.as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "#list tbody tr")
    assert len(rows) == 4
    rows[3].click()
    heatmap = browser.find_element(By.ID, "heatmap")
    T, S = alphas[3].shape
    assert (int(heatmap.get_attribute("data-rows")), int(heatmap.get_attribute("data-cols"))) \
        == (T, S)
    body_rows = heatmap.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(body_rows) == T
    assert all(len(r.find_elements(By.TAG_NAME, "td")) == S for r in body_rows)
    assert [th.text for th in heatmap.find_elements(By.CSS_SELECTOR, "thead th.src")] == \
        ["on", "the", "mat", "<end>"]
    ActionChains(browser).move_to_element(body_rows[1].find_element(By.TAG_NAME, "th")).perform()
    tinted = [browser.find_element(By.ID, f"src-{j}").value_of_css_property("background-color")
              for j in range(S - 1)]
    for j, colour in enumerate(tinted):  # tint opacity = alpha_1j as stored (1/35 steps)
        opacity = float(colour.rstrip(")").split(",")[3]) if colour.startswith("rgba") else 1.0
        expected = round(float(alphas[3][1, j]) * explorer.LEVELS) / explorer.LEVELS
        if expected == 0:
            assert opacity == 0.0 or "193" not in colour
        else:
            assert "255, 193, 7" in colour and abs(opacity - expected) < 0.01
    browser.save_screenshot(str(tmp_path / "alignments.png"))
    rows[2].click()  # stored without a matrix: a note instead of a heat map
    assert not browser.find_elements(By.ID, "heatmap")
    browser.find_element(By.ID, "search").send_keys("tapis")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#list tbody tr")) == 1
    browser.find_element(By.ID, "search").clear()
    Select(browser.find_element(By.ID, "bucket")).select_by_value("10+")
    assert browser.find_element(By.ID, "count").text == "1 of 4 sentences"
