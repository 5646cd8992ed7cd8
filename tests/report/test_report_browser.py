"""Render report.html in headless Chromium: the page draws and every embedded image decodes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from system_deps import require_chromium

from genphase.report import FIGURE_SPECS, build_report

pytestmark = pytest.mark.slow

# Test-only probe (the report itself has no scripts): after load, count images that decoded.
PROBE = (
    "<script>window.addEventListener('load', function () {"
    "var imgs = Array.prototype.slice.call(document.images);"
    "document.body.setAttribute('data-images-total', String(imgs.length));"
    "document.body.setAttribute('data-images-loaded', String(imgs.filter(function (i) {"
    "return i.complete && i.naturalWidth > 0; }).length));});</script>"
)


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", "--run-all-compositor-stages-before-draw", "--virtual-time-budget=5000",
        f"--user-data-dir={tmp / 'chromium-profile'}",
    ]
    return subprocess.run([require_chromium(), *flags, *args], capture_output=True, text=True, timeout=60)


def test_report_renders_in_chromium(run_factory, tmp_path: Path) -> None:
    require_chromium()  # skips locally, fails with CI=true
    run = run_factory(modality="image")
    report = build_report(run)

    shot = tmp_path / "shot.png"
    proc = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,3000", report.as_uri())
    assert shot.is_file(), f"no screenshot; chromium said:\n{proc.stderr[-2000:]}"
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1000
    rgb = pixels[..., :3]
    assert float(rgb.std()) > 0.05, "screenshot is blank"
    assert float((rgb.mean(-1) < 0.9).mean()) > 0.02, "screenshot has almost no non-white pixels"

    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    proc = _chromium(tmp_path, "--dump-dom", probed.as_uri())
    dom = proc.stdout
    total = re.search(r'data-images-total="(\d+)"', dom)
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    assert total and loaded, f"probe did not run; stderr:\n{proc.stderr[-2000:]}"
    assert int(total.group(1)) == len(FIGURE_SPECS)
    assert int(loaded.group(1)) == len(FIGURE_SPECS), "some embedded images failed to decode"
    assert np.isfinite(pixels).all()


# Test-only probe: where the verdict and the H-bar figure sit in a 1280 x 800 window, after load.
LAYOUT_PROBE = (
    "<script>window.addEventListener('load', function () {"
    "function box(sel) { var e = document.querySelector(sel); if (!e) { return 'none'; }"
    "var r = e.getBoundingClientRect(); return [r.top, r.bottom, r.left, r.right].map(Math.round).join(','); }"
    "document.body.setAttribute('data-viewport', [window.innerWidth, window.innerHeight].join(','));"
    "document.body.setAttribute('data-verdict', box('#verdict table'));"
    "document.body.setAttribute('data-h-bar', box('#h_bar img'));"
    "document.body.setAttribute('data-config', box('#config'));});</script>"
)


def test_verdict_and_h_bar_figure_are_visible_without_scrolling_at_1280px(run_factory, tmp_path: Path) -> None:
    require_chromium()
    report = build_report(run_factory(modality="tabular"))
    probed = tmp_path / "layout.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", LAYOUT_PROBE + "</body>"), encoding="utf-8")
    proc = _chromium(tmp_path, "--window-size=1280,800", "--dump-dom", probed.as_uri())
    found = {k: re.search(rf'data-{k}="([^"]*)"', proc.stdout) for k in ("viewport", "verdict", "h-bar", "config")}
    assert all(found.values()), f"probe did not run; stderr:\n{proc.stderr[-2000:]}"
    width, height = map(int, found["viewport"].group(1).split(","))
    assert width == 1280 and height > 600, (width, height)
    v_top, v_bottom, _, _ = map(int, found["verdict"].group(1).split(","))
    f_top, f_bottom, f_left, f_right = map(int, found["h-bar"].group(1).split(","))
    c_top = int(found["config"].group(1).split(",")[0])
    assert 0 <= v_top < height, "the verdict starts below the first screen"
    assert 0 <= f_top and f_bottom <= height, f"the H-bar figure is not wholly on the first screen: {f_top}-{f_bottom}"
    assert f_right - f_left > 500, "the H-bar figure is too narrow to read"
    assert c_top > height, "the configuration is on the first screen"
