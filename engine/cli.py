"""Command line: `maquette render | still | demo`. Thin: parses arguments, calls the engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def _scene_arg(value: str):
    """A scene file (.toml) or a bare asset or image file (default stage).

    An image as the asset source is generated into a 3D asset first (cached by
    content hash), so `render` goes straight from image to video.
    """
    from engine.generate.pipeline import generate_cached
    from engine.render.asset_node import cache_dir
    from engine.scene import load_scene, scene_for_asset
    from engine.scene.loader import IMAGE_SUFFIXES

    path = Path(value)
    scene = load_scene(path) if path.suffix.lower() == ".toml" else scene_for_asset(path)
    if scene.asset.source.suffix.lower() in IMAGE_SUFFIXES:
        scene.asset.source = generate_cached(scene.asset.source, cache_dir(),
                                             log=lambda msg: print(msg, file=sys.stderr))
    return scene


def cmd_generate(args: argparse.Namespace) -> int:
    from engine.generate import GenerateSettings, generate_asset

    settings = GenerateSettings(device=args.device, model=args.model, faces=args.faces,
                                texture_size=args.texture_size, height=args.height)
    result = generate_asset(Path(args.image), Path(args.output), settings)
    report = result.report
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    mesh = report["mesh"]
    print(f"wrote {result.glb} ({mesh['faces']} triangles, watertight={mesh['watertight']}, "
          f"{report['timings_s']['total']:.2f} s) and {result.report_path}")
    return 0


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

    gen = sub.add_parser("generate", help="turn one image into a textured 3D asset (GLB)")
    gen.add_argument("image", help="PNG, JPEG or WebP, with or without alpha")
    gen.add_argument("-o", "--output", required=True, help="output .glb (and .json beside it)")
    gen.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    gen.add_argument("--model", help="model card (models/NAME.json) or 'classical'")
    gen.add_argument("--faces", type=int, default=20000, help="target triangles (default 20000)")
    gen.add_argument("--texture-size", type=int, default=1024, help="texture pixels (1024)")
    gen.add_argument("--height", type=float, default=0.3, help="asset height, metres (0.3)")
    gen.set_defaults(func=cmd_generate)

    demo = sub.add_parser("demo", help="render the bundled sample to a turntable video")
    demo.add_argument("-o", "--output", default="out/demo.mp4", help="default out/demo.mp4")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from engine.generate.runtime import DeviceError
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
    except (OutputError, RenderUnavailable, DeviceError, OSError) as exc:
        print(f"maquette: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
