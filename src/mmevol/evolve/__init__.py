"""Evolution: the engine (rounds, lineage, resume), reply parsing, normalisation, elimination, dedup."""
