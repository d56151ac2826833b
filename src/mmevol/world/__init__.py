"""The offline world: rendered scenes with exact scene graphs (``scenes``), the question types
with exact answers they allow (``questions``) and POPE-style absent objects (``pope``).

It is the demo's data source and the ground truth of the closed loop; it needs no PyTorch.
"""

from mmevol.world.scenes import Scene, Shape, make_scene, render, scene_to_seed, write_demo_set

__all__ = ["Scene", "Shape", "make_scene", "render", "scene_to_seed", "write_demo_set"]
