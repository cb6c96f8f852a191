"""Render layered-depth training data for the image → 3D generator with Maquette's stage.

Each sample is one procedural object (tools/dataset_shapes.py) seen from one random
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

from tools.dataset_shapes import random_object  # noqa: E402

FOREGROUND_RATIO = 0.85
LIGHTS = {"studio": 0.28, "softbox": 0.24, "sunset": 0.16, "rim": 0.12, "neon": 0.1,
          "night": 0.1}

POSITION_VERT = """#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
uniform mat4 p3d_ModelMatrix;
in vec4 p3d_Vertex;
out vec3 v_world;
void main() {
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
    v_world = (p3d_ModelMatrix * p3d_Vertex).xyz;
}
"""
POSITION_FRAG = """#version 330
in vec3 v_world;
out vec4 o_color;
void main() {
    o_color = vec4(v_world, 1.0);
}
"""
POSITION_MASK_BIT = 4


class PositionPass:
    """A non-multisampled float buffer that records the world position (Panda Z-up) of
    the nearest surface per pixel, through a camera riding on the stage's camera and
    sharing its lens (so the same film size/offset apply)."""

    def __init__(self, stage):
        from panda3d.core import (
            BitMask32,
            Camera,
            FrameBufferProperties,
            GraphicsOutput,
            GraphicsPipe,
            NodePath,
            RenderState,
            Shader,
            ShaderAttrib,
            Texture,
            WindowProperties,
        )

        base = stage._base
        fb = FrameBufferProperties()
        fb.set_float_color(True)
        fb.set_rgba_bits(32, 32, 32, 32)
        fb.set_depth_bits(24)
        self.buffer = base.graphicsEngine.make_output(
            base.pipe, "maquette-position", -6, fb,
            WindowProperties.size(stage.width, stage.height), GraphicsPipe.BF_refuse_window,
            stage.output.get_gsg(), stage.output,
        )
        if self.buffer is None:
            raise RuntimeError("could not create the position buffer")
        self.texture = Texture("position")
        self.texture.set_format(Texture.F_rgba32)
        self.texture.set_component_type(Texture.T_float)
        self.buffer.add_render_texture(self.texture, GraphicsOutput.RTM_copy_ram)
        self.buffer.set_clear_color_active(True)
        self.buffer.set_clear_color((0, 0, 0, 0))
        self.buffer.set_clear_depth_active(True)
        cam = Camera("position-camera", stage.lens)
        cam.set_camera_mask(BitMask32.bit(POSITION_MASK_BIT))
        shader = Shader.make(Shader.SL_GLSL, POSITION_VERT, POSITION_FRAG)
        cam.set_initial_state(RenderState.make(ShaderAttrib.make(shader, 1000)))
        self.camera = stage.camera.attach_new_node(cam)
        self.buffer.make_display_region().set_camera(self.camera)
        if stage.ground is not None:
            stage.ground.hide(BitMask32.bit(POSITION_MASK_BIT))
        self.width, self.height = stage.width, stage.height
        self._np = NodePath  # keep import alive

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) world positions (Y-up, metres) and (H, W) coverage, top row first."""
        data = self.texture.get_ram_image()
        arr = np.frombuffer(bytes(data), dtype=np.float32).reshape(self.height, self.width, 4)
        arr = arr[::-1]
        b, g, r, a = arr[..., 0], arr[..., 1], arr[..., 2], arr[..., 3]
        # Panda Z-up (x, y, z) -> Y-up (x, z, -y)
        world = np.stack([r, b, -g], axis=-1)
        return world, a > 0.5

    def close(self, stage) -> None:
        stage._base.graphicsEngine.remove_window(self.buffer)
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


class Renderer:
    """Renders views of one object: lit front/back colour and front/back depth."""

    SHADOW_MAP_SIZE = 1024  # plenty for a 128-256 px crop; faster on llvmpipe

    def __init__(self, size: int, msaa: int = 4):
        self.size = size
        self.msaa = msaa

    def render_object(self, glb: str, vertices: np.ndarray, views: list[dict]) -> list[dict]:
        from engine.animation import CameraRig
        from engine.render.stage import Stage
        from engine.scene import scene_from_dict

        results = []
        # the stage's light preset is fixed per Stage: group views by preset
        by_light: dict[tuple, list[int]] = {}
        for i, v in enumerate(views):
            by_light.setdefault((v["lights"], v["exposure"]), []).append(i)
        out: dict[int, dict] = {}
        for (lights, exposure), idx in by_light.items():
            scene = scene_from_dict({
                "asset": {"source": glb},
                "stage": {"lights": lights, "background": "transparent", "ground": False,
                          "exposure": exposure},
                "camera": {"move": "static", "azimuth": 0.0, "elevation": 10.0,
                           "distance": 3.0},
                "output": {"height": self.size, "aspect": "1:1", "msaa": self.msaa,
                           "file": "unused.mov"},
            }, None)
            import engine.render.stage as stage_mod

            saved = stage_mod.SHADOW_MAP_SIZE
            stage_mod.SHADOW_MAP_SIZE = self.SHADOW_MAP_SIZE
            try:
                stage = Stage(scene, self.size, self.size, msaa=self.msaa, orthographic=1.0)
            finally:
                stage_mod.SHADOW_MAP_SIZE = saved
            pos = PositionPass(stage)
            try:
                rest = stage.timeline.rest
                world = (rest[:3, :3] @ vertices.T).T + rest[:3, 3]
                centre = stage.timeline.bounds.center
                for i in idx:
                    out[i] = self._view(stage, pos, world, centre, views[i], CameraRig)
            finally:
                pos.close(stage)
                stage.close()
        for i in range(len(views)):
            results.append(out[i])
        return results

    def _shot(self, stage, pos, rig, offset, side):
        stage.timeline.rig = rig
        stage.set_time(0.0)
        stage.lens.set_film_size(side, side)
        stage.lens.set_film_offset(*offset)
        stage.render()
        rgba = stage.read_frame()
        world, cover = pos.read()
        cam = stage.current.camera
        return rgba, world, cover, cam

    def _view(self, stage, pos, world_vertices, centre, view, CameraRig) -> dict:
        az, el = view["azimuth"], view["elevation"]
        dist = 3.0 * stage.timeline.bounds.radius + 1.0
        front_rig = CameraRig(move="static", azimuth=az, elevation=el, distance=dist)
        back_rig = CameraRig(move="static", azimuth=az + 180.0, elevation=-el, distance=dist)
        # framing from the projected vertices (exact silhouette bbox)
        from engine.animation import camera_pose

        pose = camera_pose(front_rig, 0.0, 1.0, centre, stage.timeline.bounds.radius, 1.0)
        d, right, up = _basis(pose.eye, pose.target, pose.up)
        rel = world_vertices - pose.target
        px, py = rel @ right, rel @ up
        cx, cy = 0.5 * (px.min() + px.max()), 0.5 * (py.min() + py.max())
        extent = max(px.max() - px.min(), py.max() - py.min(), 1e-6)
        side = extent / FOREGROUND_RATIO * view.get("zoom", 1.0)

        rgba, fworld, fmask, cam = self._shot(stage, pos, front_rig, (cx, cy), side)
        brgba, bworld, bmask, _ = self._shot(stage, pos, back_rig, (-cx, cy), side)
        brgba, bworld, bmask = brgba[:, ::-1], bworld[:, ::-1], bmask[:, ::-1]
        origin = centre  # plane through the 3D bbox centre
        front = ((fworld - origin) @ d) / side
        back = ((bworld - origin) @ d) / side
        mask = fmask & bmask
        front = np.where(mask, front, 0.0)
        back = np.where(mask, np.maximum(back, front), 0.0)
        return {"rgba": rgba, "back_rgba": brgba, "mask": fmask, "front": front,
                "back": back, "side": float(side),
                "mask_disagree": int((fmask ^ bmask).sum())}


def sample_views(rng: np.random.Generator, n: int) -> list[dict]:
    views = []
    lights = _weighted_choice(rng, LIGHTS)  # one preset per object (one Stage)
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


def render_shard(out_dir: Path, shard: int, shard_size: int, views_per_object: int, size: int,
                 seed: int, glb_dir: Path, renderer: Renderer, progress=None) -> Path:
    from engine.asset.procedural import export_glb

    n_obj = math.ceil(shard_size / views_per_object)
    buf: dict[str, list] = {k: [] for k in ("rgba", "back_rgba", "mask", "front", "back")}
    metas = []
    for j in range(n_obj):
        obj_index = shard * n_obj + j
        rng = np.random.default_rng([seed, obj_index])
        family, scene = random_object(rng)
        glb = str(glb_dir / f"obj_{obj_index}.glb")
        export_glb(scene, glb)
        verts = _scene_vertices(scene)
        views = sample_views(rng, views_per_object)
        for v, r in zip(views, renderer.render_object(glb, verts, views), strict=True):
            if len(metas) >= shard_size:
                break
            for k in buf:
                buf[k].append(r[k])
            metas.append(json.dumps({**v, "family": family, "object": obj_index,
                                     "side_m": r["side"], "mask_disagree": r["mask_disagree"]}))
            if progress is not None:
                progress.update(1)
        os.unlink(glb)
    path = out_dir / f"shard_{shard:05d}.npz"
    fd, tmp = tempfile.mkstemp(dir=out_dir, suffix=".partial.npz")
    os.close(fd)
    np.savez_compressed(
        tmp,
        rgba=np.stack(buf["rgba"]).astype(np.uint8),
        back_rgba=np.stack(buf["back_rgba"]).astype(np.uint8),
        mask=np.stack(buf["mask"]).astype(bool),
        front=np.stack(buf["front"]).astype(np.float16),
        back=np.stack(buf["back"]).astype(np.float16),
        meta=np.array(metas),
    )
    os.replace(tmp, path)
    return path


def preview_grid(shard_path: Path, png: Path, n: int = 8) -> None:
    """PNG grid: input on grey | mask | front depth | back depth | back colour."""
    from PIL import Image

    z = np.load(shard_path)
    rows = []
    for i in range(min(n, len(z["rgba"]))):
        rgba = z["rgba"][i].astype(np.float32) / 255
        a = rgba[..., 3:]
        inp = rgba[..., :3] * a + 0.5 * (1 - a)
        m = z["mask"][i]
        f, b = z["front"][i].astype(np.float32), z["back"][i].astype(np.float32)

        def dep(x, m=m):
            v = np.clip(0.5 + x, 0, 1)  # crop units: -0.5..0.5 -> 0..1
            return np.where(m, v, 0.0)[..., None].repeat(3, -1)

        brgba = z["back_rgba"][i].astype(np.float32) / 255
        ba = brgba[..., 3:]
        bcol = brgba[..., :3] * ba + 0.5 * (1 - ba)
        row = np.concatenate([inp, m[..., None].repeat(3, -1).astype(np.float32), dep(f),
                              dep(b), bcol], axis=1)
        rows.append(row)
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
    renderer = Renderer(args.size, args.msaa)
    total = sum(min(args.shard_size, args.count - s * args.shard_size) for s in todo)
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp, tqdm(total=total, unit="sample",
                                                    disable=args.quiet) as bar:
        for s in todo:
            size = min(args.shard_size, args.count - s * args.shard_size)
            render_shard(args.out, s, size, args.views, args.size, args.seed, Path(tmp),
                         renderer, bar)
    elapsed = time.time() - start
    info = {"count": args.count, "size": args.size, "seed": args.seed,
            "shard_size": args.shard_size, "views": args.views,
            "foreground_ratio": FOREGROUND_RATIO}
    (args.out / "dataset.json").write_text(json.dumps(info, indent=2))
    if total:
        print(f"rendered {total} samples in {elapsed:.1f} s ({total / elapsed:.2f} samples/s)")
    if args.preview:
        preview_grid(args.out / "shard_00000.npz", args.preview)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
