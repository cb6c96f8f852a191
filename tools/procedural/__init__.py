"""The project's procedural-shape library (tools only: the runtime in engine/ never uses it).

- `samples`: the shipped sample assets (bottle, mug, robot toy, lamp: `SAMPLE_ASSETS`)
  and `export_glb`, the atomic GLB writer for any trimesh object;
- `objects`: random training and evaluation objects for the generator
  (`random_object(rng, look)`: families of primitives, surfaces of revolution,
  extrusions, characters, furniture, frames, props, blobs and the samples, with printed
  or photographic materials).

Y-up, metres, base on y = 0, front towards +Z; everything is a deterministic function
of its seed or generator.
"""

from tools.procedural.objects import LOOKS, random_object
from tools.procedural.samples import SAMPLE_ASSETS, export_glb

__all__ = ["LOOKS", "SAMPLE_ASSETS", "export_glb", "random_object"]
