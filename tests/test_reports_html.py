"""The HTML report: self-contained, escapes untrusted text, and its charts render in headless
Chromium (Debian's `chromium`; .ci/run installs it, so CI never skips the browser test)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from agent.reports import html_report
from agent.reports.model import Report
from agent.store.rows import CoverageRow, CoverageState, ScanRow, ScanStatus
from tests.png import read_rgb
from tests.report_data import (
    ACCOUNT,
    EP_UNHEALTHY,
    GLUE_SECRETS,
    NB_ROOT,
    OTHER_REGION,
    REGION,
    T0,
    arn,
    every_status_findings,
    finding,
    muted_findings,
    report,
)

CHARTS = ("chart-posture", "chart-trend-status", "chart-trend-pillar")
FAIL_RGB, PASS_RGB = (0xC6, 0x28, 0x28), (0x2E, 0x7D, 0x32)


def _history() -> list[ScanRow]:
    def scan(i: int, fail: int, passed: int) -> ScanRow:
        return ScanRow(
            id=i, uid=f"{i:08d}-0000-4000-8000-000000000000", started_at=T0 + timedelta(days=i),
            finished_at=T0 + timedelta(days=i, minutes=1), status=ScanStatus.COMPLETE,
            scope={"accounts": [ACCOUNT]}, api_calls=10,
            summary={"status": {"FAIL": fail, "PASS": passed, "UNKNOWN": 1},
                     "by_pillar": {"security": {"FAIL": fail - 1}, "reliability": {"FAIL": 1}}},
            error=None, tool_version="0.1.0",
        )

    failed = ScanRow(id=3, uid="failed00", started_at=T0, finished_at=T0,
                     status=ScanStatus.FAILED, scope={}, api_calls=0, summary={},
                     error="boom", tool_version="0.1.0")
    return [scan(1, 9, 3), scan(2, 6, 6), failed, scan(4, 3, 9)]


def full_report() -> Report:
    coverage = [
        CoverageRow(2, ACCOUNT, REGION, "endpoints", CoverageState.COMPLETE, None),
        CoverageRow(2, ACCOUNT, OTHER_REGION, "endpoints", CoverageState.FAILED,
                    'ListEndpoints: access_denied <b>"x"</b>'),
        CoverageRow(2, ACCOUNT, REGION, "glue_jobs", CoverageState.PARTIAL, "GetJobs: throttled"),
    ]
    extra = [finding(GLUE_SECRETS, "FAIL", arn("job", f"j{i}")) for i in range(3)]
    # The latest scan's failures as the store counts them: one of them muted.
    failing = {4: {"security": (1, 1), "reliability": (1, 0)}}
    return replace(report([*every_status_findings(), *extra, *muted_findings()]),
                   coverage=coverage, history=_history(), failing=failing)


def test_html_escapes_untrusted_text() -> None:
    """Resource names and reasons from an account never become markup or break the script."""
    page = html_report.render(full_report())
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "ep-&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;co" in page
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'title="ListEndpoints: access_denied &lt;b&gt;&#34;x&#34;&lt;/b&gt;"' in page
    data = re.search(r'<script type="application/json" id="mllens-data">(.*?)</script>', page,
                     re.S)
    assert data and "<" not in data.group(1)
    assert page.count("<script") == 2  # the data block and the inline chart script


def test_html_is_self_contained() -> None:
    """No external script, stylesheet, font or image: the report works offline."""
    page = html_report.render(full_report())
    assert not re.search(r"<(script|img|iframe|link)[^>]*\s(src|href)=", page)
    assert "@import" not in page and "url(" not in page
    # Links to the lens practice pages are plain anchors, which load nothing.
    assert re.findall(r'<a href="(https?://[^"]+)"', page)


def test_html_shows_ranked_risks_coverage_and_remediation() -> None:
    """Top risks are ranked by severity then resources; coverage and remediation are shown."""
    rep = full_report()
    ctx = html_report.context(rep)
    order = [(r.check_id, r.severity.value, r.resources) for r in ctx["risks"]]
    assert order[0] == (GLUE_SECRETS, "critical", 3)  # the muted glue job is not ranked
    assert order[1] == (EP_UNHEALTHY, "high", 4)  # an expired mute is open again
    assert [p["scan"] for p in ctx["trend"]] == [1, 2, 4]  # the failed scan has no summary
    assert ctx["trend"][0]["fail_by_pillar"]["security"] == 8
    page = html_report.render(rep)
    assert 'class="cov failed"' in page and 'class="cov partial"' in page
    assert rep.catalog[EP_UNHEALTHY].remediation.split(";")[0] in page
    assert NB_ROOT not in {r.check_id for r in ctx["risks"]}  # resolved: nothing to do


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe:
        return exe
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail("chromium is missing in CI: .ci/run installs Debian's chromium package")
    pytest.skip("chromium not installed (apt-get install chromium); CI installs it")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    exe = _chromium()
    tmp = tmp_path_factory.mktemp("html")
    out = tmp / "report.html"
    html = html_report.render(full_report())
    out.write_text(html, encoding="utf-8")
    # The same page without its chart script: the baseline of what the static HTML paints.
    static, n = re.subn(r"<script>\n.*?</script>", "", html, flags=re.S)
    assert n == 1
    (tmp / "static.html").write_text(static, encoding="utf-8")
    yield exe, out, tmp


def _browser(exe: str, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp / 'profile'}", "--window-size=1200,900"]
    return subprocess.run([exe, *flags, *args], capture_output=True, text=True, timeout=120,
                          check=False)


class _Svg(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, str]] = {}
        self.marks: dict[str, list[dict[str, str]]] = {}
        self.body: dict[str, str] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "body":
            self.body = a
        elif tag == "svg" and a.get("id") in CHARTS:
            self._current = a["id"]
            self.charts[a["id"]] = a
            self.marks[a["id"]] = []
        elif self._current and tag in ("rect", "circle", "polyline"):
            self.marks[self._current].append({"tag": tag, **a})

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._current = None


def test_html_charts_render_in_headless_chromium(page: tuple[str, Path, Path]) -> None:
    """After the script ran, each chart's SVG holds marks with non-zero sizes and was laid out
    with a non-zero box."""
    exe, out, tmp = page
    proc = _browser(exe, tmp, "--dump-dom", out.as_uri())
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = _Svg()
    dom.feed(proc.stdout)
    assert dom.body.get("data-charts") == "ready", "the chart script did not finish"
    for chart in CHARTS:
        attrs = dom.charts[chart]
        w, h = (int(x) for x in attrs["data-rendered"].split("x"))
        assert w > 0 and h > 0, (chart, attrs)
        marks = dom.marks[chart]
        assert int(attrs["data-marks"]) == len(marks) > 0, chart
        for m in marks:
            if m["tag"] == "rect":
                assert float(m["width"]) > 0 and float(m["height"]) > 0, m
            elif m["tag"] == "circle":
                assert float(m["r"]) > 0
    bars = dom.marks["chart-trend-status"]
    assert {m["class"] for m in bars} == {"bar bar-FAIL", "bar bar-MUTED", "bar bar-PASS",
                                          "bar bar-UNKNOWN"}
    posture = {m["class"] for m in dom.marks["chart-posture"]}
    assert {"bar bar-FAIL", "bar bar-MUTED"} <= posture
    assert sum(m["tag"] == "polyline" for m in dom.marks["chart-trend-pillar"]) == 6


def _colour_pixels(path: Path) -> Counter[bytes]:
    width, height, rows = read_rgb(path)
    assert (width, height) == (1200, 900)
    wanted = {bytes(FAIL_RGB), bytes(PASS_RGB)}
    counts: Counter[bytes] = Counter()
    for row in rows:
        counts.update(px for px in (row[i:i + 3] for i in range(0, len(row), 3)) if px in wanted)
    return counts


def test_html_screenshot_shows_chart_colours(page: tuple[str, Path, Path]) -> None:
    """A screenshot of the top of the page has far more FAIL-red and PASS-green pixels than the
    same page without its chart script: the charts were painted, not just built."""
    exe, out, tmp = page
    shots = {}
    for name, html in (("js", out), ("static", tmp / "static.html")):
        shot = tmp / f"{name}.png"
        proc = _browser(exe, tmp, f"--screenshot={shot}", html.as_uri())
        assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
        shots[name] = _colour_pixels(shot)
    for colour in (FAIL_RGB, PASS_RGB):
        painted = shots["js"][bytes(colour)] - shots["static"][bytes(colour)]
        assert painted > 1000, (colour, shots)


def test_html_counts_muted_apart_from_open_and_lists_them() -> None:
    """Failing findings are split into open and muted in the cards, the posture table and
    the trend (from the store's counts where the report has them); muted findings are not
    ranked but listed with the mute's reason, owner and expiry; an expired mute is open."""
    rep = full_report()
    ctx = html_report.context(rep)
    findings = rep.findings
    opened = sum(f.status == "FAIL" and not f.muted for f in findings)
    assert (ctx["totals"]["FAIL"], ctx["totals"]["MUTED"]) == (opened, 1)
    assert ctx["totals"]["UNKNOWN"] == sum(f.status == "UNKNOWN" for f in findings)
    security = next(r for r in ctx["posture"] if r["pillar"] == "security")
    assert security["counts"]["MUTED"] == 1
    ranked = {f.resource_arn for r in ctx["risks"] for f in r.findings}
    assert arn("job", "legacy") not in ranked and arn("endpoint", "ep-lapsed") in ranked
    assert [f.resource_arn for f in ctx["muted_findings"]] == [arn("job", "legacy")]
    by_scan = {p["scan"]: p for p in ctx["trend"]}
    assert (by_scan[4]["status"]["FAIL"], by_scan[4]["status"]["MUTED"]) == (2, 1)
    assert by_scan[4]["fail_by_pillar"]["security"] == 1
    assert (by_scan[2]["status"]["FAIL"], by_scan[2]["status"]["MUTED"]) == (6, 0)
    page = html_report.render(rep)
    muted = page[page.index('<section id="muted">'):page.index('<section id="unknown">')]
    assert muted.count('<tr class="row-muted">') == 1 and "accepted risk" in muted
    assert "data-eng@example.com" in muted and "2027-06-30" in muted
    assert '<div class="n">1</div><div>muted</div>' in page
    assert f'<div class="n">{opened}</div><div>open</div>' in page
    unknown = page[page.index('<section id="unknown">'):]
    assert unknown.count('class="row-muted"') == 1 and 'class="badge-muted"' in unknown


def test_html_without_mutes_has_no_muted_section() -> None:
    """With nothing muted, the report says 0 muted and has no Muted section."""
    page = html_report.render(report(every_status_findings()))
    assert '<div class="n">0</div><div>muted</div>' in page
    assert '<section id="muted">' not in page
