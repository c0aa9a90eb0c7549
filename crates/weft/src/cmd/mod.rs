//! One module per subcommand.
pub mod check;
pub mod probes;
pub mod snapshot;
pub mod top;
pub mod trace;
pub mod web;
