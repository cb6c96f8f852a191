"""Command line: `maquette generate | render | still | view | inspect | prep | export | web |
serve | handoff | demo | library | provenance`.

Thin: parses arguments, calls the engine, turns errors into messages and exit codes.
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
from pathlib import Path

from engine.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, InputError, Interrupted

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]


def _shown(path) -> str:
    """A path as printed: normalised (no `scenes/../out`)."""
    return os.path.normpath(os.fspath(path))


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def _warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _source(value: str, *outputs):
    """A scene (.toml), an asset or an image, its asset resolved (an image is generated
    into a 3D asset first, cached by content hash): engine.scene.source.Loaded.
    `outputs` that are inputs are refused first."""
    from engine.scene.source import load_source

    return load_source(value, log=_log, outputs=[Path(p) for p in outputs if p is not None])


def _clip_output(value: str) -> str:
    """`-o` of render: a video file by its suffix, or a folder of PNG frames ending in /.
    Refused: no suffix (renders/x: a typo for renders/x.mp4?), even for an existing
    folder, which takes frames only when named with its trailing /."""
    from engine.render.writers import format_for_path

    format_for_path(value, slash_for_folders=True)
    return value


def cmd_generate(args: argparse.Namespace) -> int:
    from engine.generate import GenerateSettings, generate_asset

    settings = GenerateSettings(device=args.device, model=args.model, faces=args.faces,
                                texture_size=args.texture_size, height=args.height,
                                mirror_average=args.mirror_average, upright=args.upright,
                                square=args.square, back_texture=args.back_texture,
                                fov=args.fov)
    result = generate_asset(Path(args.image), Path(args.output), settings, log=print)
    report = result.report
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    mesh = report["mesh"]
    print(f"wrote {_shown(result.glb)} ({mesh['faces']} triangles, "
          f"watertight={mesh['watertight']}, {report['timings_s']['total']:.2f} s) and "
          f"{_shown(result.report_path)}")
    return 0


def _overridden(args: argparse.Namespace, loaded, output):
    """The scene with the run's draft/override flags applied (engine.scene.overrides),
    and the overrides; the scene file is not changed."""
    from engine.scene.overrides import apply_overrides, overrides_from_args

    overrides = overrides_from_args(args)
    if not overrides.given():
        return loaded.scene, overrides
    return apply_overrides(loaded.scene, overrides, output), overrides


def cmd_render(args: argparse.Namespace) -> int:
    from engine.handoff import render_shot
    from engine.render.offline import output_target
    from engine.scene.overrides import draft_output, overrides_from_args

    output = _clip_output(args.output) if args.output else None
    loaded = _seen_range_for_bare(args.scene, _source(args.scene, output))
    if output is None and overrides_from_args(args).given():
        # a draft never replaces the scene's own deliverable: it goes beside it
        output = draft_output(output_target(loaded.scene))
    scene, overrides = _overridden(args, loaded, output)
    seen = _seen_check(scene, loaded.resolved.mesh)  # one line, never blocks the render
    if seen is not None:
        print(seen.verdict())
    if args.workers is not None or args.ray is not None or args.chunk_frames is not None:
        if scene.output.passes or scene.output.handoff:
            raise InputError(f"{_shown(args.scene)}: [output] passes and handoff are rendered "
                             "in one process; drop --workers/--ray/--chunk-frames for this "
                             "scene")
        return _render_chunked(args, scene, loaded.inputs, output, overrides.frames)
    stats, extras = render_shot(scene, output, progress=not args.quiet, inputs=loaded.inputs,
                                frames=overrides.frames, warn=_warning, log=_log)
    extra = {"frames_rendered": stats.frames} if overrides.frames else None
    sidecar = _provenance("render", stats.path, scene.asset.source, scene=scene,
                          settings=extra)
    print(f"wrote {_shown(stats.path)} ({stats.frames} frames, {stats.width}x{stats.height}, "
          f"{stats.seconds:.1f} s, {stats.fps:.1f} fps) and {_shown(sidecar)}")
    if extras is not None:
        print(f"wrote {_shown(extras)}/ (passes and manifest.json, frame-aligned with the clip)")
    return 0


def _seen_check(scene, mesh_path):
    """The shot check (engine.scene.seen_check) of `scene` with its mesh file (60 frames
    at most), or None when the mesh carries no seen marks (told from its JSON, nothing
    decoded)."""
    from engine.asset.io import load_asset
    from engine.asset.seen import file_has_marks
    from engine.render.seen_pass import run_check

    if not file_has_marks(mesh_path):
        return None
    return run_check(scene, load_asset(mesh_path).mesh, samples=60)


def _seen_range_for_bare(value: str, loaded):
    """A bare asset or image (no scene file) whose mesh carries seen marks is filmed on
    the seen arc ([camera] range = "seen") and says so; anything else as it is."""
    from dataclasses import replace

    from engine.animation.camera import SEEN_ARC_DEG
    from engine.asset.seen import file_has_marks, file_seen_arc
    from engine.scene.source import source_kind

    camera = loaded.scene.camera
    if source_kind(Path(value)) == "scene" or camera.move != "orbit" or \
            camera.sweep_arc() is not None or not file_has_marks(loaded.resolved.mesh):
        return loaded
    lo, hi = file_seen_arc(loaded.resolved.mesh) or SEEN_ARC_DEG
    print(f'maquette: a generated asset: the camera sweeps where the image saw it ([camera] '
          f'range = "seen", {lo:+.0f}° to {hi:+.0f}°); a scene file with range = "full" '
          f'orbits all round')
    return replace(loaded, scene=replace(loaded.scene,
                                         camera=replace(camera, view_range="seen")))


def cmd_check(args: argparse.Namespace) -> int:
    import json

    from engine.asset.io import load_asset
    from engine.fileio import write_bytes_atomic
    from engine.render.seen_pass import run_check

    if not 0 < args.threshold < 1:
        raise InputError(f"--threshold: {args.threshold!r} is not a share between 0 and 1")
    loaded = _seen_range_for_bare(args.scene, _source(args.scene, args.json))
    result = run_check(loaded.scene, load_asset(loaded.resolved.mesh).mesh, args.threshold)
    print(result.verdict())
    if args.json:
        write_bytes_atomic(Path(args.json), (json.dumps(result.to_dict(), indent=2) + "\n")
                           .encode(), inputs=loaded.inputs)
        print(f"wrote {_shown(Path(args.json))}")
    return 0


def cmd_handoff(args: argparse.Namespace) -> int:
    """One scene for an image-to-video tool: stills, control videos, passes, manifest."""
    from engine.handoff import write_handoff

    loaded = _source(args.scene, args.output)
    result = write_handoff(loaded.scene, Path(args.output), args.target,
                           inputs=loaded.inputs, progress=not args.quiet, log=_log)
    sidecar = _provenance("handoff", result.folder, loaded.scene.asset.source,
                          scene=loaded.scene, settings={"handoff": args.target})
    p = result.plan
    print(f"wrote {_shown(result.folder)}/ for {args.target}: {p.width}x{p.height}, "
          f"{p.frames} frames at {p.fps:g} fps, passes {', '.join(result.passes)}, "
          f"{len(result.files)} files, {result.seconds:.1f} s; and {_shown(sidecar)}")
    return 0


def cmd_campaign(args: argparse.Namespace) -> int:
    """Every shot of a campaign file into one folder (engine.campaign)."""
    from engine.campaign import load_campaign, run_campaign
    from engine.render.workers import parse_workers

    campaign = load_campaign(args.file)
    workers = parse_workers(args.workers) if args.workers is not None else None
    report = run_campaign(campaign, only=args.only, dry_run=args.dry_run,
                          allow_unapproved=args.allow_unapproved, progress=not args.quiet,
                          log=_log, warn=_warning, workers=workers, ray=args.ray,
                          chunk_frames=args.chunk_frames)
    for r in report.results:
        tail = f": {r.error}" if r.error else ""
        print(f"{r.status:8} {r.name}: {_shown(r.path)} ({r.width}x{r.height}, {r.frames} "
              f"frames at {r.fps:g} fps){tail}")
    if report.index is not None:
        print(f"wrote {_shown(report.index)}" + (f" and {_shown(report.sheet)}"
                                                 if report.sheet else "")
              + (f" (chunks on {report.where})" if report.where != "this process" else ""))
    if report.failed:
        _log(f"error: {len(report.failed)} shot(s) failed: {', '.join(report.failed)}")
        return 1
    return 0


def _render_chunked(args: argparse.Namespace, scene, inputs, output, frames: int | None
                    ) -> int:
    """render --workers N / --ray ADDRESS: in chunks (engine.render.workers.run_jobs), the
    first `frames` only when given (--frames); the framing guard's warning comes from the
    worker of the first chunk (after it, not before the first frame)."""
    from engine.render.chunks import Job
    from engine.render.offline import output_target
    from engine.render.workers import parse_workers, run_jobs

    workers = parse_workers(args.workers or "1")
    stop = None if frames is None else max(1, min(int(frames), scene.output.frame_count))
    job = Job(scene, output_target(scene, output), 0, stop, inputs=tuple(inputs))
    report = run_jobs([job], workers=workers, ray=args.ray, chunk_frames=args.chunk_frames,
                      progress=not args.quiet, log=_log, warn=_warning)
    result = report.results[0]
    extra = {"frames_rendered": result.frames} if frames else None
    sidecar = _provenance("render", result.path, scene.asset.source, scene=scene,
                          settings=extra)
    kept = f", {len(result.reused)} kept from an earlier run" if result.reused else ""
    print(f"wrote {_shown(result.path)} ({result.frames} frames in {result.chunks} chunks"
          f"{kept}, on {report.where}, {report.seconds:.1f} s, {report.fps:.1f} fps) and "
          f"{_shown(sidecar)}")
    return 0


def _chunk_frames(value: str) -> int:
    """--chunk-frames: 1 or more frames (argparse turns errors into exit 2)."""
    try:
        frames = int(value)
    except ValueError:
        frames = 0
    if frames < 1:
        raise argparse.ArgumentTypeError(f"expected a number of frames, 1 or more; got {value!r}")
    return frames


def _add_worker_flags(parser: argparse.ArgumentParser, whose: str) -> None:
    """--workers, --ray and --chunk-frames of render and campaign (engine.render.workers)."""
    parser.add_argument("--workers", metavar="N", help=f"render {whose} chunks on N local "
                        "processes ('auto': from the cores, or one per GPU); any N gives the "
                        "same output, and a stopped render resumes from its finished chunks")
    parser.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                        help=f"render {whose} chunks on a Ray cluster at ADDRESS (default "
                             "'auto': a running cluster, else a local one); pip install "
                             "'maquette[ray]'")
    parser.add_argument("--chunk-frames", type=_chunk_frames, metavar="N",
                        help="frames per chunk (default: sized so per-chunk set-up stays under "
                             "5 %% of a chunk's time)")


def _seconds(value: str) -> float:
    """--at: a finite time in seconds, 0 or more (argparse turns errors into exit 2)."""
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise argparse.ArgumentTypeError(f"expected a time of 0 seconds or more, got {value!r}")
    return seconds


def cmd_still(args: argparse.Namespace) -> int:
    from engine.fileio import image_format
    from engine.render.offline import render_still

    image_format(Path(args.output), what="a still")  # before any generation or rendering
    loaded = _source(args.scene, args.output)
    scene, _ = _overridden(args, loaded, args.output)
    path = render_still(scene, args.at, Path(args.output), inputs=loaded.inputs,
                        warn=_warning)
    sidecar = _provenance("still", path, scene.asset.source, scene=scene,
                          settings={"at": args.at})
    print(f"wrote {_shown(path)} and {_shown(sidecar)}")
    return 0


def _provenance(kind: str, deliverable: Path, asset: Path, **what) -> Path:
    """Write the deliverable's provenance sidecar (OUT.EXT.json), recorded in the library
    when there is one (engine.library.provenance); returns the sidecar."""
    from engine.library.commands import record

    return record(kind, Path(deliverable), Path(asset), **what)[0]


def cmd_demo(args: argparse.Namespace) -> int:
    """The whole job on the bundled sample: image → 3D asset → a video sweeping the side
    the image saw (scenes/safe-sweep.toml) + contact sheet."""
    from dataclasses import replace

    from engine.generate import GenerateSettings, generate_asset
    from engine.render.contact_sheet import render_contact_sheet
    from engine.render.offline import render_clip
    from engine.resources import resource_path
    from engine.scene.source import load_source

    video = Path(_clip_output(args.output))
    asset = video.with_name(f"{video.stem}-asset.glb")
    sheet = video.with_name(f"{video.stem}-sheet.png")
    # The sample scene's image is generated into the user's folder (not the cache), so
    # the source is resolved without generating; its inputs are refused as outputs.
    loaded = load_source(resource_path("scenes", "safe-sweep.toml"),
                         generate=False, outputs=[video, asset, asset.with_suffix(".json"),
                                                  sheet])
    scene, inputs = loaded.scene, loaded.inputs
    print(f"demo 1/3: generating a 3D asset from {_shown(scene.asset.source)}")
    result = generate_asset(scene.asset.source, asset, GenerateSettings(height=0.25))
    scene = replace(scene, asset=replace(scene.asset, source=result.glb))
    seen = _seen_check(scene, result.glb)
    if seen is not None:  # the sweep stays where the image saw the robot
        print(f"demo: {seen.verdict()}")
    print(f"demo 2/3: rendering the seen-side sweep to {_shown(video)} "
          f"(scenes/from-image.toml orbits all round; `maquette check` it to compare)")
    stats = render_clip(scene, video, progress=not args.quiet, inputs=inputs)
    _provenance("render", stats.path, result.glb, scene=scene)
    print(f"demo 3/3: rendering the contact sheet to {_shown(sheet)}")
    render_contact_sheet(result.glb, sheet, inputs=inputs)
    print(f"demo: wrote {_shown(result.glb)}, {_shown(result.report_path)}, "
          f"{_shown(stats.path)} ({stats.frames} frames, {stats.fps:.1f} fps) and "
          f"{_shown(sheet)}")
    print("demo: next, one asset in four deliverables (hero 16:9, vertical 9:16, square "
          "loop, close-up): maquette campaign scenes/campaign-robot.toml")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    import json

    from engine.asset.files import asset_files
    from engine.asset.inspect import format_report, inspect_asset
    from engine.asset.io import load_asset
    from engine.fileio import guard_inputs, image_format, write_bytes_atomic

    source = Path(args.asset)
    inputs = asset_files(source)
    outputs = [Path(p) for p in (args.sheet, args.json) if p and p != "-"]
    if args.sheet:
        image_format(Path(args.sheet), what="a contact sheet")
    guard_inputs(outputs, inputs)  # before any work
    asset = load_asset(source)
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
                shown, Path(args.sheet), triangles=asset.triangles, note=note,
                inputs=inputs))
    if args.json == "-":
        print(json.dumps(report, indent=2))
        return 0
    print(format_report(report))
    if args.json:
        write_bytes_atomic(Path(args.json), (json.dumps(report, indent=2) + "\n").encode(),
                           inputs)
        print(f"wrote {_shown(args.json)}")
    if args.sheet:
        print(f"wrote {_shown(args.sheet)}")
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
    from engine.asset.export import export_verified
    from engine.asset.files import asset_files
    from engine.asset.io import load_asset
    from engine.asset.prep import PrepOptions, prepare

    source, out = Path(args.asset), Path(args.output)
    options = PrepOptions(height=args.height, pivot=args.pivot, up=args.up, face=args.face,
                          faces=args.faces, texture_size=args.texture_size,
                          remove_fragments=args.remove_fragments, fill_holes=args.fill_holes)
    options.validate()  # before reading or writing anything
    inputs = asset_files(source)
    asset = load_asset(source)
    result = prepare(asset, options)
    written, got = export_verified(result.mesh, out, inputs, source=asset,
                                   document=result.document, pieces=result.pieces)
    for step in result.steps:
        print(f"  - {step}")
    print(_figures_table(result.before, result.after))
    print(f"wrote {', '.join(_shown(p) for p in written.files)}")
    print(f"note: {_carry_note(written.format, got)}")
    return 0


def _animation_samples(scene_file: Path, mesh):
    import numpy as np

    from engine.scene import load_scene
    from engine.scene.timeline import Bounds, Timeline

    scene = load_scene(scene_file)
    timeline = Timeline(scene, Bounds(np.asarray(mesh.bounds[0]), np.asarray(mesh.bounds[1])))
    fps = scene.output.fps
    times = np.arange(int(round(scene.output.duration * fps)) + 1) / fps
    if len(times) < 2:
        raise InputError(f"{scene_file}: [output] duration: {scene.output.duration} s at "
                         f"{fps:g} fps is under one frame; nothing to bake")
    return times, np.stack([timeline.asset_matrix(float(t)) for t in times])


def cmd_export(args: argparse.Namespace) -> int:
    from engine.asset.export import export_verified
    from engine.asset.files import asset_files
    from engine.asset.io import load_asset

    source, out = Path(args.asset), Path(args.output)
    inputs = asset_files(source) + ([Path(args.animation)] if args.animation else [])
    asset = load_asset(source)
    animation = _animation_samples(Path(args.animation), asset.mesh) if args.animation \
        else None
    written, got = export_verified(asset.mesh, out, inputs, units=args.units,
                                    animation=animation, source=asset)
    sidecar = _provenance("export", out, source, files=written.files, scene_file=args.animation,
                          settings={"units": args.units, "format": written.format})
    motion = f", {len(animation[0])} animation samples" if animation else ""
    print(f"wrote {', '.join(_shown(p) for p in written.files)} and {_shown(sidecar)}")
    print(f"verified with {got['reader']}: {got['triangles']:,} triangles, bounds match, "
          f"texture {'yes' if got['textured'] else 'no'}{motion}{_scene_counts(got)}")
    print(f"note: {_carry_note(written.format, got)}")
    return 0


def _scene_counts(got: dict) -> str:
    """", 1 skinned mesh, 2 morph targets, 9 clips": what a USDZ or FBX check counted."""
    words = (("skinned", "skinned mesh", "skinned meshes"),
             ("morph_targets", "morph target", "morph targets"),
             ("second_uv", "second UV set", "second UV sets"),
             ("colored", "mesh with vertex colours", "meshes with vertex colours"),
             ("clips", "clip", "clips"))
    return "".join(f", {got[key]} {one if got[key] == 1 else many}"
                   for key, one, many in words if got.get(key))


def _carry_note(fmt: str, got: dict) -> str:
    """The one line of what `fmt` cannot carry (engine.asset.formats.FORMATS); a glTF
    passed through says so instead."""
    from engine.asset.formats import FORMATS

    if got.get("passed_through"):
        return "the glTF source was passed through unchanged (nothing dropped)"
    if got.get("kept_document"):
        return "the glTF source's own document was written (nothing dropped)"
    return FORMATS[fmt].cannot_carry


def cmd_web(args: argparse.Namespace) -> int:
    """A self-contained model-viewer page (engine/web/page.py)."""
    from engine.web.page import WebOptions, build_site, format_report

    scene = _source(args.source, args.output).scene
    result = build_site(scene, Path(args.output),
                        WebOptions(title=args.title, allow_heavy=args.allow_heavy,
                                   compress=args.compress),
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
    from engine.fileio import image_format
    from engine.viewer.app import Viewer
    from engine.viewer.script import parse_script

    steps = parse_script(args.keys) if args.keys else []
    if args.screenshot:
        image_format(Path(args.screenshot), what="a screenshot")
    size = None
    if args.size:
        try:
            w, h = (int(x) for x in args.size.lower().split("x"))
        except ValueError:
            raise InputError(f"--size: expected WIDTHxHEIGHT, got {args.size!r}") from None
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise InputError(f"--size: {w}x{h} is out of range (16 to 8192)")
        size = (w, h)
    viewer = Viewer(args.source, size=size, offscreen=args.offscreen, model=args.model,
                    msaa=args.msaa, screenshot=args.screenshot, target_fps=args.target_fps)
    with viewer:
        code = viewer.run(steps, frames=args.frames)
        shots, error = viewer.screenshots_taken, viewer.error
    if args.screenshot and shots:
        print(f"wrote {_shown(args.screenshot)}" + (f" (+{shots - 1} more)" if shots > 1
                                                    else ""))
    if error:
        print(f"maquette: error: {error}", file=sys.stderr)
    return EXIT_FAILED if code else 0


def _override_type(name: str):
    """argparse type for --NAME: checked by the scene schema's setting (imported only when
    the flag is given: `maquette --help` stays fast)."""
    def parse(text: str):
        from engine.animation.settings import SettingError
        from engine.scene.overrides import flag_value

        try:
            return flag_value(name, text)
        except SettingError as exc:
            raise argparse.ArgumentTypeError(exc.reason) from None

    parse.__name__ = name
    return parse


def _add_override_flags(parser: argparse.ArgumentParser, *, clip: bool = True) -> None:
    """The draft/override flags of `render` (clip) and `still` (one frame: no --fps or
    --frames); what they do: engine.scene.overrides (DRAFT holds --draft's values)."""
    group = parser.add_argument_group("draft flags (this run only; the scene file is not "
                                      "changed; without -o the output gets .draft)")
    group.add_argument("--draft", action="store_true",
                       help="a quick look: 360 px tall, 12 fps, no MSAA (flags below win)")
    group.add_argument("--height", type=_override_type("height"), metavar="PX",
                       help="frame height, pixels; the width follows the aspect")
    if clip:
        group.add_argument("--fps", type=_override_type("fps"), help="frames per second")
    group.add_argument("--duration", type=_override_type("duration"), metavar="S",
                       help="the shot's length, seconds (moves and motion re-timed)")
    if clip:
        group.add_argument("--frames", type=_override_type("frames"), metavar="N",
                           help="render only the shot's first N frames (timing kept)")
    group.add_argument("--msaa", type=_override_type("msaa"), metavar="N",
                       help="anti-aliasing samples: 0, 2, 4 or 8")


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
    render.add_argument("scene", help="scene file (.toml), an asset (.glb .gltf .obj .ply .stl) "
                        "or an image")
    render.add_argument("-o", "--output", help="output .mp4 .webm .mov .gif, or a folder/ "
                        "for PNG frames (default: the scene's)")
    render.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_override_flags(render)
    _add_worker_flags(render, "the")
    render.set_defaults(func=cmd_render)

    check = sub.add_parser("check", help="how much of each frame shows surface the input "
                           "image did not see (a cheap pass, no render)")
    check.add_argument("scene", help="scene file (.toml), an asset or an image")
    check.add_argument("--json", metavar="OUT.json", help="also write the per-frame report")
    check.add_argument("--threshold", type=float, default=0.25, help="a frame is weak when "
                       "more than this share of the asset it shows is inferred (default 0.25)")
    check.set_defaults(func=cmd_check)

    still = sub.add_parser("still", help="render one frame to PNG")
    still.add_argument("scene", help="scene file (.toml) or an asset")
    still.add_argument("--at", type=_seconds, default=0.0, help="time in seconds (default 0)")
    still.add_argument("-o", "--output", required=True, help="output .png or .jpg")
    _add_override_flags(still, clip=False)
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
    gen.add_argument("--back-texture", action=argparse.BooleanOptionalAction, default=True,
                     help="rebuild the back's texture from the front: no mirrored ghosts of "
                          "its features, only the colours it shows, its materials' detail at "
                          "full resolution, no seam on the sides (default on; off: the "
                          "model's back colour as predicted)")
    gen.add_argument("--fov", type=float, default=None,
                     help="the image's field of view across its longer side, degrees (0: "
                          "orthographic): each pixel's points are placed along its ray "
                          "through that lens, so near parts are not drawn too wide "
                          "(default: the model card's camera.fov_deg; 0 for v2)")
    gen.set_defaults(func=cmd_generate)

    inspect = sub.add_parser("inspect", help="technical report and contact sheet of an asset")
    inspect.add_argument("asset", help="asset file (.glb .gltf .obj .ply .stl)")
    inspect.add_argument("--json", metavar="REPORT.json", help="also write the report as JSON "
                         "('-' prints JSON instead of text)")
    inspect.add_argument("--sheet", metavar="SHEET.png", help="render a contact sheet "
                         "(.png or .jpg)")
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
    view.add_argument("--target-fps", type=float, default=15.0, metavar="FPS",
                      help="while the view moves, lower the 3D resolution to hold this "
                           "frame rate; still, one full-resolution frame (default 15)")
    view.add_argument("--msaa", type=int, choices=(0, 2, 4, 8),
                      help="anti-aliasing samples (default: the scene's, 4)")
    view.set_defaults(func=cmd_view)

    web = sub.add_parser("web", help="a self-contained web/AR page (model-viewer) in a folder")
    web.add_argument("source", help="scene (.toml), asset (.glb .gltf .obj .ply .stl) or image")
    web.add_argument("-o", "--output", required=True, help="the folder to write (site/)")
    web.add_argument("--title", help="the page's title (default: the asset's name)")
    web.add_argument("--allow-heavy", action="store_true",
                     help="write a page over the 15 MB budget anyway")
    web.add_argument("--compress", choices=("none", "draco", "meshopt"), default="none",
                     help="geometry compression of the page's GLB: draco (KHR_draco_mesh_"
                          "compression, decoder carried in vendor/) or meshopt (EXT_meshopt_"
                          "compression, lossless, decoded by model-viewer itself); default none")
    web.set_defaults(func=cmd_web)

    serve = sub.add_parser("serve", help="serve a `maquette web` folder over HTTP")
    serve.add_argument("folder", help="the folder `maquette web` wrote")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="interface (default 127.0.0.1: this machine only; 0.0.0.0 "
                            "lets a phone on the same network in, with a warning)")
    serve.add_argument("--open", action="store_true", help="open the page in a browser")
    serve.set_defaults(func=cmd_serve)

    from engine.scene.handoff import TARGETS

    handoff = sub.add_parser("handoff", help="a scene for an image-to-video tool: its size "
                             "and frames, first/last stills, depth/normal/mask passes and "
                             "control videos, manifest.json (docs/HANDOFF.md)")
    handoff.add_argument("scene", help="scene file (.toml), an asset or an image")
    handoff.add_argument("--for", dest="target", required=True, choices=tuple(TARGETS),
                         help="the tool: " + ", ".join(TARGETS))
    handoff.add_argument("-o", "--output", required=True, help="a new or empty folder")
    handoff.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    handoff.set_defaults(func=cmd_handoff)

    campaign = sub.add_parser("campaign", help="render every shot of a campaign file "
                              "(one asset, many deliverables) into one folder")
    campaign.add_argument("file", help="campaign file (.toml)")
    campaign.add_argument("--only", nargs="+", metavar="NAME", help="only these shots")
    campaign.add_argument("--dry-run", action="store_true",
                          help="say what would be rendered and what is up to date")
    campaign.add_argument("--allow-unapproved", action="store_true",
                          help="render a library version that is not the approved one")
    campaign.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    _add_worker_flags(campaign, "all shots'")
    campaign.set_defaults(func=cmd_campaign)

    demo = sub.add_parser("demo", help="the whole job on the bundled sample image")
    demo.add_argument("-o", "--output", default="out/demo.mp4", help="default out/demo.mp4")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    demo.set_defaults(func=cmd_demo)

    from engine.library.commands import add_parsers

    add_parsers(sub)  # library add|list|show|history|approve|export, provenance
    return parser


_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                      if hasattr(signal, name))


def _on_stop_signal(signum, frame) -> None:
    # Once: the clean-up that follows must not be cut short by a second signal.
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    """Run one command. Exit codes: 0 done, 1 the work failed, 2 bad input, 128 + N
    stopped by signal N (Ctrl-C 130, SIGHUP 129, SIGTERM 143); see engine.errors."""
    # Before numpy is imported: its import makes one BLAS call (a floating-point check)
    # that wakes OpenBLAS's thread pool, whose threads then spin ~0.1 CPU s for nothing
    # (a tenth of a still's CPU, docs/BENCHMARKS.md); Maquette's BLAS work is 4x4 and
    # per-vertex products, where threads buy nothing. The user's own setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = build_parser().parse_args(argv)
    from engine.errors import MaquetteError
    from engine.fileio import remove_partials

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _on_stop_signal) for sig in _STOP_SIGNALS}
    try:
        return args.func(args)
    except (KeyboardInterrupt, Interrupted) as exc:
        remove_partials()
        name = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else signal.Signals(
            exc.signum).name
        print(f"maquette: interrupted ({name}); no partial output was left behind",
              file=sys.stderr)
        return EXIT_INTERRUPTED if isinstance(exc, KeyboardInterrupt) else exc.exit_code
    except MaquetteError as exc:
        print(f"maquette: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:  # an OSError names its file (filename) when it has one
        print(f"maquette: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
