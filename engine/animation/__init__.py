"""Animation math: easing, keyframe tracks, poses, motion presets, camera moves.

Pure numpy; Y-up right-handed world (glTF), metres, seconds, degrees.
"""

from .camera import (
    CAMERA_MOVES,
    CAMERA_OFFSETS,
    CameraPose,
    CameraRig,
    apply_camera_offsets,
    camera_pose,
    fit_box_distance,
    fit_distance,
)
from .easing import EASINGS, ease
from .mixer import evaluate_tracks, group_tracks
from .motion import MOTION_TYPES, Motion, motion_tracks
from .settings import Setting, SettingError, check_settings, setting, settings_of
from .tracks import INTERPOLATIONS, KeyframeTrack
from .transform import (
    POSE_PROPERTIES,
    Pose,
    axis_angle_matrix,
    euler_to_matrix,
    look_at,
    pose_matrix,
)

__all__ = [
    "CAMERA_MOVES",
    "CAMERA_OFFSETS",
    "EASINGS",
    "INTERPOLATIONS",
    "MOTION_TYPES",
    "POSE_PROPERTIES",
    "CameraPose",
    "CameraRig",
    "KeyframeTrack",
    "Motion",
    "Pose",
    "Setting",
    "SettingError",
    "apply_camera_offsets",
    "axis_angle_matrix",
    "camera_pose",
    "check_settings",
    "ease",
    "euler_to_matrix",
    "evaluate_tracks",
    "fit_box_distance",
    "fit_distance",
    "group_tracks",
    "look_at",
    "motion_tracks",
    "pose_matrix",
    "setting",
    "settings_of",
]
