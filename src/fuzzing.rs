//! Fuzz entry points, shared by the cargo-fuzz targets in `fuzz/` and by ordinary tests.
