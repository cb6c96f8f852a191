"""Campaigns: one asset, many deliverables (issue 18).

A campaign file (TOML) names one asset (``[campaign] asset``: ``library:NAME@approved``, a
mesh path or an image), ``[defaults]`` (any scene tables) and ``[[shot]]`` entries (a
``name`` plus any scene tables as overrides). Each shot is a pure deep merge
(`merge_shot`: tables merge key by key; ``[[motion]]``/``[[keyframes]]`` arrays and plain
values replace) validated by engine.scene.loader.scene_from_dict, errors re-labelled with
the campaign file, ``[[shot]] NAME`` and the key. Times are in seconds, sizes in pixels,
frames counted from 0.

`run_campaign` renders every shot into one folder (``[campaign] output``, default
``out/<campaign stem>/`` beside the file) through engine.handoff.render_shot, writes each
deliverable's provenance sidecar with an inputs hash (the resolved shot scene, the asset
sha256, the tool version) and skips a shot whose deliverable and sidecar already carry that
hash. A failing shot leaves the finished ones; the report lists the failed. It then writes
``index.html`` and ``contact-sheet.png`` (the shots' first frames).
"""

from __future__ import annotations

import copy
import hashlib
import html
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import InputError

CAMPAIGN_KEYS = ("asset", "output")
TOP_KEYS = ("campaign", "defaults", "shot")
INDEX = "index.html"
SHEET = "contact-sheet.png"


class CampaignError(InputError):
    """A campaign file is invalid; the message names the file and the key."""


@dataclass
class Shot:
    name: str
    doc: dict[str, Any]  # the merged scene dict (before validation)
    scene: Any  # engine.scene.model.Scene


@dataclass
class Campaign:
    path: Path
    asset: str  # as written in [campaign] asset
    folder: Path
    shots: list[Shot]


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep merge (pure): tables merge key by key, everything else (arrays of tables too)
    replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _unknown(path: Path, where: str, key: str, valid) -> CampaignError:
    import difflib

    hint = difflib.get_close_matches(key, list(valid), n=1)
    mean = f" (did you mean '{hint[0]}'?)" if hint else ""
    return CampaignError(f"{path}: {where}{key}: unknown key{mean}; valid: {', '.join(valid)}")


def _check_tables(path: Path, where: str, tables: dict[str, Any]) -> None:
    from engine.scene.loader import SECTIONS

    for key, value in tables.items():
        if key not in SECTIONS:
            raise _unknown(path, where, key, list(SECTIONS))
        if key == "asset" and isinstance(value, dict) and "source" in value:
            raise CampaignError(f"{path}: {where}asset.source: the campaign's asset is "
                                "[campaign] asset; shots cannot change it")


def merge_shot(asset: str, defaults: dict[str, Any], shot: dict[str, Any], folder: Path
               ) -> dict[str, Any]:
    """The scene dict of one shot: defaults, then the shot's overrides, the campaign's
    asset, and the output file in the campaign folder (default NAME.mp4)."""
    over = {k: v for k, v in shot.items() if k != "name"}
    doc = merge(defaults, over)
    doc["asset"] = {**doc.get("asset", {}), "source": asset}
    output = dict(doc.get("output", {}))
    raw = str(output.get("file", f"{shot['name']}.mp4"))
    if not Path(raw).expanduser().is_absolute():
        raw = str(folder / raw) + ("/" if raw.endswith("/") else "")
    output["file"] = raw
    doc["output"] = output
    return doc


def _asset_value(path: Path, value: str) -> str:
    """A path asset resolves against the campaign file; a library reference stays."""
    from engine.library import is_reference

    if is_reference(value):
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (path.parent / p).resolve())


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file: every shot becomes a validated Scene."""
    from engine.scene.loader import SceneError, read_toml, scene_from_dict

    path = Path(path)
    doc = read_toml(path, "campaign", CampaignError)  # the scene files' guards
    for key in doc:
        if key not in TOP_KEYS:
            raise _unknown(path, "", key, TOP_KEYS)
    head = doc.get("campaign")
    if not isinstance(head, dict):
        raise CampaignError(f"{path}: [campaign]: missing; it names the asset "
                            "(asset = \"library:NAME@approved\", a mesh or an image)")
    for key in head:
        if key not in CAMPAIGN_KEYS:
            raise _unknown(path, "[campaign] ", key, CAMPAIGN_KEYS)
    asset = head.get("asset")
    if not isinstance(asset, str) or not asset:
        raise CampaignError(f"{path}: [campaign] asset: missing or not a string")
    out = head.get("output", f"out/{path.stem}")
    if not isinstance(out, str) or not out:
        raise CampaignError(f"{path}: [campaign] output: expected a folder name")
    folder = Path(out).expanduser()
    folder = (folder if folder.is_absolute() else path.parent / folder).absolute()
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise CampaignError(f"{path}: [defaults]: expected a table of scene tables")
    _check_tables(path, "[defaults] ", defaults)
    rows = doc.get("shot", [])
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise CampaignError(f"{path}: [[shot]]: expected one or more [[shot]] tables")
    source = _asset_value(path, asset)
    shots: list[Shot] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, 1):
        name = row.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise CampaignError(f"{path}: [[shot]] #{i} name: expected a name of letters, "
                                f"digits, '-', '_' or '.'; got {name!r}")
        if name in seen:
            raise CampaignError(f"{path}: [[shot]] {name} name: used twice")
        seen.add(name)
        _check_tables(path, f"[[shot]] {name} ", {k: v for k, v in row.items() if k != "name"})
        merged = merge_shot(source, defaults, row, folder)
        try:
            scene = scene_from_dict(merged, path.resolve())
        except SceneError as exc:
            text = str(exc)
            prefix = f"{path.resolve()}: "
            text = text[len(prefix):] if text.startswith(prefix) else text
            raise CampaignError(f"{path}: [[shot]] {name}: {text}") from None
        shots.append(Shot(name, merged, scene))
    files = [s.scene.output.file for s in shots]
    dupes = {str(f) for f in files if files.count(f) > 1}
    if dupes:
        raise CampaignError(f"{path}: [[shot]] output.file: two shots write {sorted(dupes)[0]}")
    return Campaign(path, asset, folder, shots)


def check_approved(campaign: Campaign, allow_unapproved: bool) -> dict | None:
    """The library version a campaign's asset names (as provenance's record) or None for
    a plain file; refuses a version that is not the approved one unless allowed."""
    from engine.library import resolve_reference

    if not campaign.asset.startswith("library:"):
        return None
    ref = resolve_reference(campaign.asset, where=f"{campaign.path}: [campaign] asset")
    v = ref.version
    if not v.current_approved and not allow_unapproved:
        raise CampaignError(f"{campaign.path}: [campaign] asset: {campaign.asset} is "
                            f"{v.name}@v{v.seq}, which is not the approved version; approve "
                            f"it (maquette library approve {v.name}@v{v.seq}) or pass "
                            "--allow-unapproved")
    return {"label": f"{v.name}@v{v.seq}", "approved": v.current_approved}


def inputs_hash(scene, asset_sha256: str) -> str:
    """sha256 of what makes a deliverable: the resolved scene settings, the asset's
    sha256 and the tool version."""
    from engine import __version__
    from engine.library.provenance import jsonable, scene_settings

    text = json.dumps({"scene": jsonable(scene_settings(scene)), "asset": asset_sha256,
                       "tool": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def up_to_date(path: Path, digest: str) -> bool:
    """The shot's sidecar carries `digest`, names the poster among its files, and every
    file it names (the clip, the poster, each pass and hand-off file: `shot_files`) is
    there with the bytes it hashed: one deleted pass frame makes the shot stale."""
    from engine.fileio import file_sha256
    from engine.library.provenance import sidecar_path

    sidecar = sidecar_path(path)
    if not path.exists() or not sidecar.is_file():
        return False
    try:
        record = json.loads(sidecar.read_text())
        stored = record["settings"]["campaign"]["inputs_hash"]
        files = {Path(f["path"]): f["sha256"] for f in record["deliverable"]["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if stored != digest or Path(os.path.abspath(poster_path(path))) not in files:
        return False
    return all(p.is_file() and file_sha256(p) == sha for p, sha in files.items())


def poster_path(path: Path) -> Path:
    path = Path(os.fspath(path).rstrip("/"))
    return path.with_name(f"{path.name}.poster.png")


def shot_extras(scene, path: Path) -> Path | None:
    """The shot's passes or hand-off folder beside its clip (engine.handoff.extras_folder),
    or None when it has neither."""
    from engine.handoff import extras_folder

    o = scene.output
    return extras_folder(scene, Path(path)) if (o.passes or o.handoff) else None


def shot_files(path: Path, extras: Path | None) -> list[Path]:
    """Every deliverable file of a shot: the clip (or its frames), the poster, and every
    file of its passes or hand-off folder. The sidecar hashes them all (the skip check)."""
    path = Path(os.fspath(path).rstrip("/"))
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    files.append(poster_path(path))
    if extras is not None and extras.is_dir():
        files += sorted(p for p in extras.rglob("*") if p.is_file())
    return files


@dataclass
class ShotResult:
    name: str
    path: Path
    status: str  # "rendered", "kept", "failed", "planned"
    width: int
    height: int
    frames: int
    fps: float
    error: str = ""
    seen: str = ""  # the shot's seen check verdict (marked assets only), engine.scene.seen_check


@dataclass
class CampaignReport:
    folder: Path
    results: list[ShotResult] = field(default_factory=list)
    index: Path | None = None
    sheet: Path | None = None
    where: str = "this process"  # or "N local workers", "Ray (ADDRESS)"

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if r.status == "failed"]


def chunkable(scene) -> bool:
    """A shot the chunk scheduler can render (engine.render.workers.run_jobs): a clip or
    PNG frames without passes or a hand-off (those are rendered whole, in this process:
    the depth pass is normalised over the whole shot) and not a GIF (one palette)."""
    from engine.render.chunks import CHUNK_FORMATS
    from engine.render.offline import output_target
    from engine.render.writers import format_for_path

    o = scene.output
    return not (o.passes or o.handoff) and \
        format_for_path(output_target(scene)) in CHUNK_FORMATS


def run_campaign(campaign: Campaign, *, only: list[str] | None = None, dry_run: bool = False,
                 allow_unapproved: bool = False, progress: bool = True,
                 log: Callable[[str], None] | None = None,
                 warn: Callable[[str], None] | None = None, workers: int | None = None,
                 ray: str | None = None, chunk_frames: int | None = None) -> CampaignReport:
    """Render the campaign's shots (those in `only`, when given) into its folder.

    `workers` (local processes) or `ray` (a Ray address, or "auto"): the shots' chunks are
    scheduled together through engine.render.workers.run_jobs (one pool, one progress bar;
    each shot joined and finished as soon as its chunks are in; a failing shot leaves the
    others); shots that cannot be chunked (`chunkable`) then render here. Neither: every
    shot renders here, one after another."""
    from engine.fileio import file_sha256

    log = log or (lambda m: None)
    names = [s.name for s in campaign.shots]
    for name in only or []:
        if name not in names:
            raise CampaignError(f"{campaign.path}: --only {name}: no such [[shot]]; shots: "
                                f"{', '.join(names)}")
    shots = [s for s in campaign.shots if not only or s.name in only]
    check_approved(campaign, allow_unapproved)
    asset = Path(shots[0].scene.asset.source)
    if asset.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        from engine.scene.source import resolve_source

        mesh = resolve_source(asset, log=log, generate=not dry_run).mesh
        from dataclasses import replace
        shots = [Shot(s.name, s.doc, replace(s.scene, asset=replace(s.scene.asset,
                                                                    source=mesh)))
                 for s in shots]
        asset = mesh
    asset_sha = file_sha256(asset) if asset.is_file() else ""
    report = CampaignReport(campaign.folder)
    plan = []
    for s in shots:
        o = s.scene.output
        digest = inputs_hash(s.scene, asset_sha)
        keep = up_to_date(Path(o.file), digest)
        plan.append((s, digest, keep))
        report.results.append(ShotResult(s.name, Path(o.file), "kept" if keep else "planned",
                                         o.width, o.height, o.frame_count, o.fps))
    _seen_checks(asset, plan, report, log)
    if dry_run:
        return report
    todo = [(s, digest, r) for (s, digest, keep), r in zip(plan, report.results, strict=True)
            if not keep]
    from engine.render.offline import progress_bar

    bar = progress_bar(sum(s.scene.output.frame_count for s, _, _ in todo), progress)
    try:  # one bar for the whole campaign
        if workers is not None or ray is not None:
            pooled = [t for t in todo if chunkable(t[0].scene)]
            if pooled:
                _run_chunked(campaign, pooled, report, bar, workers or 1, ray, chunk_frames,
                             log, warn)
            todo = [t for t in todo if not chunkable(t[0].scene)]
            if todo:
                log(f"campaign: {', '.join(s.name for s, _, _ in todo)}: passes, a hand-off "
                    "or a GIF render whole, in this process")
        for s, digest, result in todo:
            _render_here(campaign, s, digest, result, bar, log, warn)
    finally:
        bar.close()
    report.sheet = write_sheet(campaign, report)
    report.index = write_index(campaign, report)
    return report


def _seen_checks(asset: Path, plan, report: CampaignReport, log) -> None:
    """Each shot's seen check (engine.render.seen_pass.run_check, as `render` prints it)
    when the asset carries seen marks, logged and kept for the index; a dry run gets it
    too, so a campaign can be planned around what the image saw."""
    from engine.asset.io import load_asset
    from engine.asset.seen import file_has_marks
    from engine.render.seen_pass import run_check

    try:
        marked = asset.is_file() and file_has_marks(asset)
    except ValueError:  # not a mesh file (an image a dry run did not generate)
        marked = False
    if not marked:
        return
    mesh = load_asset(asset).mesh
    for (s, _, _), result in zip(plan, report.results, strict=True):
        result.seen = run_check(s.scene, mesh, samples=60).summary()
        log(f"campaign: {s.name}: seen check: {result.seen}")


def _finish(campaign: Campaign, s: Shot, digest: str, result: ShotResult, path: Path,
            poster, extras: Path | None) -> None:
    """A shot's poster (PNG bytes or a frame), then its sidecar hashing every deliverable."""
    from engine.fileio import write_bytes_atomic, write_image
    from engine.library.commands import record
    from engine.scene.source import scene_inputs

    inputs = [campaign.path, *scene_inputs(s.scene)]
    if isinstance(poster, bytes):
        write_bytes_atomic(poster_path(path), poster, inputs)
    elif poster is not None:
        from PIL import Image

        write_image(Image.fromarray(poster), poster_path(path), inputs, what="a poster")
    record("render", path, s.scene.asset.source, scene=s.scene, scene_file=campaign.path,
           settings={"campaign": {"file": str(campaign.path.absolute()), "shot": s.name,
                                  "inputs_hash": digest}},
           files=shot_files(path, extras))
    result.status, result.path = "rendered", Path(path)


def _render_here(campaign: Campaign, s: Shot, digest: str, result: ShotResult, bar,
                 log, warn) -> None:
    """One shot in this process (engine.handoff.render_shot). A shot whose passes or
    hand-off folder is already there renders its new one beside it, swapped in at the end
    (the old one stays until the new is complete)."""
    import shutil

    from engine.errors import MaquetteError
    from engine.fileio import forget_partial, partial_name, register_partial
    from engine.handoff import render_shot
    from engine.scene.source import scene_inputs

    first: dict[str, Any] = {}

    def on_frame(index, image):
        if index == 0:
            first["image"] = image
        bar.set_description(f"campaign: {s.name}", refresh=False)
        bar.update(1)

    path = Path(s.scene.output.file)
    extras = shot_extras(s.scene, path)
    staging = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if extras is not None and extras.is_dir() and any(extras.iterdir()):
            staging = partial_name(extras)
            register_partial(staging)
        inputs = [campaign.path, *scene_inputs(s.scene)]
        stats, folder = render_shot(s.scene, path, progress=False, inputs=inputs,
                                    on_frame=on_frame, warn=warn, log=log, extras=staging)
        if staging is not None:
            old = partial_name(extras)
            register_partial(old)
            os.rename(extras, old)
            os.rename(staging, extras)
            shutil.rmtree(old, ignore_errors=True)
            forget_partial(old)
        _finish(campaign, s, digest, result, Path(stats.path), first.get("image"), extras)
        # sizes as rendered (a hand-off target may resize)
        result.width, result.height, result.frames = stats.width, stats.height, stats.frames
    except (MaquetteError, OSError, RuntimeError, ValueError) as exc:
        result.status, result.error = "failed", str(exc)
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
            forget_partial(staging)


def _run_chunked(campaign: Campaign, todo, report: CampaignReport, bar, workers: int,
                 ray: str | None, chunk_frames: int | None, log, warn) -> None:
    """The shots' chunks through the one scheduler (run_jobs, keep_going): each shot is
    finished (poster from its first chunk's worker, sidecar) as soon as it is joined."""
    from engine.errors import MaquetteError
    from engine.render.chunks import Job
    from engine.render.offline import output_target
    from engine.render.workers import run_jobs

    by_name = {s.name: (s, digest, result) for s, digest, result in todo}
    jobs = []
    for s, _, result in todo:
        try:
            Path(s.scene.output.file).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            result.status, result.error = "failed", str(exc)
            continue
        jobs.append(Job(s.scene, output_target(s.scene), name=s.name,
                        inputs=(campaign.path,)))
    if not jobs:
        return

    def on_job(done) -> None:
        s, digest, result = by_name[done.job.name]
        poster = done.poster
        if poster is None:  # its first chunk came from an older run: the clip's first frame
            from engine.render.writers import read_frames

            poster = read_frames(done.path)[0]
        try:
            _finish(campaign, s, digest, result, Path(done.path), poster, None)
            result.frames = done.frames
        except (MaquetteError, OSError, ValueError) as exc:
            result.status, result.error = "failed", str(exc)

    run = run_jobs(jobs, workers=workers, ray=ray, chunk_frames=chunk_frames, log=log,
                   warn=warn, keep_going=True, on_job=on_job, bar=bar)
    report.where = run.where
    for name, error in run.failed.items():
        result = by_name[name][2]
        result.status, result.error = "failed", error


def write_sheet(campaign: Campaign, report: CampaignReport, tile: int = 240) -> Path | None:
    """contact-sheet.png: every shot's first frame, fitted in a tile, labelled."""
    from PIL import Image, ImageDraw

    from engine.fileio import write_image

    posters = [(r, poster_path(r.path)) for r in report.results if r.status != "failed"]
    posters = [(r, p) for r, p in posters if p.is_file()]
    if not posters:
        return None
    cols = min(4, len(posters))
    rows = (len(posters) + cols - 1) // cols
    label = 18
    sheet = Image.new("RGB", (cols * tile, rows * (tile + label)), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    for i, (r, p) in enumerate(posters):
        with Image.open(p) as im:
            im = im.convert("RGB")
            k = (tile - 8) / max(im.width, im.height)  # fit the tile, up or down
            im = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))),
                           Image.LANCZOS)
            x = (i % cols) * tile + (tile - im.width) // 2
            y = (i // cols) * (tile + label) + (tile - im.height) // 2
            sheet.paste(im, (x, y))
        draw.text(((i % cols) * tile + 4, (i // cols) * (tile + label) + tile),
                  f"{r.name} {r.width}x{r.height}", fill=(230, 230, 230))
    out = campaign.folder / SHEET
    write_image(sheet, out, _inputs(campaign), what="a contact sheet")
    return out


def write_index(campaign: Campaign, report: CampaignReport) -> Path:
    """index.html: per shot its poster, the clip in <video>, size and provenance."""
    from engine.fileio import atomic_output
    from engine.library.provenance import sidecar_path

    cards = []
    for r in report.results:
        rel = lambda p: html.escape(Path(p).relative_to(campaign.folder).as_posix()  # noqa
                                    if Path(p).is_relative_to(campaign.folder) else str(p))
        prov = ""
        side = sidecar_path(r.path)
        if side.is_file():
            try:
                rec = json.loads(side.read_text())
                lib = rec["asset"].get("library") or {}
                prov = (f"asset {html.escape(lib.get('label', ''))} sha256 "
                        f"{rec['asset']['sha256'][:12]}, tool {rec['tool']['version']}, "
                        f"{html.escape(rec['created'])}; <a href=\"{rel(side)}\">sidecar</a>")
            except (ValueError, KeyError, TypeError):
                prov = "sidecar unreadable"
        poster = poster_path(r.path)
        media = (f"<video controls loop muted playsinline preload=\"none\" width=\"{r.width}\""
                 f" poster=\"{rel(poster)}\" src=\"{rel(r.path)}\"></video>"
                 if r.path.is_file() and r.path.suffix in (".mp4", ".webm", ".mov")
                 else (f"<img src=\"{rel(poster)}\">" if poster.is_file() else ""))
        err = f"<p class=err>failed: {html.escape(r.error)}</p>" if r.error else ""
        seen = f"<br>seen check: {html.escape(r.seen)}" if r.seen else ""
        cards.append(f"<figure><h2>{html.escape(r.name)}</h2>{media}<figcaption>"
                     f"{r.width}x{r.height}, {r.frames} frames at {r.fps:g} fps "
                     f"({r.status})<br>{prov}{seen}</figcaption>{err}</figure>")
    page = ("<!doctype html><meta charset=utf-8><title>campaign "
            f"{html.escape(campaign.path.stem)}</title><style>body{{font:14px sans-serif;"
            "background:#222;color:#ddd}figure{display:inline-block;vertical-align:top;"
            "margin:12px}video,img{max-width:480px;max-height:480px;display:block}"
            ".err{color:#f88}a{color:#9cf}</style>"
            f"<h1>{html.escape(campaign.path.stem)}: {html.escape(campaign.asset)}</h1>"
            f"<p><img src=\"{SHEET}\" style=\"max-width:960px\"></p>" + "\n".join(cards))
    out = campaign.folder / INDEX
    with atomic_output(out, "w", inputs=_inputs(campaign)) as handle:
        handle.write(page + "\n")
    return out


def _inputs(campaign: Campaign) -> list[Path]:
    """What the campaign reads (its file, every shot's asset and scene files): never written
    over by its page or sheet."""
    from engine.scene.source import scene_inputs

    return [campaign.path, *(p for s in campaign.shots for p in scene_inputs(s.scene))]
