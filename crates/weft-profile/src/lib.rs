//! weft-profile: placeholder, filled in by its owner.
