"""Sandboxes: faithful local emulators of the platforms' endpoints, one folder per platform
(``sandbox/<platform>/``), beside the pipeline: a sandbox never imports a sink, nor a sink a
sandbox. What every sandbox shares (bounded recordings) is in this package's own modules."""
