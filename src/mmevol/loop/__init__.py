"""The closed loop: an offline world with exact scene graphs, its questions, a tiny VLM, ABS.

Only the world is imported here; the modules that need PyTorch (model, train, evaluate, run)
are imported where used, so the rest of mmevol works without it.
"""

from mmevol.loop.world import Scene, Shape, make_scene, render, scene_to_seed, write_demo_set

__all__ = ["Scene", "Shape", "make_scene", "render", "scene_to_seed", "write_demo_set"]
