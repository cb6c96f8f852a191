"""The seen pass: the asset drawn small with a flat shader that writes its seen mark
(engine.asset.seen), so that `maquette check` and the viewer's stats measure what a
frame shows of inferred surface with the depth buffer resolving occlusion (a
character's arm in front of its body hides the body, as the real render does).

Geometry: the asset's own mesh (file coordinates, turned to Panda's Z-up as the loaded
model is, engine.render.stage.Y_UP_TO_PANDA) with the mark as vertex colour
(r = g = b = mark; an unmarked mesh counts as seen, 1). The pass draws it at
CHECK_HEIGHT pixels high (the shot's aspect), back faces culled, no lights, no ground:
per pixel R = mark × 255, G = 255 where the asset covers the pixel, 0 elsewhere.
Poses come in the stage's world (Y-up, metres): the asset's 4 × 4 matrix from file to
world and a CameraPose (engine.animation.camera).
"""

from __future__ import annotations

import math

import numpy as np

from engine.asset.seen import INFERRED_MAX, mesh_seen
from engine.render.engine_setup import close_output, get_graphics, make_offscreen_buffer

CHECK_HEIGHT = 90  # pixels: a 16:9 shot is checked at 160 × 90

MARK_VERT = """#version 330
uniform mat4 p3d_ModelViewProjectionMatrix;
in vec4 p3d_Vertex;
in vec4 p3d_Color;
out float v_mark;
void main() {
    gl_Position = p3d_ModelViewProjectionMatrix * p3d_Vertex;
    v_mark = p3d_Color.r;
}
"""
MARK_FRAG = """#version 330
in float v_mark;
out vec4 o_color;
void main() { o_color = vec4(clamp(v_mark, 0.0, 1.0), 1.0, 0.0, 1.0); }
"""


def mark_geom(mesh):
    """A GeomNode of trimesh `mesh` (file coordinates turned to Panda's) whose vertex
    colour is its seen mark (grey levels; 1 without marks) and normals its vertex
    normals: the geometry of the seen pass and of the viewer's "seen" mode."""
    from panda3d.core import Geom, GeomNode, GeomTriangles, GeomVertexData, GeomVertexFormat

    from engine.render.stage import Y_UP_TO_PANDA

    marks = mesh_seen(mesh)
    if marks is None:
        marks = np.ones(len(mesh.vertices))
    turn = Y_UP_TO_PANDA[:3, :3].T.astype(np.float32)
    # v3n3c4: float32 position and normal, then RGBA as 4 unsigned bytes (28 bytes a row)
    packed = np.zeros(len(mesh.vertices),
                      dtype=[("v", "<f4", 3), ("n", "<f4", 3), ("c", "u1", 4)])
    packed["v"] = np.asarray(mesh.vertices, np.float32) @ turn
    packed["n"] = np.asarray(mesh.vertex_normals, np.float32) @ turn
    packed["c"][:, :3] = np.round(np.clip(marks, 0, 1) * 255).astype(np.uint8)[:, None]
    packed["c"][:, 3] = 255
    data = GeomVertexData("seen-marks", GeomVertexFormat.get_v3n3c4(), Geom.UH_static)
    data.unclean_set_num_rows(len(packed))
    data.modify_array_handle(0).copy_data_from(packed.tobytes())
    triangles = GeomTriangles(Geom.UH_static)
    triangles.set_index_type(Geom.NT_uint32)
    indices = triangles.modify_vertices()
    indices.unclean_set_num_rows(mesh.faces.size)
    indices.modify_handle().copy_data_from(np.ascontiguousarray(mesh.faces, np.uint32))
    geom = Geom(data)
    geom.add_primitive(triangles)
    node = GeomNode("seen-marks")
    node.add_geom(geom)
    return node


def frame_shares(frame: np.ndarray) -> tuple[float, float]:
    """(inferred, seen) of a seen-pass frame (H, W, 4) uint8: the share of the asset's
    covered pixels whose mark is at most INFERRED_MAX, and their mean mark; (0, 1) when
    the asset covers no pixel."""
    covered = frame[..., 1] > 127
    if not covered.any():
        return 0.0, 1.0
    marks = frame[..., 0][covered].astype(np.float64) / 255.0
    return float((marks <= INFERRED_MAX + 0.5 / 255).mean()), float(marks.mean())


class SeenPass:
    """The asset's mark geometry on a small offscreen buffer of the shot's `aspect`."""

    def __init__(self, mesh, aspect: float, height: int = CHECK_HEIGHT):
        from panda3d.core import (
            Camera,
            GraphicsOutput,
            NodePath,
            PerspectiveLens,
            Shader,
            Texture,
        )

        self.height = int(height)
        self.width = self.width_for(aspect, self.height)
        vertices = np.asarray(mesh.vertices, np.float64)
        self.centre = 0.5 * (vertices.min(axis=0) + vertices.max(axis=0))
        self.radius = float(max(0.5 * np.linalg.norm(np.ptp(vertices, axis=0)), 1e-6))
        self.base = get_graphics()
        self.root = NodePath("seen-pass")
        self.asset = self.root.attach_new_node(mark_geom(mesh))
        self.asset.set_shader(Shader.make(Shader.SL_GLSL, MARK_VERT, MARK_FRAG), 100)
        self.output = make_offscreen_buffer(self.width, self.height, "maquette-seen")
        self.output.set_clear_color_active(True)
        self.output.set_clear_color((0, 0, 0, 0))
        self.output.set_active(False)  # drawn only when measured
        self.texture = Texture("seen-pass")
        self.output.add_render_texture(self.texture, GraphicsOutput.RTM_copy_ram)
        self.lens = PerspectiveLens()
        self.camera = self.root.attach_new_node(Camera("seen-camera", self.lens))
        self.output.make_display_region().set_camera(self.camera)

    @staticmethod
    def width_for(aspect: float, height: int = CHECK_HEIGHT) -> int:
        """The pass's width in pixels for a shot of `aspect` (even, at least 2)."""
        return max(2, int(round(height * float(aspect) / 2)) * 2)

    def capture(self, asset_matrix: np.ndarray, pose) -> np.ndarray:
        """The pass (H, W, 4) uint8, top row first, of the asset posed by `asset_matrix`
        (4 × 4, file to world) seen by camera `pose`."""
        from panda3d.core import LMatrix4f

        from engine.render.stage import Y_UP_TO_PANDA, to_panda

        m = Y_UP_TO_PANDA @ np.asarray(asset_matrix, np.float64) @ Y_UP_TO_PANDA.T
        if abs(np.linalg.det(m[:3, :3])) < 1e-15:
            return np.zeros((self.height, self.width, 4), np.uint8)
        self.asset.set_mat(LMatrix4f(*m.T.flatten()))
        vfov = float(pose.fov)
        hfov = math.degrees(2 * math.atan(math.tan(math.radians(vfov) / 2)
                                          * self.width / self.height))
        centre = (np.asarray(asset_matrix)[:3, :3] @ self.centre) + np.asarray(asset_matrix)[:3, 3]
        scale = float(np.cbrt(abs(np.linalg.det(np.asarray(asset_matrix)[:3, :3]))))
        reach = self.radius * max(scale, 1e-6)
        distance = float(np.linalg.norm(np.asarray(pose.eye) - centre))
        self.lens.set_fov(hfov, vfov)
        self.lens.set_near_far(max(1e-4, 0.5 * (distance - reach), 1e-3 * reach),
                               distance + 2.0 * reach)
        self.camera.set_pos(*to_panda(pose.eye))
        self.camera.look_at(to_panda(pose.target), to_panda(pose.up))
        self.output.set_active(True)
        try:
            self.base.graphicsEngine.render_frame()
        finally:
            self.output.set_active(False)
        data = self.texture.get_ram_image_as("RGBA")
        image = np.frombuffer(bytes(data), dtype=np.uint8).reshape(self.height, self.width, 4)
        return image[::-1].copy()

    def shares(self, asset_matrix: np.ndarray, pose) -> tuple[float, float]:
        """(inferred, seen) of the frame (see frame_shares)."""
        return frame_shares(self.capture(asset_matrix, pose))

    def close(self) -> None:
        if self.output is not None:
            close_output(self.output)
            self.output = None
        self.root.remove_node()

    def __enter__(self) -> SeenPass:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_check(scene, mesh, threshold: float | None = None, samples: int | None = None):
    """`maquette check`: engine.scene.seen_check.check_shot of `scene` with its asset's
    loaded `mesh`, each checked frame measured by the seen pass."""
    from engine.scene import seen_check

    aspect = scene.output.width / scene.output.height
    options = {} if samples is None else {"samples": samples}
    with SeenPass(mesh, aspect) as seen_pass:
        return seen_check.check_shot(
            scene, mesh, seen_check.DEFAULT_THRESHOLD if threshold is None else threshold,
            measure=seen_pass.shares, **options)
