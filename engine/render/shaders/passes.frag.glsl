#version 330
// Hand-off geometry pass: rgb = unit camera-space normal (OpenGL convention: x right,
// y up, z toward the camera), a = depth along the view axis in metres. The cleared
// value (a = 0) means no surface: the near plane is always in front of the camera.
in vec3 v_view_position;
in vec3 v_view_normal;
out vec4 o_color;
void main() {
    vec3 n = normalize(v_view_normal);
    if (!gl_FrontFacing) n = -n;  // a two-sided surface seen from behind faces the camera
    o_color = vec4(n, -v_view_position.z);
}
