//! weft-trace: placeholder, filled in by its owner.
