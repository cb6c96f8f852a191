"""Campaigns end to end: a real library (SQLite), real small renders (Panda3D offscreen,
ffmpeg), the CLI as a subprocess (`python -m engine.cli` from the worktree root)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.campaign import CampaignError, load_campaign, merge

from .conftest import ROOT, SAMPLE_ASSETS
from .test_library import approved_robot_library, maquette

HEAD = """[campaign]
asset = "{asset}"
output = "deliver"

[defaults.output]
height = 48
duration = 0.5
fps = 8
msaa = 0
"""
SHOTS = """
[[shot]]
name = "hero"
output = {{ aspect = "16:9" }}

[[shot]]
name = "vertical"
output = {{ aspect = "9:16" }}
camera = {{ fov = 30 }}

[[shot]]
name = "square"
output = {{ aspect = "1:1"{extra} }}
"""


def _campaign(tmp_path: Path, asset: str = "library:robot@approved", extra: str = "") -> Path:
    path = tmp_path / "camp.toml"
    path.write_text(HEAD.format(asset=asset) + SHOTS.format(extra=extra))
    return path


def _statuses(stdout: str) -> dict[str, str]:
    return {line.split()[1].rstrip(":"): line.split()[0] for line in stdout.splitlines()
            if line.split() and line.split()[0] in ("rendered", "kept", "failed", "planned")}


def test_merge_is_pure_and_deep():
    base = {"output": {"height": 48, "fps": 8}, "motion": [{"preset": "spin"}]}
    over = {"output": {"height": 96}, "motion": [{"preset": "bob"}]}
    out = merge(base, over)
    assert out == {"output": {"height": 96, "fps": 8}, "motion": [{"preset": "bob"}]}
    assert base == {"output": {"height": 48, "fps": 8}, "motion": [{"preset": "spin"}]}


def test_three_shots_one_asset_skip_edit_and_refusal(tmp_path):
    lib = approved_robot_library(tmp_path)
    camp = _campaign(tmp_path)
    r = maquette("campaign", str(camp), "-q", library=lib)
    assert r.returncode == 0, r.stderr
    assert _statuses(r.stdout) == dict.fromkeys(("hero", "vertical", "square"), "rendered")
    out = tmp_path / "deliver"
    v1 = json.loads(maquette("library", "show", "robot@v1", "--json", library=lib).stdout)
    sizes = {}
    for name in ("hero", "vertical", "square"):
        record = json.loads((out / f"{name}.mp4.json").read_text())
        assert record["asset"]["sha256"] == v1["asset_sha256"]
        assert record["asset"]["library"]["label"] == "robot@v1"
        assert record["settings"]["campaign"]["shot"] == name
        o = record["settings"]["output"]
        sizes[name] = (o["width"], o["height"])
        assert (out / f"{name}.mp4.poster.png").is_file()
    assert sizes == {"hero": (86, 48), "vertical": (28, 48), "square": (48, 48)}
    page = (out / "index.html").read_text()
    assert page.count("<video") == 3 and "robot@v1" in page and "86x48" in page
    from PIL import Image
    with Image.open(out / "contact-sheet.png") as sheet:
        assert sheet.width >= 3 * 200
    # a re-run renders nothing; editing one shot re-renders only that one
    before = {n: (out / f"{n}.mp4").stat().st_mtime_ns for n in ("hero", "vertical")}
    r = maquette("campaign", str(camp), "-q", library=lib)
    assert _statuses(r.stdout) == dict.fromkeys(("hero", "vertical", "square"), "kept")
    _campaign(tmp_path, extra=", duration = 0.25")
    dry = maquette("campaign", str(camp), "--dry-run", library=lib)
    assert _statuses(dry.stdout) == {"hero": "kept", "vertical": "kept", "square": "planned"}
    r = maquette("campaign", str(camp), "-q", library=lib)
    assert r.returncode == 0, r.stderr
    assert _statuses(r.stdout) == {"hero": "kept", "vertical": "kept", "square": "rendered"}
    assert {n: (out / f"{n}.mp4").stat().st_mtime_ns for n in before} == before
    record = json.loads((out / "square.mp4.json").read_text())
    assert record["settings"]["output"]["duration"] == 0.25
    # a version that is not the approved one is refused, unless allowed
    _campaign(tmp_path, asset="library:robot@v2")
    r = maquette("campaign", str(camp), "--dry-run", library=lib)
    assert r.returncode == 2 and "not the approved version" in r.stderr
    assert str(camp) in r.stderr and "[campaign] asset" in r.stderr
    r = maquette("campaign", str(camp), "--dry-run", "--allow-unapproved", library=lib)
    assert r.returncode == 0, r.stderr


def test_failing_shot_leaves_the_others_and_exits_nonzero(tmp_path):
    camp = tmp_path / "camp.toml"
    camp.write_text(HEAD.format(asset=SAMPLE_ASSETS / "robot.glb")
                    + SHOTS.format(extra=', file = "blocker/square.mp4"'))
    (tmp_path / "deliver").mkdir()
    (tmp_path / "deliver" / "blocker").write_text("a file where a folder should be")
    r = maquette("campaign", str(camp), "-q", library=tmp_path / "nolib")
    assert r.returncode == 1
    assert _statuses(r.stdout) == {"hero": "rendered", "vertical": "rendered",
                                   "square": "failed"}
    assert "failed: square" in r.stderr
    assert (tmp_path / "deliver" / "hero.mp4").is_file()
    assert (tmp_path / "deliver" / "vertical.mp4").is_file()
    assert "failed" in (tmp_path / "deliver" / "index.html").read_text()


@pytest.mark.parametrize("text, expected", [
    ('[campaign]\nasset = "x.glb"\nasest = 1\n[[shot]]\nname = "a"\n',
     "[campaign] asest: unknown key"),
    ('[campaign]\nasset = "x.glb"\n[defualts]\n[[shot]]\nname = "a"\n',
     "defualts: unknown key (did you mean 'defaults'?)"),
    ('[campaign]\nasset = "x.glb"\n[[shot]]\nname = "a"\ncamra = { fov = 30 }\n',
     "[[shot]] a camra: unknown key"),
    ('[campaign]\nasset = "x.glb"\n[[shot]]\nname = "a"\ncamera = { fvo = 30 }\n',
     "[[shot]] a: [camera] fvo"),
    ('[campaign]\nasset = "x.glb"\n[defaults.output]\nheight = 2\n[[shot]]\nname = "a"\n',
     "[[shot]] a: [output] height"),
    ('[campaign]\nasset = "x.glb"\n[[shot]]\nname = "a"\n[[shot]]\nname = "a"\n',
     "[[shot]] a name: used twice"),
    ('[campaign]\nasset = "x.glb"\n[[shot]]\nname = "a"\nasset = { source = "y.glb" }\n',
     "[[shot]] a asset.source"),
])
def test_bad_keys_refused_with_file_and_key(tmp_path, text, expected):
    import shutil

    shutil.copy(SAMPLE_ASSETS / "robot.glb", tmp_path / "x.glb")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(CampaignError) as info:
        load_campaign(path)
    assert str(path) in str(info.value) and expected in str(info.value), str(info.value)


def test_shipped_campaign_robot_has_its_four_shots():
    from engine.resources import resource_path

    campaign = load_campaign(resource_path("scenes", "campaign-robot.toml"))
    shots = {s.name: s.scene for s in campaign.shots}
    assert list(shots) == ["hero", "vertical", "square-loop", "close-up"]
    assert [s.output.aspect for s in shots.values()] == ["16:9", "9:16", "1:1", "16:9"]
    assert all(s.asset.source.name == "robot.glb" for s in shots.values())
    assert shots["square-loop"].motions and shots["close-up"].camera.fov == 18
    assert "campaign-robot.toml" in (ROOT / "engine" / "cli.py").read_text()


def test_campaign_checks_each_shot_against_what_the_image_saw(tmp_path):
    """A marked asset: every shot gets the seen check (issue 13) in the log, the dry run
    included, and in index.html; an orbit shows the inferred back, a front view none."""
    import numpy as np
    import trimesh

    from engine.asset.seen import set_seen

    box = trimesh.creation.box(extents=(0.2, 0.3, 0.2))
    box.unmerge_vertices()
    set_seen(box, (box.vertices[:, 2] > 0).astype(np.float32))
    box.export(tmp_path / "marked.glb")
    path = tmp_path / "camp.toml"
    path.write_text(HEAD.format(asset="marked.glb") + """
[[shot]]
name = "orbit"
camera = { move = "orbit", elevation = 0 }

[[shot]]
name = "front"
camera = { move = "static", azimuth = 0, elevation = 0 }
""")
    lib = tmp_path / "lib"
    done = maquette("campaign", str(path), "--dry-run", library=lib)
    assert done.returncode == 0, done.stderr
    lines = {line.split(":")[1].strip(): line for line in done.stderr.splitlines()
             if "seen check" in line}
    assert "inferred surface; worst" in lines["orbit"]
    assert "every checked frame under 25 %" in lines["front"]
    done = maquette("campaign", str(path), "--only", "front", "-q", library=lib)
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "deliver" / "index.html").read_text()
    assert "seen check: every checked frame under 25 %" in page
