"""Command line: `maquette render | still | demo`. Thin: parses arguments, calls the engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _scene_arg(value: str):
    """A scene file (.toml) or a bare asset file (default stage)."""
    from engine.scene import load_scene, scene_for_asset

    path = Path(value)
    if path.suffix.lower() == ".toml":
        return load_scene(path)
    return scene_for_asset(path)


def cmd_render(args: argparse.Namespace) -> int:
    from engine.render.offline import render_clip

    scene = _scene_arg(args.scene)
    stats = render_clip(scene, Path(args.output) if args.output else None,
                        progress=not args.quiet)
    print(f"wrote {stats.path} ({stats.frames} frames, {stats.width}x{stats.height}, "
          f"{stats.seconds:.1f} s, {stats.fps:.1f} fps)")
    return 0


def cmd_still(args: argparse.Namespace) -> int:
    from engine.render.offline import render_still

    scene = _scene_arg(args.scene)
    path = render_still(scene, args.at, Path(args.output))
    print(f"wrote {path}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from engine.render.offline import render_clip
    from engine.scene import load_scene

    scene_file = Path(__file__).resolve().parent.parent / "scenes" / "turntable.toml"
    if not scene_file.is_file():
        print(f"maquette: demo scene not found: {scene_file}", file=sys.stderr)
        return EXIT_FAILED
    scene = load_scene(scene_file)
    out = Path(args.output)
    stats = render_clip(scene, out, progress=not args.quiet)
    print(f"demo: wrote {stats.path} ({stats.frames} frames, {stats.fps:.1f} fps)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maquette",
        description="Concept image → 3D asset → real-time PBR stage → video.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    render = sub.add_parser("render", help="render a scene (or an asset) to a clip")
    render.add_argument("scene", help="scene file (.toml) or an asset (.glb .gltf .obj .ply .stl)")
    render.add_argument("-o", "--output", help="output file or folder/ (default: the scene's)")
    render.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    render.set_defaults(func=cmd_render)

    still = sub.add_parser("still", help="render one frame to PNG")
    still.add_argument("scene", help="scene file (.toml) or an asset")
    still.add_argument("--at", type=float, default=0.0, help="time in seconds (default 0)")
    still.add_argument("-o", "--output", required=True, help="output .png")
    still.set_defaults(func=cmd_still)

    demo = sub.add_parser("demo", help="render the bundled sample to a turntable video")
    demo.add_argument("-o", "--output", default="out/demo.mp4", help="default out/demo.mp4")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from engine.render.asset_node import AssetLoadError
    from engine.render.engine_setup import RenderUnavailable
    from engine.render.writers import OutputError
    from engine.scene import SceneError

    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("maquette: interrupted; no partial output was left behind", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (SceneError, AssetLoadError, ValueError) as exc:
        print(f"maquette: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OutputError, RenderUnavailable, OSError) as exc:
        print(f"maquette: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
