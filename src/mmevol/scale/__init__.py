"""Running the evolve stage on a Ray cluster (``mmevol evolve --engine ray``).

The driver keeps the run journal (``run.sqlite``) and is its only writer; Ray Data workers
evolve one seed image through its rounds on a copy of that seed's slice of the journal and send
back what changed. Modules:

    cluster          connecting to (or starting) Ray quietly, and the missing-extra message
    journal_slice    one seed's rows of the journal: cut out, loaded in memory, merged back
    ledger           a Ray actor through which every new model reply reaches the driver at once
    admission_actor  the one admission controller of an endpoint, shared by every worker
    worker           the Ray Data worker that runs the local engine on a journal slice
    ray_runner       the driver: the Ray Data pipeline, journalling, stopping, progress
"""
