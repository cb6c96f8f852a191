"""The Panda3D stage built from a Scene: asset, lights, ground, camera, PBR passes.

Passes: (1) the key light's shadow map (shadow shader: depth, and the asset's alpha
cut-outs); (2) the scene into a
linear HDR float buffer with MSAA, premultiplied, alpha = coverage; (3) a
full-screen pass applying exposure, Khronos PBR Neutral tone mapping, the
background and sRGB encoding into the RGBA8 output, which is read back to RAM.

Folded (`Stage.folded`: an offscreen Stage with an opaque background, the clip and
still path): (2) and (3) are one pass. The asset and ground shaders apply that output
transform themselves (shaders/output.glsl) and draw straight into a multisampled RGBA8
output over a full-screen quad of the background drawn first; no HDR buffer, no
tone-mapping pass. Inside surfaces the pixels are the two-pass ones (the
float buffer's rounding aside); at MSAA edges the samples are averaged after the
transform instead of before it. With MSAA (and no asset animation), only the asset is
multisampled, in its own layer over the window of the frame it covers
(engine.render.asset_layer); the background and ground are drawn at one sample.

Mesa 22.3 (Debian 12's llvmpipe) segfaults compiling a shader that indexes an
array of light structs holding shadow samplers with a loop variable (what
panda3d-simplepbr does with shadows and max_lights >= 2). Here the key light's
shadow map is bound as its own struct uniform (`key_light`) and other lights
are plain vec3 arrays, so no sampler array is ever indexed dynamically: all
lights and the key shadow render on stock Mesa.

Coordinates: scene data is Y-up (glTF); Panda is Z-up. `to_panda` converts.
"""

from __future__ import annotations

import math

import numpy as np

from engine.animation.transform import axis_angle_matrix
from engine.render.asset_animation import AssetAnimation
from engine.render.asset_layer import (
    AssetLayer,
    full_frame_quad,
    ground_layer,
    ground_layer_size,
)
from engine.render.asset_node import load_asset_node
from engine.render.background import FoldedBackground
from engine.render.engine_setup import get_graphics, make_float_buffer, make_offscreen_buffer
from engine.render.environment import load_environment
from engine.render.surface_shaders import ALPHA_TESTED_TAG, SurfaceShaders
from engine.resources import resource_path
from engine.scene.lighting import (
    PRESETS,
    TONE_MAPPINGS,
    hex_to_linear,
    normalized,
    srgb_to_linear,
)
from engine.scene.model import Scene
from engine.scene.timeline import Frame, Timeline

MAX_FILL_LIGHTS = 4
MAX_SOFTBOXES = 4
SHADOW_MAP_SIZE = 2048
# Shadow-casting key lights of closed Stages, by full shadow map size, for the next Stage
# of this process: Panda3D never frees a dropped caster's shadow map, so each light is
# made once (a closed 2048² Stage left ~45 MB behind; with reuse ~23 MB, measured).
_SPARE_KEY_LIGHTS: dict[int, list] = {}
SHADOW_MASK_BIT = 1
# Texels around the asset's box in the key light's shadow window.
SHADOW_WINDOW_MARGIN = 4
# glPolygonOffset units the ground's depth is pushed away from the camera by.
GROUND_DEPTH_OFFSET = 4


def shadow_window_size(full_size: int) -> int:
    """Texels of the rendered shadow window for a map of `full_size` over 4r: the asset's
    bounding sphere (2r across, half the span) with margins, even; at most the full map."""
    size = int(math.ceil(full_size * 0.5 + 2 * SHADOW_WINDOW_MARGIN + 2))
    return min(full_size, size + size % 2)


# The ground's contact shadow below this alpha rounds to 0 in the half-float scene buffer:
# ground.frag discards it and the ground card ends where it falls below.
CONTACT_CUTOFF = 1e-8
SHADING_MODES = ("lit", "base-color", "normals")

# Y-up (glTF) to Z-up (Panda): (x, y, z) -> (x, -z, y)
Y_UP_TO_PANDA = np.array(
    [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
)


def to_panda(v: np.ndarray) -> tuple[float, float, float]:
    """(3,) Y-up vector → Panda Z-up tuple."""
    return (float(v[0]), float(-v[2]), float(v[1]))


def _shader_source(name: str) -> str:
    """A shader file's text with `#include "file"` lines replaced by that file's text."""
    text = resource_path("shaders", name).read_text()
    return "".join(
        _shader_source(line.split('"')[1]) if line.startswith("#include ") else line
        for line in text.splitlines(keepends=True)
    )


def _make_shader(vertex: str, fragment: str, defines: dict[str, int] | None = None):
    """Compile a GLSL 330 program; `defines` go after the #version line of both stages."""
    from panda3d.core import Shader

    header = "".join(f"#define {key} {value}\n" for key, value in (defines or {}).items())

    def stage_source(name: str) -> str:
        body = _shader_source(name)
        if body.startswith("#version"):
            version, _, body = body.partition("\n")
        else:
            version = "#version 330"
        return f"{version}\n{header}{body}"

    shader = Shader.make(Shader.SL_GLSL, stage_source(vertex), stage_source(fragment))
    if shader is None:
        raise RuntimeError(f"shader {vertex}/{fragment} failed to compile")
    return shader


def _blends(asset) -> bool:
    """Whether any surface under `asset` is drawn blended (glTF alphaMode BLEND,
    engine.render.gltf_material): its node or geom state carries a TransparencyAttrib."""
    from panda3d.core import TransparencyAttrib

    def blended(state) -> bool:
        attrib = state.get_attrib(TransparencyAttrib)
        return attrib is not None and attrib.get_mode() != TransparencyAttrib.M_none

    for path in [asset, *asset.find_all_matches("**")]:
        node = path.node()
        if blended(node.get_state()):
            return True
        if path.node().is_geom_node():
            if any(blended(node.get_geom_state(i)) for i in range(node.get_num_geoms())):
                return True
    return False


def _folded_output(host, width: int, height: int, samples: int, name: str = "maquette-output",
                   sort: int = 0):
    """A folded Stage's output (or its asset layer): an RGBA8 framebuffer object on
    `host`'s context with `samples` MSAA samples, or the most the driver gives (llvmpipe:
    4), resolved by Panda before it is read (an EGL pbuffer with samples drew without
    them)."""
    from panda3d.core import FrameBufferProperties, GraphicsPipe, WindowProperties

    base = get_graphics()
    for n in [n for n in (samples, 4, 2, 0) if n <= samples]:
        fb = FrameBufferProperties()
        fb.set_rgba_bits(8, 8, 8, 8)
        fb.set_depth_bits(24)
        fb.set_multisamples(n)
        buffer = base.graphicsEngine.make_output(
            base.pipe, name, sort, fb, WindowProperties.size(width, height),
            GraphicsPipe.BF_refuse_window, host.get_gsg(), host)
        if buffer is not None:
            return buffer, n
    raise RuntimeError(f"could not create a {width}x{height} output buffer")


def _floats(values) -> tuple[float, ...]:
    return tuple(float(x) for x in values)


class Stage:
    """A scene on a Panda3D stage, rendering into an offscreen RGBA8 buffer."""

    def __init__(self, scene: Scene, width: int, height: int, *, msaa: int | None = None,
                 orthographic: float | None = None, output=None,
                 shadow_map_size: int | None = None, fold: bool = True, layer: bool = True):
        """orthographic: if given, an orthographic camera whose frame is this many metres
        tall replaces the perspective lens (used to render generator training data).

        shadow_map_size: the key light's shadow map side in texels (default
        SHADOW_MAP_SIZE; small renders such as training data need less).

        output: a GraphicsOutput (a window, or the viewer's own buffer) that the final
        pass draws into instead of a new offscreen buffer; the Stage then never
        closes it and `read_frame` is unavailable (no copy to RAM per frame).

        fold: False keeps the two-pass HDR path where the Stage could fold it (see the
        module doc; for comparisons). layer: False multisamples the whole folded frame
        instead of the asset's layer alone (engine.render.asset_layer; for comparisons)."""
        from panda3d.core import (
            AntialiasAttrib,
            BitMask32,
            Camera,
            CardMaker,
            DepthWriteAttrib,
            DirectionalLight,
            GraphicsOutput,
            LMatrix4f,
            NodePath,
            OrthographicLens,
            PerspectiveLens,
            PTA_LVecBase3f,
            PTA_LVecBase4f,
            RenderState,
            ShaderAttrib,
            Texture,
        )

        self.scene = scene
        self.width, self.height = width, height
        base = get_graphics()
        self._graphics = base

        self.root = NodePath("stage")
        self.asset, file_bounds = load_asset_node(scene.asset.source)
        self.asset.reparent_to(self.root)
        self.asset_animation = AssetAnimation(
            self.asset, self.asset.get_python_tag("maquette_gltf"), scene.asset.animation)
        self.timeline = Timeline(scene, file_bounds)
        bounds = self.timeline.bounds
        radius = bounds.radius

        # Output buffer (RGBA8) and HDR scene buffer (float, MSAA).
        self._owns_output = output is None
        # BLEND surfaces stay on the HDR path: folded, they would blend tone-mapped sRGB
        self.folded = fold and self._owns_output and not scene.stage.background.transparent \
            and not _blends(self.asset)
        requested = scene.output.msaa if msaa is None else msaa
        # Folded with MSAA: the asset alone is multisampled, in its own layer (asset_layer)
        split = (layer and self.folded and requested > 0 and not orthographic
                 and self.asset_animation.index is None)
        self.layer = None
        # ... and the ground's shadow at half resolution, under the background (it is soft:
        # PCF and a contact blur; the full-resolution ground was ~80 of a 1080p frame's
        # ~220 CPU ms at msaa 0, docs/BENCHMARKS.md)
        half_ground = split and scene.stage.ground
        self.ground_buffer = None
        self.frame_texture = None
        self.hdr = None
        if output is not None:
            self.output = output
        else:
            if self.folded:
                # its context's pbuffer, never drawn (the FBO below is what renders)
                self._host = make_offscreen_buffer(1, 1, "maquette-host")
                self._host.set_active(False)
                self.output, self.msaa = _folded_output(self._host, width, height,
                                                        0 if split else requested)
                self.output.set_clear_color_active(False)  # every sample is drawn
                self.output.set_clear_depth_active(True)
            else:
                self.output = make_offscreen_buffer(width, height, "maquette-output")
                self.output.set_clear_color_active(True)
            self.output.set_clear_color((0, 0, 0, 0))
            self.frame_texture = Texture("frame")
            self.output.add_render_texture(self.frame_texture, GraphicsOutput.RTM_copy_ram)
        # Set by an interactive viewer: a CameraPose used instead of the timeline's camera.
        self.camera_override = None

        # Drivers cap MSAA (llvmpipe: 4 samples): fall back to the most the driver gives.
        self.hdr_texture = None
        for samples in [n for n in (requested, 4, 2, 0) if n <= requested and not self.folded]:
            made = make_float_buffer(self.output, width, height, "maquette-hdr", -5, samples)
            if made is not None:
                (self.hdr, self.hdr_texture), self.msaa = made, samples
                break
        if self.hdr is None and not self.folded:
            raise RuntimeError("could not create the HDR render buffer")
        self.scene_buffer = self.hdr  # the buffer the scene draws into now (set_render_size)
        self._draft = None  # (buffer, texture, region) without samples, made on first use
        if self.msaa:
            # A multisampled buffer alone does nothing: Panda3D rasterises with
            # multisampling only under this attribute (without it msaa 4 drew exactly the
            # pixels of msaa 0 while paying for the samples).
            self.root.set_antialias(AntialiasAttrib.M_multisample)

        self.orthographic = orthographic
        self.lens = OrthographicLens() if orthographic else PerspectiveLens()
        self.camera = self.root.attach_new_node(Camera("camera", self.lens))
        self.camera.node().set_camera_mask(BitMask32.bit(0))
        self.scene_region = (self.output if self.folded else self.hdr).make_display_region()
        self.scene_region.set_camera(self.camera)

        # Tone-mapping pass; folded: the background quad, drawn before the scene with no
        # depth test (drawn after it at the far plane, llvmpipe left the uncovered samples
        # of edge pixels undrawn: a dark fringe).
        self.post_root, self.post_quad, post_camera = full_frame_quad("post")
        if self.folded:
            from panda3d.core import DepthTestAttrib

            # (its shader: engine.render.background, once the ground layer is made)
            self.post_quad.set_attrib(DepthTestAttrib.make(DepthTestAttrib.M_none))
            self.post_quad.set_depth_write(False)
            self.root.set_shader_input("output_height", float(height))
        else:
            self.post_quad.set_shader(_make_shader("post.vert.glsl", "tonemap.frag.glsl"))
            self.post_quad.set_shader_input("scene_color", self.hdr_texture)
        self.post_quad.set_y(0)
        self.post_region = self.output.make_display_region()
        self.post_region.set_camera(post_camera)
        if self.folded:
            # first: before the ground's background region (-1, engine.render.background)
            self.post_region.set_sort(-2)  # and the scene region (0)

        # Key light with its shadow map (colour and rig: set_light_preset below). The map
        # is `shadow_size` texels over a 4r square seen from the light, of which only a
        # window around the asset is rendered (fit_shadow_window).
        full_size = SHADOW_MAP_SIZE if shadow_map_size is None else int(shadow_map_size)
        self._shadow_grid = (full_size, 4.0 * radius)
        shadow_size = shadow_window_size(full_size)
        spare = _SPARE_KEY_LIGHTS.get(full_size)
        if spare:
            self.key_light = spare.pop()
            # its shadow buffers belong to the old Stage's context and draw its scene
            # into the shared shadow map: drop them (this light makes new ones on use)
            self.key_light.set_shadow_caster(False)
        else:
            self.key_light = DirectionalLight("key")
        self._shadow_size = shadow_size
        self._live_shadow_size = shadow_size
        self.key_light.set_shadow_caster(True, shadow_size, shadow_size)
        self.key_light.set_camera_mask(BitMask32.bit(SHADOW_MASK_BIT))
        # The shadow shader at a shader priority above the stage's PBR shader (at 0, that
        # one ran in the shadow pass too, lighting and all), with depth writes forced on
        # so BLEND surfaces (drawn without them) cast where they cover half or more.
        # Its inputs default to opaque for geometry that gives none (the asset's override).
        # Surfaces tagged ALPHA_TESTED_TAG (surface_shaders) get the variant that tests it.
        shadow_shader = ShaderAttrib.make(_make_shader("shadow.vert.glsl", "shadow.frag.glsl"), 10)
        alpha_shader = ShaderAttrib.make(
            _make_shader("shadow.vert.glsl", "shadow.frag.glsl", {"ALPHA_TESTED": 1}), 11)
        for name, value in (("alpha_mode", 0.0), ("alpha_cutoff", 0.5),
                            ("uv_transform_0", LMatrix4f.ident_mat()), ("uv_sets", (0.0,) * 4)):
            shadow_shader = shadow_shader.set_shader_input(name, value)
        depth_write = DepthWriteAttrib.make(DepthWriteAttrib.M_on)
        self.key_light.set_initial_state(
            RenderState.make(shadow_shader).set_attrib(depth_write, 1))
        self.key_light.set_tag_state_key(ALPHA_TESTED_TAG)
        self.key_light.set_tag_state("1", RenderState.make(alpha_shader))
        shadow_lens = self.key_light.get_lens()
        shadow_span = 4.0 * radius * shadow_size / full_size
        shadow_lens.set_film_size(shadow_span, shadow_span)
        shadow_lens.set_film_offset(0.0, 0.0)
        shadow_lens.set_near_far(0.01 * radius, 10.0 * radius)
        self.key_np = self.root.attach_new_node(self.key_light)
        self.root.set_light(self.key_np)

        # Ground: an invisible shadow catcher at the asset's resting base; a unit card
        # that _place_contact_shadow sizes, each frame, to where it can show anything.
        self.ground = None
        self._output_defines = {"FOLDED_OUTPUT": 1} if self.folded else {}
        if scene.stage.ground:
            card = CardMaker("ground")
            card.set_frame(-1.0, 1.0, -1.0, 1.0)
            self.ground = self.root.attach_new_node(card.generate())
            self.ground.set_p(-90)
            self._ground_height = float(bounds.lo[1])
            self.ground.hide(BitMask32.bit(SHADOW_MASK_BIT))
            self.ground.set_shader(
                _make_shader("ground.vert.glsl", "ground.frag.glsl",
                             {} if half_ground else self._output_defines), 10
            )
            self.ground.set_shader_input("shadow_opacity", scene.stage.shadow)
            self._fade_radius = 2.2 * radius
            self.ground.set_shader_input("fade_radius", float(self._fade_radius))
            self.ground.set_shader_input("contact_cutoff", CONTACT_CUTOFF)
            self.ground.set_two_sided(True)
            # Depth pushed back a little: an asset's face lying on the ground (a plane, a
            # flat base) wins the depth test instead of z-fighting with the catcher.
            self.ground.set_depth_offset(-GROUND_DEPTH_OFFSET)

        if split:
            self.layer = AssetLayer(self, self._host, requested, _make_shader, _folded_output)
            self.msaa = self.layer.samples
            if self.msaa:  # see above: the layer's samples need the attribute too
                self.root.set_antialias(AntialiasAttrib.M_multisample)
        ground_texture = None
        if half_ground:  # the scene camera (it sees the ground alone) draws there
            self.ground_buffer, ground_texture = ground_layer(self._host, width, height)
            self.output.remove_display_region(self.scene_region)
            self.scene_region = self.ground_buffer.make_display_region()
            self.scene_region.set_camera(self.camera)
        self.background = None
        if self.folded:
            self.background = FoldedBackground(
                self, ground_texture, _make_shader, make_float_buffer)
            self.root.set_shader_input("fragcoord_offset", (0.0, 0.0))

        # The asset's shader: a variant per material and setting (surface_shaders), made
        # once the settings below are known; the root's is the variant of no material.
        self._surfaces = None
        self._shading_mode = 0
        self.root.set_shader_input("key_light", self.key_np)
        self.root.set_shader_input("shadow_texel", 1.0 / shadow_size)
        self.root.set_shader_input("shadow_bias", 0.0015)
        self.root.set_shader_input("shadows_enabled", 1)
        self._fill_directions = PTA_LVecBase3f.empty_array(MAX_FILL_LIGHTS)
        self._fill_colors = PTA_LVecBase3f.empty_array(MAX_FILL_LIGHTS)
        self._softbox_directions = PTA_LVecBase3f.empty_array(MAX_SOFTBOXES)
        self._softbox_colors = PTA_LVecBase4f.empty_array(MAX_SOFTBOXES)
        self.root.set_shader_input("fill_direction", self._fill_directions)
        self.root.set_shader_input("fill_color", self._fill_colors)
        self.root.set_shader_input("softbox_direction", self._softbox_directions)
        self.root.set_shader_input("softbox_color", self._softbox_colors)
        self.set_light_preset(scene.stage.lights)
        self._set_environment(scene.stage)
        for node in (self.post_quad, self.root):  # root: the folded shaders read it
            node.set_shader_input("exposure", 2.0 ** scene.stage.exposure)
        self.set_tone_mapping(scene.stage.tone_mapping)
        self.post_quad.set_shader_input("checker_px", 0.0)
        self.set_background(scene.stage.background)
        self._surfaces = SurfaceShaders(_make_shader)
        self.specialize()
        self._frames_rendered = 0
        self.current: Frame | None = None

    # --- per-frame state ------------------------------------------------------------

    def set_shading_mode(self, mode: str) -> None:
        self._shading_mode = SHADING_MODES.index(mode)
        self.specialize()

    def specialize(self) -> None:
        """Give the asset's surfaces the shader variants of their materials and of this
        Stage's settings (engine.render.surface_shaders); again after a change to either
        (the viewer's UV checker replaces base colour textures)."""
        if self._surfaces is None:  # (still being built: done once at the end)
            return
        settings = {"MAX_LIGHTS": MAX_FILL_LIGHTS, "MAX_SOFTBOXES": MAX_SOFTBOXES,
                    **self._output_defines, "SHADING_MODE": self._shading_mode,
                    "TONE_MAPPING": self._tone_mapping}
        if self._has_environment_map:
            settings["ENV_MAP"] = 1
        self.root.set_shader(self._surfaces.variant(settings))
        self._surfaces.apply(self.asset, settings)

    # --- live changes (the viewer); each equals building the Stage with that setting ---

    def set_light_preset(self, name: str) -> None:
        """Switch the light rig to PRESETS[name] (directions apply at the next set_time)."""
        preset = PRESETS[name]
        self.preset = preset
        key_rgb = hex_to_linear(preset.key.color) * preset.key.intensity
        self.key_light.set_color((*_floats(key_rgb), 1.0))
        fills = preset.fills[:MAX_FILL_LIGHTS]
        for i in range(MAX_FILL_LIGHTS):
            self._fill_colors[i] = (0.0, 0.0, 0.0)
        for i, light in enumerate(fills):
            self._fill_colors[i] = _floats(hex_to_linear(light.color) * light.intensity)
        for i in range(MAX_SOFTBOXES):
            self._softbox_colors[i] = (0.0, 0.0, 0.0, 0.0)
        for i, box in enumerate(preset.softboxes[:MAX_SOFTBOXES]):
            rgb = hex_to_linear(box.color) * box.intensity
            self._softbox_colors[i] = (*_floats(rgb), math.radians(box.radius_deg))
        self.root.set_shader_input("fill_count", len(fills))
        self.root.set_shader_input("softbox_count", min(len(preset.softboxes), MAX_SOFTBOXES))
        self.root.set_shader_input("sky_color", _floats(hex_to_linear(preset.sky)))
        self.root.set_shader_input("ground_color", _floats(hex_to_linear(preset.ground)))
        if not getattr(self, "_has_environment_map", False):
            self.root.set_shader_input("environment_intensity", preset.environment)

    def _set_environment(self, stage) -> None:
        """Bind the image-based lighting of `stage.environment`, or the analytic one."""
        self.set_environment(stage.environment, stage.environment_intensity,
                             stage.environment_rotation)

    def set_environment(self, path, intensity: float = 1.0, rotation: float = 0.0,
                        loaded=None) -> None:
        """Light with the equirectangular image `path` (None: the light preset's analytic
        studio environment) at `intensity`, turned `rotation` degrees about +Y; `loaded`:
        load_environment(path)'s result when the caller has it already."""
        from panda3d.core import PTA_LVecBase3f, Texture

        self._environment_rotation = float(rotation)
        sh = PTA_LVecBase3f.empty_array(9)
        if path is not None:
            texture, coeffs = loaded if loaded is not None else load_environment(path)
            for i in range(9):
                sh[i] = _floats(coeffs[i])
            self.root.set_shader_input("env_max_lod", float(math.log2(texture.get_x_size())))
            self.root.set_shader_input("environment_intensity", float(intensity))
        else:
            texture = Texture("no-environment")
            texture.setup_2d_texture(1, 1, Texture.T_float, Texture.F_rgb16)
            texture.set_ram_image(np.zeros(3, np.float32).tobytes())
            self.root.set_shader_input("env_max_lod", 0.0)
            if getattr(self, "preset", None) is not None:  # back from an image (live)
                self.root.set_shader_input("environment_intensity", self.preset.environment)
        self._has_environment_map = path is not None
        self.root.set_shader_input("env_map", texture)
        self.root.set_shader_input("env_sh", sh)
        self.root.set_shader_input("env_rotation", 0.0)
        self.specialize()

    def set_environment_rotation(self, degrees: float) -> None:
        """Turn the environment image `degrees` about +Y (applies at the next set_time)."""
        self._environment_rotation = float(degrees)

    def set_tone_mapping(self, name: str) -> None:
        """The tone-mapping curve: one of TONE_MAPPINGS (the scene's `[stage]
        tone_mapping`, "neutral" by default)."""
        self._tone_mapping = TONE_MAPPINGS.index(name)
        self.post_quad.set_shader_input("tone_mapping", self._tone_mapping)  # tonemap.frag
        self.specialize()  # the asset's variants: a define

    def set_checkerboard(self, square_px: float) -> None:
        """Show a transparent background over a grey checkerboard of `square_px` pixel
        squares, opaque (a live viewer's window); 0: the renderer's alpha output."""
        self.post_quad.set_shader_input("checker_px", float(square_px))

    def set_orthographic(self, height: float | None) -> None:
        """A parallel projection whose frame is `height` metres tall (None: the
        perspective lens); applies at the next set_time."""
        from panda3d.core import OrthographicLens, PerspectiveLens

        if height is not None and self.layer is not None:
            raise ValueError("a Stage with an asset layer keeps its perspective lens "
                             "(build it with orthographic=...)")
        if (height is None) != (not self.orthographic):
            self.lens = PerspectiveLens() if height is None else OrthographicLens()
            self.camera.node().set_lens(self.lens)
        self.orthographic = height

    def set_background(self, background) -> None:
        """Show `background` (an engine.scene.Background); a folded Stage keeps it opaque."""
        if self.folded and background.transparent:
            raise ValueError("a folded Stage (opaque background) cannot turn transparent")
        quads = self.background.nodes if self.background is not None else [self.post_quad]
        for node in (self.root, *quads):  # root: the folded ground reads it
            node.set_shader_input(
                "background_top", _floats(srgb_to_linear(np.array(background.top))))
            node.set_shader_input(
                "background_bottom", _floats(srgb_to_linear(np.array(background.bottom))))
        self.post_quad.set_shader_input("transparent", int(background.transparent))
        if self.background is not None:
            self.background.redraw_rows()

    def set_ground(self, visible: bool) -> None:
        """Show or hide the ground (shadow catcher); a Stage built without one has none."""
        from panda3d.core import BitMask32

        if self.ground is not None:  # bit 0: the scene camera (the shadow camera never sees it)
            (self.ground.show if visible else self.ground.hide)(BitMask32.bit(0))

    def resize(self, width: int, height: int) -> None:
        """Follow a resized window: the HDR buffer and the lens take the new size."""
        if (width, height) != (self.width, self.height) and width > 0 and height > 0:
            self.width, self.height = width, height
            if self.folded:  # the output is the scene's buffer
                self.output.set_size(width, height)
                if self.ground_buffer is not None:
                    self.ground_buffer.set_size(*ground_layer_size(width, height))
                self.root.set_shader_input("output_height", float(height))
                self.background.resize(width, height)
            else:
                self.hdr.set_size(width, height)

    def set_render_size(self, width: int, height: int, multisample: bool = True) -> None:
        """Draw the 3D passes into width × height pixels (a live viewer's reduced
        resolution); the tone-mapping pass upscales them to the output. The lens keeps
        the output's aspect; `resize` (or this with the output's size) goes back. With
        `multisample` False a multisampled Stage draws into a second HDR buffer without
        samples (a live viewer's moving frames: on llvmpipe the 4x float buffer cost
        ~20 ms of a 320x180 frame, for detail the upscale blurs away). A folded Stage has
        no separate 3D pass: it only draws at its output's size."""
        if self.folded:
            if (width, height) != (self.width, self.height):
                raise ValueError("a folded Stage renders at its output size only")
            return
        draft = not multisample and self.msaa > 0
        if draft and self._draft is None:
            made = make_float_buffer(self.output, width, height, "maquette-hdr-draft", -5, 0)
            if made is None:
                draft = False
            else:
                region = made[0].make_display_region()
                region.set_camera(self.camera)
                self._draft = (*made, region)
        buffer = self._draft[0] if draft else self.hdr
        if (buffer.get_x_size(), buffer.get_y_size()) != (width, height):
            buffer.set_size(width, height)
        if self._draft is not None and buffer is not self.scene_buffer:
            (self.hdr if draft else self._draft[0]).set_active(False)
            buffer.set_active(True)
            self.post_quad.set_shader_input("scene_color",
                                            self._draft[1] if draft else self.hdr_texture)
            self.scene_buffer = buffer

    def set_shadow_map_size(self, size: int) -> None:
        """The key light's shadow map at size × size texels (a live viewer's moving
        frames use a smaller one); the light makes its new buffer at the next frame."""
        size = int(size)
        if size != self._live_shadow_size:
            self._live_shadow_size = size
            self.key_light.set_shadow_caster(True, size, size)

    def _place_contact_shadow(self, asset_matrix: np.ndarray) -> None:
        """The soft contact shadow follows the asset: it moves, shrinks with a reveal's
        scale and fades as the asset lifts off the ground (float, drop)."""
        if self.ground is None:
            return
        bounds = self.timeline.bounds
        relative = asset_matrix @ np.linalg.inv(self.timeline.rest)
        scale = float(np.cbrt(abs(np.linalg.det(relative[:3, :3]))))
        lift = max(float(relative[1, 3]), 0.0)
        height = max(float(bounds.size[1]), 1e-6)
        center = bounds.center + relative[:3, 3]
        half = np.maximum(0.5 * bounds.size * scale, 1e-4)
        self.ground.set_shader_input(
            "footprint", (float(center[0]), float(-center[2]), float(half[0]), float(half[2])))
        contact = (0.55 * self.scene.stage.shadow * min(scale, 1.0)
                   * math.exp(-lift / (0.2 * height)))
        self.ground.set_shader_input("contact_opacity", contact)
        # The card covers what ground.frag does not discard (the fade radius, and where
        # the contact shadow exp(-2.2 r^2) is >= CONTACT_CUTOFF), with a margin: the
        # pixels it no longer covers kept the cleared value anyway.
        reach = math.sqrt(max(math.log(max(contact, 1e-30) / CONTACT_CUTOFF), 0.0) / 2.2)
        extent = 1.05 * max(self._fade_radius, reach * float(max(half[0], half[2])))
        middle = to_panda(np.array([center[0], self._ground_height, center[2]]))
        self.ground.set_pos(*middle)
        self.ground.set_scale(extent)
        self._ground_corners = np.array(middle) + extent * np.array(
            [(-1.0, -1.0, 0.0), (1.0, -1.0, 0.0), (-1.0, 1.0, 0.0), (1.0, 1.0, 0.0)])

    def _posed_corners(self, asset_matrix: np.ndarray) -> np.ndarray:
        """(8, 3) the corners of the asset's box posed by `asset_matrix`, Panda Z-up
        coordinates in the Stage root's frame."""
        relative = asset_matrix @ np.linalg.inv(self.timeline.rest)
        box = self.timeline.bounds
        corners = np.array([[x, y, z, 1.0] for x in (box.lo[0], box.hi[0])
                            for y in (box.lo[1], box.hi[1]) for z in (box.lo[2], box.hi[2])])
        posed = corners @ relative.T
        return np.c_[posed[:, 0], -posed[:, 2], posed[:, 1]]

    def _fit_shadow_window(self, corners: np.ndarray) -> None:
        """Aim the key light's shadow window at the asset's posed box (`corners`, from
        _posed_corners): the texels of the full 4r map
        (same texel size, whole-texel offsets, so every depth and every tap is where it
        was) that its posed bounding box covers, plus a margin; the rest of the full map
        held the cleared depth, which the window's border colour (1) gives too. The box
        stays inside the bounding sphere the window is sized for unless the asset is
        scaled up; then the window spans the full square, at a coarser texel."""
        full_size, span = self._shadow_grid
        size = self._shadow_size
        lens = self.key_light.get_lens()
        if size >= full_size:
            return
        from panda3d.core import LPoint3f

        texels = []
        for corner in corners.tolist():
            p = self.key_np.get_relative_point(self.root, LPoint3f(*corner))
            texels.append((p.x, p.z))  # the light's film: its local x and z
        texels = (np.array(texels) / span + 0.5) * full_size
        lo = np.floor(texels.min(axis=0)) - SHADOW_WINDOW_MARGIN
        hi = np.ceil(texels.max(axis=0)) + SHADOW_WINDOW_MARGIN
        if np.any(hi - lo > size):
            lens.set_film_size(span, span)
            lens.set_film_offset(0.0, 0.0)
            return
        start = np.clip(np.floor((lo + hi - size) / 2), 0, full_size - size)
        center = (start + size / 2) / full_size - 0.5  # in spans
        lens.set_film_size(span * size / full_size, span * size / full_size)
        lens.set_film_offset(float(center[0] * span), float(center[1] * span))

    def set_time(self, t: float) -> Frame:
        """Pose the asset, camera and light rig for time t (seconds)."""
        from panda3d.core import BitMask32, LMatrix4f

        frame = self.timeline.at(t)
        self.current = frame
        self._place_contact_shadow(frame.asset_matrix)
        self.asset_animation.apply(t)  # the asset's own clip (its nodes, skins, morphs)
        m = Y_UP_TO_PANDA @ frame.asset_matrix @ Y_UP_TO_PANDA.T
        visible = abs(np.linalg.det(m[:3, :3])) >= 1e-15  # not scaled to nothing
        if not visible:  # (a reveal's start)
            self.asset.hide()
        else:
            self.asset.show()
            if self.layer is not None:  # drawn by the layer's camera, not the scene's
                self.asset.hide(BitMask32.bit(0))
            self.asset.set_mat(LMatrix4f(*m.T.flatten()))

        cam = frame.camera if self.camera_override is None else self.camera_override
        aspect = self.width / self.height
        vfov = float(cam.fov)
        hfov = math.degrees(2 * math.atan(math.tan(math.radians(vfov) / 2) * aspect))
        distance = float(np.linalg.norm(cam.eye - cam.target))
        radius = self.timeline.bounds.radius
        if self.orthographic:
            self.lens.set_film_size(self.orthographic * aspect, self.orthographic)
            self.lens.set_near_far(max(1e-3, distance - 3 * radius), distance + 30 * radius)
        else:
            self.lens.set_fov(hfov, vfov)
            self.lens.set_near_far(max(1e-3, 0.05 * min(distance, radius)),
                                   distance + 30 * radius)
        self.camera.set_pos(*to_panda(cam.eye))
        self.camera.look_at(to_panda(cam.target), to_panda(cam.up))

        # The light rig turns with the camera's azimuth.
        offset = cam.eye - cam.target
        azimuth = math.degrees(math.atan2(offset[0], offset[2]))
        rig = axis_angle_matrix((0.0, 1.0, 0.0), azimuth)
        center = self.timeline.bounds.center
        key_dir = rig @ normalized(self.preset.key.direction)
        self.key_np.set_pos(*to_panda(center + key_dir * 5.0 * radius))
        self.key_np.look_at(*to_panda(center))
        corners = self._posed_corners(frame.asset_matrix)
        self._fit_shadow_window(corners)
        for i, light in enumerate(self.preset.fills[:MAX_FILL_LIGHTS]):
            self._fill_directions[i] = to_panda(rig @ normalized(light.direction))
        for i, box in enumerate(self.preset.softboxes[:MAX_SOFTBOXES]):
            self._softbox_directions[i] = to_panda(rig @ normalized(box.direction))
        self.root.set_shader_input(
            "env_rotation", math.radians(azimuth + self._environment_rotation))
        if self.layer is not None:
            self.layer.place(corners if visible else None)
        if self.background is not None:
            self.background.place(None if self.ground is None else self._ground_corners)
        return frame

    def render(self) -> None:
        engine = self._graphics.graphicsEngine
        if self._frames_rendered == 0:
            self._warm_up()
        engine.render_frame()
        self._frames_rendered += 1

    def _warm_up(self) -> None:
        """A first frame drawn into one pixel, no clears: it binds every shader (compiles
        them) and makes Panda create the key light's shadow buffer, which it only does
        while drawing and fills from the next frame on. The real first frame then has its
        shadow, as if the whole frame had been drawn twice (0.3-0.4 CPU s saved at 1080p).
        """
        regions = (self.scene_region, self.post_region,
                   *(self.layer.regions if self.layer is not None else ()),
                   *(self.background.regions if self.background is not None else ()))
        buffers = [b for b in (self.hdr, self.output if self._owns_output else None) if b]
        clears = [(b.get_clear_color_active(), b.get_clear_depth_active()) for b in buffers]
        dimensions = [region.get_dimensions() for region in regions]
        for region in regions:
            region.set_dimensions(0.0, 1.0 / self.width, 0.0, 1.0 / self.height)
        for buffer in buffers:
            buffer.set_clear_color_active(False)
            buffer.set_clear_depth_active(False)
        try:
            self._graphics.graphicsEngine.render_frame()
        finally:
            for region, saved in zip(regions, dimensions, strict=True):
                region.set_dimensions(saved)
            for buffer, (color, depth) in zip(buffers, clears, strict=True):
                buffer.set_clear_color_active(color)
                buffer.set_clear_depth_active(depth)

    def read_frame(self) -> np.ndarray:
        """The last rendered frame, (H, W, 4) uint8 RGBA, top row first."""
        if self.frame_texture is None:
            raise RuntimeError("this Stage draws into a given output; read that output")
        data = self.frame_texture.get_ram_image_as("RGBA")
        image = np.frombuffer(data, dtype=np.uint8).reshape(self.height, self.width, 4)
        return image[::-1].copy()

    def frame_bytes(self) -> memoryview:
        """The last rendered frame as Panda read it back, not copied: H * W * 4 bytes of
        BGRA, bottom row first (what FrameWriter(layout="bgra-bottom-up") takes). Valid
        until the next render."""
        if self.frame_texture is None:
            raise RuntimeError("this Stage draws into a given output; read that output")
        return memoryview(self.frame_texture.get_ram_image())

    def capture(self, t: float) -> np.ndarray:
        """Render time t and return the frame, (H, W, 4) uint8 RGBA."""
        self.set_time(t)
        self.render()
        return self.read_frame()

    def close(self) -> None:
        engine = self._graphics.graphicsEngine
        if self.layer is not None:
            self.layer.close(engine)
            self.layer = None
        if self.ground_buffer is not None:
            engine.remove_window(self.ground_buffer)
            self.ground_buffer = None
        if self.background is not None:
            self.background.close(engine)
            self.background = None
        if not self._owns_output and self.output is not None:
            self.output.remove_display_region(self.post_region)
        for buffer in (self.hdr, self._draft[0] if self._draft else None,
                       self.output if self._owns_output else None,
                       getattr(self, "_host", None)):
            if buffer is not None:
                engine.remove_window(buffer)
        self.hdr = self.output = self._host = self._draft = self.scene_buffer = None
        if self.key_np is not None:  # hand the light (and its shadow map) on
            self.key_np.detach_node()
            _SPARE_KEY_LIGHTS.setdefault(self._shadow_grid[0], []).append(self.key_light)
            self.key_np = None
        self.root.remove_node()
        self.post_root.remove_node()

    def __enter__(self) -> Stage:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
