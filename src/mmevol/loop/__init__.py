"""The closed loop's offline world: rendered scenes whose scene graph is known exactly."""

from mmevol.loop.world import Scene, Shape, make_scene, render, scene_to_seed, write_demo_set

__all__ = ["Scene", "Shape", "make_scene", "render", "scene_to_seed", "write_demo_set"]
