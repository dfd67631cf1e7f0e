"""The alignment explorer in a real browser: headless Debian chromium driven by Selenium.

What a reader does on the page: click a sentence (heat map, Figure 3's grey from black at 0 to
white at 1, checked cell by cell), hover a generated word, search (source, reference and
hypothesis), filter by length, switch models, and see a model that kept only Figure 3's
examples (attention.npz) drawn.

Skips without selenium, chromium or chromedriver (`.ci/run` installs them as root). The
screenshot goes to pytest's tmp_path, never into the repository.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
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


def _open(browser, tmp_path: Path, prepared: Path, models: list[tuple[str, Path]]) -> None:
    """Render the page of `models` (label, translation dir) on the test set and load it."""
    text = explorer.read_test_text(prepared, "en", "fr")
    names, buckets = explorer.bucket_labels([len(s.split()) for s in text.src_tok], [10], 0)
    page = tmp_path / "alignments.html"
    page.write_text(explorer.render_page(explorer.page_data(
        explorer.sentence_entries(text, buckets),
        [explorer.model_entry(label, trans, text) for label, trans in models], names)), "utf-8")
    browser.get(page.as_uri())


def _listed(browser) -> list[tuple[str, str]]:
    """(sentence number, hypothesis) of each listed row."""
    from selenium.webdriver.common.by import By

    rows = browser.find_elements(By.CSS_SELECTOR, "#list tbody tr")
    return [(r.find_elements(By.TAG_NAME, "td")[0].text,
             r.find_elements(By.TAG_NAME, "td")[4].text) for r in rows]


def _grey_levels(browser) -> np.ndarray:
    """The heat map's cell colours as grey levels (T, S); every cell must be grey (r = g = b)."""
    from selenium.webdriver.common.by import By

    levels = []
    for tr in browser.find_elements(By.CSS_SELECTOR, "#heatmap tbody tr"):
        row = []
        for td in tr.find_elements(By.TAG_NAME, "td"):
            rgb = [int(float(c)) for c in re.findall(r"[\d.]+",
                                                     td.value_of_css_property("background-color"))]
            assert rgb[0] == rgb[1] == rgb[2], rgb
            row.append(rgb[0])
        levels.append(row)
    return np.array(levels)


def _expected_grey(alpha: np.ndarray) -> np.ndarray:
    """Figure 3's grey, 0 black to 1 white, of alpha as the page stores it (float32 in the npz,
    then 1/LEVELS steps): round(255 * alpha) per cell (T, S)."""
    stored = np.rint(np.asarray(alpha, np.float32).astype(np.float64) * explorer.LEVELS)
    return np.rint(255 * stored / explorer.LEVELS)


def test_search_covers_source_reference_and_hypothesis(explorer_files, browser,
                                                       tmp_path) -> None:
    from selenium.webdriver.common.by import By

    prepared, trans, _ = explorer_files
    _open(browser, tmp_path, prepared, [("RNNsearch-50", trans)])
    search = browser.find_element(By.ID, "search")
    for query, numbers in (("sat", ["1"]),  # in sentence 1's source only
                           ("ÉTAIT", ["1"]),  # its reference only (and case-blind)
                           ("tapis .", ["4"]),  # sentence 4's hypothesis only
                           ("the", ["1", "4"]), ("nowhere", [])):
        search.clear()
        search.send_keys(query)
        assert [n for n, _ in _listed(browser)] == numbers, query
        assert browser.find_element(By.ID, "count").text == f"{len(numbers)} of 4 sentences"


def test_heat_map_grey_runs_from_black_at_0_to_white_at_1(explorer_files, browser,
                                                          tmp_path) -> None:
    from selenium.webdriver.common.by import By

    from rnnsearch.evaluation.alignment import save_examples
    from rnnsearch.heatmap import AlignmentExample

    prepared, trans, alphas = explorer_files
    alphas[0] = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.2, 0.8]])
    src = explorer.read_test_text(prepared, "en", "fr").src_tok
    hyp = (trans / "test.hyp.tok").read_text("utf-8").splitlines()
    save_examples(trans / "test.attention.npz", [
        AlignmentExample(i, src[i].split(), hyp[i].split(), a) for i, a in alphas.items()])
    _open(browser, tmp_path, prepared, [("RNNsearch-50", trans)])
    rows = browser.find_elements(By.CSS_SELECTOR, "#list tbody tr")
    rows[0].click()
    grey = _grey_levels(browser)
    assert grey[0].tolist() == [255, 0, 0, 0]  # alpha 1: white; alpha 0: black
    for i in (0, 3):
        rows[i].click()
        assert np.array_equal(_grey_levels(browser), _expected_grey(alphas[i])), i


def test_model_selector_switches_models_and_attention_npz_is_drawn(explorer_files, browser,
                                                                   tmp_path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from rnnsearch.evaluation.alignment import save_examples
    from rnnsearch.heatmap import AlignmentExample
    from rnnsearch.io_utils import atomic_write_lines

    prepared, trans, _ = explorer_files
    src = explorer.read_test_text(prepared, "en", "fr").src_tok
    other = tmp_path / "other"  # a second model with Figure 3's examples only (attention.npz)
    hyp = ["un chat assis", "a b c", "x", "sur un tapis"]
    atomic_write_lines(other / "test.hyp.tok", hyp)
    atomic_write_lines(other / "test.hyp.detok", hyp)
    rng = np.random.default_rng(5)
    examples = {i: rng.dirichlet(np.full(len(src[i].split()) + 1, 0.3),
                                 size=len(hyp[i].split()) + 1) for i in (0, 3)}  # (T, S)
    save_examples(other / explorer.EXAMPLE_ATTENTION, [
        AlignmentExample(i, src[i].split(), hyp[i].split(), a) for i, a in examples.items()])
    _open(browser, tmp_path, prepared, [("RNNsearch-50", trans), ("RNNsearch-30", other)])
    first = (trans / "test.hyp.tok").read_text("utf-8").splitlines()
    assert [h for _, h in _listed(browser)] == first
    Select(browser.find_element(By.ID, "model")).select_by_visible_text("RNNsearch-30")
    assert [h for _, h in _listed(browser)] == hyp
    rows = browser.find_elements(By.CSS_SELECTOR, "#list tbody tr")
    for i in (0, 3):  # drawn from attention.npz, at the second model's shape
        rows[i].click()
        assert browser.find_element(By.CSS_SELECTOR, "#detail h2").text.startswith("RNNsearch-30")
        assert np.array_equal(_grey_levels(browser), _expected_grey(examples[i])), i
    rows[1].click()  # not one of the examples: a note, no heat map
    assert not browser.find_elements(By.ID, "heatmap")
    Select(browser.find_element(By.ID, "model")).select_by_visible_text("RNNsearch-50")
    assert [h for _, h in _listed(browser)] == first
