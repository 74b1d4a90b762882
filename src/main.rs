//! The `conversure` executable: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    conversure::init_crypto();
    conversure::cli::run(conversure::cli::Cli::parse())
}
