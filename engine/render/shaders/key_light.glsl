// The key light, bound as one struct (never an array element): its shadow sampler
// is never indexed dynamically, which is what crashes Mesa 22.3's llvmpipe compiler.
uniform struct KeyLight {
    vec4 position;
    vec4 diffuse;
    sampler2DShadow shadowMap;
    mat4 shadowViewMatrix;
} key_light;
