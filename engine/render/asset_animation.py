"""Play an asset's own animation on its Panda3D node, as a pure function of time.

Rigid node channels (translation/rotation/scale; panda3d-gltf does not play them) are
sampled by engine.animation.clips and set on the matching Panda3D nodes; skins and
morph targets are posed through the Characters panda3d-gltf builds (their AnimBundles,
resampled by it at `animation_fps`). Time t is scene seconds; a clip loops. Setting the
same t always gives the same pose, whatever was shown before.

Frames: glTF node matrices are Y-up; Panda3D's are Z-up (Y_UP_TO_PANDA, as the stage).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.animation.clips import Clip, choose_clip, clip_time, node_matrices
from engine.asset.clips import read_clips
from engine.asset.model import AssetError


def match_nodes(root, doc: dict) -> dict[int, object]:
    """glTF node index -> the NodePath panda3d-gltf made for it (plain nodes and
    Characters; joints are not nodes there). Matched by name and order under each
    parent, as panda3d-gltf builds the tree."""
    from panda3d.core import PandaNode

    nodes = doc.get("nodes", []) or []
    scenes = doc.get("scenes", []) or []
    if scenes:
        scene = scenes[doc.get("scene", 0) if isinstance(doc.get("scene", 0), int) else 0]
        roots = list(scene.get("nodes", []) or [])
    else:
        roots = []
    found: dict[int, object] = {}
    plain = PandaNode.get_class_type()

    def walk(parent, ids):
        taken = set()
        for nid in ids:
            if not (isinstance(nid, int) and 0 <= nid < len(nodes)):
                continue
            name = nodes[nid].get("name", f"node{nid}")
            for i, child in enumerate(parent.get_children()):
                node = child.node()
                if i in taken or node.name != name:
                    continue
                if node.get_type() != plain and not node.is_of_type(
                        _character_type()):
                    continue
                taken.add(i)
                found[nid] = child
                walk(child, nodes[nid].get("children", []) or [])
                break

    walk(root, roots)
    return found


def _character_type():
    from panda3d.core import Character

    return Character.get_class_type()


class AssetAnimation:
    """The clips a loaded asset carries and the one playing (`index`, None: none)."""

    def __init__(self, root, source: Path, wanted: str | int | None):
        from panda3d.core import PartGroup

        self.clips: list[Clip] = []
        self._rest: dict = {}
        self._nodes: dict[int, object] = {}
        self._controls: list[dict[str, object]] = []
        self.index = None
        if Path(source).suffix.lower() not in (".glb", ".gltf"):
            return
        self.clips, self._rest, doc = read_clips(source)
        try:
            self.index = choose_clip(self.clips, wanted)
        except KeyError as exc:
            raise AssetError(f"{source}: [asset] animation: {exc.args[0]}") from None
        if not self.clips:
            return
        self._nodes = match_nodes(root, doc)
        flags = (PartGroup.HMF_ok_part_extra | PartGroup.HMF_ok_anim_extra
                 | PartGroup.HMF_ok_wrong_root_name)
        for char_np in root.find_all_matches("**/+Character"):
            char = char_np.node()
            bundle = char.get_bundle(0)
            controls = {}
            for anim_np in char_np.find_all_matches("**/+AnimBundleNode"):
                anim = anim_np.node().get_bundle()
                control = bundle.bind_anim(anim, flags)
                if control is not None:
                    controls[anim.name] = control
            self._controls.append(controls)
        self._posed: set[int] = set()

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.clips]

    @property
    def current(self) -> Clip | None:
        return None if self.index is None else self.clips[self.index]

    def select(self, index: int | None) -> None:
        """Play clips[index] (None: none): nodes the old clip moved go back to rest."""
        self._reset()
        self.index = index

    def cycle(self) -> str:
        """Next clip, then none, then the first again; returns what plays now."""
        if not self.clips:
            return "none"
        order = [*range(len(self.clips)), None]
        self.select(order[(order.index(self.index) + 1) % len(order)])
        return "none" if self.index is None else self.clips[self.index].name

    def _set(self, nid: int, m: np.ndarray) -> None:
        from panda3d.core import LMatrix4f

        from engine.render.stage import Y_UP_TO_PANDA

        np_ = self._nodes.get(nid)
        if np_ is not None:
            p = Y_UP_TO_PANDA @ m @ Y_UP_TO_PANDA.T
            np_.set_mat(LMatrix4f(*p.T.flatten()))

    def _reset(self) -> None:
        from engine.animation.clips import trs_matrix

        for nid in self._posed:
            self._set(nid, trs_matrix(*self._rest[nid]))
        self._posed = set()
        for controls in self._controls:
            for control in controls.values():
                control.pose(0)

    def apply(self, t: float) -> None:
        """Pose the asset at scene time t (seconds)."""
        clip = self.current
        if clip is None:
            return
        for nid, m in node_matrices(clip, t, self._rest).items():
            self._set(nid, m)
            self._posed.add(nid)
        if clip.deforms:
            local = clip_time(clip, t)
            for controls in self._controls:
                control = controls.get(clip.name)
                if control is not None:
                    frames = control.get_num_frames()
                    control.pose(min(local * control.get_frame_rate(), frames - 1))
