"""Size and load time of the alignment explorer (reports/alignments.html) in headless chromium.

Without --page it builds the page the report stage would write for `--models` RNNsearch models
on `--sentences` synthetic test sentences of the embedded corpus's lengths (200 per Figure 2
bucket, 1-70 words; hypotheses 15% longer; attention peaked near the diagonal, as a trained
model's), through the same code (rnnsearch.evaluation.explorer), and times that too. With
--page it measures an existing file, e.g. after `make repro`:

    python benchmarks/explorer_size.py                                  # synthetic, 1,400
    python benchmarks/explorer_size.py --page reports/alignments.html   # the demo's own

Prints one JSON line: bytes (and gzip bytes), build seconds (synthetic only), and the median
over --repeats page loads of the navigation's load event (HTML parsed, data read and sentence
list drawn) and of drawing the longest sentence's heat map after a click. Needs selenium,
chromium and chromedriver (Debian: apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from rnnsearch.evaluation import explorer
from rnnsearch.evaluation.alignment import save_examples
from rnnsearch.heatmap import AlignmentExample
from rnnsearch.io_utils import atomic_write_lines

EDGES = [10, 20, 30, 40, 50, 60]  # conf/eval/sacrebleu.yaml's Figure 2 buckets


def synthetic_lengths(n: int, rng: np.random.Generator) -> list[int]:
    """n source lengths, an equal share in each bucket 0-9 ... 60+ (60+: 60-70 words)."""
    lows, highs = [1, *EDGES], [*(e - 1 for e in EDGES), 70]
    return [int(rng.integers(lows[k % 7], highs[k % 7] + 1)) for k in range(n)]


def diagonal_alpha(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """alpha (T, S): each row a softmax peaked near the diagonal, with some jitter."""
    centre = np.arange(rows)[:, None] * cols / rows + rng.normal(0, 0.7, (rows, 1))  # (T, 1)
    energy = -((np.arange(cols)[None, :] - centre) ** 2) / 1.5  # (T, S)
    alpha = np.exp(energy - energy.max(axis=1, keepdims=True))
    return alpha / alpha.sum(axis=1, keepdims=True)


def synthetic_page(n: int, n_models: int, out: Path, seed: int = 0) -> float:
    """Write the page for synthetic outputs to `out`; return the build seconds."""
    rng = np.random.default_rng(seed)
    lexicon = ["".join(rng.choice(list("abcdeéfghilmnoprstuv"), int(rng.integers(2, 10))))
               for _ in range(800)]
    src_len = synthetic_lengths(n, rng)
    src = [" ".join(rng.choice(lexicon, k)) for k in src_len]
    ref = [" ".join(rng.choice(lexicon, int(round(k * 1.15)))) for k in src_len]
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared"
        for name, lines in (("test.en.tok", src), ("test.fr.tok", ref), ("test.fr.raw", ref)):
            atomic_write_lines(prepared / name, lines)
        dirs = []
        for m in range(n_models):
            trans = Path(tmp) / f"model{m}"
            hyp = [" ".join(w if rng.random() < 0.6 else rng.choice(lexicon)
                            for w in r.split()) for r in ref]
            atomic_write_lines(trans / "test.hyp.tok", hyp)
            atomic_write_lines(trans / "test.hyp.detok", hyp)
            save_examples(trans / explorer.FULL_ATTENTION, [
                AlignmentExample(i, s.split(), h.split(),
                                 diagonal_alpha(len(h.split()) + 1, len(s.split()) + 1, rng))
                for i, (s, h) in enumerate(zip(src, hyp, strict=True))])
            dirs.append(trans)
        start = time.perf_counter()
        text = explorer.read_test_text(prepared, "en", "fr")
        names, buckets = explorer.bucket_labels(src_len, EDGES, 10)
        models = [explorer.model_entry(f"RNNsearch-{m}", d, text) for m, d in enumerate(dirs)]
        data = explorer.page_data(explorer.sentence_entries(text, buckets), models, names)
        out.write_text(explorer.render_page(data), "utf-8")
        return time.perf_counter() - start


def browser() -> object:
    """Headless chromium as the browser test starts it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    profile = tempfile.mkdtemp(prefix="explorer-bench-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1400,900",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


CLICK_LONGEST = """
const rows = Array.from(document.querySelectorAll('#list tbody tr'));
const longest = rows.reduce((a, b) => a.cells[3].textContent.length >=
                                      b.cells[3].textContent.length ? a : b);
const t0 = performance.now();
longest.click();
const h = document.getElementById('heatmap');
void h.offsetHeight;  // include layout
return [performance.now() - t0, Number(h.dataset.rows), Number(h.dataset.cols)];
"""
LOAD_EVENT = "return performance.getEntriesByType('navigation')[0].loadEventEnd;"


def measure(page: Path, repeats: int) -> dict:
    """Median load and click times (ms) over `repeats` loads of `page`."""
    driver = browser()
    loads, clicks, shape = [], [], None
    try:
        for _ in range(repeats):
            driver.get("about:blank")
            driver.get(page.resolve().as_uri())
            loads.append(float(driver.execute_script(LOAD_EVENT)))
            click_ms, *shape = driver.execute_script(CLICK_LONGEST)
            clicks.append(float(click_ms))
        version = driver.capabilities.get("browserVersion")
    finally:
        driver.quit()
    return {"load_ms": round(statistics.median(loads), 1),
            "click_longest_ms": round(statistics.median(clicks), 1),
            "longest_heatmap": shape, "browser": f"chromium {version}"}


def main() -> None:
    """Parse arguments, build or read the page, measure, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=Path, help="measure this file instead of a synthetic one")
    parser.add_argument("--sentences", type=int, default=1400)
    parser.add_argument("--models", type=int, default=2, help="RNNsearch models on the page")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    record: dict = {"machine": platform.node(), "cpu": platform.processor() or platform.machine()}
    with tempfile.TemporaryDirectory() as tmp:
        page = args.page
        if page is None:
            page = Path(tmp) / "alignments.html"
            record.update(source="synthetic", sentences=args.sentences, models=args.models,
                          build_s=round(synthetic_page(args.sentences, args.models, page), 2))
        else:
            record.update(source=str(page))
        data = page.read_bytes()
        record.update(bytes=len(data), gzip_bytes=len(gzip.compress(data)),
                      **measure(page, args.repeats))
    print(json.dumps(record))


if __name__ == "__main__":
    main()
