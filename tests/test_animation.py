"""Tests for engine.animation: easing, tracks, transforms, motions, camera."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.animation import (
    CAMERA_MOVES,
    EASINGS,
    INTERPOLATIONS,
    MOTION_TYPES,
    CameraPose,
    CameraRig,
    KeyframeTrack,
    Motion,
    Pose,
    apply_camera_offsets,
    camera_pose,
    ease,
    euler_to_matrix,
    evaluate_tracks,
    fit_distance,
    group_tracks,
    look_at,
    motion_tracks,
    pose_matrix,
)

U = np.linspace(0.0, 1.0, 2001)
CENTER = np.array([0.2, 0.8, -0.1])
RADIUS = 0.9

# ---------------------------------------------------------------- easing


@pytest.mark.parametrize("name", list(EASINGS))
def test_easing_endpoints_exact(name):
    assert EASINGS[name](0.0) == 0.0
    assert EASINGS[name](1.0) == 1.0
    assert isinstance(EASINGS[name](0.3), float)
    out = EASINGS[name](U)
    assert out.shape == U.shape and np.all(np.isfinite(out))


@pytest.mark.parametrize(
    "name", ["none", "in", "out", "in-out", "sine-in-out", "expo-in-out", "bounce-out"]
)
def test_easing_stays_in_unit_range(name):
    out = EASINGS[name](U)
    assert out.min() >= 0.0 and out.max() <= 1.0 + 1e-12


@pytest.mark.parametrize("name", ["none", "in", "out", "in-out", "sine-in-out", "expo-in-out"])
def test_easing_monotonic(name):
    assert np.all(np.diff(EASINGS[name](U)) >= -1e-12)


def test_easing_shapes():
    assert ease("in", 0.5) < 0.5 < ease("out", 0.5)
    assert ease("in-out", 0.5) == pytest.approx(0.5)
    assert ease("in-out", 0.25) < 0.25
    assert EASINGS["back-out"](U).max() > 1.05  # overshoots
    assert EASINGS["elastic-out"](U).max() > 1.0
    b = EASINGS["bounce-out"](U)
    assert np.sum(np.diff(np.sign(np.diff(b))) != 0) >= 4  # bounces: slope changes sign


def test_ease_clamps_and_rejects_unknown():
    assert ease("out", -3.0) == 0.0
    assert ease("back-out", 7.0) == 1.0
    np.testing.assert_array_equal(ease("none", np.array([-1.0, 0.5, 2.0])), [0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="wobbly") as err:
        ease("wobbly", 0.5)
    assert "bounce-out" in str(err.value) and "in-out" in str(err.value)


# ---------------------------------------------------------------- tracks

TIMES = np.array([0.0, 1.0, 1.5, 4.0])
VALUES = np.array([0.0, 2.0, -1.0, 3.0])


@pytest.mark.parametrize("interp", INTERPOLATIONS)
@pytest.mark.parametrize("easing", ["none", "in-out", "back-out"])
def test_track_passes_through_keys(interp, easing):
    track = KeyframeTrack(TIMES, VALUES, interp, easing)
    for t, v in zip(TIMES, VALUES, strict=True):
        assert track.evaluate(t) == pytest.approx(v, abs=1e-12)


@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_track_holds_outside(interp):
    track = KeyframeTrack(TIMES, VALUES, interp)
    assert track.evaluate(-5.0) == VALUES[0]
    assert track.evaluate(-1e-9) == VALUES[0]
    assert track.evaluate(4.0 + 1e-9) == VALUES[-1]
    assert track.evaluate(100.0) == VALUES[-1]
    assert track.duration == 4.0


def test_step_holds_previous_key():
    track = KeyframeTrack(TIMES, VALUES, "step")
    assert track.evaluate(0.999) == 0.0
    assert track.evaluate(1.0) == 2.0
    assert track.evaluate(1.49) == 2.0
    assert track.evaluate(3.9) == -1.0


def test_linear_midpoint_and_ease():
    track = KeyframeTrack([1.0, 3.0], [10.0, 20.0])
    assert track.evaluate(2.0) == pytest.approx(15.0)
    assert track.evaluate(1.5) == pytest.approx(12.5)
    eased = KeyframeTrack([1.0, 3.0], [10.0, 20.0], ease="in")
    assert eased.evaluate(1.5) == pytest.approx(10.0 + 10.0 * 0.25**3)


def test_cubic_is_c1_at_interior_keys():
    # non-uniform spacing on purpose
    track = KeyframeTrack(TIMES, VALUES, "cubic")
    h = 1e-6
    for tk in TIMES[1:-1]:
        left = (track.evaluate(tk) - track.evaluate(tk - h)) / h
        right = (track.evaluate(tk + h) - track.evaluate(tk)) / h
        assert left == pytest.approx(right, rel=1e-3, abs=1e-3)
    # linear interpolation is not C1 here: the check above must be able to fail
    lin = KeyframeTrack(TIMES, VALUES, "linear")
    left = (lin.evaluate(1.0) - lin.evaluate(1.0 - h)) / h
    right = (lin.evaluate(1.0 + h) - lin.evaluate(1.0)) / h
    assert abs(left - right) > 1.0


def test_cubic_reproduces_linear_data_and_smooth_curve():
    t = np.linspace(0.0, 2.0, 9)
    line = KeyframeTrack(t, 3.0 * t - 1.0, "cubic")
    np.testing.assert_allclose(
        line.evaluate(np.linspace(0, 2, 50)), 3.0 * np.linspace(0, 2, 50) - 1
    )
    t = np.linspace(0.0, 2.0 * np.pi, 40)
    sine = KeyframeTrack(t, np.sin(t), "cubic")
    q = np.linspace(0.0, 2.0 * np.pi, 333)
    assert np.max(np.abs(sine.evaluate(q) - np.sin(q))) < 2e-3


@pytest.mark.parametrize("interp", INTERPOLATIONS)
def test_vectorised_matches_scalar(interp):
    q = np.linspace(-1.0, 5.0, 97)
    track = KeyframeTrack(TIMES, VALUES, interp, "sine-in-out")
    vec = track.evaluate(q)
    assert vec.shape == (97,)
    np.testing.assert_allclose(vec, [track.evaluate(float(x)) for x in q])
    vals2 = np.stack([VALUES, 2 * VALUES + 1, -VALUES], axis=1)
    track2 = KeyframeTrack(TIMES, vals2, interp)
    vec2 = track2.evaluate(q)
    assert vec2.shape == (97, 3)
    np.testing.assert_allclose(vec2, np.stack([track2.evaluate(float(x)) for x in q]))
    np.testing.assert_allclose(vec2[:, 1], 2 * KeyframeTrack(TIMES, VALUES, interp).evaluate(q) + 1)
    assert track2.evaluate(0.5).shape == (3,)


def test_single_key_track():
    track = KeyframeTrack([2.0], [5.0], "cubic")
    assert track.evaluate(0.0) == 5.0 and track.evaluate(9.0) == 5.0
    np.testing.assert_array_equal(track.evaluate(np.array([0.0, 3.0])), [5.0, 5.0])


def test_track_is_immutable_float64():
    track = KeyframeTrack([0, 1], [1, 2])
    assert track.times.dtype == np.float64 and track.values.dtype == np.float64
    with pytest.raises(ValueError):
        track.values[0] = 3.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"times": [0.0, 1.0, 1.0], "values": [0, 1, 2]}, "strictly increasing"),
        ({"times": [0.0, 2.0, 1.0], "values": [0, 1, 2]}, "strictly increasing"),
        ({"times": [0.0, 1.0], "values": [0, 1, 2]}, "length"),
        ({"times": [], "values": []}, "non-empty"),
        ({"times": [0.0, 1.0], "values": [0, 1], "interpolation": "bezier"}, "bezier"),
        ({"times": [0.0, 1.0], "values": [0, 1], "ease": "springy"}, "springy"),
        ({"times": [0.0, np.nan], "values": [0, 1]}, "finite"),
    ],
)
def test_track_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KeyframeTrack(**kwargs)


def test_track_validation_lists_valid_names():
    with pytest.raises(ValueError, match="step, linear, cubic"):
        KeyframeTrack([0, 1], [0, 1], interpolation="smooth")


# ---------------------------------------------------------------- transform


def test_euler_yaw_maps_x_to_minus_z():
    np.testing.assert_allclose(euler_to_matrix([0, 90, 0]) @ [1, 0, 0], [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(euler_to_matrix([0, 90, 0]) @ [0, 0, 1], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(euler_to_matrix([90, 0, 0]) @ [0, 1, 0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(euler_to_matrix([0, 0, 90]) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_euler_order_roll_first_yaw_last():
    # roll +90 sends +X to +Y, pitch leaves Y in the YZ plane, yaw: expect Ry@Rx@Rz
    r = euler_to_matrix([30, 60, 90])
    v = np.array([1.0, 0.0, 0.0])
    step = euler_to_matrix([0, 0, 90]) @ v
    step = euler_to_matrix([30, 0, 0]) @ step
    step = euler_to_matrix([0, 60, 0]) @ step
    np.testing.assert_allclose(r @ v, step, atol=1e-12)
    alt = euler_to_matrix([0, 0, 90]) @ euler_to_matrix([30, 0, 0]) @ euler_to_matrix([0, 60, 0])
    assert not np.allclose(r, alt)
    np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_pose_matrix_trs():
    pose = Pose(position=[1, 2, 3], rotation=[0, 90, 0], scale=2.0)
    m = pose_matrix(pose)
    p = m @ [1, 0, 0, 1]
    np.testing.assert_allclose(p, [1, 2, 1, 1], atol=1e-12)  # scale, rotate to -Z, translate
    np.testing.assert_allclose(pose_matrix(Pose()), np.eye(4))
    with pytest.raises(ValueError, match="scale"):
        Pose(scale=-1.0)
    with pytest.raises(ValueError, match="position"):
        Pose(position=[1, 2])


def test_look_at_maps_minus_z_to_view_direction():
    eye, target = np.array([3.0, 2.0, 5.0]), np.array([-1.0, 0.5, 0.0])
    m = look_at(eye, target)
    view = (target - eye) / np.linalg.norm(target - eye)
    np.testing.assert_allclose(m[:3, :3] @ [0, 0, -1], view, atol=1e-12)
    np.testing.assert_allclose(m @ [0, 0, 0, 1], [*eye, 1])
    np.testing.assert_allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-12)
    assert np.linalg.det(m[:3, :3]) == pytest.approx(1.0)
    assert m[1, 1] > 0  # camera up has a positive world-Y component
    assert abs(m[1, 0]) < 1e-12  # right vector is horizontal


def test_look_at_from_above_and_below():
    for eye in ([0, 5, 0], [0, -5, 0], [1e-12, 5, 0]):
        m = look_at(eye, [0, 0, 0])
        assert np.all(np.isfinite(m))
        np.testing.assert_allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-9)
        np.testing.assert_allclose(
            m[:3, :3] @ [0, 0, -1], -np.array(eye) / np.linalg.norm(eye), atol=1e-9
        )
    # continuous with a camera approaching the pole from the +Z side
    near = look_at([0, 5, 1e-4], [0, 0, 0])
    pole = look_at([0, 5, 0], [0, 0, 0])
    np.testing.assert_allclose(near[:3, :3], pole[:3, :3], atol=1e-3)
    with pytest.raises(ValueError, match="coincide"):
        look_at([1, 1, 1], [1, 1, 1])


# ---------------------------------------------------------------- motion

SIZE = 2.0
TOTAL = 12.0


def _tracks(motion):
    return motion_tracks(motion, SIZE, TOTAL)


def test_spin_angle_after_one_period_equals_amplitude():
    tr = _tracks(Motion("spin", amplitude=90.0, period=4.0, axis="x"))
    assert set(tr) == {"rotation.x"}
    assert tr["rotation.x"].evaluate(0.0) == 0.0
    assert tr["rotation.x"].evaluate(4.0) == pytest.approx(90.0)
    assert tr["rotation.x"].evaluate(TOTAL) == pytest.approx(270.0)
    default = _tracks(Motion("spin", start=1.0))["rotation.y"]
    assert default.evaluate(0.5) == 0.0
    assert default.evaluate(7.0) == pytest.approx(360.0)


def test_float_is_periodic_and_sized():
    track = _tracks(Motion("float"))["position.y"]
    t = np.linspace(0.0, TOTAL - 3.0, 400)
    np.testing.assert_allclose(track.evaluate(t), track.evaluate(t + 3.0), atol=1e-6)
    assert track.evaluate(0.0) == 0.0
    assert track.evaluate(0.75) == pytest.approx(0.04 * SIZE, rel=1e-4)  # quarter period
    assert np.max(np.abs(track.evaluate(np.linspace(0, TOTAL, 1000)))) <= 0.04 * SIZE * 1.001
    custom = _tracks(Motion("float", amplitude=0.5, period=2.0))["position.y"]
    assert custom.evaluate(1.5) == pytest.approx(-0.5, rel=1e-4)


def test_hover_tilt_and_lift():
    tr = _tracks(Motion("hover"))
    assert set(tr) == {"position.y", "rotation.x", "rotation.z"}
    for track in tr.values():
        assert track.evaluate(0.0) == pytest.approx(0.0)
    t = np.linspace(0.0, TOTAL, 2000)
    for key in ("rotation.x", "rotation.z"):
        peak = np.max(np.abs(tr[key].evaluate(t)))
        assert 2.5 < peak <= 3.0 + 1e-6
    y = tr["position.y"].evaluate(t[t >= 3.0])
    assert np.mean(y) == pytest.approx(0.04 * SIZE, rel=0.05)  # lifted by one amplitude


def test_reveal_scale_zero_to_one():
    track = _tracks(Motion("reveal", start=0.5))["scale"]
    assert track.evaluate(0.0) == 0.0
    assert track.evaluate(0.5) == 0.0
    assert track.evaluate(1.7) == 1.0
    assert track.evaluate(TOTAL) == 1.0
    assert np.max(track.evaluate(np.linspace(0.5, 1.7, 200))) > 1.0  # back-out overshoot


def test_drop_falls_and_settles():
    track = _tracks(Motion("drop"))["position.y"]
    assert track.evaluate(0.0) == pytest.approx(0.6 * SIZE)
    assert track.evaluate(1.0) == 0.0
    assert track.evaluate(TOTAL) == 0.0
    y = track.evaluate(np.linspace(0.0, 1.0, 500))
    assert y.min() >= -1e-12  # never goes through the floor
    assert np.sum(np.diff(np.sign(np.diff(y))) != 0) >= 2  # bounces


def test_wobble_decays_to_zero():
    track = _tracks(Motion("wobble"))["rotation.z"]
    t = np.linspace(0.0, 3.0, 1500)
    w = track.evaluate(t)
    assert w[0] == 0.0 and track.evaluate(3.0) == pytest.approx(0.0, abs=1e-9)
    assert track.evaluate(TOTAL) == pytest.approx(0.0, abs=1e-9)
    assert 4.0 < np.max(np.abs(w)) <= 8.0
    assert np.max(np.abs(w[t > 2.0])) < 0.2 * np.max(np.abs(w[t < 1.0]))


@pytest.mark.parametrize(
    ("direction", "prop", "sign"),
    [
        ("left", "position.x", -1),
        ("right", "position.x", 1),
        ("front", "position.z", 1),
        ("back", "position.z", -1),
        ("up", "position.y", 1),
    ],
)
def test_slide_ends_at_rest(direction, prop, sign):
    tr = _tracks(Motion("slide", direction=direction, start=2.0))
    assert set(tr) == {prop}
    assert tr[prop].evaluate(0.0) == pytest.approx(sign * 1.5 * SIZE)
    assert tr[prop].evaluate(3.2) == 0.0
    assert tr[prop].evaluate(TOTAL) == 0.0
    assert abs(tr[prop].evaluate(2.6)) < 0.5 * 1.5 * SIZE  # "out" ease: more than half done


@pytest.mark.parametrize("kind", MOTION_TYPES)
def test_every_motion_is_continuous_and_uses_known_properties(kind):
    tr = _tracks(Motion(kind, start=0.5))
    known = {f"{p}.{a}" for p in ("position", "rotation") for a in "xyz"} | {"scale"}
    assert tr and set(tr) <= known
    t = np.linspace(0.0, TOTAL, 24001)  # 0.5 ms steps
    for key, track in tr.items():
        jump = np.max(np.abs(np.diff(track.evaluate(t))))
        limit = 0.5 if key.startswith("rotation") or key == "scale" else 0.01 * SIZE
        assert jump < limit, (key, jump)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"type": "teleport"}, "type"),
        ({"type": "spin", "axis": "w"}, "axis"),
        ({"type": "slide", "direction": "down"}, "direction"),
        ({"type": "float", "period": -1.0}, "period"),
        ({"type": "float", "period": 0.0}, "period"),
        ({"type": "reveal", "duration": 0.0}, "duration"),
        ({"type": "reveal", "start": -1.0}, "start"),
        ({"type": "drop", "amplitude": -1.0}, "amplitude"),
    ],
)
def test_motion_validation_names_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        Motion(**kwargs)


def test_motion_tracks_validation():
    m = Motion("spin")
    m.period = -2.0  # mutated after construction
    with pytest.raises(ValueError, match="period"):
        motion_tracks(m, 1.0, 5.0)
    with pytest.raises(ValueError, match="size"):
        motion_tracks(Motion("float"), 0.0, 5.0)
    with pytest.raises(ValueError, match="total_duration"):
        motion_tracks(Motion("float"), 1.0, -5.0)


# ---------------------------------------------------------------- mixer


def test_evaluate_tracks_sums_and_multiplies():
    tracks = group_tracks(
        {"position.y": KeyframeTrack([0, 1], [0, 1]), "scale": KeyframeTrack([0, 1], [1, 3])},
        {"position.y": KeyframeTrack([0, 1], [2, 2]), "scale": KeyframeTrack([0, 1], [0.5, 0.5])},
    )
    out = evaluate_tracks(tracks, 0.5)
    assert out == {"position.y": pytest.approx(2.5), "scale": pytest.approx(1.0)}
    assert "rotation.y" not in out
    assert evaluate_tracks({"scale": []}, 0.0) == {}
    with pytest.raises(ValueError, match="scalar"):
        evaluate_tracks({"position.x": [KeyframeTrack([0, 1], [[0, 0], [1, 1]])]}, 0.5)


def test_evaluate_tracks_with_motions():
    grouped = group_tracks(_tracks(Motion("drop")), _tracks(Motion("float", start=1.0)))
    out = evaluate_tracks(grouped, 0.0)
    assert out["position.y"] == pytest.approx(0.6 * SIZE)
    assert evaluate_tracks(grouped, 1.75)["position.y"] == pytest.approx(0.04 * SIZE, rel=1e-4)


# ---------------------------------------------------------------- camera


def _sphere_fits(pose: CameraPose, center, radius, aspect) -> tuple[float, float]:
    """Slack (radians) between the frustum half-angles and the sphere's angular radius."""
    fwd = pose.forward
    to_c = np.asarray(center) - pose.eye
    dist = np.linalg.norm(to_c)
    assert np.dot(to_c, fwd) == pytest.approx(dist)  # centred
    ang = math.asin(radius / dist)
    half_v = math.radians(pose.fov) / 2
    half_h = math.atan(math.tan(half_v) * aspect)
    return half_v - ang, half_h - ang


@pytest.mark.parametrize("aspect", [16 / 9, 9 / 16, 1.0])
def test_fit_distance_fits_sphere(aspect):
    d = fit_distance(RADIUS, 35.0, aspect)
    pose = camera_pose(CameraRig("static", distance=d), 0.0, 5.0, CENTER, RADIUS, aspect)
    assert np.linalg.norm(pose.eye - CENTER) == pytest.approx(d)
    slack_v, slack_h = _sphere_fits(pose, CENTER, RADIUS, aspect)
    assert slack_v > 0 and slack_h > 0
    # the tight fit (margin 1) touches the limiting side exactly
    tight = fit_distance(RADIUS, 35.0, aspect, margin=1.0)
    ang = math.asin(RADIUS / tight)
    half_v = math.radians(17.5)
    half_h = math.atan(math.tan(half_v) * aspect)
    assert ang == pytest.approx(min(half_v, half_h))
    assert ang <= max(half_v, half_h)


def test_fit_distance_portrait_needs_more_room():
    landscape = fit_distance(1.0, 35.0, 16 / 9)
    portrait = fit_distance(1.0, 35.0, 9 / 16)
    assert portrait > landscape * 1.5
    assert fit_distance(2.0, 35.0, 16 / 9) == pytest.approx(2 * landscape)
    with pytest.raises(ValueError, match="fov"):
        fit_distance(1.0, 190.0, 1.0)
    with pytest.raises(ValueError, match="radius"):
        fit_distance(-1.0, 35.0, 1.0)


def test_default_camera_in_front_looking_minus_z():
    rig = CameraRig("static", elevation=0.0)
    pose = camera_pose(rig, 0.0, 5.0, CENTER, RADIUS, 16 / 9)
    d = fit_distance(RADIUS, 35.0, 16 / 9)
    np.testing.assert_allclose(pose.eye, CENTER + [0, 0, d])
    np.testing.assert_allclose(pose.forward, [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(pose.up, [0, 1, 0], atol=1e-12)
    side = camera_pose(CameraRig("static", elevation=0.0, azimuth=90.0), 0, 5, CENTER, 1, 1)
    assert side.eye[0] - CENTER[0] > 0 and abs(side.eye[2] - CENTER[2]) < 1e-9
    high = camera_pose(CameraRig("static", elevation=30.0), 0, 5, CENTER, 1, 1)
    to_eye = high.eye - CENTER
    assert math.degrees(math.asin(to_eye[1] / np.linalg.norm(to_eye))) == pytest.approx(30.0)


@pytest.mark.parametrize("move", CAMERA_MOVES)
@pytest.mark.parametrize("aspect", [16 / 9, 9 / 16])
def test_camera_moves_continuous(move, aspect):
    duration = 8.0
    rig = CameraRig(move, strength=0.5)
    ts = np.linspace(-0.5, duration + 0.5, 1201)
    poses = [camera_pose(rig, t, duration, CENTER, RADIUS, aspect) for t in ts]
    eyes = np.array([p.eye for p in poses])
    fwds = np.array([p.forward for p in poses])
    ups = np.array([p.up for p in poses])
    d = fit_distance(RADIUS, 35.0, aspect)
    step = ts[1] - ts[0]
    # the fastest move is one orbit: 2*pi*d per duration
    assert (
        np.max(np.linalg.norm(np.diff(eyes, axis=0), axis=1)) < 2 * 2 * np.pi * d * step / duration
    )
    assert np.max(np.linalg.norm(np.diff(fwds, axis=0), axis=1)) < 0.01
    assert np.max(np.linalg.norm(np.diff(ups, axis=0), axis=1)) < 0.01
    np.testing.assert_allclose(np.einsum("ij,ij->i", ups, fwds), 0.0, atol=1e-9)
    again = camera_pose(rig, 3.3, duration, CENTER, RADIUS, aspect)
    np.testing.assert_array_equal(
        again.eye, camera_pose(rig, 3.3, duration, CENTER, RADIUS, aspect).eye
    )


def test_orbit_full_turn_returns_and_moves():
    rig = CameraRig("orbit", turns=1.0)
    p0 = camera_pose(rig, 0.0, 6.0, CENTER, RADIUS, 1.5)
    half = camera_pose(rig, 3.0, 6.0, CENTER, RADIUS, 1.5)
    p1 = camera_pose(rig, 6.0, 6.0, CENTER, RADIUS, 1.5)
    np.testing.assert_allclose(p1.eye, p0.eye, atol=1e-9)
    np.testing.assert_allclose(p1.up, p0.up, atol=1e-9)
    rel0, relh = p0.eye - CENTER, half.eye - CENTER
    np.testing.assert_allclose(relh[[0, 2]], -rel0[[0, 2]], atol=1e-9)  # opposite side
    quarter = camera_pose(rig, 1.5, 6.0, CENTER, RADIUS, 1.5)
    assert quarter.eye[0] > CENTER[0] + 1.0  # counter-clockwise from above: toward +X
    for p in (p0, half, quarter):
        np.testing.assert_allclose(p.target, CENTER)


def test_push_in_gets_closer_pull_out_farther():
    def dist(move, t):
        p = camera_pose(CameraRig(move, strength=0.3), t, 4.0, CENTER, RADIUS, 16 / 9)
        return np.linalg.norm(p.eye - CENTER)

    # fitted: the closest framing is the fit distance (the bounds stay in frame), the
    # far end is fit / (1 - strength)
    d = fit_distance(RADIUS, 35.0, 16 / 9)
    push = [dist("push-in", t) for t in np.linspace(0, 4, 41)]
    assert push[0] == pytest.approx(d / 0.7) and push[-1] == pytest.approx(d)
    assert np.all(np.diff(push) <= 1e-12)
    pull = [dist("pull-out", t) for t in np.linspace(0, 4, 41)]
    assert pull[0] == pytest.approx(d) and pull[-1] == pytest.approx(d / 0.7)
    assert np.all(np.diff(pull) >= -1e-12)
    # an explicit distance is where a push-in starts: strength of it closer at the end
    near = camera_pose(CameraRig("push-in", distance=2.0, strength=0.3), 4.0, 4.0, CENTER,
                       RADIUS, 16 / 9)
    assert np.linalg.norm(near.eye - CENTER) == pytest.approx(1.4)


def test_dolly_pan_tilt_crane_directions():
    args = (0.0, 4.0, CENTER, RADIUS, 16 / 9)
    end = (4.0, 4.0, CENTER, RADIUS, 16 / 9)
    d = fit_distance(RADIUS, 35.0, 16 / 9)
    a, b = camera_pose(CameraRig("dolly"), *args), camera_pose(CameraRig("dolly"), *end)
    np.testing.assert_allclose(b.eye - a.eye, [0.3 * d, 0, 0], atol=1e-9)  # trucks toward +X
    np.testing.assert_allclose(a.forward, b.forward, atol=1e-12)
    a, b = camera_pose(CameraRig("pan"), *args), camera_pose(CameraRig("pan"), *end)
    np.testing.assert_allclose(a.eye, b.eye)
    assert a.forward[0] < 0 < b.forward[0]  # left to right
    yaw_a = math.degrees(math.atan2(a.forward[0], -a.forward[2]))
    yaw_b = math.degrees(math.atan2(b.forward[0], -b.forward[2]))
    assert (yaw_a, yaw_b) == pytest.approx((-6.0, 6.0))  # +-strength*20 deg about vertical
    a, b = camera_pose(CameraRig("tilt"), *args), camera_pose(CameraRig("tilt"), *end)
    np.testing.assert_allclose(a.eye, b.eye)
    assert a.forward[1] < b.forward[1]  # low to high
    a, b = camera_pose(CameraRig("crane"), *args), camera_pose(CameraRig("crane"), *end)
    assert a.eye[1] < b.eye[1]
    assert np.linalg.norm(a.eye - CENTER) == pytest.approx(d)
    assert np.linalg.norm(b.eye - CENTER) == pytest.approx(d)
    el_b = math.degrees(math.asin((b.eye[1] - CENTER[1]) / d))
    assert el_b == pytest.approx(15.0 + 0.3 * 60.0)


def test_camera_rig_validation():
    with pytest.raises(ValueError, match="move"):
        CameraRig("zoom")
    with pytest.raises(ValueError, match="strength"):
        CameraRig(strength=1.0)
    with pytest.raises(ValueError, match="distance"):
        CameraRig(distance=0.0)
    with pytest.raises(ValueError, match="duration"):
        camera_pose(CameraRig(), 0.0, 0.0, CENTER, RADIUS, 1.0)


# ---------------------------------------------------------------- camera offsets


def _front_pose() -> CameraPose:
    return camera_pose(CameraRig("static", elevation=0.0, distance=4.0), 0, 1, CENTER, 1, 1)


def test_offsets_empty_is_identity():
    p = _front_pose()
    q = apply_camera_offsets(p, {}, CENTER)
    for attr in ("eye", "target", "up"):
        np.testing.assert_allclose(getattr(q, attr), getattr(p, attr))
    assert q.fov == p.fov


def test_offsets_position_trucks_eye_and_target():
    p = _front_pose()
    q = apply_camera_offsets(p, {"position.x": 0.5, "position.y": -0.25}, CENTER)
    np.testing.assert_allclose(q.eye, p.eye + [0.5, -0.25, 0])
    np.testing.assert_allclose(q.target, p.target + [0.5, -0.25, 0])
    np.testing.assert_allclose(q.forward, p.forward)


def test_offsets_rotation_y_orbits_about_vertical():
    q = apply_camera_offsets(_front_pose(), {"rotation.y": 90.0}, CENTER)
    np.testing.assert_allclose(q.eye, CENTER + [4.0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(q.target, CENTER, atol=1e-12)
    np.testing.assert_allclose(q.up, [0, 1, 0], atol=1e-12)


def test_offsets_rotation_x_raises_elevation():
    q = apply_camera_offsets(_front_pose(), {"rotation.x": 30.0}, CENTER)
    rel = q.eye - CENTER
    assert np.linalg.norm(rel) == pytest.approx(4.0)
    assert math.degrees(math.asin(rel[1] / 4.0)) == pytest.approx(30.0)
    np.testing.assert_allclose(q.target, CENTER, atol=1e-12)
    assert q.up[1] > 0.8 and q.up[2] < 0  # still upright, leaning back
    clamped = apply_camera_offsets(_front_pose(), {"rotation.x": 200.0}, CENTER)
    rel = clamped.eye - CENTER
    assert math.degrees(math.asin(rel[1] / 4.0)) == pytest.approx(89.0)


def test_offsets_roll_distance_fov():
    p = _front_pose()
    q = apply_camera_offsets(p, {"rotation.z": 90.0}, CENTER)
    np.testing.assert_allclose(q.eye, p.eye)
    np.testing.assert_allclose(q.up, [-1, 0, 0], atol=1e-12)  # up leans to the camera's left
    q = apply_camera_offsets(p, {"distance": 1.5}, CENTER)
    np.testing.assert_allclose(q.eye, p.eye + [0, 0, 1.5])
    np.testing.assert_allclose(q.target, p.target)
    q = apply_camera_offsets(p, {"distance": -10.0}, CENTER)
    assert 0 < np.linalg.norm(q.eye - q.target) < 0.01
    q = apply_camera_offsets(p, {"fov": 50.0}, CENTER)
    assert q.fov == 50.0
    with pytest.raises(ValueError, match="fov"):
        apply_camera_offsets(p, {"fov": 0.0}, CENTER)
    with pytest.raises(ValueError, match="zoom"):
        apply_camera_offsets(p, {"zoom": 2.0}, CENTER)


def test_offsets_from_tracks():
    tracks = {"rotation.y": [KeyframeTrack([0, 2], [0, 180], ease="in-out")]}
    p = _front_pose()
    q = apply_camera_offsets(p, evaluate_tracks(tracks, 2.0), CENTER)
    np.testing.assert_allclose(q.eye, CENTER + [0, 0, -4.0], atol=1e-9)
    np.testing.assert_allclose(q.matrix()[:3, :3] @ [0, 0, -1], [0, 0, 1], atol=1e-9)


@pytest.mark.parametrize("aspect", [16 / 9, 9 / 16, 1.0, 4 / 5])
@pytest.mark.parametrize("size", [(0.08, 0.3, 0.08), (0.2, 0.27, 0.1), (1.0, 0.2, 0.5)])
def test_fit_box_distance_keeps_every_corner_in_frame_from_any_azimuth(aspect, size):
    from engine.animation import fit_box_distance

    fov, elevation = 35.0, 15.0
    center = np.zeros(3)
    d = fit_box_distance(size, fov, aspect, elevation)
    half = np.array(size) / 2
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * half
    tan_v = np.tan(np.radians(fov) / 2)
    worst = 0.0
    for azimuth in range(0, 360, 15):
        rig = CameraRig(move="static", fov=fov, elevation=elevation, azimuth=azimuth,
                        distance=d)
        pose = camera_pose(rig, 0.0, 1.0, center, 1.0, aspect)
        m = np.linalg.inv(look_at(pose.eye, pose.target, pose.up))
        for corner in corners:
            p = (m @ np.append(corner, 1.0))[:3]
            depth = -p[2]
            assert depth > 0
            worst = max(worst, abs(p[0]) / (depth * tan_v * aspect), abs(p[1]) / (depth * tan_v))
    assert worst <= 1.0, "a corner leaves the frame"
    assert worst > 0.6, "the framing is needlessly loose"


def test_long_motions_are_sampled_only_to_just_past_the_shot():
    """A wobble declared to last 1e5 s in a 6 s shot used to be sampled 6 million times."""
    from engine.animation.motion import SAMPLE_RATE, SAMPLED_PAST_END_S

    for kind in ("wobble", "float", "hover"):
        tracks = motion_tracks(Motion(kind, duration=1e5), 1.0, 6.0)
        for track in tracks.values():
            assert len(track.times) <= (6.0 + SAMPLED_PAST_END_S) * SAMPLE_RATE + 2
            assert track.times[-1] == pytest.approx(6.0 + SAMPLED_PAST_END_S)
    # inside the shot the curve is the one the full duration gives
    short = motion_tracks(Motion("wobble", duration=1e5), 1.0, 6.0)["rotation.z"]
    full = motion_tracks(Motion("wobble", duration=1e5), 1.0, 50.0)["rotation.z"]
    t = np.linspace(0.0, 6.0, 97)
    np.testing.assert_allclose(short.evaluate(t), full.evaluate(t), atol=1e-9)


def test_camera_offset_keys_and_pose_properties_come_from_one_table():
    from engine.animation import CAMERA_OFFSETS, POSE_PROPERTIES
    from engine.animation.camera import CAMERA_OFFSET_KEYS, FOV

    assert CAMERA_OFFSET_KEYS == tuple(CAMERA_OFFSETS)
    assert set(CAMERA_OFFSETS) - {"fov", "distance"} == set(POSE_PROPERTIES) - {"scale"}
    assert CAMERA_OFFSETS["fov"] is FOV
    with pytest.raises(ValueError, match="fov: expected a number from 5 to 120"):
        apply_camera_offsets(_front_pose(), {"fov": 150.0}, CENTER)
