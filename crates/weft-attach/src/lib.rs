//! weft-attach: placeholder, filled in by its owner.
