"""Sandboxes: faithful local emulators of the platforms' endpoints, one folder per platform
(``sandbox/<platform>/``), beside the pipeline: a sandbox never imports a sink, nor a sink a
sandbox. What every sandbox shares (body reading, the ``/_sandbox`` control plane, the fault
book, bounded recordings and counters) is in this package's own modules; a platform's folder
keeps only what is its own."""
