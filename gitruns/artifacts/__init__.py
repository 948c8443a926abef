"""Artifacts travel with runs: where each one is (here, on a remote, missing), transfers
through git-lfs or an object store by URL, verification, gc, and lineage by digest."""
