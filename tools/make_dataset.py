"""Render layered-depth training data for the image → 3D generator with Maquette's stage.

Each sample is one procedural object (tools/procedural/objects.py) seen from one random
view, in the conventions of docs/GENERATOR_INTERFACE.md:

- `rgba`   (N, S, S, 4) uint8: the lit render, straight alpha = coverage (MSAA),
           framed so the silhouette's bounding box is centred and its longer side
           spans 0.85 of the crop (orthographic camera).
- `mask`   (N, S, S) bool: silhouette at pixel centres.
- `front`  (N, S, S) float16: depth of the nearest surface, crop-side units, along
           +z (away from the camera), relative to the plane through the centre of
           the object's 3D bounding box; 0 outside the mask.
- `back`   (N, S, S) float16: depth of the farthest surface, same units.
- `back_rgba` (N, S, S, 4) uint8: the lit render from the opposite side (camera
           at the mirrored eye, looking back along the same line of sight, light
           rig turned with it), mirrored left-right into the front pixel grid.
- `meta`   JSON string per sample (family, azimuth, elevation, lights, ...).

The back depth is the nearest surface seen from the opposite camera: the same
lines of sight, so pixel (r, c) of every target refers to the same ray.

Samples are written as compressed shards `shard_00000.npz` of `--shard-size`
samples; existing shards are skipped (resumable); everything is a function of
`--seed` and the sample index. `--worker k/n` renders every n-th shard;
`--first-shard N` skips training shards 1…N-1 (objects an earlier run trained on).

    python tools/make_dataset.py --out /work/data/ld128 --count 12000 --size 128
    python tools/make_dataset.py --out /tmp/preview --count 8 --size 128 --preview grid.png
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.generate.card import FOREGROUND_RATIO  # noqa: E402  (the contract's framing)
from engine.render.gltf_material import UV_COLUMNS  # noqa: E402
from tools.procedural.objects import (  # noqa: E402
    EXTRA_FAMILIES,
    FAMILIES,
    LOOKS,
    random_object,
)

LIGHTS = {"studio": 0.28, "softbox": 0.24, "sunset": 0.16, "rim": 0.12, "neon": 0.1,
          "night": 0.1}

# The asset's TEXCOORD_0 is the vertex column engine.render.gltf_material.UV_COLUMNS[0]
# (renamed from Panda's texcoord: p3d_MultiTexCoord0 no longer exists and read (0, 0),
# so from 2026-12-03 17:40 to 2026-12-07 every albedo target was its texture's corner
# texel; tests/test_dataset_v3.py now renders a two-colour texture). The procedural
# objects have no texture transforms.
ATTRIBUTE_VERT = f"""#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrix;
in vec4 p3d_Vertex;
in vec4 p3d_Color;
in vec2 {UV_COLUMNS[0]};
out vec3 v_world;
out vec4 v_color;
out vec2 v_texcoord;
void main() {{
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
    v_world = (p3d_ModelMatrix * p3d_Vertex).xyz;
    v_color = p3d_Color;
    v_texcoord = {UV_COLUMNS[0]};
}}
"""
# world position (Panda Z-up, metres) of the surface
POSITION_FRAG = """#version 330
in vec3 v_world;
out vec4 o_color;
void main() {
    o_color = vec4(v_world, 1.0);
}
"""
# unlit base colour, linear RGB: the same product as engine/render/shaders/pbr.frag.glsl
ALBEDO_FRAG = """#version 330
uniform struct p3d_MaterialParameters { vec4 baseColor; } p3d_Material;
uniform vec4 p3d_ColorScale;
uniform sampler2D p3d_TextureModulate;
in vec4 v_color;
in vec2 v_texcoord;
out vec4 o_color;
void main() {
    vec4 c = p3d_Material.baseColor * v_color * p3d_ColorScale
             * texture(p3d_TextureModulate, v_texcoord);
    o_color = vec4(c.rgb, 1.0);
}
"""
ATTRIBUTE_MASK_BIT = 4


def linear_to_srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear RGB in [0, 1] → sRGB uint8 (the tone-mapping pass's encoding, no curve)."""
    c = np.clip(linear, 0.0, 1.0)
    s = np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return np.round(s * 255).astype(np.uint8)


class AttributePass:
    """A non-multisampled float buffer through a camera riding on the stage's camera
    and sharing its lens (so the same film size/offset apply) that records, per pixel,
    the world position (`what="position"`) or the unlit base colour (`what="albedo"`)
    of the nearest surface, or with `farthest=True` of the farthest one (depth test
    reversed, no face culling): the back of every line of sight, for orthographic and
    perspective lenses alike."""

    def __init__(self, stage, what: str, farthest: bool = False):
        from panda3d.core import (
            BitMask32,
            Camera,
            ColorBlendAttrib,
            CullFaceAttrib,
            DepthTestAttrib,
            DepthWriteAttrib,
            FrameBufferProperties,
            GraphicsOutput,
            GraphicsPipe,
            RenderState,
            Shader,
            ShaderAttrib,
            Texture,
            TransparencyAttrib,
            WindowProperties,
        )

        base = stage._graphics
        fb = FrameBufferProperties()
        fb.set_float_color(True)
        fb.set_rgba_bits(32, 32, 32, 32)
        fb.set_depth_bits(24)
        self.buffer = base.graphicsEngine.make_output(
            base.pipe, f"maquette-{what}", -6, fb,
            WindowProperties.size(stage.width, stage.height), GraphicsPipe.BF_refuse_window,
            stage.output.get_gsg(), stage.output,
        )
        if self.buffer is None:
            raise RuntimeError(f"could not create the {what} buffer")
        self.texture = Texture(what)
        self.texture.set_format(Texture.F_rgba32)
        self.texture.set_component_type(Texture.T_float)
        self.buffer.add_render_texture(self.texture, GraphicsOutput.RTM_copy_ram)
        self.buffer.set_clear_color_active(True)
        self.buffer.set_clear_color((0, 0, 0, 0))
        self.buffer.set_clear_depth_active(True)
        self.buffer.set_clear_depth(0.0 if farthest else 1.0)
        cam = Camera(f"{what}-camera", stage.lens)
        cam.set_camera_mask(BitMask32.bit(ATTRIBUTE_MASK_BIT))
        frag = POSITION_FRAG if what == "position" else ALBEDO_FRAG
        shader = Shader.make(Shader.SL_GLSL, ATTRIBUTE_VERT, frag)
        attribs = [ShaderAttrib.make(shader),
                   TransparencyAttrib.make(TransparencyAttrib.M_none),
                   ColorBlendAttrib.make(ColorBlendAttrib.M_none),
                   DepthWriteAttrib.make(DepthWriteAttrib.M_on)]
        if farthest:
            attribs += [DepthTestAttrib.make(DepthTestAttrib.M_greater),
                        CullFaceAttrib.make(CullFaceAttrib.M_cull_none)]
        state = RenderState.make_empty()
        for a in attribs:
            state = state.add_attrib(a, 1000)
        cam.set_initial_state(state)
        self.camera = stage.camera.attach_new_node(cam)
        self.buffer.make_display_region().set_camera(self.camera)
        if stage.ground is not None:
            stage.ground.hide(BitMask32.bit(ATTRIBUTE_MASK_BIT))
        self.width, self.height = stage.width, stage.height

    def set_active(self, active: bool) -> None:
        self.buffer.set_active(active)

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) values and (H, W) coverage, top row first. Positions come back in
        the asset's frame (Y-up: x, z, −y of Panda's), base colour as linear RGB."""
        data = self.texture.get_ram_image()
        arr = np.frombuffer(bytes(data), dtype=np.float32).reshape(self.height, self.width, 4)
        arr = arr[::-1]
        b, g, r, a = arr[..., 0], arr[..., 1], arr[..., 2], arr[..., 3]
        if self.texture.get_name() == "position":
            values = np.stack([r, b, -g], axis=-1)  # Panda Z-up (x, y, z) -> Y-up (x, z, -y)
        else:
            values = np.stack([r, g, b], axis=-1)
        return values, a > 0.5

    def close(self, stage) -> None:
        stage._graphics.graphicsEngine.remove_window(self.buffer)
        self.camera.remove_node()


def _weighted_choice(rng: np.random.Generator, table: dict[str, float]) -> str:
    names = list(table)
    p = np.array([table[n] for n in names])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _basis(eye: np.ndarray, target: np.ndarray, up: np.ndarray):
    d = target - eye
    d = d / np.linalg.norm(d)
    right = np.cross(d, up)
    right /= np.linalg.norm(right)
    u = np.cross(right, d)
    return d, right, u


def _scene_vertices(scene) -> np.ndarray:
    import trimesh

    if isinstance(scene, trimesh.Trimesh):
        return np.asarray(scene.vertices)
    return np.asarray(scene.to_geometry().vertices) if hasattr(scene, "to_geometry") else \
        np.asarray(scene.dump(concatenate=True).vertices)


def _tangent_coords(vertices: np.ndarray, eye: np.ndarray, d, right, up):
    """Perspective image-plane coordinates (x/z, y/z at focal length 1) of vertices."""
    rel = vertices - eye
    z = np.maximum(rel @ d, 1e-6)
    return (rel @ right) / z, (rel @ up) / z


class Renderer:
    """Renders views of one object: the lit front, the unlit base colour (albedo) of the
    front and of the back, front and back depth, and (`lit_back`, orthographic only) the
    lit render from the mirrored eye."""

    SHADOW_MAP_SIZE = 1024  # plenty for a 128-256 px crop; faster on llvmpipe

    def __init__(self, size: int, msaa: int = 4, lit_back: bool = True):
        self.size = size
        self.msaa = msaa
        self.lit_back = lit_back

    def render_object(self, glb: str, vertices: np.ndarray, views: list[dict]) -> list[dict]:
        from engine.animation import CameraRig
        from engine.render.stage import Stage
        from engine.scene import scene_from_dict

        # the stage's light preset and lens are fixed per Stage: group views by them
        by_stage: dict[tuple, list[int]] = {}
        for i, v in enumerate(views):
            key = (v["lights"], v["exposure"], v.get("fov", 0.0) > 0)
            by_stage.setdefault(key, []).append(i)
        out: dict[int, dict] = {}
        for (lights, exposure, perspective), idx in by_stage.items():
            if perspective and self.lit_back:
                raise ValueError("the lit back (mirrored eye) needs an orthographic view")
            scene = scene_from_dict({
                "asset": {"source": glb},
                "stage": {"lights": lights, "background": "transparent", "ground": False,
                          "exposure": exposure},
                "camera": {"move": "static", "azimuth": 0.0, "elevation": 10.0,
                           "distance": 3.0},
                "output": {"height": self.size, "aspect": "1:1", "msaa": self.msaa,
                           "file": "unused.mov"},
            }, None)
            stage = Stage(scene, self.size, self.size, msaa=self.msaa,
                          orthographic=None if perspective else 1.0,
                          shadow_map_size=self.SHADOW_MAP_SIZE)
            passes = {"front_pos": AttributePass(stage, "position"),
                      "front_albedo": AttributePass(stage, "albedo"),
                      "back_pos": AttributePass(stage, "position", farthest=True),
                      "back_albedo": AttributePass(stage, "albedo", farthest=True)}
            try:
                rest = stage.timeline.rest
                world = (rest[:3, :3] @ vertices.T).T + rest[:3, 3]
                centre = stage.timeline.bounds.center
                for i in idx:
                    out[i] = self._view(stage, passes, world, centre, views[i], CameraRig)
            finally:
                for p in passes.values():
                    p.close(stage)
                stage.close()
        return [out[i] for i in range(len(views))]

    def _shot(self, stage, rig, offset, side, focal: float | None = None):
        stage.timeline.rig = rig
        stage.set_time(0.0)
        stage.lens.set_film_size(side, side)
        if focal is not None:  # perspective: film in units of the focal length
            stage.lens.set_focal_length(focal)
        stage.lens.set_film_offset(*offset)
        stage.render()
        return stage.read_frame()

    def _view(self, stage, passes, world_vertices, centre, view, CameraRig) -> dict:
        from engine.animation import camera_pose

        az, el = view["azimuth"], view["elevation"]
        fov = float(view.get("fov", 0.0))
        radius = stage.timeline.bounds.radius
        if fov > 0:  # the distance that makes the crop's field of view about `fov`
            want = 2.0 * math.tan(math.radians(fov) / 2)  # crop side / distance
            dist = 2.0 * radius / (FOREGROUND_RATIO * want) + radius
            for _ in range(4):
                rig = CameraRig(move="static", azimuth=az, elevation=el, distance=dist,
                                fov=fov)
                pose = camera_pose(rig, 0.0, 1.0, centre, radius, 1.0)
                d, right, up = _basis(pose.eye, pose.target, pose.up)
                px, py = _tangent_coords(world_vertices, pose.eye, d, right, up)
                extent = max(px.max() - px.min(), py.max() - py.min(), 1e-6)
                dist = max(dist * extent / (FOREGROUND_RATIO * want), 1.05 * radius)
            rig = CameraRig(move="static", azimuth=az, elevation=el, distance=dist, fov=fov)
        else:
            dist = 3.0 * radius + 1.0
            rig = CameraRig(move="static", azimuth=az, elevation=el, distance=dist)
        pose = camera_pose(rig, 0.0, 1.0, centre, radius, 1.0)
        d, right, up = _basis(pose.eye, pose.target, pose.up)
        if fov > 0:
            px, py = _tangent_coords(world_vertices, pose.eye, d, right, up)
        else:
            rel = world_vertices - pose.target
            px, py = rel @ right, rel @ up
        # framing from the projected vertices (exact silhouette bbox)
        cx, cy = 0.5 * (px.min() + px.max()), 0.5 * (py.min() + py.max())
        extent = max(px.max() - px.min(), py.max() - py.min(), 1e-6)
        film = extent / FOREGROUND_RATIO * view.get("zoom", 1.0)
        # crop side in metres at the plane through the box centre (depth unit)
        side = film * float((centre - pose.eye) @ d) if fov > 0 else film

        for p in passes.values():
            p.set_active(True)
        rgba = self._shot(stage, rig, (cx, cy), film, 1.0 if fov > 0 else None)
        got = {k: p.read() for k, p in passes.items()}
        fworld, fmask = got["front_pos"]
        bworld, bmask = got["back_pos"]
        origin = centre  # plane through the 3D bbox centre
        front = ((fworld - origin) @ d) / side
        back = ((bworld - origin) @ d) / side
        mask = fmask & bmask
        front = np.where(mask, front, 0.0)
        back = np.where(mask, np.maximum(back, front), 0.0)
        result = {"rgba": rgba, "mask": fmask, "front": front, "back": back,
                  "front_albedo": linear_to_srgb8(got["front_albedo"][0]),
                  "back_albedo": linear_to_srgb8(got["back_albedo"][0]),
                  "side": float(side), "fov": fov,
                  # the crop's lens (engine.generate.reconstruct.CropLens): crop side over
                  # the eye's distance to the depth origin's plane, and where the optical
                  # axis meets that plane, in crop units (y up)
                  "lens": (float(film), -float(cx / film), -float(cy / film))
                  if fov > 0 else (0.0, 0.0, 0.0),
                  "mask_disagree": int((fmask ^ bmask).sum())}
        if self.lit_back:  # the lit back from the mirrored eye, mirrored into this grid
            for p in passes.values():
                p.set_active(False)
            back_rig = CameraRig(move="static", azimuth=az + 180.0, elevation=-el,
                                 distance=dist)
            result["back_rgba"] = self._shot(stage, back_rig, (-cx, cy), film)[:, ::-1]
        return result


# The "photo" look (issue 20): the views creators bring. Mostly studio light, mostly
# front-facing, near eye level, perspective.
LIGHTS_PHOTO = {"studio": 0.45, "softbox": 0.35, "sunset": 0.07, "rim": 0.07, "neon": 0.03,
                "night": 0.03}
PHOTO_FRONT_SHARE = 0.75   # views within ±40° of the object's front (+Z); the rest anywhere
PHOTO_EYE_LEVEL_SHARE = 0.8  # elevation 0..20°; the rest -5..35°
PHOTO_FOV = (30.0, 50.0)   # vertical field of view of the perspective views, degrees
PHOTO_ORTHO_SHARE = 0.1    # objects seen through an orthographic lens instead


def sample_views(rng: np.random.Generator, n: int, look: str = "v2") -> list[dict]:
    """n views of one object (one light preset, exposure and lens per object).
    look "v2": any azimuth, elevation -10..40°, orthographic, every light preset.
    look "photo": the PHOTO_* shares above."""
    views = []
    if look == "v2":
        lights = _weighted_choice(rng, LIGHTS)
        exposure = float(np.clip(rng.normal(0.0, 0.35), -0.8, 0.8))
        az0 = rng.uniform(0, 360)
        for k in range(n):
            views.append({
                "azimuth": float((az0 + k * 360.0 / n + rng.uniform(-40, 40)) % 360),
                "elevation": float(rng.uniform(-10, 40)),
                "lights": lights,
                "exposure": exposure,
            })
        return views
    lights = _weighted_choice(rng, LIGHTS_PHOTO)
    exposure = float(np.clip(rng.normal(0.0, 0.25), -0.6, 0.6))
    fov = 0.0 if rng.random() < PHOTO_ORTHO_SHARE else float(rng.uniform(*PHOTO_FOV))
    for _ in range(n):
        az = rng.uniform(-40, 40) if rng.random() < PHOTO_FRONT_SHARE else rng.uniform(0, 360)
        el = rng.uniform(0, 20) if rng.random() < PHOTO_EYE_LEVEL_SHARE else \
            rng.uniform(-5, 35)
        views.append({"azimuth": float(az % 360), "elevation": float(el), "lights": lights,
                      "exposure": exposure, "fov": fov})
    return views


TARGETS = ("rgba", "mask", "front", "back", "front_albedo", "back_albedo")


def render_shard(out_dir: Path, shard: int, shard_size: int, views_per_object: int, size: int,
                 seed: int, glb_dir: Path, renderer: Renderer, progress=None,
                 look: str = "v2", family: str | None = None) -> Path:
    from tools.procedural.samples import export_glb

    n_obj = math.ceil(shard_size / views_per_object)
    keys = TARGETS + (("back_rgba",) if renderer.lit_back else ())
    buf: dict[str, list] = {k: [] for k in keys}
    metas = []
    for j in range(n_obj):
        obj_index = shard * n_obj + j
        rng = np.random.default_rng([seed, obj_index])
        family_kind, scene = random_object(rng, look, family)
        glb = str(glb_dir / f"obj_{obj_index}.glb")
        export_glb(scene, glb)
        verts = _scene_vertices(scene)
        views = sample_views(rng, views_per_object, look)
        for v, r in zip(views, renderer.render_object(glb, verts, views), strict=True):
            if len(metas) >= shard_size:
                break
            for k in buf:
                buf[k].append(r[k])
            metas.append(json.dumps({**v, "family": family_kind, "object": obj_index, "look": look,
                                     "side_m": r["side"], "lens": r["lens"],
                                     "mask_disagree": r["mask_disagree"]}))
            if progress is not None:
                progress.update(1)
        os.unlink(glb)
    path = out_dir / f"shard_{shard:05d}.npz"
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".partial.npz")
    os.close(fd)
    kinds = {"mask": bool, "front": np.float16, "back": np.float16}
    np.savez_compressed(
        tmp, meta=np.array(metas),
        **{k: np.stack(buf[k]).astype(kinds.get(k, np.uint8)) for k in keys})
    os.replace(tmp, path)
    return path


def preview_grid(shard_path: Path, png: Path, n: int = 8, stride: int = 1) -> None:
    """PNG grid, one row per `stride`-th sample: input on grey | mask | front depth |
    back depth | front albedo | back albedo | lit back (when the shard has it)."""
    from PIL import Image

    z = np.load(shard_path)
    rows = []
    for i in range(0, min(n * stride, len(z["rgba"])), stride):
        rgba = z["rgba"][i].astype(np.float32) / 255
        a = rgba[..., 3:]
        inp = rgba[..., :3] * a + 0.5 * (1 - a)
        m = z["mask"][i]
        f, b = z["front"][i].astype(np.float32), z["back"][i].astype(np.float32)

        def dep(x, m=m):
            v = np.clip(0.5 + x, 0, 1)  # crop units: -0.5..0.5 -> 0..1
            return np.where(m, v, 0.0)[..., None].repeat(3, -1)

        def on_grey(rgb, m=m):
            return np.where(m[..., None], rgb.astype(np.float32) / 255, 0.5)

        cols = [inp, m[..., None].repeat(3, -1).astype(np.float32), dep(f), dep(b)]
        if "back_albedo" in z.files:
            cols += [on_grey(z["front_albedo"][i]), on_grey(z["back_albedo"][i])]
        if "back_rgba" in z.files:
            brgba = z["back_rgba"][i].astype(np.float32) / 255
            ba = brgba[..., 3:]
            cols.append(brgba[..., :3] * ba + 0.5 * (1 - ba))
        rows.append(np.concatenate(cols, axis=1))
    img = (np.concatenate(rows, 0) * 255).clip(0, 255).astype(np.uint8)
    Image.fromarray(img).save(png)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--count", type=int, default=12000, help="number of samples")
    p.add_argument("--size", type=int, default=128, help="crop side S in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard-size", type=int, default=500)
    p.add_argument("--views", type=int, default=4, help="views per object")
    p.add_argument("--msaa", type=int, default=4)
    p.add_argument("--worker", default="0/1", help="k/n: render shards with index %% n == k")
    p.add_argument("--max-shards", type=int, default=0,
                   help="render at most this many shards, then exit (0 = all); run in a loop "
                        "to recycle the process (Panda3D keeps some memory per object)")
    p.add_argument("--first-shard", type=int, default=1,
                   help="skip training shards below this index (shard 0, validation, is "
                        "always made): new objects for a run that starts from a model "
                        "trained on the lower shards")
    p.add_argument("--look", choices=LOOKS, default="v2",
                   help="v2: the objects, views and lights v2 was trained on (orthographic, "
                        "with the lit back); photo: issue 20's creators' views (mostly "
                        "front-facing, elevation 0-20 deg, perspective 30-50 deg, studio "
                        "light, photographic materials, more thin parts and open frames)")
    p.add_argument("--family", default=None, choices=sorted({*FAMILIES, *EXTRA_FAMILIES}),
                   help="draw only this object family (e.g. product: printed boxes, "
                        "appliances and vans; frame), with the look's views and materials")
    p.add_argument("--preview", type=Path, help="write a PNG grid of the first shard")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)

    from tqdm import tqdm

    k, n = (int(x) for x in args.worker.split("/"))
    args.out.mkdir(parents=True, exist_ok=True)
    n_shards = math.ceil(args.count / args.shard_size)
    todo = [s for s in range(n_shards) if s % n == k and (s == 0 or s >= args.first_shard)
            and not (args.out / f"shard_{s:05d}.npz").exists()]
    if not todo:
        print("nothing to do: all shards exist")
    if args.max_shards:
        todo = todo[: args.max_shards]
    renderer = Renderer(args.size, args.msaa, lit_back=args.look == "v2")
    total = sum(min(args.shard_size, args.count - s * args.shard_size) for s in todo)
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp, tqdm(total=total, unit="sample",
                                                    disable=args.quiet) as bar:
        for s in todo:
            size = min(args.shard_size, args.count - s * args.shard_size)
            render_shard(args.out, s, size, args.views, args.size, args.seed, Path(tmp),
                         renderer, bar, args.look, args.family)
    elapsed = time.time() - start
    info = {"count": args.count, "size": args.size, "seed": args.seed,
            "shard_size": args.shard_size, "views": args.views,
            "foreground_ratio": FOREGROUND_RATIO, "look": args.look,
            **({"family": args.family} if args.family else {})}
    (args.out / "dataset.json").write_text(json.dumps(info, indent=2))
    if total:
        print(f"rendered {total} samples in {elapsed:.1f} s ({total / elapsed:.2f} samples/s)")
    if args.preview:
        preview_grid(args.out / "shard_00000.npz", args.preview, stride=args.views)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
