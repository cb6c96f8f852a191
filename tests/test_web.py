"""`maquette web` and `maquette serve` without a browser: the folder, its GLB (Khronos
glTF-Validator), its USDZ (usd-core's validators, ARKit/USDZ rules included), the
camera and environment maths, the page-weight budget and the server's rules.

The browser checks are in test_web_browser.py."""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.scene import load_scene, scene_for_asset
from engine.web.camera import adjusted_fov, framed_fov, orbit_of
from engine.web.environment import (
    add_light_disc,
    hdr_bytes,
    page_directions,
    read_hdr,
    stage_environment,
)
from engine.web.page import PageBudgetError, WebOptions, build_site
from engine.web.serve import serve_in_thread

from .conftest import ROOT, SAMPLE_ASSETS

NODE_MODULES = Path(os.environ.get("MAQUETTE_NODE_MODULES")
                    or ROOT / ".venv/node/node_modules").resolve()


def quiet(_msg):
    pass


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The page for a bare asset on the default stage (built once for the module)."""
    out = tmp_path_factory.mktemp("site")
    result = build_site(scene_for_asset(SAMPLE_ASSETS / "robot.glb"), out,
                        WebOptions(poster_long_side=640), log=quiet)
    return out, result


# --- the folder ------------------------------------------------------------------------


def test_site_has_every_file_and_only_local_references(site):
    out, result = site
    for name in ("index.html", "embed.html", "asset.glb", "asset.usdz", "poster.webp",
                 "environment.hdr", "report.json", "vendor/model-viewer.min.js",
                 "vendor/LICENSE-model-viewer"):
        assert (out / name).is_file(), name
    page = (out / "index.html").read_text()
    # every src/href/... the page names is a file of the folder (or a data: URI)
    refs = re.findall(r'(?:src|href|poster|ios-src|environment-image)="([^"]+)"', page)
    assert refs
    for ref in refs:
        assert ref.startswith("data:") or (out / ref).is_file(), ref
    assert "http://" not in page and "https://" not in page
    for attribute in ('tone-mapping="neutral"', 'ar-modes="webxr scene-viewer quick-look"',
                      'ar-placement="floor"', 'ios-src="asset.usdz"', " ar\n",
                      'environment-image="environment.hdr"', "auto-rotate"):
        assert attribute in page, attribute
    report = json.loads((out / "report.json").read_text())
    assert report["files"]["asset.glb"] == (out / "asset.glb").stat().st_size
    assert report["total_bytes"] == sum(p.stat().st_size for p in out.rglob("*")
                                        if p.is_file())
    assert report["triangles"] == 19848 and report["textures"]
    # a generated-size asset stays far under the budget (the issue: under 4 MB)
    assert report["total_bytes"] < 4_000_000
    assert not list(out.rglob("*.partial"))


def test_glb_is_in_metres_in_the_stage_frame_and_passes_gltf_validator(site):
    out, _ = site
    import trimesh

    scene = trimesh.load(out / "asset.glb", force="scene")
    lo, hi = scene.bounds
    assert lo[1] == pytest.approx(0.0, abs=1e-4)  # pivot at the base, on the floor
    from engine.asset.io import load_asset

    size = load_asset(SAMPLE_ASSETS / "robot.glb").bounds
    assert np.allclose(hi - lo, size[1] - size[0], atol=1e-4)  # the file's own metres
    _gltf_validate(out / "asset.glb")


def _gltf_validate(path: Path) -> dict:
    validator = NODE_MODULES / "gltf-validator"
    if not validator.is_dir() or shutil.which("node") is None:
        pytest.skip(f"glTF-Validator not installed at {validator} (make test installs it)")
    script = ("const v = require(process.argv[1]); const fs = require('fs');"
              "v.validateBytes(new Uint8Array(fs.readFileSync(process.argv[2])))"
              ".then(r => console.log(JSON.stringify(r.issues)))"
              ".catch(e => { console.error(e); process.exit(1); });")
    done = subprocess.run(["node", "-e", script, str(validator), str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    issues = json.loads(done.stdout)
    errors = [m for m in issues["messages"] if m["severity"] == 0]
    assert issues["numErrors"] == 0, errors[:5]
    return issues


def usd_errors(path: Path) -> list[str]:
    """Errors from every validator usd-core registers (its USDZ package and ARKit-era
    rules included: usdUtilsValidators:UsdzPackageValidator, RootPackageValidator, ...)."""
    from pxr import Usd, UsdValidation

    registry = UsdValidation.ValidationRegistry()
    context = UsdValidation.ValidationContext(registry.GetOrLoadAllValidators())
    errors = context.Validate(Usd.Stage.Open(str(path)))
    return [f"{e.GetValidator().GetMetadata().name if e.GetValidator() else '?'}: "
            f"{e.GetMessage()}" for e in errors
            if e.GetType() == UsdValidation.ValidationErrorType.Error]


def test_usdz_passes_usd_core_validation_with_usdz_rules(site):
    out, _ = site
    from pxr import UsdValidation

    names = {m.name for m in UsdValidation.ValidationRegistry().GetAllValidatorMetadata()}
    assert "usdUtilsValidators:UsdzPackageValidator" in names
    assert usd_errors(out / "asset.usdz") == []
    from engine.asset.formats.usdz import read_usdz

    figures = read_usdz(out / "asset.usdz")
    assert figures["up"] == "Y" and figures["textured"]
    assert figures["bounds"][0][1] == pytest.approx(0.0, abs=1e-4)


def test_usdz_export_primvar_reader_is_valid(tmp_path):
    """Regression: the primvar reader's varname was a token, which usd-core 26's
    ShaderSdrCompliance reports as an error."""
    from engine.asset.export import export_mesh
    from engine.asset.io import load_asset

    written = export_mesh(load_asset(SAMPLE_ASSETS / "mug.glb").mesh, tmp_path / "m.usdz")
    assert usd_errors(written.path) == []


def test_scene_motion_is_baked_and_page_follows_the_scene(tmp_path):
    scene_file = tmp_path / "s.toml"
    scene_file.write_text(f"""
[asset]
source = "{SAMPLE_ASSETS / 'robot.glb'}"
height = 0.5
[stage]
lights = "rim"
background = "#223344"
exposure = 0.5
shadow = 0.4
[camera]
move = "static"
fov = 40
elevation = 20
azimuth = 30
[[motion]]
type = "spin"
period = 2.0
[output]
aspect = "9:16"
height = 320
duration = 2.0
fps = 10
[web]
title = "Robot <toy>"
[[web.hotspot]]
position = [0.0, 0.4, 0.1]
normal = [0, 0, 1]
label = "Antenna & light"
""")
    result = build_site(load_scene(scene_file), tmp_path / "site",
                        WebOptions(poster_long_side=320), log=quiet)
    page = (tmp_path / "site" / "index.html").read_text()
    assert 'autoplay' in page and 'animation-name="maquette-motion"' in page
    assert "auto-rotate" not in page
    assert 'exposure="1.41421"' in page and 'shadow-intensity="0.4000"' in page
    assert "background: #223344" in page and "aspect-ratio: 180 / 320" in page
    assert "<title>Robot &lt;toy&gt;</title>" in page
    assert ('slot="hotspot-1" data-position="0.00000m 0.40000m 0.10000m" '
            'data-normal="0.00000m 0.00000m 1.00000m">Antenna &amp; light</button>') in page
    camera = result.report["camera"]
    assert camera["theta_deg"] == pytest.approx(30.0, abs=1e-3)
    assert camera["phi_deg"] == pytest.approx(70.0, abs=1e-3)
    assert camera["fov_deg"] == 40.0
    assert result.report["size_m"][1] == pytest.approx(0.5, abs=1e-4)
    from PIL import Image

    assert Image.open(tmp_path / "site" / "poster.webp").size == (180, 320)
    issues = _gltf_validate(tmp_path / "site" / "asset.glb")
    assert issues["numErrors"] == 0
    from engine.web.glb import glb_figures

    figures = glb_figures((tmp_path / "site" / "asset.glb").read_bytes())
    assert figures["animations"][-1] == "maquette-motion"


def test_asset_own_animation_is_kept_and_autoplays(tmp_path):
    from .conftest import SHARED_ASSETS

    sample = SHARED_ASSETS.parent / "gltf-samples" / "RiggedSimple" / "glTF-Binary" / \
        "RiggedSimple.glb"
    if not sample.is_file():
        pytest.skip(f"{sample} is not here (shared/ beside the checkout)")
    result = build_site(scene_for_asset(sample), tmp_path / "site",
                        WebOptions(poster_long_side=64), log=quiet)
    page = (tmp_path / "site" / "index.html").read_text()
    assert result.report["animations"] and not result.report["motion_baked"]
    assert "autoplay" in page
    assert f'animation-name="{result.report["animations"][0]}"' in page
    _gltf_validate(tmp_path / "site" / "asset.glb")


def test_image_source_generates_first(tmp_path):
    """`maquette web IMAGE` goes through the same asset-source resolution as render."""
    image = ROOT / "scenes" / "samples" / "robot-concept.png"
    env = {**os.environ, "MAQUETTE_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "engine.cli", "web", str(image), "-o",
                           str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "within the 10 MB budget" in done.stdout
    report = json.loads((tmp_path / "site" / "report.json").read_text())
    assert report["source"].startswith(str(tmp_path / "cache"))
    assert report["total_bytes"] < 4_000_000  # a generated asset's page (the issue's bar)


def test_budget_refuses_heavy_page_and_writes_nothing(tmp_path):
    scene = scene_for_asset(SAMPLE_ASSETS / "mug.glb")
    out = tmp_path / "site"
    with pytest.raises(PageBudgetError, match=r"over the 1 MB .*--allow-heavy"):
        build_site(scene, out, WebOptions(poster_long_side=64, refuse_bytes=1_000_000),
                   log=quiet)
    assert not out.exists() or not any(out.iterdir())
    result = build_site(scene, out, WebOptions(poster_long_side=64, warn_bytes=1_000_000,
                                               refuse_bytes=1_000_000, allow_heavy=True),
                        log=quiet)
    assert any("over the 1 MB" in w for w in result.warnings)
    result = build_site(scene, out, WebOptions(poster_long_side=64, warn_bytes=1_000_000),
                        log=quiet)
    assert any("weighs" in w for w in result.warnings)


def test_web_refuses_to_write_over_its_input(tmp_path):
    asset = tmp_path / "asset.glb"
    shutil.copy(SAMPLE_ASSETS / "mug.glb", asset)
    from engine.errors import InputError

    with pytest.raises(InputError, match="refusing to write over"):
        build_site(scene_for_asset(asset), tmp_path, WebOptions(poster_long_side=64),
                   log=quiet)
    assert asset.read_bytes() == (SAMPLE_ASSETS / "mug.glb").read_bytes()


@pytest.mark.parametrize("web, message", [
    ({"hotspot": [{"label": "x"}]}, r"\[\[web.hotspot\]\] #1 position: missing required key"),
    ({"hotspot": [{"position": [0, 1], "label": "x"}]}, r"#1 position: expected \[x, y, z\]"),
    ({"hotspot": [{"position": [0, 1, 0], "label": "x", "normal": [0, 0, 0]}]},
     r"#1 normal: expected a non-zero direction"),
    ({"hotspot": [{"position": [0, 1, 0], "lable": "x"}]}, r"did you mean 'label'"),
    ({"titel": "x"}, r"\[web\] titel: unknown key \(did you mean 'title'\?\)"),
])
def test_web_section_errors_name_the_key(web, message):
    from engine.scene import SceneError, scene_from_dict

    doc = {"asset": {"source": str(SAMPLE_ASSETS / "mug.glb")}, "web": web}
    with pytest.raises(SceneError, match=message):
        scene_from_dict(doc, None)


def test_vendored_model_viewer_is_the_npm_release():
    from engine.fileio import file_sha256
    from engine.web.page import VENDOR_DIR, VENDOR_FILES

    readme = (VENDOR_DIR / "README.md").read_text()
    assert file_sha256(VENDOR_DIR / "model-viewer.min.js") in readme
    assert all((VENDOR_DIR / name).is_file() for name in VENDOR_FILES)
    text = (VENDOR_DIR / "model-viewer.min.js").read_text()
    # the only absolute URLs in it are decoder defaults; the page never needs them
    assert "Apache License" in (VENDOR_DIR / "LICENSE-model-viewer").read_text()
    assert "gstatic.com/draco" in text  # (if this changes, re-check the offline claim)


# --- camera and environment maths ------------------------------------------------------


def test_orbit_of_matches_model_viewer_convention():
    theta, phi, radius = orbit_of(np.array([1.0, 1.0, 0.0]), np.zeros(3))
    assert (theta, phi) == pytest.approx((90.0, 45.0)) and radius == pytest.approx(2 ** 0.5)
    theta, phi, _ = orbit_of(np.array([0.0, 0.0, 2.0]), np.zeros(3))
    assert (theta, phi) == pytest.approx((0.0, 90.0))


def test_framed_fov_undoes_model_viewers_widening():
    rng = np.random.default_rng(3)
    wide = rng.uniform(-1, 1, (500, 3)) * [1.0, 0.2, 1.0]  # a flat, wide model
    target = np.zeros(3)
    assert adjusted_fov(wide, target, 30.0, 16 / 9) == pytest.approx(30.0)  # no widening
    assert adjusted_fov(wide, target, 30.0, 9 / 16) > 35.0  # portrait: widened
    attribute = framed_fov(wide, target, 30.0, 9 / 16)
    assert attribute < 30.0
    assert adjusted_fov(wide, target, attribute, 9 / 16) == pytest.approx(30.0, abs=1e-6)


def test_light_disc_carries_the_directional_lights_irradiance():
    d = page_directions(256)
    radiance = np.zeros(d.shape)
    toward = np.array([0.3, 0.8, 0.5]) / np.linalg.norm([0.3, 0.8, 0.5])
    add_light_disc(radiance, d, toward, np.array([2.0, 1.0, 0.5]))
    h, w = d.shape[:2]
    solid = (2 * math.pi / w) * (math.pi / h) * np.sqrt(1 - d[..., 1] ** 2)
    cosine = np.clip(d @ toward, 0, None)
    irradiance = np.einsum("hw,hwc->c", solid * cosine, radiance)
    assert irradiance == pytest.approx([2.0, 1.0, 0.5], rel=0.02)


def test_environment_layout_is_three_js_equirect():
    d = page_directions(64)
    h, w = d.shape[:2]
    assert d[0, 0, 1] > 0.99  # top row looks up
    assert d[h // 2, w // 2] == pytest.approx([1, 0, 0], abs=0.1)  # centre: +X
    assert d[h // 2, 3 * w // 4] == pytest.approx([0, 0, 1], abs=0.1)  # u = 0.75: +Z


def test_hdr_round_trip_and_studio_environment():
    from engine.scene.lighting import PRESETS
    from engine.scene.model import StageSpec

    radiance = stage_environment(StageSpec(), PRESETS["studio"], 0.0, width=128)
    back = read_hdr(hdr_bytes(radiance))
    assert back.shape == radiance.shape
    assert np.allclose(back, radiance, rtol=0.02, atol=1e-4)
    # the key light (upper left in the rig, facing the camera on +Z) is the brightest spot
    y, x = np.unravel_index(np.argmax(radiance.sum(-1)), radiance.shape[:2])
    key = page_directions(128)[y, x]
    assert key[1] > 0.4 and key[0] < 0 and key[2] > 0


def test_scene_hdr_environment_is_resampled(tmp_path):
    from engine.scene.lighting import PRESETS
    from engine.scene.model import StageSpec

    env = ROOT / "scenes" / "environments" / "studio.exr"
    stage = StageSpec(environment=env, environment_intensity=2.0)
    radiance = stage_environment(stage, PRESETS["studio"], 0.0, width=64)
    assert np.all(np.isfinite(radiance)) and radiance.max() > 1.0


# --- the server ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    site = root / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>hi</p>")
    (site / "a.glb").write_bytes(bytes(range(256)) * 4)
    (site / "a.usdz").write_bytes(b"PK\x03\x04usdz")
    (site / "e.hdr").write_bytes(b"#?RADIANCE\n")
    (root / "secret.txt").write_text("secret")
    os.symlink(root / "secret.txt", site / "link.txt")
    server, url = serve_in_thread(site)
    yield server, server.server_address[1]
    server.shutdown()
    server.server_close()


def _raw(port: int, path: str, headers: dict | None = None):
    """A request with the path sent as given (no client-side normalisation)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    return status, fields, body


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt", "/a/../../secret.txt",
                                  "/..%2fsecret.txt", "/link.txt"])
def test_server_refuses_paths_out_of_the_folder(server, path):
    _, port = server
    status, _, body = _raw(port, path)
    assert status == 403 and b"secret" not in body


def test_server_mime_types_and_ranges(server):
    _, port = server
    status, fields, body = _raw(port, "/a.glb")
    assert status == 200 and fields["Content-Type"] == "model/gltf-binary"
    assert fields["Accept-Ranges"] == "bytes" and len(body) == 1024
    assert _raw(port, "/a.usdz")[1]["Content-Type"] == "model/vnd.usdz+zip"
    assert _raw(port, "/e.hdr")[1]["Content-Type"] == "image/vnd.radiance"
    status, fields, body = _raw(port, "/a.glb", {"Range": "bytes=10-19"})
    assert status == 206 and body == bytes(range(10, 20))
    assert fields["Content-Range"] == "bytes 10-19/1024"
    status, _, body = _raw(port, "/a.glb", {"Range": "bytes=-4"})
    assert status == 206 and body == bytes(range(252, 256))
    status, fields, _ = _raw(port, "/a.glb", {"Range": "bytes=5000-"})
    assert status == 416 and fields["Content-Range"] == "bytes */1024"
    status, _, body = _raw(port, "/")
    assert status == 200 and body == b"<p>hi</p>"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("HEAD", "/a.glb")
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Length") == "1024"
    conn.close()


def _serve_cli(folder: Path, *extra: str) -> tuple[str, str]:
    """Start `maquette serve`, read its output up to the "serving" line, stop it;
    (stdout so far, stderr)."""
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", str(folder),
                                "--port", "0", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = ""
    try:
        while "serving" not in line:
            got = process.stdout.readline()
            if not got:
                break
            line += got
    finally:
        process.terminate()
        _, err = process.communicate(timeout=20)
    return line, err


def test_serve_cli_prints_url_and_warns_for_other_interfaces(server, tmp_path):
    line, err = _serve_cli(tmp_path)
    assert re.search(r"at http://127\.0\.0\.1:\d+/", line), line
    assert "warning" not in err
    assert "█" not in line  # no QR code for a loopback address a phone cannot reach
    line, err = _serve_cli(tmp_path, "--host", "0.0.0.0")
    assert "http://" in line and "warning: serving" in err
    assert "█" in line  # the URL as a QR code, for a phone on the same network


# --- Draco compression (--compress draco) ----------------------------------------------


def _draco_primitives(glb: bytes):
    """(original-space points, faces) of every Draco-encoded primitive, decoded."""
    import DracoPy

    from engine.asset.formats.gltf import split_glb
    from engine.web.compress import DRACO

    doc, binary = split_glb(glb)
    out = []
    for mesh in doc["meshes"]:
        for primitive in mesh["primitives"]:
            ext = primitive["extensions"][DRACO]
            view = doc["bufferViews"][ext["bufferView"]]
            start = view.get("byteOffset", 0)
            decoded = DracoPy.decode(binary[start:start + view["byteLength"]])
            assert len(decoded.points) == doc["accessors"][
                primitive["attributes"]["POSITION"]]["count"]
            out.append((np.asarray(decoded.points), np.asarray(decoded.faces)))
    return doc, out


def test_draco_glb_keeps_the_geometry_within_quantisation_and_validates(tmp_path):
    from scipy.spatial import cKDTree

    from engine.asset.formats.gltf import split_glb
    from engine.web.compress import POSITION_BITS, draco_glb

    source = (SAMPLE_ASSETS / "robot.glb").read_bytes()
    done = draco_glb(source)
    assert done.compressed == 10 and done.skipped == []
    assert done.bytes_after < 0.3 * done.bytes_before
    out = tmp_path / "draco.glb"
    out.write_bytes(done.glb)
    issues = _gltf_validate(out)
    assert issues["numErrors"] == 0
    doc, decoded = _draco_primitives(done.glb)
    assert doc["extensionsRequired"] == ["KHR_draco_mesh_compression"]
    # images kept byte for byte; no uncompressed vertex data left in the BIN chunk
    src_doc, src_bin = split_glb(source)
    _, binary = split_glb(done.glb)

    def image_bytes(d, b):
        views = [d["bufferViews"][i["bufferView"]] for i in d["images"]]
        return sorted(b[v.get("byteOffset", 0):v.get("byteOffset", 0) + v["byteLength"]]
                      for v in views)

    assert image_bytes(doc, binary) == image_bytes(src_doc, src_bin)
    draco_views = sum(doc["bufferViews"][p["extensions"]["KHR_draco_mesh_compression"]
                                         ["bufferView"]]["byteLength"]
                      for m in doc["meshes"] for p in m["primitives"])
    assert len(binary) <= sum(map(len, image_bytes(doc, binary))) + draco_views + 64
    from engine.asset.io import load_asset

    original = load_asset(SAMPLE_ASSETS / "robot.glb").mesh
    points = np.concatenate([p for p, _ in decoded])
    extent = np.ptp(original.vertices, axis=0).max()
    # every decoded point lies on an original vertex within a quantisation step (the
    # primitives' own extents are smaller than the asset's, so this bound is loose)
    gap, _ = cKDTree(original.vertices).query(points)
    assert gap.max() <= extent / 2 ** POSITION_BITS * 2
    assert sum(len(f) for _, f in decoded) == len(original.faces)


def test_draco_leaves_morph_targets_and_says_so():
    from engine.asset.formats.gltf import join_glb, split_glb
    from engine.web.compress import draco_glb

    doc, binary = split_glb((SAMPLE_ASSETS / "robot.glb").read_bytes())
    first = doc["meshes"][0]["primitives"][0]
    first["targets"] = [{"POSITION": first["attributes"]["POSITION"]}]
    done = draco_glb(join_glb(doc, binary))
    assert done.compressed == 9
    assert done.skipped == ["meshes[0].primitives[0]: has morph targets (Draco reorders "
                            "vertices)"]
    out_doc, _ = split_glb(done.glb)
    kept = out_doc["meshes"][0]["primitives"][0]
    assert "extensions" not in kept and "bufferView" in out_doc["accessors"][
        kept["targets"][0]["POSITION"]]


def test_web_compress_draco_ships_the_decoder_and_says_so(tmp_path):
    from engine.web.compress import DECODER_FILES

    plain = tmp_path / "plain"
    build_site(scene_for_asset(SAMPLE_ASSETS / "robot.glb"), plain,
               WebOptions(poster_long_side=320), log=quiet)
    assert not any((plain / "vendor" / f).exists() for f in DECODER_FILES)
    assert "dracoDecoderLocation" not in (plain / "index.html").read_text()
    squeezed = tmp_path / "draco"
    result = build_site(scene_for_asset(SAMPLE_ASSETS / "robot.glb"), squeezed,
                        WebOptions(poster_long_side=320, compress="draco"), log=quiet)
    assert all((squeezed / "vendor" / f).is_file() for f in DECODER_FILES)
    for page in ("index.html", "embed.html"):
        text = (squeezed / page).read_text()
        assert text.index("dracoDecoderLocation: 'vendor/'") < text.index("model-viewer.min.js")
    report = result.report["compression"]
    assert report["geometry"] == "draco" and report["parts_compressed"] == 10
    assert (squeezed / "asset.glb").stat().st_size == report["glb_bytes_after"]
    assert (squeezed / "asset.glb").stat().st_size < 0.3 * (plain / "asset.glb").stat().st_size


def test_vendored_draco_decoder_is_the_npm_release():
    from engine.fileio import file_sha256
    from engine.web.compress import DECODER_FILES
    from engine.web.page import VENDOR_DIR

    readme = (VENDOR_DIR / "README.md").read_text()
    for name in DECODER_FILES[:2]:
        assert file_sha256(VENDOR_DIR / name) in readme
    assert "Apache License" in (VENDOR_DIR / "LICENSE-draco").read_text()


# --- the seen range (issue 13's marks on the page) --------------------------------------


def _marked_box(tmp_path) -> Path:
    """A box GLB whose front (+Z) half is marked seen, its back inferred (_SEEN)."""
    import trimesh

    from engine.asset.seen import set_seen

    box = trimesh.creation.box((0.2, 0.3, 0.2))
    set_seen(box, (box.vertices[:, 2] > 0).astype(np.float32))
    path = tmp_path / "marked.glb"
    box.export(path)
    return path


def _orbit_limits(folder: Path) -> tuple[str, str]:
    text = (folder / "index.html").read_text()
    lo = re.search(r'min-camera-orbit="([^"]+)"', text).group(1)
    hi = re.search(r'max-camera-orbit="([^"]+)"', text).group(1)
    return lo.split()[0], hi.split()[0]


def test_page_keeps_the_camera_where_a_marked_asset_was_seen(tmp_path):
    marked = _marked_box(tmp_path)
    result = build_site(scene_for_asset(marked), tmp_path / "marked",
                        WebOptions(poster_long_side=160), log=quiet)
    assert _orbit_limits(tmp_path / "marked") == ("-60.0000deg", "60.0000deg")
    assert result.report["camera_theta_range_deg"] == [-60.0, 60.0]
    assert "auto-rotate" not in (tmp_path / "marked" / "index.html").read_text()
    # an unmarked asset's page lets the visitor go all the way round
    build_site(scene_for_asset(SAMPLE_ASSETS / "mug.glb"), tmp_path / "plain",
               WebOptions(poster_long_side=160), log=quiet)
    assert _orbit_limits(tmp_path / "plain") == ("auto", "auto")


def test_page_follows_the_scenes_arc_unless_the_asset_turns(tmp_path):
    marked = _marked_box(tmp_path)
    scene = tmp_path / "arc.toml"
    scene.write_text(f'[asset]\nsource = "{marked}"\n[camera]\nmove = "orbit"\n'
                     'arc = [-30, 45]\n')
    build_site(load_scene(scene), tmp_path / "arc", WebOptions(poster_long_side=160),
               log=quiet)
    assert _orbit_limits(tmp_path / "arc") == ("-30.0000deg", "45.0000deg")
    # a spinning asset shows every side anyway: no limit that would not hold
    scene.write_text(f'[asset]\nsource = "{marked}"\n[[motion]]\ntype = "spin"\n')
    build_site(load_scene(scene), tmp_path / "spin", WebOptions(poster_long_side=160),
               log=quiet)
    assert _orbit_limits(tmp_path / "spin") == ("auto", "auto")


def test_meshopt_glb_decodes_to_the_same_bytes_and_validates(tmp_path):
    """EXT_meshopt_compression without filters is lossless: every encoded view decodes
    (meshoptimizer's own decoder) to exactly the source's bytes."""
    import meshoptimizer

    from engine.asset.formats.gltf import split_glb
    from engine.web.compress import MESHOPT, meshopt_glb

    source = (SAMPLE_ASSETS / "robot.glb").read_bytes()
    done = meshopt_glb(source)
    assert done.compressed > 0 and done.skipped == []
    assert done.bytes_after < 0.6 * done.bytes_before
    out = tmp_path / "meshopt.glb"
    out.write_bytes(done.glb)
    assert _gltf_validate(out)["numErrors"] == 0
    doc, binary = split_glb(done.glb)
    src_doc, src_bin = split_glb(source)
    assert MESHOPT in doc["extensionsRequired"]
    assert doc["buffers"][1]["extensions"][MESHOPT]["fallback"] is True
    for i, view in enumerate(doc["bufferViews"]):
        old = src_doc["bufferViews"][i]
        raw = src_bin[old.get("byteOffset", 0):old.get("byteOffset", 0) + old["byteLength"]]
        ext = view.get("extensions", {}).get(MESHOPT)
        if ext is None:
            start = view["byteOffset"]
            assert binary[start:start + view["byteLength"]] == raw
            continue
        data = binary[ext["byteOffset"]:ext["byteOffset"] + ext["byteLength"]]
        if ext["mode"] == "ATTRIBUTES":
            # (float32 out: raw bytes either way; the binding's dtype= path under-allocates)
            got = meshoptimizer.decode_vertex_buffer(ext["count"], ext["byteStride"], data)
            assert np.asarray(got).tobytes() == raw[:ext["count"] * ext["byteStride"]], i
        else:  # the index codec may start a triangle at another corner (winding kept)
            kind = np.uint16 if ext["byteStride"] == 2 else np.uint32
            # (the codec does not depend on the index size; the Python binding decodes
            # 4-byte indices right only)
            got = np.asarray(meshoptimizer.decode_index_buffer(
                ext["count"], 4, data)).astype(np.int64).reshape(-1, 3)
            want = np.frombuffer(raw, kind)[:ext["count"]].astype(np.int64).reshape(-1, 3)

            def canonical(tris):
                turns = np.stack([np.roll(tris, -k, axis=1) for k in range(3)])
                first = np.argmin(turns[:, :, 0], axis=0)
                return turns[first, np.arange(len(tris))]

            assert np.array_equal(canonical(got), canonical(want)), i
