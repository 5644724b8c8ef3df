"""A year folder: its data files and layers (a year extends a year), loading, checking and compiling, the compiled-year cache, and CMS's data imported into it."""
