"""`maquette web`: a scene (or an asset) to a self-contained model-viewer page.

The folder works from any static host, from `maquette serve` and with no network:

    index.html      the page (model-viewer, poster, AR, download links)
    embed.html      a snippet to paste into an existing page
    asset.glb       the asset in the stage's world frame (Y-up, metres), motion baked
    asset.usdz      the same at rest, for iOS Quick Look (ios-src)
    poster.webp     the stage's own render from the page's initial camera
    environment.hdr the stage's whole light as one equirectangular HDR
    vendor/         model-viewer (vendored, Apache-2.0) and the licences it carries
    report.json     the page-weight report

Nothing is written until every file is made and the page is within its budget;
then all files are moved into place together (engine.fileio.write_files_atomic).
"""

from __future__ import annotations

import html
import json
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.resources import version

VENDOR_DIR = Path(__file__).resolve().parent / "vendor"
VENDOR_FILES = ("model-viewer.min.js", "LICENSE-model-viewer", "LICENSE-three",
                "LICENSE-lit", "README.md")
MODEL_VIEWER_VERSION = "4.4.0"
MB = 1_000_000
WARN_BYTES = 10 * MB  # Google Merchant Center recommends at most 10 MB per 3D model
REFUSE_BYTES = 15 * MB  # and caps 3D models at 15 MB
POSTER_LONG_SIDE = 1280


class PageBudgetError(ValueError):
    """The page is heavier than the refuse budget (and the caller did not allow it)."""


@dataclass
class WebOptions:
    title: str | None = None  # the page's title (default: the asset's name)
    allow_heavy: bool = False  # write a page over REFUSE_BYTES anyway (with a warning)
    poster_long_side: int = POSTER_LONG_SIDE  # pixels
    warn_bytes: int = WARN_BYTES
    refuse_bytes: int = REFUSE_BYTES
    compress: str = "none"  # geometry: "none", "draco" or "meshopt" (engine/web/compress.py)


#: `--compress` choices: geometry compression of the page's GLB.
COMPRESS = ("none", "draco", "meshopt")
#: Set before model-viewer loads: its Draco decoder comes from the page's vendor/ folder,
#: not from Google's CDN.
DRACO_CONFIG = ("<script>self.ModelViewerElement = Object.assign("
                "self.ModelViewerElement || {}, {dracoDecoderLocation: 'vendor/'});</script>\n")
#: ... and its bundled meshopt decoder is switched on by naming a (here empty) script.
MESHOPT_SCRIPT = "meshopt-enable.js"
MESHOPT_CONFIG = ("<script>self.ModelViewerElement = Object.assign("
                  "self.ModelViewerElement || {}, {meshoptDecoderLocation: "
                  f"'vendor/{MESHOPT_SCRIPT}'}});</script>\n")


@dataclass
class WebResult:
    folder: Path
    files: dict[str, int]  # name -> bytes
    report: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(self.files.values())


def _size_for(aspect: float, long_side: int) -> tuple[int, int]:
    """Even (width, height) at `aspect` with the longer side `long_side` pixels."""
    if aspect >= 1:
        w, h = long_side, long_side / aspect
    else:
        w, h = long_side * aspect, long_side
    return max(2, int(round(w / 2)) * 2), max(2, int(round(h / 2)) * 2)


def _css_colour(rgb) -> str:
    return "#" + "".join(f"{int(round(float(c) * 255)):02x}" for c in rgb)


def background_css(background) -> str:
    """CSS for the element's background: the stage composites its gradient in linear
    light, so the gradient is interpolated in srgb-linear where the browser can."""
    if background.transparent:
        return "background: transparent;"
    top, bottom = _css_colour(background.top), _css_colour(background.bottom)
    if top == bottom:
        return f"background: {top};"
    return (f"background: linear-gradient({top}, {bottom}); "
            f"background: linear-gradient(in srgb-linear, {top}, {bottom});")


def _attributes(attrs: dict[str, str | None]) -> str:
    parts = []
    for key, value in attrs.items():
        parts.append(key if value is None else f'{key}="{html.escape(str(value))}"')
    return "\n    ".join(parts)


def viewer_attributes(camera, look: dict, motion: dict, files: dict[str, str],
                      alt: str, theta_range: tuple[float, float] | None = None
                      ) -> dict[str, str | None]:
    """The <model-viewer> attributes, in a stable order. `theta_range`: the azimuths
    (degrees, model-viewer's theta) the visitor may turn the camera between, or None."""
    lo, hi = (f"{t:.4f}deg" for t in theta_range) if theta_range else ("auto", "auto")
    attrs: dict[str, str | None] = {
        "src": files["glb"], "ios-src": files["usdz"], "poster": files["poster"],
        "alt": alt, "loading": "eager", "reveal": "auto",
        **camera.attributes(),
        # the scene's camera must not be clamped by model-viewer's automatic limits
        "min-camera-orbit": f"{lo} auto {min(camera.radius * 0.25, camera.radius):.5f}m",
        "max-camera-orbit": f"{hi} auto {camera.radius * 4.0:.5f}m",
        "min-field-of-view": f"{min(10.0, camera.framed_fov):.4f}deg",
        "max-field-of-view": f"{max(90.0, camera.framed_fov):.4f}deg",
        "environment-image": files["environment"],
        "exposure": f"{look['exposure']:.5f}",
        "shadow-intensity": f"{look['shadow_intensity']:.4f}",
        "shadow-softness": f"{look['shadow_softness']:.4f}",
        "tone-mapping": look.get("tone_mapping", "neutral"),
        "camera-controls": None, "touch-action": "pan-y", "interaction-prompt": "none",
        "ar": None, "ar-modes": "webxr scene-viewer quick-look", "ar-placement": "floor",
        "ar-scale": "fixed",
    }
    if motion.get("auto_rotate"):
        attrs["auto-rotate"] = None
        attrs["auto-rotate-delay"] = "0"
        attrs["rotation-per-second"] = f"{motion['rotation_per_second']:.4f}deg"
    if motion.get("animation"):
        attrs["autoplay"] = None
        attrs["animation-name"] = motion["animation"]
    return attrs


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Maquette {version}">
<title>{title}</title>
<link rel="icon" href="data:,">
{decoder_config}<script type="module" src="vendor/model-viewer.min.js"></script>
<style>
  html, body {{ margin: 0; height: 100%; background: {page_background}; color: #d8d9de;
               font: 15px/1.4 system-ui, sans-serif; }}
  main {{ display: flex; flex-direction: column; align-items: center; }}
  model-viewer {{ width: min(100vw, calc(100vh * {aspect_css})); height: auto;
                 aspect-ratio: {aspect_css};
                 {background} --poster-color: transparent; }}
  model-viewer::part(default-ar-button) {{ bottom: 16px; right: 16px; }}
  .caption {{ padding: 8px 16px; text-align: center; }}
  .caption a {{ color: inherit; }}
  .hotspot {{ background: #fffe; color: #111; border: none; border-radius: 12px;
             padding: 3px 9px; font: 13px system-ui, sans-serif;
             box-shadow: 0 1px 4px #0006; }}
  #no-ar {{ display: none; }}
</style>
</head>
<body>
<main>
<model-viewer id="viewer"
    {attributes}>
{hotspots}</model-viewer>
<p class="caption">{title_html} &middot; {dimensions} &middot;
  <a href="{glb}" download>GLB</a> &middot; <a href="{usdz}" download rel="ar">USDZ</a>
  <span id="no-ar"><br>AR is not available on this device: download the GLB or USDZ
  to place it with another app.</span></p>
</main>
<script type="module">
  const viewer = document.getElementById('viewer');
  viewer.addEventListener('load', () => {{
    if (!viewer.canActivateAR) document.getElementById('no-ar').style.display = 'inline';
  }});
</script>
</body>
</html>
"""

EMBED = """<!-- Maquette {version}: paste into your page. Copy this folder's {glb}, {usdz},
     {poster}, {environment} and vendor/ next to it (or change the paths below). -->
{decoder_config}<script type="module" src="vendor/model-viewer.min.js"></script>
<model-viewer style="width: 100%; height: auto; aspect-ratio: {aspect_css}; {background}"
    {attributes}>
{hotspots}</model-viewer>
"""


def _hotspots_html(hotspots: list) -> str:
    out = []
    for i, spot in enumerate(hotspots):
        px, py, pz = spot.position
        nx, ny, nz = spot.normal
        out.append(f'  <button class="hotspot" slot="hotspot-{i + 1}" '
                   f'data-position="{px:.5f}m {py:.5f}m {pz:.5f}m" '
                   f'data-normal="{nx:.5f}m {ny:.5f}m {nz:.5f}m">'
                   f'{html.escape(spot.label)}</button>\n')
    return "".join(out)


def _poster(scene, width: int, height: int) -> bytes:
    """The stage's frame at t = 0, as WebP (alpha kept for a transparent background)."""
    import io

    from PIL import Image

    from engine.render.stage import Stage

    with Stage(scene, width, height) as stage:
        frame = stage.capture(0.0)
    image = Image.fromarray(frame if scene.stage.background.transparent else frame[..., :3])
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=90, method=4)
    return buffer.getvalue()


def _usdz(mesh, rest: np.ndarray) -> bytes:
    """The asset at rest in the world frame (metres) as USDZ, read back and checked."""
    from engine.asset.export import export_verified

    placed = mesh.copy()
    placed.apply_transform(rest)
    with tempfile.TemporaryDirectory(prefix="maquette-web-") as tmp:
        written, _ = export_verified(placed, Path(tmp) / "asset.usdz", [])
        return written.path.read_bytes()


def _vertices_sample(vertices: np.ndarray, limit: int = 50_000) -> np.ndarray:
    step = max(1, len(vertices) // limit)
    return np.asarray(vertices[::step], dtype=float)


def seen_theta_range(scene, mesh, timeline) -> tuple[float, float] | None:
    """model-viewer theta limits (degrees) for the page: the scene's `[camera] arc` (or
    `range = "seen"`), else the seen arc when the asset carries seen marks (the arc its
    file records, else engine.animation.camera.SEEN_ARC_DEG), around the asset's front
    as the stage places it at rest. None when the asset is unmarked and the scene gives
    no arc, or when the scene's motion turns the asset (the limit would not hold)."""
    from engine.asset.seen import mesh_seen

    rig = timeline.rig
    sweep = rig.sweep_arc()
    if sweep is not None:
        arc = (rig.azimuth + sweep[0], rig.azimuth + sweep[1])
    elif mesh_seen(mesh) is not None:
        arc = rig.seen_azimuths()
    else:
        return None
    if any(p.startswith("rotation") for p in timeline.asset_tracks):
        return None
    rest = timeline.rest[:3, :3]
    front = math.degrees(math.atan2(rest[0, 2], rest[2, 2]))  # where the asset's +Z faces
    return front + arc[0], front + arc[1]


def build_site(scene, out_dir: Path, options: WebOptions | None = None,
               log: Callable[[str], None] = print) -> WebResult:
    """Make the page's files for `scene` (an engine.scene.Scene whose asset is a 3D
    file) and write them into `out_dir`. Raises PageBudgetError above REFUSE_BYTES
    unless options.allow_heavy."""
    from engine.asset.io import load_asset
    from engine.fileio import write_files_atomic
    from engine.scene.lighting import PRESETS
    from engine.scene.timeline import Bounds, Timeline
    from engine.web.camera import page_camera
    from engine.web.environment import hdr_bytes, stage_environment
    from engine.web.glb import glb_figures, page_glb

    options = options or WebOptions()
    out_dir = Path(out_dir)
    warnings: list[str] = []
    asset = load_asset(scene.asset.source)
    warnings += asset.warnings
    bounds = asset.bounds
    timeline = Timeline(scene, Bounds(bounds[0], bounds[1]))
    w, h = scene.output.width, scene.output.height
    aspect = w / h
    name = scene.asset.source.stem
    title = options.title or scene.web.title or name

    log("web: the GLB (motion baked into a glTF animation)" if timeline.asset_tracks
        else "web: the GLB")
    glb, baked = page_glb(scene.asset.source, timeline, scene.output.fps)
    figures = glb_figures(glb)
    compression = None
    if options.compress not in COMPRESS:
        raise ValueError(f"compress: {options.compress!r}; expected one of {', '.join(COMPRESS)}")
    if options.compress != "none":
        from engine.web.compress import draco_glb, meshopt_glb

        log(f"web: {options.compress} geometry compression")
        done = (draco_glb if options.compress == "draco" else meshopt_glb)(glb)
        glb = done.glb
        compression = {"geometry": options.compress if done.compressed else "none",
                       "parts_compressed": done.compressed, "skipped": done.skipped,
                       "glb_bytes_before": done.bytes_before, "glb_bytes_after": done.bytes_after}
        if done.skipped:
            warnings.append(f"{options.compress} left some geometry uncompressed: "
                            + "; ".join(done.skipped))
    # model-viewer bundles the meshopt decoder; Draco's is carried in vendor/
    geometry = compression["geometry"] if compression else "none"
    draco = geometry == "draco"
    log("web: the USDZ for iOS Quick Look")
    usdz = _usdz(asset.mesh, timeline.rest)

    frame = timeline.at(0.0)
    world = (frame.asset_matrix[:3, :3] @ _vertices_sample(asset.mesh.vertices).T).T \
        + frame.asset_matrix[:3, 3]
    camera = page_camera(frame.camera.eye, frame.camera.target, frame.camera.fov, world,
                         aspect)
    preset = PRESETS[scene.stage.lights]
    motion: dict = {}
    if baked:
        motion["animation"] = "maquette-motion"
    elif figures["animations"]:  # the asset's own (skinned, morph, node) animation plays
        motion["animation"] = figures["animations"][0]
    cam = scene.camera
    theta_range = seen_theta_range(scene, asset.mesh, timeline)
    if theta_range is not None:
        # the visitor turns the camera within the arc the image saw (or the scene's arc);
        # a turntable would show the inferred back half of every turn
        if cam.move == "orbit" and cam.turns:
            warnings.append(f"the page keeps the camera within azimuth {theta_range[0]:.0f}° "
                            f"to {theta_range[1]:.0f}° (where the asset was seen) instead of "
                            "turning it: the visitor sweeps it by hand")
    elif cam.move == "orbit" and cam.turns:
        # the stage's camera orbits under a rig that turns with it: on the page the model
        # turns the other way under a fixed environment (model-viewer's yaw is CCW)
        motion["auto_rotate"] = True
        motion["rotation_per_second"] = -360.0 * cam.turns / scene.output.duration
    elif cam.move not in ("static", "orbit"):
        warnings.append(f"the camera's '{cam.move}' move is not carried to the page: it "
                        f"starts where the shot starts and the visitor drives it")
    look = {"exposure": 2.0 ** scene.stage.exposure,
            "shadow_intensity": scene.stage.shadow if scene.stage.ground else 0.0,
            "shadow_softness": float(np.clip(preset.shadow_softness, 0.0, 1.0)),
            # model-viewer's names for the same curves: neutral, aces (three.js's ACES
            # filmic, the fit the stage uses), none
            "tone_mapping": scene.stage.tone_mapping}

    log("web: the environment image")
    offset = frame.camera.eye - frame.camera.target
    rig_azimuth = math.degrees(math.atan2(offset[0], offset[2]))
    environment = hdr_bytes(stage_environment(scene.stage, preset, rig_azimuth))
    pw, ph = _size_for(aspect, options.poster_long_side)
    log(f"web: the poster ({pw}x{ph}, the stage from the page's initial camera)")
    poster = _poster(scene, pw, ph)

    names = {"glb": "asset.glb", "usdz": "asset.usdz", "poster": "poster.webp",
             "environment": "environment.hdr"}
    hotspots = scene.web.hotspots
    attrs = viewer_attributes(camera, look, motion, names, alt=f"3D model of {title}",
                              theta_range=theta_range)
    size = timeline.bounds.size
    dims = " × ".join(f"{x * 100:.1f}" for x in size) + " cm"
    aspect_css = f"{w} / {h}"
    fields = dict(version=version(), title=html.escape(title), title_html=html.escape(title),
                  aspect_css=aspect_css, background=background_css(scene.stage.background),
                  page_background="#111214", attributes=_attributes(attrs),
                  hotspots=_hotspots_html(hotspots), dimensions=dims,
                  decoder_config={"draco": DRACO_CONFIG, "meshopt": MESHOPT_CONFIG}.get(
                      geometry, ""), **names)
    files: dict[str, bytes] = {
        names["glb"]: glb, names["usdz"]: usdz, names["poster"]: poster,
        names["environment"]: environment,
        "index.html": PAGE.format(**fields).encode(),
        "embed.html": EMBED.format(**fields).encode(),
    }
    for vendor in VENDOR_FILES:
        files[f"vendor/{vendor}"] = (VENDOR_DIR / vendor).read_bytes()
    if draco:
        from engine.web.compress import DECODER_FILES

        for vendor in DECODER_FILES:
            files[f"vendor/{vendor}"] = (VENDOR_DIR / vendor).read_bytes()
    if geometry == "meshopt":
        files[f"vendor/{MESHOPT_SCRIPT}"] = (VENDOR_DIR / MESHOPT_SCRIPT).read_bytes()

    report = {
        "maquette": version(), "model_viewer": MODEL_VIEWER_VERSION,
        "source": str(scene.asset.source), "scene": str(scene.path) if scene.path else None,
        "triangles": figures["triangles"], "textures": figures["images"],
        "animations": figures["animations"], "motion_baked": baked,
        "size_m": [float(x) for x in size],
        "camera": {"theta_deg": camera.theta, "phi_deg": camera.phi,
                   "radius_m": camera.radius, "target_m": list(camera.target),
                   "fov_deg": camera.fov, "field_of_view_attribute_deg": camera.framed_fov},
        "look": look, "poster_px": [pw, ph], "compression": compression,
        "camera_theta_range_deg": list(theta_range) if theta_range else None,
        "budget": {"warn_bytes": options.warn_bytes, "refuse_bytes": options.refuse_bytes},
    }
    report_name = "report.json"
    sizes = {k: len(v) for k, v in files.items()}
    total = sum(sizes.values())
    total += len(json.dumps(report)) + 400  # the report itself, roughly, for the check
    if total > options.refuse_bytes:
        message = (f"{out_dir}: the page would weigh {total / MB:.1f} MB, over the "
                   f"{options.refuse_bytes / MB:g} MB that Google Merchant Center accepts for "
                   f"a 3D model (asset.glb {sizes['asset.glb'] / MB:.1f} MB, "
                   f"{figures['triangles']:,} triangles); decimate it with "
                   f"`maquette prep --faces N --texture-size N`, or pass --allow-heavy")
        if not options.allow_heavy:
            raise PageBudgetError(message)
        warnings.append(message)
    elif total > options.warn_bytes:
        warnings.append(f"the page weighs {total / MB:.1f} MB, over the "
                        f"{options.warn_bytes / MB:g} MB "
                        f"Google Merchant Center recommends for a 3D model")
    report["warnings"] = warnings
    sizes[report_name] = 0
    for _ in range(4):  # the report lists its own size: repeat until it holds still
        report["files"] = dict(sorted(sizes.items()))
        report["total_bytes"] = sum(sizes.values())
        files[report_name] = (json.dumps(report, indent=2) + "\n").encode()
        if sizes[report_name] == len(files[report_name]):
            break
        sizes[report_name] = len(files[report_name])

    protect = [scene.asset.source] + ([Path(scene.path)] if scene.path else [])
    if scene.stage.environment is not None:
        protect.append(scene.stage.environment)
    write_files_atomic({out_dir / k: v for k, v in files.items()}, protect)
    return WebResult(folder=out_dir, files=sizes, report=report, warnings=warnings)


def format_report(result: WebResult) -> str:
    """The page-weight report as a table: every file, the total, triangles, textures."""
    width = max(len(name) for name in result.files) + 2
    lines = [f"  {name:<{width}}{size / 1000:>10,.1f} kB"
             for name, size in sorted(result.files.items())]
    total = result.total_bytes
    limits = result.report["budget"]  # the budget this page was built with
    warn, refuse = limits["warn_bytes"] / 1e6, limits["refuse_bytes"] / 1e6
    budget = (f"over the {refuse:g} MB cap" if total > limits["refuse_bytes"] else
              f"over the {warn:g} MB recommendation" if total > limits["warn_bytes"] else
              f"within the {warn:g} MB budget")
    lines.append(f"  {'total':<{width}}{total / 1000:>10,.1f} kB  ({budget})")
    report = result.report
    textures = ", ".join(f"{t['size'][0]}x{t['size'][1]}" if t.get("size") else "?"
                         for t in report["textures"]) or "none"
    lines.append(f"  {report['triangles']:,} triangles; textures: {textures}")
    return "\n".join(lines)
