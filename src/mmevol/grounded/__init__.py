"""The grounded backend: an offline *programmatic* generator and rule judge (not an LLM).

It computes evolved questions, reasoning steps and answers from a seed's annotations, so its
data is correct by construction. ``backend`` is the ``Backend`` (``--backend grounded``);
``scene`` reads a seed into objects and relations; ``perception``, ``reasoning`` and
``interactive`` write the three directions (with ``existence``, ``counting``, ``logic``,
``overlap``, ``choice``, ``statements``, ``scenery``, ``draft`` and ``words`` as their parts);
``judge`` is the rule judge, with the shape world's fact checks in ``facts``.
"""
