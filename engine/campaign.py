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
    """The deliverable exists, its sidecar carries `digest`, and the file is the one the
    sidecar hashed."""
    from engine.fileio import file_sha256
    from engine.library.provenance import sidecar_path

    sidecar = sidecar_path(path)
    if not path.is_file() or not sidecar.is_file():
        return False
    try:
        record = json.loads(sidecar.read_text())
        stored = record["settings"]["campaign"]["inputs_hash"]
        sha = record["deliverable"]["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return stored == digest and sha == file_sha256(path)


def poster_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.poster.png")


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


@dataclass
class CampaignReport:
    folder: Path
    results: list[ShotResult] = field(default_factory=list)
    index: Path | None = None
    sheet: Path | None = None

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if r.status == "failed"]


def run_campaign(campaign: Campaign, *, only: list[str] | None = None, dry_run: bool = False,
                 allow_unapproved: bool = False, progress: bool = True,
                 log: Callable[[str], None] | None = None,
                 warn: Callable[[str], None] | None = None) -> CampaignReport:
    """Render the campaign's shots (those in `only`, when given) into its folder."""
    from engine.errors import MaquetteError
    from engine.fileio import file_sha256, write_image
    from engine.handoff import render_shot
    from engine.library.commands import record
    from engine.scene.source import scene_inputs

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
    todo = sum(s.scene.output.frame_count for s, _, keep in plan if not keep)
    from engine.render.offline import progress_bar

    bar = progress_bar(todo, progress and not dry_run)  # one bar for the whole campaign
    for s, digest, keep in plan:
        o = s.scene.output
        path = Path(o.file)
        result = ShotResult(s.name, path, "kept" if keep else "planned", o.width, o.height,
                            o.frame_count, o.fps)
        report.results.append(result)
        if keep or dry_run:
            continue
        first: dict[str, Any] = {}

        def on_frame(index, image, first=first, name=s.name):
            if index == 0:
                first["image"] = image
            bar.set_description(f"campaign: {name}", refresh=False)
            bar.update(1)

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            inputs = [campaign.path, *scene_inputs(s.scene)]
            stats, _ = render_shot(s.scene, path, progress=False, inputs=inputs,
                                   on_frame=on_frame, warn=warn, log=log)
            if "image" in first:
                from PIL import Image

                write_image(Image.fromarray(first["image"]), poster_path(stats.path),
                            inputs, what="a poster")
            record("render", stats.path, s.scene.asset.source, scene=s.scene,
                   scene_file=campaign.path,
                   settings={"campaign": {"file": str(campaign.path.absolute()),
                                          "shot": s.name, "inputs_hash": digest}})
            result.status = "rendered"  # sizes as rendered (a hand-off target may resize)
            result.path, result.width, result.height = Path(stats.path), stats.width, \
                stats.height
            result.frames = stats.frames
        except (MaquetteError, OSError, RuntimeError, ValueError) as exc:
            result.status, result.error = "failed", str(exc)
    bar.close()
    if not dry_run:
        report.sheet = write_sheet(campaign, report)
        report.index = write_index(campaign, report)
    return report


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
        cards.append(f"<figure><h2>{html.escape(r.name)}</h2>{media}<figcaption>"
                     f"{r.width}x{r.height}, {r.frames} frames at {r.fps:g} fps "
                     f"({r.status})<br>{prov}</figcaption>{err}</figure>")
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
