"""The viewer's 2D overlay (Panda3D): status line, messages, help, stats, errors,
generation progress and aspect-ratio safe frames, drawn over the stage's image.

Pixel coordinates: x right from the left edge, y up from the top edge (negative
down), so a node at (10, 0, -20) sits 10 px from the left and 20 px from the top.
"""

from __future__ import annotations

from engine.viewer.state import safe_frame_rect

LINE_PX = 19  # at 720 p
PAD_PX = 10  # a text block's distance from the window's edges


def text_px(height: int) -> float:
    """Text size in pixels for a window `height` pixels tall."""
    return float(max(9, min(16, round(height / 46))))


class Hud:
    def __init__(self, output, width: int, height: int):
        from panda3d.core import Camera, NodePath, OrthographicLens

        self.width, self.height = width, height
        self.root = NodePath("hud")
        self.root.set_bin("unsorted", 0)
        self.root.set_depth_test(False)
        self.root.set_depth_write(False)
        self.root.set_light_off(1)
        self.lens = OrthographicLens()
        self.lens.set_near_far(-100, 100)
        camera = self.root.attach_new_node(Camera("hud-camera", self.lens))
        self.region = output.make_display_region()
        self.region.set_sort(20)
        self.region.set_camera(camera)
        self._output = output
        self._texts: dict[str, tuple] = {}
        self._placed: dict[str, tuple] = {}  # name -> (text, anchor, w, h) of its layout
        self._frame_key = None
        self._frame_np = NodePath("safe-frame")
        self._frame_np.reparent_to(self.root)
        self._bar = None
        self._resize_lens()

    def _resize_lens(self) -> None:
        self.lens.set_film_size(self.width, self.height)
        self.lens.set_film_offset(self.width / 2.0, -self.height / 2.0)

    def resize(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._resize_lens()
        self._frame_key = None
        for node, np_, anchor in self._texts.values():
            self._place(np_, node, anchor)

    def set_visible(self, visible: bool) -> None:
        self.region.set_active(visible)

    def close(self) -> None:
        self._output.remove_display_region(self.region)
        self.root.remove_node()

    # --- text blocks -------------------------------------------------------------------------

    def _fit(self, np_, node) -> float:
        """Wrap the block to the window's width and shrink it (down to 6 px text) until
        it fits the window's height. Returns the text size in pixels."""
        w, h = self.width, self.height
        scale = text_px(h)
        for _ in range(4):
            node.set_wordwrap(max(4.0, (w - 2 * PAD_PX - 8) / scale))
            tall = (node.get_num_rows() + 0.6) * node.get_line_height() * scale
            wide = (node.get_width() + 0.8) * scale  # tabs and unbreakable words
            fit = min((h - 2 * PAD_PX) / tall, (w - 2 * PAD_PX) / wide)
            if fit >= 1.0 or scale <= 6.0:
                break
            scale = max(6.0, scale * fit)
        np_.set_scale(scale)
        return scale

    def block_bounds(self, name: str) -> tuple[float, float, float, float] | None:
        """(left, top, right, bottom) in window pixels (y down) of a shown text block,
        its card included; None if hidden."""
        entry = self._texts.get(name)
        if entry is None or entry[1].is_hidden():
            return None
        lo, hi = entry[1].get_tight_bounds(self.root)
        return float(lo.x), float(-hi.z), float(hi.x), float(-lo.z)

    def shown(self) -> list[str]:
        return [name for name, entry in self._texts.items() if not entry[1].is_hidden()]

    def _place(self, np_, node, anchor: str) -> None:
        w, h = self.width, self.height
        pad = PAD_PX
        scale = self._fit(np_, node)
        lines = max(1, node.get_num_rows())
        line_px = node.get_line_height() * scale
        if anchor == "top-left":
            np_.set_pos(pad, 0, -pad - scale)
        elif anchor == "top-right":
            np_.set_pos(w - pad, 0, -pad - scale)
        elif anchor == "top-center":
            np_.set_pos(w / 2.0, 0, -pad - scale)
        elif anchor == "bottom-left":
            np_.set_pos(pad, 0, -h + pad + (lines - 1) * line_px + 4)
        elif anchor == "center":
            np_.set_pos(w / 2.0, 0, -h / 2.0 + (lines - 1) * line_px / 2.0)

    def text(self, name: str, text: str | None, anchor: str = "top-left",
             color=(1.0, 1.0, 1.0, 1.0), card=(0.0, 0.0, 0.0, 0.55)) -> None:
        """Show (or with None/"" hide) the text block `name` at `anchor`."""
        from panda3d.core import TextNode, TransparencyAttrib

        entry = self._texts.get(name)
        if not text:
            if entry is not None:
                entry[1].hide()
            return
        if entry is None:
            node = TextNode(name)
            node.set_align({"top-right": TextNode.A_right, "top-center": TextNode.A_center,
                            "center": TextNode.A_center}.get(anchor, TextNode.A_left))
            node.set_card_as_margin(0.4, 0.4, 0.25, 0.3)
            np_ = self.root.attach_new_node(node)
            np_.set_scale(text_px(self.height))
            node.set_tab_width(9.0)
            np_.set_transparency(TransparencyAttrib.M_alpha)
            entry = self._texts[name] = (node, np_, anchor)
        node, np_, _ = entry
        if node.get_text() != text:
            node.set_text(text)
        if tuple(node.get_text_color()) != tuple(color):
            node.set_text_color(*color)
        if tuple(node.get_card_color()) != tuple(card):
            node.set_card_color(*card)
        layout = (text, anchor, self.width, self.height)
        if self._placed.get(name) != layout:  # (fitting assembles the text: ~1 ms a block)
            self._place(np_, node, anchor)
            self._placed[name] = layout
        np_.show()

    # --- progress bar (generation) ---------------------------------------------------------

    def progress(self, phase: float | None) -> None:
        """An indeterminate progress bar under the centre text; phase in [0, 1) or None."""
        from panda3d.core import CardMaker, NodePath, TransparencyAttrib

        if phase is None:
            if self._bar is not None:
                self._bar.hide()
            return
        bar_w, bar_h = min(360.0, self.width * 0.6), 6.0
        if self._bar is None:
            self._bar = NodePath("progress")
            self._bar.reparent_to(self.root)
            track = CardMaker("track")
            track.set_frame(0, 1, -1, 0)
            track.set_color(1, 1, 1, 0.2)
            self._bar_track = self._bar.attach_new_node(track.generate())
            block = CardMaker("block")
            block.set_frame(0, 1, -1, 0)
            block.set_color(0.35, 0.75, 1.0, 1.0)
            self._bar_block = self._bar.attach_new_node(block.generate())
            self._bar.set_transparency(TransparencyAttrib.M_alpha)
        self._bar.show()
        x0 = (self.width - bar_w) / 2.0
        y0 = -self.height / 2.0 - 3.2 * text_px(self.height)
        self._bar_track.set_pos(x0, 0, y0)
        self._bar_track.set_scale(bar_w, 1, bar_h)
        block_w = bar_w * 0.25
        self._bar_block.set_pos(x0 + (bar_w - block_w) * (0.5 - 0.5 * _cos_phase(phase)), 0, y0)
        self._bar_block.set_scale(block_w, 1, bar_h)

    # --- safe frames ----------------------------------------------------------------------

    def safe_frame(self, aspect: str | None) -> None:
        """Dim the window outside the box of `aspect` (16:9 9:16 1:1 4:5); None: off."""
        from panda3d.core import CardMaker, LineSegs, TransparencyAttrib

        key = (aspect, self.width, self.height)
        if key == self._frame_key:
            return
        self._frame_key = key
        self._frame_np.node().remove_all_children()
        if aspect is None:
            return
        x0, y0, x1, y1 = safe_frame_rect(self.width, self.height, aspect)
        w, h = self.width, self.height
        for name, (left, r, b, t) in {"top": (0, w, -y0, 0), "bottom": (0, w, -h, -y1),
                                   "left": (0, x0, -y1, -y0), "right": (x1, w, -y1, -y0)}.items():
            if r - left < 0.5 or t - b < 0.5:
                continue
            card = CardMaker(name)
            card.set_frame(left, r, b, t)
            card.set_color(0, 0, 0, 0.55)
            self._frame_np.attach_new_node(card.generate())
        lines = LineSegs("frame-outline")
        lines.set_color(1.0, 0.8, 0.2, 1.0)
        lines.set_thickness(1.0)
        lines.move_to(x0 + 0.5, 0, -y0 - 0.5)
        for x, y in ((x1 - 0.5, y0 + 0.5), (x1 - 0.5, y1 - 0.5), (x0 + 0.5, y1 - 0.5),
                     (x0 + 0.5, y0 + 0.5)):
            lines.draw_to(x, 0, -y)
        self._frame_np.attach_new_node(lines.create())
        self._frame_np.set_transparency(TransparencyAttrib.M_alpha)


def _cos_phase(phase: float) -> float:
    import math

    return math.cos(2.0 * math.pi * phase)
