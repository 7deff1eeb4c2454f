"""The page at `/` in a real headless browser (Debian's chromium + chromium-driver,
driven by Selenium): translate, n-best list, the attention heat map and its hover.

Skipped, with the reason, where no browser (or selenium) is installed; `.ci/run`
installs them. `KS2S_SCREENSHOT=PATH.png` (or `=1` for benchmarks/serving_page.png)
keeps the screenshot of the page with its heat map; otherwise it goes to tmp_path.
"""

import os
import re
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
INSTALL = ("install Debian's browser and its driver (sudo apt-get install chromium "
           "chromium-driver) and selenium (pip install 'selenium>=4.20'); .ci/run "
           "does both")


def _missing():
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed"
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver")):
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            return f"no {what} at {path}"
    return None


# Skipped at collection, not in `driver`: pytest builds the session fixtures (the
# trained model, three servers) before a module fixture could skip.
MISSING = _missing()
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(MISSING is not None,
                                 reason=f"no headless browser: {MISSING}; {INSTALL}")]


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--window-size=1100,900", "--lang=en-US",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(argument)
    try:
        browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    except Exception as error:  # noqa: BLE001 - a broken install: say so, skip
        pytest.skip(f"chromium did not start ({type(error).__name__}: "
                    f"{str(error).strip().splitlines()[0][:200]}); {INSTALL}")
    browser.set_page_load_timeout(30)
    yield browser
    browser.quit()


def _screenshot_path(tmp_path):
    wanted = os.environ.get("KS2S_SCREENSHOT", "")
    if not wanted:
        return str(tmp_path / "serving_page.png")
    if wanted.endswith(".png"):
        return wanted
    return os.path.join(ROOT, "benchmarks", "serving_page.png")


def test_page_translates_and_hovers_the_heat_map(driver, keras_server, serving_models,
                                                 tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    model = serving_models["model"]
    texts = ["가나다라마", "사아바"]
    wait = WebDriverWait(driver, 30)
    driver.get(keras_server.url + "/")
    wait.until(ec.text_to_be_present_in_element((By.ID, "model-info"), "hangul"))
    box = driver.find_element(By.ID, "source")
    box.send_keys(texts[0])
    box.send_keys("\n" + texts[1])
    driver.find_element(By.ID, "translate").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".result")) == 2
               and d.find_elements(By.CSS_SELECTOR, ".result .nbest li"))
    results = driver.find_elements(By.CSS_SELECTOR, ".result")
    details = model.translate_full(texts)
    n_best = model.n_best(texts, 5)
    for result, want, hyps in zip(results, details, n_best):
        assert result.find_element(By.CSS_SELECTOR, ".translation").text == want.text
        lines = result.find_elements(By.CSS_SELECTOR, ".nbest li")
        assert len(lines) == len(hyps) == 5
        for line, (text, score) in zip(lines, hyps):
            assert line.find_element(By.CSS_SELECTOR, ".text").text == text
            shown = float(line.find_element(By.CSS_SELECTOR, ".score").text)
            assert shown == pytest.approx(score, abs=1e-3)
        cells = result.find_elements(By.CSS_SELECTOR, "rect.cell")
        assert len(cells) == len(want.tokens) * len(want.source_tokens)
        labels = [t.text for t in result.find_elements(By.CSS_SELECTOR,
                                                       "text.source-token")]
        assert labels == want.source_tokens

    # hover a cell of the first heat map: the tooltip names both tokens and weight
    first, want = results[0], details[0]
    row, column = 1, len(want.source_tokens) - 2
    cell = first.find_element(
        By.CSS_SELECTOR, f'rect.cell[data-row="{row}"][data-column="{column}"]')
    ActionChains(driver).move_to_element(cell).perform()
    tooltip = driver.find_element(By.ID, "tooltip")
    wait.until(lambda d: tooltip.is_displayed())
    text = tooltip.text
    assert f"source: {want.source_tokens[column]}" in text
    assert f"target: {want.tokens[row]}" in text
    weight = float(re.search(r"weight: ([0-9.]+)", text).group(1))
    assert weight == pytest.approx(float(want.attention[row, column]), abs=1.5e-3)
    active = first.find_elements(By.CSS_SELECTOR, "text.active")
    assert sorted(t.text for t in active) == sorted(
        [want.source_tokens[column], want.tokens[row]])

    # a font that covers Hangul is asked for, and nothing is fetched from elsewhere
    family = driver.execute_script("return getComputedStyle(document.body).fontFamily")
    assert "Noto Sans CJK KR" in family and "NanumGothic" in family
    fetched = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert fetched and all(url.startswith(keras_server.url) for url in fetched), fetched
    path = _screenshot_path(tmp_path)
    assert driver.save_screenshot(path)
    assert os.path.getsize(path) > 10_000


def test_page_shows_the_servers_error(driver, keras_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(keras_server.url + "/")
    driver.execute_script("document.getElementById('source').value = arguments[0]",
                          "가" * 1001)
    driver.find_element(By.ID, "translate").click()
    error = driver.find_element(By.ID, "error")
    WebDriverWait(driver, 30).until(lambda d: error.is_displayed())
    assert "has 1001 characters" in error.text and "--max-chars" in error.text
