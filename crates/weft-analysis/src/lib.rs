//! weft-analysis: placeholder, filled in by its owner.
