"""Command line: `maquette generate | render | still | view | inspect | prep | export | web |
serve | demo`.

Thin: parses arguments, calls the engine, turns errors into messages and exit codes.
"""

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
                                texture_size=args.texture_size, height=args.height,
                                mirror_average=args.mirror_average, upright=args.upright,
                                square=args.square)
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
    """The whole job on the bundled sample: image → 3D asset → turntable video + sheet."""
    from engine.generate import GenerateSettings, generate_asset
    from engine.render.contact_sheet import render_contact_sheet
    from engine.render.offline import render_clip
    from engine.resources import resource_path
    from engine.scene import load_scene

    scene = load_scene(resource_path("scenes", "from-image.toml"))
    video = Path(args.output)
    asset = video.with_name(f"{video.stem}-asset.glb")
    sheet = video.with_name(f"{video.stem}-sheet.png")
    print(f"demo 1/3: generating a 3D asset from {scene.asset.source}")
    result = generate_asset(scene.asset.source, asset, GenerateSettings(height=0.25))
    scene.asset.source = result.glb
    print(f"demo 2/3: rendering the turntable to {video}")
    stats = render_clip(scene, video, progress=not args.quiet)
    print(f"demo 3/3: rendering the contact sheet to {sheet}")
    render_contact_sheet(result.glb, sheet)
    print(f"demo: wrote {result.glb}, {result.report_path}, {stats.path} "
          f"({stats.frames} frames, {stats.fps:.1f} fps) and {sheet}")
    return 0


def _write_json_atomic(path: Path, data: dict, protect: list[Path]) -> None:
    import json

    from engine.asset.export import write_files_atomic

    write_files_atomic({path: (json.dumps(data, indent=2) + "\n").encode()}, protect)


def cmd_inspect(args: argparse.Namespace) -> int:
    import json

    from engine.asset.inspect import format_report, inspect_asset
    from engine.asset.io import load_asset

    asset = load_asset(Path(args.asset))
    report = inspect_asset(asset)
    if args.sheet:
        import tempfile

        from engine.asset.export import export_mesh
        from engine.asset.prep import display_copy
        from engine.render.contact_sheet import render_contact_sheet

        with tempfile.TemporaryDirectory(prefix="maquette-sheet-") as tmp:
            # Above 50k triangles the sheet shows a decimated copy: the renderer loads
            # and draws it in seconds, and at 320-pixel tiles it looks the same.
            shown, note = asset.source, ""
            copy = display_copy(asset.mesh, 50_000)
            if copy is not None:
                shown = export_mesh(copy, Path(tmp) / "display.glb").path
                note = f" ({len(copy.faces) // 1000}k-tri copy)"
            # the wireframe rule goes by the asset's own size: a copy's edges are not its
            report["contact_sheet"] = str(render_contact_sheet(
                shown, Path(args.sheet), triangles=asset.triangles, note=note))
    if args.json == "-":
        print(json.dumps(report, indent=2))
        return 0
    print(format_report(report))
    if args.json:
        _write_json_atomic(Path(args.json), report, [asset.source])
        print(f"wrote {args.json}")
    if args.sheet:
        print(f"wrote {args.sheet}")
    return 0


def _figures_table(before: dict, after: dict) -> str:
    def size(f):
        return " x ".join(f"{x:.3g}" for x in f["size_m"]) + " m"

    def tex(f):
        return f"{f['texture'][0]}x{f['texture'][1]}" if f["texture"] else "none"

    rows = [("triangles", f"{before['triangles']:,}", f"{after['triangles']:,}"),
            ("vertices", f"{before['vertices']:,}", f"{after['vertices']:,}"),
            ("size", size(before), size(after)),
            ("watertight", str(before["watertight"]), str(after["watertight"])),
            ("holes", str(before["holes"]), str(after["holes"])),
            ("parts", str(before["parts"]), str(after["parts"])),
            ("texture", tex(before), tex(after))]
    width = max(len(r[1]) for r in rows) + 2
    lines = [f"  {'':<11}{'before':<{width}}after"]
    lines += [f"  {name:<11}{b:<{width}}{a}" for name, b, a in rows]
    return "\n".join(lines)


def cmd_prep(args: argparse.Namespace) -> int:
    from engine.asset.export import expected_figures, export_mesh, verify_export
    from engine.asset.io import load_asset
    from engine.asset.prep import PrepOptions, prepare

    source, out = Path(args.asset), Path(args.output)
    asset = load_asset(source)
    options = PrepOptions(height=args.height, pivot=args.pivot, up=args.up, face=args.face,
                          faces=args.faces, texture_size=args.texture_size,
                          remove_fragments=args.remove_fragments, fill_holes=args.fill_holes)
    result = prepare(asset, options)
    written = export_mesh(result.mesh, out, protect=[source])
    verify_export(out, expected_figures(result.mesh, written.format))
    for step in result.steps:
        print(f"  - {step}")
    print(_figures_table(result.before, result.after))
    print(f"wrote {', '.join(str(p) for p in written.files)}")
    return 0


def _animation_samples(scene_file: Path, mesh):
    import numpy as np

    from engine.scene import load_scene
    from engine.scene.timeline import Bounds, Timeline

    scene = load_scene(scene_file)
    timeline = Timeline(scene, Bounds(np.asarray(mesh.bounds[0]), np.asarray(mesh.bounds[1])))
    fps = scene.output.fps
    times = np.arange(int(round(scene.output.duration * fps)) + 1) / fps
    return times, np.stack([timeline.asset_matrix(float(t)) for t in times])


def cmd_export(args: argparse.Namespace) -> int:
    from engine.asset.export import expected_figures, export_mesh, verify_export
    from engine.asset.io import load_asset

    source, out = Path(args.asset), Path(args.output)
    asset = load_asset(source)
    animation = _animation_samples(Path(args.animation), asset.mesh) if args.animation \
        else None
    written = export_mesh(asset.mesh, out, units=args.units, animation=animation,
                         protect=[source])
    expected = expected_figures(asset.mesh, written.format, args.units,
                                animation[1][0] if animation else None)
    got = verify_export(out, expected, written.format)
    motion = f", {len(animation[0])} animation samples" if animation else ""
    print(f"wrote {', '.join(str(p) for p in written.files)}")
    print(f"verified with {got['reader']}: {got['triangles']:,} triangles, bounds match, "
          f"texture {'yes' if got['textured'] else 'no'}{motion}")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    """A self-contained model-viewer page (engine/web/page.py)."""
    from engine.web.page import WebOptions, build_site, format_report

    scene = _scene_arg(args.source)
    result = build_site(scene, Path(args.output),
                        WebOptions(title=args.title, allow_heavy=args.allow_heavy),
                        log=lambda msg: print(msg, file=sys.stderr))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(format_report(result))
    print(f"wrote {result.folder}/ (index.html, embed.html); view it with "
          f"`maquette serve {result.folder}`")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """A static server for a `maquette web` folder (engine/web/serve.py)."""
    from engine.web.serve import LOOPBACK, make_server, qr_text, url_of

    server = make_server(Path(args.folder), args.host, args.port)
    url = url_of(server)
    if args.host != LOOPBACK:
        print(f"warning: serving {args.folder} on {args.host}: every machine that can reach "
              f"this one on the network can read these files", file=sys.stderr)
        qr = qr_text(url)  # for a phone on the same network
        if qr:
            print(qr, end="")
    print(f"serving {args.folder} at {url} (Ctrl-C stops)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("serve: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    """The live viewer; offscreen with --keys/--screenshot for demos and tests."""
    from engine.viewer.app import Viewer, ViewerError
    from engine.viewer.script import parse_script

    steps = parse_script(args.keys) if args.keys else []
    size = None
    if args.size:
        try:
            w, h = (int(x) for x in args.size.lower().split("x"))
        except ValueError:
            raise ValueError(f"--size: expected WIDTHxHEIGHT, got {args.size!r}") from None
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise ValueError(f"--size: {w}x{h} is out of range (16 to 8192)")
        size = (w, h)
    try:
        viewer = Viewer(args.source, size=size, offscreen=args.offscreen, model=args.model,
                        msaa=args.msaa, screenshot=args.screenshot)
    except ViewerError as exc:
        print(f"maquette: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with viewer:
        code = viewer.run(steps, frames=args.frames)
        shots, error = viewer.screenshots_taken, viewer.error
    if args.screenshot and shots:
        print(f"wrote {args.screenshot}" + (f" (+{shots - 1} more)" if shots > 1 else ""))
    if error:
        print(f"maquette: error: {error}", file=sys.stderr)
    return EXIT_FAILED if code else 0


class _VersionAction(argparse.Action):
    """`--version`: the installed package's version, looked up only when asked (~30 ms)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        from engine.resources import version

        print(f"maquette {version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maquette",
        description="Concept image → 3D asset → real-time PBR stage → video.",
    )
    parser.add_argument("--version", action=_VersionAction)
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
    gen.add_argument("--mirror-average", action=argparse.BooleanOptionalAction, default=True,
                     help="average the model's prediction with that of the mirrored image "
                          "(default on; off halves the model time)")
    gen.add_argument("--upright", action=argparse.BooleanOptionalAction, default=True,
                     help="undo the view's elevation when the model estimates it (default "
                          "on: an asset seen from above stands straight)")
    gen.add_argument("--square", action=argparse.BooleanOptionalAction, default=True,
                     help="once upright, turn the asset about the vertical so a rectangular "
                          "footprint (a box, a table, a car) is square to the axes (default "
                          "on; round footprints are never turned)")
    gen.set_defaults(func=cmd_generate)

    inspect = sub.add_parser("inspect", help="technical report and contact sheet of an asset")
    inspect.add_argument("asset", help="asset file (.glb .gltf .obj .ply .stl)")
    inspect.add_argument("--json", metavar="REPORT.json", help="also write the report as JSON "
                         "('-' prints JSON instead of text)")
    inspect.add_argument("--sheet", metavar="SHEET.png", help="render a contact sheet PNG")
    inspect.set_defaults(func=cmd_inspect)

    prep = sub.add_parser("prep", help="scale, orient, clean up and decimate an asset")
    prep.add_argument("asset", help="asset file (.glb .gltf .obj .ply .stl)")
    prep.add_argument("-o", "--output", required=True, help="output file (format by suffix)")
    prep.add_argument("--height", type=float, help="scale to this height, metres")
    prep.add_argument("--pivot", choices=("base", "center"), help="move the origin here")
    prep.add_argument("--up", default="auto", help="auto | y | z | +x ... -z (default auto)")
    prep.add_argument("--face", metavar="FRONT_AXIS",
                      help="the file's axis the front looks along (+x, -z...); turned to +Z")
    prep.add_argument("--faces", type=int, help="decimate to this many triangles")
    prep.add_argument("--texture-size", type=int, help="longest texture side, pixels")
    prep.add_argument("--remove-fragments", action="store_true",
                      help="drop loose parts under 5%% of the largest part's size")
    prep.add_argument("--fill-holes", action="store_true", help="fill small holes")
    prep.set_defaults(func=cmd_prep)

    export = sub.add_parser("export", help="write an asset as GLB/glTF/OBJ/FBX/USDZ/STL/PLY")
    export.add_argument("asset", help="asset file (.glb .gltf .obj .ply .stl)")
    export.add_argument("-o", "--output", required=True,
                        help="OUT.glb .gltf .obj .fbx .usdz .stl or .ply")
    export.add_argument("--units", choices=("m", "mm"), default="m",
                        help="STL units (mm for 3D printing; default m)")
    export.add_argument("--animation", metavar="SCENE.toml",
                        help="bake the scene's object motion into glTF animation (GLB/glTF)")
    export.set_defaults(func=cmd_export)

    view = sub.add_parser("view", help="live viewer: orbit, relight, inspect (H lists keys)")
    view.add_argument("source", help="scene (.toml), asset (.glb .gltf .obj .ply .stl) or image")
    view.add_argument("--offscreen", action="store_true",
                      help="no window: replay --keys, write --screenshot, exit")
    view.add_argument("--keys", help='input to replay, e.g. "T,wait:1.5,L,F12"')
    view.add_argument("--screenshot", metavar="OUT.png",
                      help="where F12 saves (default maquette-NAME-001.png); offscreen: "
                           "also written at the end if no F12 was pressed")
    view.add_argument("--frames", type=int, help="stop after this many frames")
    view.add_argument("--size", metavar="WxH", help="window size (default: 720 p at the "
                      "scene's aspect)")
    view.add_argument("--model", help="generator for an image: model card or 'classical'")
    view.add_argument("--msaa", type=int, choices=(0, 2, 4, 8),
                      help="anti-aliasing samples (default: the scene's, 4)")
    view.set_defaults(func=cmd_view)

    web = sub.add_parser("web", help="a self-contained web/AR page (model-viewer) in a folder")
    web.add_argument("source", help="scene (.toml), asset (.glb .gltf .obj .ply .stl) or image")
    web.add_argument("-o", "--output", required=True, help="the folder to write (site/)")
    web.add_argument("--title", help="the page's title (default: the asset's name)")
    web.add_argument("--allow-heavy", action="store_true",
                     help="write a page over the 15 MB budget anyway")
    web.set_defaults(func=cmd_web)

    serve = sub.add_parser("serve", help="serve a `maquette web` folder over HTTP")
    serve.add_argument("folder", help="the folder `maquette web` wrote")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="interface (default 127.0.0.1: this machine only; 0.0.0.0 "
                            "lets a phone on the same network in, with a warning)")
    serve.add_argument("--open", action="store_true", help="open the page in a browser")
    serve.set_defaults(func=cmd_serve)

    demo = sub.add_parser("demo", help="the whole job on the bundled sample image")
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
