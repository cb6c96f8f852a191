"""`maquette web` pages in a real browser: Debian's chromium driven by Playwright for
Python (the system browser, `executable_path`), WebGL through SwiftShader, the pages
served by `maquette serve`'s server on 127.0.0.1.

One browser and three pages for the whole module (each load takes ~10 s on 2 cores):
a bare asset on the default stage (orbit -> auto-rotate, shadows), the same with its
geometry Draco-compressed, and a portrait scene whose motion is baked into the GLB.
Skipped where chromium or Playwright is missing (`make test` installs both).
Screenshots are kept under the pytest tmp folder (web-shots/) to look at beside the
posters.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from engine.scene import load_scene, scene_for_asset
from engine.web.page import WebOptions, build_site
from engine.web.serve import serve_in_thread

from .conftest import SAMPLE_ASSETS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--no-sandbox",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-default-apps", "--disable-sync", "--no-first-run",
                 "--disable-domain-reliability", "--metrics-recording-only"]
VIEWPORT = {"width": 960, "height": 720}
LOAD_TIMEOUT_MS = 120_000

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (make test installs it)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


PORTRAIT_SCENE = """
[asset]
source = "{asset}"
height = 0.3
[stage]
lights = "softbox"
background = "#5a2d6e"
ground = false
[camera]
move = "static"
fov = 35
elevation = 12
azimuth = 25
[[motion]]
type = "spin"
period = 3.0
[[motion]]
type = "float"
period = 2.0
[output]
aspect = "9:16"
height = 720
duration = 6.0
[[web.hotspot]]
position = [0.0, 0.12, 0.07]
label = "Control panel"
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Both sites under one loopback server: (base URL, root folder, shots folder)."""
    root = tmp_path_factory.mktemp("web-sites")
    build_site(scene_for_asset(SAMPLE_ASSETS / "robot.glb"), root / "asset",
               WebOptions(poster_long_side=960), log=lambda _m: None)
    scene_file = root / "portrait.toml"
    scene_file.write_text(PORTRAIT_SCENE.format(asset=SAMPLE_ASSETS / "robot.glb"))
    build_site(load_scene(scene_file), root / "portrait", WebOptions(poster_long_side=720),
               log=lambda _m: None)
    build_site(scene_for_asset(SAMPLE_ASSETS / "robot.glb"), root / "draco",
               WebOptions(poster_long_side=960, compress="draco"), log=lambda _m: None)
    build_site(scene_for_asset(SAMPLE_ASSETS / "robot.glb"), root / "meshopt",
               WebOptions(poster_long_side=960, compress="meshopt"), log=lambda _m: None)
    server, url = serve_in_thread(root)
    shots = root / "web-shots"
    shots.mkdir()
    yield url, root, shots
    server.shutdown()
    server.server_close()


class LoadedPage:
    """A page opened in the shared browser, with what it logged and requested."""

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport=VIEWPORT)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.page.wait_for_function(
            "() => { const v = document.getElementById('viewer');"
            " return v && v.loaded && v.modelIsVisible; }", timeout=LOAD_TIMEOUT_MS)
        self.settle()

    def js(self, script: str):
        return self.page.evaluate(script)

    def settle(self, frames: int = 3) -> None:
        """Let model-viewer draw a few frames (and the poster fade out)."""
        self.js(f"""() => new Promise(done => {{ let n = {frames};
            const step = () => (--n > 0 ? requestAnimationFrame(step) : done());
            requestAnimationFrame(step); }})""")
        self.page.wait_for_timeout(600)

    def shot(self, path: Path) -> np.ndarray:
        from PIL import Image

        data = self.page.locator("#viewer").screenshot(path=str(path))
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture(scope="module")
def asset_page(browser, served):
    url, _, _ = served
    page = LoadedPage(browser, url + "asset/")
    yield page
    page.page.close()


@pytest.fixture(scope="module")
def portrait_page(browser, served):
    url, _, _ = served
    page = LoadedPage(browser, url + "portrait/")
    yield page
    page.page.close()


def poster_like(folder: Path, shape) -> np.ndarray:
    from PIL import Image

    image = Image.open(folder / "poster.webp").convert("RGB")
    return np.asarray(image.resize((shape[1], shape[0]), Image.Resampling.LANCZOS))


def silhouette(image: np.ndarray, background, tol: int = 40) -> np.ndarray:
    """(H, W) bool: pixels far from the (solid) background colour."""
    diff = np.abs(image.astype(int) - np.asarray(background, dtype=int)).max(axis=-1)
    return diff > tol


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / max(np.logical_or(a, b).sum(), 1))


def side_by_side(path: Path, *images: np.ndarray) -> None:
    from PIL import Image

    h = max(i.shape[0] for i in images)
    row = np.concatenate([np.pad(i, ((0, h - i.shape[0]), (0, 4), (0, 0))) for i in images], 1)
    Image.fromarray(row.astype(np.uint8)).save(path)


def test_page_loads_from_loopback_with_no_error_and_no_other_host(asset_page):
    assert asset_page.errors == []
    hosts = {urlsplit(u).hostname for u in asset_page.requests
             if urlsplit(u).scheme in ("http", "https", "ws", "wss")}
    assert hosts == {"127.0.0.1"}, asset_page.requests
    fetched = {urlsplit(u).path.rsplit("/", 1)[-1] for u in asset_page.requests}
    assert {"model-viewer.min.js", "asset.glb", "environment.hdr", "poster.webp"} <= fetched


def test_page_camera_is_the_scenes(asset_page, served):
    import json

    _, root, _ = served
    camera = json.loads((root / "asset" / "report.json").read_text())["camera"]
    got = asset_page.js("() => { const v = document.getElementById('viewer');"
                        " const o = v.getCameraOrbit(), t = v.getCameraTarget();"
                        " return [v.getFieldOfView(), o.phi, o.radius, t.x, t.y, t.z]; }")
    assert got[0] == pytest.approx(camera["fov_deg"], abs=0.05)
    assert np.degrees(got[1]) == pytest.approx(camera["phi_deg"], abs=0.05)
    assert got[2] == pytest.approx(camera["radius_m"], rel=1e-3)
    assert got[3:] == pytest.approx(camera["target_m"], abs=1e-4)


def test_auto_rotate_turns(asset_page, served):
    _, _, shots = served
    asset_page.js("() => { document.getElementById('viewer').autoRotate = true; }")
    first = asset_page.shot(shots / "asset-rotate-0.png")
    asset_page.page.wait_for_timeout(1000)
    second = asset_page.shot(shots / "asset-rotate-1.png")
    assert np.abs(first.astype(int) - second.astype(int)).max(axis=-1).mean() > 0.5


def test_live_model_lines_up_with_the_poster(asset_page, served):
    _, root, shots = served
    asset_page.js("() => { const v = document.getElementById('viewer');"
                  " v.autoRotate = false; v.resetTurntableRotation(0); }")
    asset_page.settle()
    shot = asset_page.shot(shots / "asset-live.png")
    poster = poster_like(root / "asset", shot.shape)
    side_by_side(shots / "asset-poster-vs-live.png", poster, shot)
    background = (30, 31, 36)  # the default stage's background, #1e1f24
    live, still = silhouette(shot, background), silhouette(poster, background)
    assert 0.05 < live.mean() < 0.6  # not blank, not all model
    assert shot.std() > 10
    assert iou(live, still) >= 0.85, iou(live, still)


def test_animated_scene_moves_and_starts_on_the_poster(portrait_page, served):
    _, root, shots = served
    assert portrait_page.errors == []
    first = portrait_page.shot(shots / "portrait-0.png")
    portrait_page.page.wait_for_timeout(1000)
    second = portrait_page.shot(shots / "portrait-1.png")
    assert np.abs(first.astype(int) - second.astype(int)).max(axis=-1).mean() > 0.5
    portrait_page.js("() => { const v = document.getElementById('viewer');"
                     " v.pause(); v.currentTime = 0; }")
    portrait_page.settle()
    shot = portrait_page.shot(shots / "portrait-t0.png")
    poster = poster_like(root / "portrait", shot.shape)
    side_by_side(shots / "portrait-poster-vs-live.png", poster, shot)
    assert portrait_page.js("() => document.getElementById('viewer').getFieldOfView()") == \
        pytest.approx(35.0, abs=0.05)  # the portrait element's widening undone
    hotspot = portrait_page.page.locator('[slot="hotspot-1"]')
    assert hotspot.is_visible() and hotspot.inner_text() == "Control panel"
    portrait_page.js("() => { document.querySelector('[slot=\"hotspot-1\"]')"
                     ".style.display = 'none'; }")  # (not part of the silhouette)
    portrait_page.settle(1)
    shot = portrait_page.shot(shots / "portrait-t0.png")
    background = (0x5A, 0x2D, 0x6E)
    value = iou(silhouette(shot, background), silhouette(poster, background))
    assert value >= 0.85, value


@pytest.mark.parametrize("kind", ["draco", "meshopt"])
def test_compressed_page_decodes_offline_and_draws_the_same(browser, served, asset_page,
                                                            kind):
    """`--compress draco|meshopt`: the decoder comes from the page itself (Draco's from
    vendor/, meshopt's inside model-viewer's bundle; no CDN), and the model drawn matches
    the uncompressed page's from the same camera."""
    url, _, shots = served
    page = LoadedPage(browser, url + f"{kind}/")
    try:
        assert page.errors == []
        hosts = {urlsplit(u).hostname for u in page.requests
                 if urlsplit(u).scheme in ("http", "https", "ws", "wss")}
        assert hosts == {"127.0.0.1"}, page.requests
        fetched = {urlsplit(u).path.rsplit("/", 1)[-1] for u in page.requests}
        if kind == "draco":
            assert {"draco_wasm_wrapper.js", "draco_decoder.wasm"} <= fetched
        still = "() => { const v = document.getElementById('viewer');" \
                " v.autoRotate = false; v.resetTurntableRotation(0); }"
        for p in (page, asset_page):
            p.js(still)
            p.settle()
        draco = page.shot(shots / f"{kind}-live.png")
        plain = asset_page.shot(shots / "plain-live.png")
        side_by_side(shots / f"plain-vs-{kind}.png", plain, draco)
        background = (30, 31, 36)
        assert iou(silhouette(draco, background), silhouette(plain, background)) >= 0.97
        assert np.abs(draco.astype(int) - plain.astype(int)).mean() < 3.0
    finally:
        page.page.close()


def test_seen_marked_asset_page_keeps_the_camera_on_its_seen_side(browser, served,
                                                                   tmp_path):
    """model-viewer itself clamps the camera to the seen arc: asked to look from behind,
    it stops at the arc's end."""
    import trimesh

    from engine.asset.seen import set_seen

    url, root, _ = served
    box = trimesh.creation.box((0.2, 0.3, 0.2))
    set_seen(box, (box.vertices[:, 2] > 0).astype(np.float32))
    glb = tmp_path / "marked.glb"
    box.export(glb)
    build_site(scene_for_asset(glb), root / "marked", WebOptions(poster_long_side=320),
               log=lambda _m: None)
    page = LoadedPage(browser, url + "marked/")
    try:
        assert page.errors == []
        theta = page.js("""async () => { const v = document.getElementById('viewer');
            v.cameraOrbit = '170deg 75deg auto'; await v.updateComplete;
            v.jumpCameraToGoal();
            await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
            return v.getCameraOrbit().theta * 180 / Math.PI; }""")
        assert theta == pytest.approx(60.0, abs=0.5)
    finally:
        page.page.close()
