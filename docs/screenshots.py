"""Make the screenshots of docs/reports.md from examples/reports, in headless Chromium.

    .venv/bin/python docs/screenshots.py

Runs the example's baseline flow (version 1 as the baseline, version 2 compared with it) in a
temporary copy, then renders (1) the second run's terminal summary, colours included, and (2)
its HTML report with a case and a span opened, as PNG files in docs/images/. Needs Debian's
Chromium (/usr/bin/chromium) and Playwright (the dev extra). Not run in CI: the images are
committed; run it again when the reports change.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ANSI = re.compile(r"\x1b\[([0-9;]*)m")
COLOURS = {"31": "#f87171", "32": "#4ade80", "33": "#facc15", "36": "#22d3ee"}


def run(folder: Path, command: str, **env: str) -> str:
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=folder,
        env={**os.environ, **env, "COLUMNS": "150"},
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout


def terminal_html(text: str) -> str:
    """pytest's coloured output as a dark terminal page (the few SGR codes pytest uses)."""
    out, open_spans = [], 0
    position = 0
    for match in ANSI.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        position = match.end()
        codes = match.group(1).split(";")
        if codes in (["0"], [""]):
            out.append("</span>" * open_spans)
            open_spans = 0
            continue
        style = []
        for code in codes:
            if code == "1":
                style.append("font-weight:bold")
            elif code in COLOURS:
                style.append(f"color:{COLOURS[code]}")
        if style:
            out.append(f'<span style="{";".join(style)}">')
            open_spans += 1
    out.append(html.escape(text[position:]) + "</span>" * open_spans)
    return (
        "<!doctype html><meta charset=utf-8><body style='margin:0;background:#1e1e1e'>"
        "<pre style='margin:0;padding:16px;color:#e5e5e5;font:13px/1.35 DejaVu Sans Mono,"
        "monospace;white-space:pre'>" + "".join(out) + "</pre>"
    )


def main() -> None:
    from playwright.sync_api import sync_playwright

    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp) / "reports"
        shutil.copytree(ROOT / "examples" / "reports", folder)
        pytest = f"{Path(sys.executable).parent}/pytest -p no:cacheprovider"
        run(folder, f"{pytest} --genai-report=main.json")
        text = run(
            folder,
            f"{pytest} --color=yes --genai-baseline=main.json --genai-fail-on-regression "
            "--genai-html=report.html",
            BOT_VERSION="2",
        )
        summary = text[text.index("genai quality") - 34 :]  # from the section's rule line
        page_file = folder / "terminal.html"
        page_file.write_text(terminal_html(summary.replace(str(folder) + "/", "")))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1700, "height": 400})
            page.goto(page_file.as_uri())
            page.locator("pre").screenshot(path=str(IMAGES / "terminal-summary.png"))

            page = browser.new_page(viewport={"width": 1280, "height": 1500})
            page.goto((folder / "report.html").as_uri())
            page.wait_for_selector("body[data-ready='1']")
            page.select_option("#filter-outcome", label=page_option(page, "failed"))
            page.select_option("#filter-scorer", label="equals_expected")
            page.locator("tr.case-row").first.click()
            page.locator(".span-row").nth(1).click()  # the retriever: inputs and outputs
            page.locator("#cases").scroll_into_view_if_needed()
            page.screenshot(path=str(IMAGES / "html-report-cases.png"), full_page=False)
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(IMAGES / "html-report.png"), full_page=False)
            browser.close()
    for name in ("terminal-summary.png", "html-report.png", "html-report-cases.png"):
        print(IMAGES / name)


def page_option(page: Any, wanted: str) -> str:
    """The label of the outcome filter's option for `wanted` (labels may carry counts)."""
    labels = page.locator("#filter-outcome option").all_inner_texts()
    return next(label for label in labels if label.split()[0] == wanted)


if __name__ == "__main__":
    main()
