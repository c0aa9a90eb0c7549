//! weft-tui: placeholder, filled in by its owner.
