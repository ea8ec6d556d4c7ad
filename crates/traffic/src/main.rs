//! `mathapi-traffic`: see `mathapi-traffic --help`.

use std::process::ExitCode;

use clap::Parser;
use mathapi_traffic::cli::{self, Args};

#[tokio::main]
async fn main() -> ExitCode {
    cli::main(Args::parse()).await
}
